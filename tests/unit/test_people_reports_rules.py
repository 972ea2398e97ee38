"""The region tree and scopes; what the reports count: the week, the chart's bars, the
monthly record's summary; what is overdue first."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from domain.care.concerns import visit_due
from domain.errors import BadParent, NeedsParent
from domain.models import Activity, ConcernKind, Escalation, EscalationKind, Period, RegionKind
from domain.people.identity import Scope
from domain.people.regions import check_parent, within
from domain.people.scopes import holding, outermost
from domain.reports.care_record import ConcernOutcome, RecordRow, SiteRecord, summarise
from domain.reports.overview import Overview, six_ones
from domain.reports.rosters import (
    Completion,
    DistrictWeek,
    SiteWeek,
    VolunteerWeek,
    Week,
    scope_roster,
    week_of,
)
from domain.schedule.calendar import Month
from domain.schedule.deadlines import ancestor_ids, nearest_setting
from domain.schedule.due import DueItem
from domain.schedule.overdue import OverdueKind, from_escalation

SHANGHAI = ZoneInfo("Asia/Shanghai")

# the region tree -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "ids"), [("1/", [1]), ("1/4/17/", [1, 4, 17]), ("", [])])
def test_a_regions_chain_from_the_top(path: str, ids: list[int]) -> None:
    assert ancestor_ids(path) == ids


@pytest.mark.parametrize(
    ("set_at", "value"),
    [
        ({}, 30),  # the programme default
        ({1: 45}, 45),  # the district's
        ({1: 45, 4: 20}, 20),  # the township's, nearer
        ({1: 45, 4: None, 17: 10}, 10),  # the site's own
        ({1: 45, 4: None}, 45),  # an empty setting inherits
        ({5: 60}, 30),  # another township's is not ours
    ],
)
def test_a_setting_comes_from_the_nearest_region_that_sets_it(
    set_at: dict[int, int | None], value: int
) -> None:
    assert nearest_setting("1/4/17/", set_at, 30) == value


@pytest.mark.parametrize(
    ("region", "scope", "inside"),
    [
        ("1/4/17/", "1/", True),
        ("1/4/17/", "1/4/17/", True),
        ("1/4/", "1/4/17/", False),  # above the scope
        ("1/41/", "1/4/", False),  # 41 is not under 4
        ("1/5/18/", "1/4/", False),
    ],
)
def test_a_region_within_a_scope(region: str, scope: str, inside: bool) -> None:
    assert within(region, scope) is inside


@pytest.mark.parametrize(
    ("kind", "parent", "whole_tree"),
    [
        (RegionKind.district, None, True),
        (RegionKind.township, RegionKind.district, True),
        (RegionKind.school, RegionKind.township, True),
        (RegionKind.village, RegionKind.township, True),
        (RegionKind.community, RegionKind.township, True),
        (RegionKind.school, RegionKind.district, False),  # a school straight under a district
        (RegionKind.school, None, False),
    ],
)
def test_where_a_level_may_sit(
    kind: RegionKind, parent: RegionKind | None, whole_tree: bool
) -> None:
    check_parent(kind, parent, whole_tree=whole_tree)


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        (RegionKind.district, RegionKind.township),
        (RegionKind.township, RegionKind.school),
        (RegionKind.school, RegionKind.village),  # sites side by side
        (RegionKind.township, RegionKind.township),
    ],
)
def test_a_level_under_a_lower_or_equal_one_is_refused(
    kind: RegionKind, parent: RegionKind
) -> None:
    with pytest.raises(BadParent):
        check_parent(kind, parent, whole_tree=False)


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        (RegionKind.school, RegionKind.district),
        (RegionKind.school, None),
        (RegionKind.township, None),
    ],
)
def test_the_operators_tree_has_every_level(kind: RegionKind, parent: RegionKind | None) -> None:
    with pytest.raises(NeedsParent):
        check_parent(kind, parent, whole_tree=True)


DISTRICT = Scope(1, "XS", "秀山区", "1/")
TOWNSHIP = Scope(4, "XS-ZH", "中和镇", "1/4/")
SCHOOL = Scope(17, "XS-ZH-01", "中和小学", "1/4/17/")
OTHER = Scope(5, "XS-QX", "清溪镇", "1/5/")


@pytest.mark.parametrize(
    ("scopes", "path", "held_by"),
    [
        ([SCHOOL, TOWNSHIP], "1/4/17/", TOWNSHIP),  # the widest
        ([SCHOOL, OTHER], "1/4/17/", SCHOOL),
        ([SCHOOL, OTHER], "1/5/30/", OTHER),
        ([SCHOOL], "1/4/18/", None),
        ([], "1/4/17/", None),
    ],
)
def test_which_scope_holds_a_region(scopes: list[Scope], path: str, held_by: Scope | None) -> None:
    assert holding(scopes, path) == held_by


def test_scopes_inside_another_are_counted_once() -> None:
    assert outermost([SCHOOL, TOWNSHIP, OTHER]) == [TOWNSHIP, OTHER]
    assert outermost([SCHOOL, DISTRICT, OTHER]) == [DISTRICT]


# the week's roster ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "iso", "monday", "month"),
    [
        (
            dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI),
            "2026-W47",
            dt.date(2026, 11, 16),
            Month(2026, 11),
        ),
        (
            dt.datetime(2026, 11, 22, 23, tzinfo=SHANGHAI),
            "2026-W47",
            dt.date(2026, 11, 16),
            Month(2026, 11),
        ),
        # Sunday 17:00 UTC is Monday 01:00 in Shanghai: the next week
        (
            dt.datetime(2026, 11, 22, 17, tzinfo=dt.UTC),
            "2026-W48",
            dt.date(2026, 11, 23),
            Month(2026, 11),
        ),
        # a week across the year: ISO week 53 of 2026, month of the day
        (
            dt.datetime(2027, 1, 1, 9, tzinfo=SHANGHAI),
            "2026-W53",
            dt.date(2026, 12, 28),
            Month(2027, 1),
        ),
    ],
)
def test_the_week_a_roster_covers(
    now: dt.datetime, iso: str, monday: dt.date, month: Month
) -> None:
    assert week_of(now, SHANGHAI) == Week(iso, monday, month)


def volunteer(vid: int, path: str) -> VolunteerWeek:
    return VolunteerWeek(vid, vid, f"志愿者{vid}", 0, "", path, unreachable=False)


DATA = DistrictWeek(
    week=Week("2026-W47", dt.date(2026, 11, 16), Month(2026, 11)),
    volunteers=[volunteer(1, "1/4/17/"), volunteer(2, "1/4/18/"), volunteer(3, "1/5/30/")],
    sites={
        17: SiteWeek("中和小学", "1/4/17/", required=10, done=4),
        18: SiteWeek("龙池小学", "1/4/18/", required=6, done=6),
        30: SiteWeek("清溪小学", "1/5/30/", required=8, done=2),
    },
    region_names={
        1: "秀山区",
        4: "中和镇",
        5: "清溪镇",
        17: "中和小学",
        18: "龙池小学",
        30: "清溪小学",
    },
)


def test_a_townships_chart_has_a_bar_per_school() -> None:
    roster = scope_roster(DATA, scope_name="中和镇", scope_path="1/4/")
    assert [(c.name, c.required, c.done) for c in roster.completion] == [
        ("中和小学", 10, 4),
        ("龙池小学", 6, 6),
    ]
    assert [v.volunteer_id for v in roster.volunteers] == [1, 2]


def test_a_districts_chart_has_a_bar_per_township() -> None:
    roster = scope_roster(DATA, scope_name="秀山区", scope_path="1/")
    assert [(c.name, c.required, c.done) for c in roster.completion] == [
        ("中和镇", 16, 10),
        ("清溪镇", 8, 2),
    ]
    assert len(roster.volunteers) == 3


@pytest.mark.parametrize(("required", "done", "share"), [(10, 4, 0.4), (6, 6, 1.0), (0, 0, None)])
def test_a_site_with_nothing_due_is_not_all_done(
    required: int, done: int, share: float | None
) -> None:
    assert Completion("中和小学", required, done).share == share


# the monthly care record ----------------------------------------------------------------------


def test_a_sites_record_summed_up_for_the_township() -> None:
    mood = ConcernOutcome(ConcernKind.mood, dt.date(2026, 11, 3), closed=True)
    grades = ConcernOutcome(ConcernKind.grades, dt.date(2026, 11, 20), closed=False)
    rows = [
        RecordRow("李小花", "王老师", concerns=[mood, grades]),
        RecordRow("王小明", "王老师", missing=[Activity.home_visit]),
        RecordRow("张小红", None),  # no surrogate parent: incomplete
    ]
    record = SiteRecord(
        17,
        "中和小学",
        Month(2026, 11),
        rows,
        letters_missing=("赵小军",),
        made_on=dt.date(2026, 11, 24),
    )
    summary = summarise(record)
    assert (summary.key_children, summary.with_surrogate) == (3, 2)
    assert (summary.complete, summary.incomplete) == (1, 2)
    assert (summary.concerns, summary.open_concerns) == (2, 1)
    assert summary.letters_missing == 1
    assert summary.made_on == dt.date(2026, 11, 24)


@pytest.mark.parametrize(
    ("volunteer_name", "missing", "complete"),
    [("王老师", [], True), ("王老师", [Activity.talk], False), (None, [], False)],
)
def test_a_record_row_is_complete(
    volunteer_name: str | None, missing: list[Activity], complete: bool
) -> None:
    assert RecordRow("李小花", volunteer_name, missing=missing).complete is complete


# what is overdue, first ----------------------------------------------------------------------


def escalation(kind: EscalationKind, **fields: object) -> Escalation:
    return Escalation(
        id=3,
        kind=kind,
        item_key=f"{kind}:1",
        child_id=8,
        opened_at=dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI),
        **fields,
    )


def test_an_older_missed_month_says_what_the_ladder_found_missing() -> None:
    item = from_escalation(
        escalation(
            EscalationKind.missed_monthly,
            period_start=dt.date(2026, 9, 1),
            details={"missing": ["home_visit", "no_such_thing"]},
        ),
        SHANGHAI,
    )
    assert item.kind is OverdueKind.missed
    assert item.month == Month(2026, 9)
    assert item.activities == (Activity.home_visit,)
    assert item.since == Month(2026, 9).end(SHANGHAI)


@pytest.mark.parametrize(
    ("kind", "overdue_kind"),
    [
        (EscalationKind.must_visit, OverdueKind.must_visit),
        (EscalationKind.dropout, OverdueKind.escalation),
        (EscalationKind.emergency, OverdueKind.escalation),
    ],
)
def test_an_open_escalation_as_an_overdue_item(
    kind: EscalationKind, overdue_kind: OverdueKind
) -> None:
    item = from_escalation(escalation(kind), SHANGHAI)
    assert item.kind is overdue_kind
    assert item.escalation_id == 3


def test_emergencies_first_then_drop_outs_must_visits_and_missed_months() -> None:
    items = [
        from_escalation(escalation(kind, period_start=dt.date(2026, 9, 1)), SHANGHAI)
        for kind in (
            EscalationKind.missed_monthly,
            EscalationKind.must_visit,
            EscalationKind.dropout,
            EscalationKind.emergency,
        )
    ]
    ordered = sorted(items, key=lambda i: i.sort_key())
    assert [i.escalation_kind for i in ordered] == [
        EscalationKind.emergency,
        EscalationKind.dropout,
        EscalationKind.must_visit,
        EscalationKind.missed_monthly,
    ]


# what a month's record row holds --------------------------------------------------------------

NOVEMBER = Month(2026, 11)
NOVEMBER_END = NOVEMBER.end(SHANGHAI)
SEMESTER_END = dt.datetime(2027, 3, 1, tzinfo=SHANGHAI)


def due_item(
    activity: Activity, period: Period, required: int, done: int, due_at: dt.datetime
) -> DueItem:
    return DueItem(1, 2, 3, activity, period, required, done, due_at)


def test_a_record_row_counts_what_falls_due_this_month() -> None:
    row = RecordRow("李小花", "王老师")
    row.count_due(due_item(Activity.home_visit, Period.month, 1, 0, NOVEMBER_END), NOVEMBER_END)
    row.count_due(due_item(Activity.talk, Period.month, 1, 1, NOVEMBER_END), NOVEMBER_END)
    # the letter to the parents falls due with the semester, not in November
    row.count_due(
        due_item(Activity.parent_letter, Period.semester, 1, 0, SEMESTER_END), NOVEMBER_END
    )
    assert row.required == {Activity.home_visit: 1, Activity.talk: 1}
    assert row.missing == [Activity.home_visit]
    assert not row.complete


def test_the_semesters_letter_is_missing_in_its_last_month() -> None:
    row = RecordRow("李小花", "王老师")
    february_end = Month(2027, 2).end(SHANGHAI)
    row.count_due(
        due_item(Activity.parent_letter, Period.semester, 1, 0, SEMESTER_END), february_end
    )
    assert row.missing == [Activity.parent_letter]


def test_a_record_row_keeps_the_latest_answers_and_every_note_by_local_day() -> None:
    row = RecordRow("李小花", "王老师")
    # 17:00 UTC on the 2nd is the 3rd in Shanghai
    row.add_visit(
        dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC),
        {"meals": "no", "picky": "yes"},
        " 奶奶生病 ",
        SHANGHAI,
    )
    row.add_visit(dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC), {"meals": "yes"}, None, SHANGHAI)
    row.add_visit(
        dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC), None, "   ", SHANGHAI
    )  # JSON null
    assert row.visit_answers == {"meals": "yes", "picky": "yes"}
    assert row.notes == [(dt.date(2026, 11, 3), "奶奶生病")]


@pytest.mark.parametrize(
    ("closed_at", "closed", "closed_on"),
    [
        (None, False, None),
        (dt.datetime(2026, 11, 18, 16, 30, tzinfo=dt.UTC), True, dt.date(2026, 11, 19)),
    ],
)
def test_a_must_visit_on_the_record_by_local_days(
    closed_at: dt.datetime | None, closed: bool, closed_on: dt.date | None
) -> None:
    raised = dt.datetime(2026, 11, 15, 23, 0, tzinfo=dt.UTC)  # the 16th in Shanghai
    outcome = ConcernOutcome.of(ConcernKind.mood, raised, closed_at, SHANGHAI)
    assert outcome == ConcernOutcome(ConcernKind.mood, dt.date(2026, 11, 16), closed, closed_on)


@pytest.mark.parametrize(
    ("days", "due_on"),
    [(3, dt.date(2026, 11, 19)), (1, dt.date(2026, 11, 17)), (7, dt.date(2026, 11, 23))],
)
def test_a_must_visit_is_due_within_the_sites_days(days: int, due_on: dt.date) -> None:
    raised = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
    assert visit_due(raised, days) == dt.datetime.combine(due_on, dt.time(10, 0), SHANGHAI)


# the overview's figures ----------------------------------------------------------------------


def test_the_six_ones_count_each_activity_up_to_what_is_required() -> None:
    items = [
        due_item(Activity.talk, Period.month, 1, 3, NOVEMBER_END),  # three talks count as one
        due_item(Activity.home_visit, Period.month, 1, 0, NOVEMBER_END),
        due_item(Activity.family_meal, Period.month, 1, 1, NOVEMBER_END),
        due_item(Activity.parent_letter, Period.semester, 1, 0, SEMESTER_END),  # not one of them
        due_item(Activity.parent_call, Period.month, 1, 0, NOVEMBER_END),  # 三个一, not 六个一
    ]
    assert six_ones(items) == (2, 3)


@pytest.mark.parametrize(
    ("done", "required", "percent"), [(2, 3, 66), (0, 5, 0), (5, 5, 100), (0, 0, None)]
)
def test_the_six_ones_percent(done: int, required: int, percent: int | None) -> None:
    overview = Overview(10, 3, 0, 4, 1, done, required, 0, 0)
    assert overview.six_ones_percent == percent
