"""The verification sample's draw (回访抽查) as a plain function."""

from __future__ import annotations

import random

from domain.care.sample import Visit, confirmed_rate, draw, quarter_months, sample_size
from domain.schedule.calendar import Month


def visits(sites: int, per_site: int, *, volunteers_per_site: int = 5) -> list[Visit]:
    return [
        Visit(
            checkin_id=site * 1000 + n,
            volunteer_id=site * 100 + n % volunteers_per_site,
            site_id=site,
            in_month=True,
        )
        for site in range(1, sites + 1)
        for n in range(per_site)
    ]


def test_the_size_is_the_share_rounded_up() -> None:
    assert sample_size(0, 4) == 0
    assert sample_size(1, 4) == 1  # a site with a visit has one checked
    assert sample_size(25, 4) == 1
    assert sample_size(26, 4) == 2
    assert sample_size(100, 4) == 4
    assert sample_size(100, 5) == 5


def test_each_site_gets_its_share_and_the_same_seed_draws_the_same() -> None:
    month = visits(3, 100)
    percent = {1: 4.0, 2: 4.0, 3: 10.0}
    sample = draw(month, percent=percent, seed=42)
    per_site = {site: sum(v.site_id == site for v in sample) for site in (1, 2, 3)}
    assert per_site == {1: 4, 2: 4, 3: 10}
    shuffled = month[:]
    random.Random(1).shuffle(shuffled)
    assert draw(shuffled, percent=percent, seed=42) == sample  # the order does not matter
    assert draw(month, percent=percent, seed=43) != sample


def test_at_a_quarters_end_every_volunteer_with_visits_is_checked_once_at_least() -> None:
    month = visits(1, 50, volunteers_per_site=10)
    earlier = [Visit(5000, 777, 1, in_month=False)]  # visited in the quarter's first month
    plain = draw(month + earlier, percent={1: 4.0}, seed=7)
    assert len(plain) == 2 and 777 not in {v.volunteer_id for v in plain}
    closing = draw(month + earlier, percent={1: 4.0}, seed=7, quarter_end=True)
    assert {v.volunteer_id for v in closing} == {v.volunteer_id for v in month} | {777}
    assert set(plain) <= set(closing)
    already = {100 + n for n in range(5)}  # checked in an earlier month of the quarter
    fewer = draw(month, percent={1: 4.0}, seed=7, checked_this_quarter=already, quarter_end=True)
    assert {v.volunteer_id for v in fewer} >= {100 + n for n in range(5, 10)}
    assert len(fewer) < len(closing)


def test_quarters_and_rates() -> None:
    assert quarter_months(Month(2026, 12)) == [Month(2026, 10), Month(2026, 11), Month(2026, 12)]
    assert quarter_months(Month(2027, 1)) == [Month(2027, 1)]
    assert confirmed_rate(3, 4) == 75
    assert confirmed_rate(0, 0) is None
