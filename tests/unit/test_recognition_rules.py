"""Who is the volunteer of the month, and who makes the commendation list."""

from __future__ import annotations

import datetime as dt

from domain.reports.recognition import (
    VolunteerMonth,
    VolunteerYear,
    commended,
    of_the_month,
    school_year_months,
)
from domain.schedule.calendar import Month


def month(**changes: int) -> VolunteerMonth:
    fields = {"volunteer_id": 1, "required": 6, "done": 6, "concerns": 1, "concerns_late": 0}
    return VolunteerMonth(**(fields | {"rejected": 0} | changes))


def test_the_volunteer_of_the_month_did_everything_on_time_and_nothing_was_rejected() -> None:
    assert of_the_month(month())
    assert not of_the_month(month(done=5))
    assert not of_the_month(month(concerns_late=1))
    assert not of_the_month(month(rejected=1))
    assert not of_the_month(month(required=0, done=0))  # nothing due is no merit


def year(n: int, **changes: int) -> VolunteerYear:
    fields: dict[str, object] = {
        "volunteer_id": n,
        "name": f"志愿者{n:02d}",
        "site_name": "中和小学",
        "months_of_the_month": 0,
        "home_visits": 10,
        "checkins": 30,
        "children": 2,
        "concerns_closed": 1,
        "confirmed_by_phone": 0,
        "rejected": 0,
    }
    return VolunteerYear(**(fields | changes))  # type: ignore[arg-type]


def test_the_list_takes_the_best_tenth_at_least_three_without_rejections() -> None:
    volunteers = [year(n, home_visits=n) for n in range(1, 41)]
    volunteers[0] = year(1, months_of_the_month=9, home_visits=1)
    volunteers[39] = year(40, home_visits=99, rejected=1)
    best = commended(volunteers)
    assert len(best) == 4  # a tenth of the 39 eligible
    assert [v.volunteer_id for v in best] == [1, 39, 38, 37]
    assert len(commended(volunteers[:5])) == 3
    assert commended([year(1, home_visits=0)]) == []


def test_the_school_year_runs_from_september_to_the_month_before() -> None:
    months = school_year_months(dt.date(2027, 7, 10))
    assert (months[0], months[-1], len(months)) == (Month(2026, 9), Month(2027, 6), 10)
    assert school_year_months(dt.date(2026, 9, 5)) == []
    assert school_year_months(dt.date(2026, 11, 2)) == [Month(2026, 9), Month(2026, 10)]
