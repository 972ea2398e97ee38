"""The review rules as plain functions: how far is far, and why a check-in is looked at."""

from __future__ import annotations

import pytest

from domain.care.review import (
    BACKDATED,
    FAR_FROM_HOME,
    NO_PHOTO,
    UNCERTAIN,
    Point,
    Recording,
    SiteRules,
    distance_m,
    reasons_to_review,
    takes_home_from,
)
from domain.models import Activity

HOME = Point(29.5630, 106.5516)  # a village near Chongqing
NORTH_5KM = Point(29.5630 + 5000 / 111_195, 106.5516)
EAST_200M = Point(29.5630, 106.5516 + 200 / (111_195 * 0.8700))


def visit(place: Point | None, **changes: object) -> Recording:
    fields: dict[str, object] = {
        "activities": frozenset({Activity.home_visit}),
        "photos": 1,
        "days_back": 0,
        "uncertain": False,
        "place": place,
        "home": HOME,
    }
    fields |= changes
    return Recording(**fields)  # type: ignore[arg-type]


def test_distances_are_great_circle_metres() -> None:
    assert distance_m(HOME, HOME) == 0
    assert distance_m(HOME, NORTH_5KM) == pytest.approx(5000, rel=0.005)
    assert distance_m(HOME, EAST_200M) == pytest.approx(200, rel=0.01)
    # Beijing to Shanghai is about 1,070 km
    assert distance_m(Point(39.9042, 116.4074), Point(31.2304, 121.4737)) == pytest.approx(
        1_067_000, rel=0.01
    )


def test_a_checkin_5_km_from_home_is_flagged_and_200_m_is_not() -> None:
    far = reasons_to_review(visit(NORTH_5KM), SiteRules())
    assert far[FAR_FROM_HOME]["allowed"] == 3000
    assert 4950 < far[FAR_FROM_HOME]["metres"] < 5050
    assert reasons_to_review(visit(EAST_200M), SiteRules()) == {}
    assert FAR_FROM_HOME in reasons_to_review(visit(EAST_200M), SiteRules(distance_m=150))


def test_no_place_or_no_home_is_never_far() -> None:
    assert reasons_to_review(visit(None), SiteRules()) == {}
    assert reasons_to_review(visit(NORTH_5KM, home=None), SiteRules()) == {}


def test_a_home_visit_without_photo_a_late_one_and_an_uncertain_one_are_looked_at() -> None:
    assert set(reasons_to_review(visit(None, photos=0), SiteRules())) == {NO_PHOTO}
    talk = visit(None, photos=0, activities=frozenset({Activity.talk}))
    assert reasons_to_review(talk, SiteRules()) == {}  # only a home visit shows a photo
    assert reasons_to_review(visit(None, days_back=2), SiteRules()) == {}
    assert reasons_to_review(visit(None, days_back=3), SiteRules()) == {BACKDATED: {"days_back": 3}}
    assert reasons_to_review(visit(None, days_back=3), SiteRules(days_back=5)) == {}
    assert set(reasons_to_review(visit(None, uncertain=True), SiteRules())) == {UNCERTAIN}


def test_the_first_home_visit_with_a_place_gives_the_child_a_home() -> None:
    assert takes_home_from(visit(EAST_200M, home=None))
    assert not takes_home_from(visit(EAST_200M))  # a home already
    assert not takes_home_from(visit(None, home=None))
    assert not takes_home_from(visit(EAST_200M, home=None, activities=frozenset({Activity.talk})))
