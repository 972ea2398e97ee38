"""The schedule's rules: months and semesters in Asia/Shanghai, deadlines, quiet hours,
days inherited up the region tree, inactivity, the reminder digest."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from domain.models import Activity, ConcernKind, Period
from domain.schedule.calendar import Month, period_bounds, semester_bounds
from domain.schedule.deadlines import (
    DEFAULT_MUST_VISIT_DAYS,
    DEFAULT_RECORD_DUE_DAY,
    DEFAULT_REMINDER_DAY,
    OwnDays,
    SiteDays,
    days_late,
    due_day,
    outside_quiet_hours,
    site_days_of,
)
from domain.schedule.due import DueItem, Rule, nearest_ruled, required_by
from domain.schedule.inactivity import is_inactive
from domain.schedule.reminders import (
    ConcernReminder,
    OpenItem,
    digest_of,
    open_item,
    reminder_key,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# months --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        # 16:00 UTC on the 31st is already 00:00 on the 1st in Shanghai
        (dt.datetime(2026, 10, 31, 16, 0, tzinfo=UTC), Month(2026, 11)),
        (dt.datetime(2026, 10, 31, 15, 59, tzinfo=UTC), Month(2026, 10)),
        (dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC), Month(2027, 1)),
        (local(2026, 11, 30, 23, 59), Month(2026, 11)),
        (local(2027, 2, 1, 0, 0), Month(2027, 2)),
    ],
)
def test_the_month_of_a_moment_is_the_local_month(moment: dt.datetime, month: Month) -> None:
    assert Month.of(moment, SHANGHAI) == month


@pytest.mark.parametrize(
    ("month", "after", "before"),
    [
        (Month(2026, 11), Month(2026, 12), Month(2026, 10)),
        (Month(2026, 12), Month(2027, 1), Month(2026, 11)),
        (Month(2027, 1), Month(2027, 2), Month(2026, 12)),
    ],
)
def test_next_and_previous_month_cross_years(month: Month, after: Month, before: Month) -> None:
    assert month.next() == after
    assert month.previous() == before
    assert month.next().previous() == month


@pytest.mark.parametrize(
    ("text", "month"), [("2026-11", Month(2026, 11)), ("2027-01", Month(2027, 1))]
)
def test_a_month_is_read_as_typed(text: str, month: Month) -> None:
    assert Month.parse(text) == month
    assert str(month) == text


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026", "十一月", "2026-11-01"])
def test_a_month_that_is_none_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Month.parse(text)


def test_a_month_runs_from_local_midnight_to_local_midnight() -> None:
    november = Month(2026, 11)
    assert november.start(SHANGHAI) == dt.datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert november.end(SHANGHAI) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert november.first_day() == dt.date(2026, 11, 1)


def test_months_order_by_time() -> None:
    assert sorted([Month(2027, 1), Month(2026, 12), Month(2026, 2)]) == [
        Month(2026, 2),
        Month(2026, 12),
        Month(2027, 1),
    ]


# semesters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        (Month(2026, 9), local(2026, 9, 1), local(2027, 3, 1)),  # autumn starts in September
        (Month(2026, 11), local(2026, 9, 1), local(2027, 3, 1)),
        (Month(2027, 1), local(2026, 9, 1), local(2027, 3, 1)),  # winter holidays: autumn's
        (Month(2027, 2), local(2026, 9, 1), local(2027, 3, 1)),
        (Month(2027, 3), local(2027, 3, 1), local(2027, 9, 1)),  # spring
        (Month(2027, 7), local(2027, 3, 1), local(2027, 9, 1)),  # summer holidays: spring's
        (Month(2027, 8), local(2027, 3, 1), local(2027, 9, 1)),
    ],
)
def test_the_semester_a_month_belongs_to(
    month: Month, start: dt.datetime, end: dt.datetime
) -> None:
    assert semester_bounds(month, SHANGHAI) == (start, end)
    assert period_bounds(Period.semester, month, SHANGHAI) == (start, end)


def test_a_monthly_period_is_the_month() -> None:
    assert period_bounds(Period.month, Month(2026, 2), SHANGHAI) == (
        local(2026, 2, 1),
        local(2026, 3, 1),
    )


# quiet hours -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "sent_at"),
    [
        (local(2026, 11, 20, 20, 59), local(2026, 11, 20, 20, 59)),
        (local(2026, 11, 20, 21, 0), local(2026, 11, 21, 8, 0)),  # 21:00 waits for the morning
        (local(2026, 11, 20, 23, 30), local(2026, 11, 21, 8, 0)),
        (local(2026, 11, 30, 22, 0), local(2026, 12, 1, 8, 0)),  # across a month
        (local(2026, 12, 31, 22, 0), local(2027, 1, 1, 8, 0)),  # and a year
        (local(2026, 11, 21, 0, 0), local(2026, 11, 21, 8, 0)),
        (local(2026, 11, 21, 7, 59), local(2026, 11, 21, 8, 0)),
        (local(2026, 11, 21, 8, 0), local(2026, 11, 21, 8, 0)),
        (local(2026, 11, 21, 12, 0), local(2026, 11, 21, 12, 0)),
    ],
)
def test_nobody_is_messaged_between_21_and_8(moment: dt.datetime, sent_at: dt.datetime) -> None:
    assert outside_quiet_hours(moment, SHANGHAI) == sent_at


def test_quiet_hours_are_the_sites_not_utcs() -> None:
    # 14:00 UTC is 22:00 in Shanghai: quiet there, though mid-afternoon in UTC
    moment = dt.datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert outside_quiet_hours(moment, SHANGHAI) == local(2026, 11, 21, 8, 0)
    assert outside_quiet_hours(moment, ZoneInfo("UTC")) == moment


# due days and lateness -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "day"),
    [
        (Month(2026, 11).end(SHANGHAI), dt.date(2026, 11, 30)),  # a month: by its last day
        (Month(2027, 2).end(SHANGHAI), dt.date(2027, 2, 28)),
        (Month(2028, 2).end(SHANGHAI), dt.date(2028, 2, 29)),  # a leap year
        (local(2026, 11, 19, 10, 0), dt.date(2026, 11, 19)),  # a must-visit: its own day
        (local(2026, 11, 19, 0, 1), dt.date(2026, 11, 19)),
    ],
)
def test_the_day_something_is_due_by(deadline: dt.datetime, day: dt.date) -> None:
    assert due_day(deadline, SHANGHAI) == day


@pytest.mark.parametrize(
    ("now", "late"),
    [
        (local(2026, 11, 30, 23, 59), 0),  # before the deadline
        (local(2026, 12, 1, 0, 0), 1),  # at it: one day at least
        (local(2026, 12, 1, 23, 0), 1),
        (local(2026, 12, 2, 9, 0), 2),
        (local(2026, 12, 8, 9, 0), 8),
    ],
)
def test_days_late_count_local_days_since_the_due_day(now: dt.datetime, late: int) -> None:
    assert days_late(Month(2026, 11).end(SHANGHAI), now, SHANGHAI) == late


def test_a_must_visit_three_days_on_is_late_from_its_deadline() -> None:
    raised = local(2026, 11, 16, 10, 0)
    deadline = raised + dt.timedelta(days=DEFAULT_MUST_VISIT_DAYS)
    assert due_day(deadline, SHANGHAI) == dt.date(2026, 11, 19)
    assert days_late(deadline, local(2026, 11, 19, 9, 59), SHANGHAI) == 0
    assert days_late(deadline, local(2026, 11, 19, 10, 0), SHANGHAI) == 1
    assert days_late(deadline, local(2026, 11, 21, 10, 0), SHANGHAI) == 2


# days inherited up the tree --------------------------------------------------------------

DEFAULTS = SiteDays(DEFAULT_REMINDER_DAY, DEFAULT_RECORD_DUE_DAY, DEFAULT_MUST_VISIT_DAYS)


@pytest.mark.parametrize(
    ("own", "days"),
    [
        ({}, DEFAULTS),  # nobody sets anything: DOMAIN.md's 20th, 25th, 3 days
        ({1: OwnDays(reminder_day=18)}, SiteDays(18, 25, 3)),  # the district's
        ({1: OwnDays(reminder_day=18), 4: OwnDays(reminder_day=15)}, SiteDays(15, 25, 3)),
        ({4: OwnDays(record_due_day=22), 17: OwnDays(must_visit_days=2)}, SiteDays(20, 22, 2)),
        ({1: OwnDays(must_visit_days=5), 17: OwnDays()}, SiteDays(20, 25, 5)),  # empty: inherits
        ({9: OwnDays(reminder_day=1)}, DEFAULTS),  # another branch's setting is not ours
    ],
)
def test_a_sites_days_come_from_the_nearest_region_that_sets_them(
    own: dict[int, OwnDays], days: SiteDays
) -> None:
    assert site_days_of("1/4/17/", own) == days


# inactivity ------------------------------------------------------------------------------

NOW = local(2026, 11, 16, 10, 0)


@pytest.mark.parametrize(
    ("joined_days_ago", "last_days_ago", "inactive"),
    [
        (7, None, False),  # joined last week: not yet
        (29, None, False),
        (31, None, True),  # a month on, nothing recorded
        (60, 31, True),
        (60, 29, False),
        (60, 30, False),  # exactly 30 days: still active
        (365, 1, False),
    ],
)
def test_an_inactive_volunteer(
    joined_days_ago: int, last_days_ago: int | None, inactive: bool
) -> None:
    last = None if last_days_ago is None else NOW - dt.timedelta(days=last_days_ago)
    assert (
        is_inactive(joined_at=NOW - dt.timedelta(days=joined_days_ago), last_check_in=last, now=NOW)
        is inactive
    )


# reminders -------------------------------------------------------------------------------


def test_one_reminder_per_person_and_local_day() -> None:
    assert reminder_key(7, dt.date(2026, 11, 20)) == "reminder:7:2026-11-20"
    assert reminder_key(7, dt.date(2026, 11, 20)) != reminder_key(7, dt.date(2026, 11, 21))
    assert reminder_key(7, dt.date(2026, 11, 20)) != reminder_key(8, dt.date(2026, 11, 20))


def _due(activity: Activity, period: Period, due_at: dt.datetime) -> DueItem:
    return DueItem(1, 2, 3, activity, period, 1, 0, due_at)


def test_a_missing_monthly_item_is_due_by_the_months_last_day() -> None:
    item = open_item(_due(Activity.talk, Period.month, Month(2026, 11).end(SHANGHAI)), SHANGHAI)
    assert item == OpenItem(Activity.talk, dt.date(2026, 11, 30), this_month=True)


def test_a_semesters_letter_is_due_by_the_semesters_last_day() -> None:
    _, end = semester_bounds(Month(2026, 11), SHANGHAI)
    item = open_item(_due(Activity.parent_letter, Period.semester, end), SHANGHAI)
    assert item == OpenItem(Activity.parent_letter, dt.date(2027, 2, 28), this_month=False)


@pytest.mark.parametrize(
    ("due", "missing"),
    [
        (DueItem(1, 2, 3, Activity.talk, Period.month, 1, 0, NOW), 1),
        (DueItem(1, 2, 3, Activity.talk, Period.month, 2, 1, NOW), 1),
        (DueItem(1, 2, 3, Activity.talk, Period.month, 1, 3, NOW), 0),
    ],
)
def test_what_is_missing_never_goes_below_nothing(due: DueItem, missing: int) -> None:
    assert due.missing == missing


def _concern(name: str, day: int) -> ConcernReminder:
    at = local(2026, 11, day, 10, 0)
    return ConcernReminder(name, ConcernKind.mood, at, at.date())


def test_nothing_open_means_no_digest() -> None:
    assert digest_of([("李小花", []), ("王小明", [])], []) is None


def test_a_digest_lists_children_with_something_open_soonest_first() -> None:
    nov, feb = dt.date(2026, 11, 30), dt.date(2027, 2, 28)
    digest = digest_of(
        [
            ("李小花", [OpenItem(Activity.parent_letter, feb), OpenItem(Activity.talk, nov, True)]),
            ("王小明", []),
        ],
        [],
    )
    assert digest is not None
    assert [c.child_name for c in digest.children] == ["李小花"]
    assert [i.activity for i in digest.children[0].items] == [Activity.talk, Activity.parent_letter]


def test_a_childs_concern_comes_once_nearest_deadline_first() -> None:
    later, sooner = _concern("李小花", 19), _concern("王小明", 17)
    digest = digest_of([("李小花", [])], [later, sooner, later])
    assert digest is not None
    assert digest.children == ()
    assert digest.concerns == (sooner, later)


# (region or 0 for the defaults, volunteer kind or None, key children only, activity,
# period, times)
RULES: list[Rule] = [
    (0, None, False, Activity.home_visit, Period.month, 1),
    (0, "surrogate", False, Activity.talk, Period.month, 2),
    (0, None, True, Activity.talk, Period.month, 4),
    (0, None, False, Activity.parent_letter, Period.semester, 1),
    (17, None, False, Activity.home_visit, Period.month, 2),
    (17, "teacher", False, Activity.tutoring, Period.month, 0),
]


def test_the_nearest_region_with_rules_of_its_own_decides() -> None:
    assert nearest_ruled("1/4/17/", {17, 4}) == 17
    assert nearest_ruled("1/4/18/", {17, 4}) == 4
    assert nearest_ruled("1/5/19/", {17, 4}) == 0  # the programme defaults


def test_what_the_rules_require_of_a_class_of_pairing() -> None:
    assert required_by(RULES, region=0, kind="teacher", key_child=False) == [
        (Activity.home_visit, Period.month, 1),
        (Activity.parent_letter, Period.semester, 1),
    ]
    # the largest count where several rules apply; ordered by activity
    assert required_by(RULES, region=0, kind="surrogate", key_child=True) == [
        (Activity.home_visit, Period.month, 1),
        (Activity.parent_letter, Period.semester, 1),
        (Activity.talk, Period.month, 4),
    ]
    # a region's own rules replace the defaults; a rule of 0 times requires nothing
    assert required_by(RULES, region=17, kind="teacher", key_child=True) == [
        (Activity.home_visit, Period.month, 2),
    ]
