"""The escalation ladder's rules: when each step is due, to whom, in how many messages;
and the emergencies' rounds, levels, who may raise and see them, the drop-out report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from domain.care.emergencies import (
    LEVELS,
    Incident,
    escalation_kind,
    level_of,
    may_raise,
    may_see,
    report_due,
    round_of,
    urgent_steps_due,
)
from domain.models import ConcernKind, EscalationKind
from domain.schedule.calendar import Month
from domain.schedule.escalations import handled_before
from domain.schedule.ladder import (
    DIGEST_ABOVE,
    LADDER_RULES,
    URGENT_ALONE,
    WORST_CASES,
    EscalationNotice,
    area_digest,
    deadline_of,
    level_told,
    message_groups,
    recipients_of_step,
    steps_due,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
NOVEMBER_END = Month(2026, 11).end(SHANGHAI)  # 00:00 on 1 December, local


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# when each step is due ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "last_step", "due"),
    [
        (NOVEMBER_END - MINUTE, 0, []),  # the month not over yet
        (NOVEMBER_END, 0, [1]),  # the site on the 1st
        (NOVEMBER_END + 3 * DAY - MINUTE, 1, []),
        (NOVEMBER_END + 3 * DAY, 1, [2]),  # the township three days on
        (NOVEMBER_END + 7 * DAY, 1, [2, 3]),  # a missed run: both at once
        (NOVEMBER_END + 7 * DAY, 2, [3]),  # the district a week on
        (NOVEMBER_END + 30 * DAY, 3, []),  # the top: nothing further
    ],
)
def test_a_missed_month_climbs_slowly(now: dt.datetime, last_step: int, due: list[int]) -> None:
    rule = LADDER_RULES[EscalationKind.missed_monthly]
    assert steps_due(rule, deadline=NOVEMBER_END, last_step=last_step, now=now) == due


@pytest.mark.parametrize(
    ("hours_after", "due"),
    [(-1, []), (0, [1]), (23, [1]), (24, [1, 2]), (48, [1, 2, 3])],
)
def test_a_must_visit_climbs_a_level_a_day(hours_after: int, due: list[int]) -> None:
    deadline = local(2026, 11, 19, 10, 0)
    now = deadline + dt.timedelta(hours=hours_after)
    rule = LADDER_RULES[EscalationKind.must_visit]
    assert steps_due(rule, deadline=deadline, last_step=0, now=now) == due


@pytest.mark.parametrize("kind", [EscalationKind.emergency, EscalationKind.dropout])
def test_emergencies_reach_every_level_at_once_day_or_night(kind: EscalationKind) -> None:
    rule = LADDER_RULES[kind]
    assert rule.quiet_hours is False
    assert set(rule.offsets) == {dt.timedelta(0)}


@pytest.mark.parametrize("kind", [EscalationKind.missed_monthly, EscalationKind.must_visit])
def test_the_ladders_wait_for_the_morning(kind: EscalationKind) -> None:
    assert LADDER_RULES[kind].quiet_hours is True
    assert len(LADDER_RULES[kind].offsets) == 3  # site, township, district


# what the ladder counts from ------------------------------------------------------------------


def test_a_missed_month_counts_from_the_months_end() -> None:
    deadline = deadline_of(
        EscalationKind.missed_monthly,
        period_start=dt.date(2026, 11, 1),
        concern_due=None,
        opened_at=local(2026, 12, 1, 0, 10),
        tz=SHANGHAI,
    )
    assert deadline == NOVEMBER_END


def test_a_must_visit_counts_from_its_deadline() -> None:
    due = local(2026, 11, 19, 10, 0)
    assert (
        deadline_of(
            EscalationKind.must_visit,
            period_start=None,
            concern_due=due,
            opened_at=due + dt.timedelta(minutes=10),
            tz=SHANGHAI,
        )
        == due
    )


@pytest.mark.parametrize("kind", [EscalationKind.emergency, EscalationKind.dropout])
def test_an_emergency_counts_from_when_it_was_raised(kind: EscalationKind) -> None:
    raised = local(2026, 11, 16, 23, 40)
    assert (
        deadline_of(kind, period_start=None, concern_due=None, opened_at=raised, tz=SHANGHAI)
        == raised
    )


# to whom ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    reachable: bool = True


SCHOOL, TOWNSHIP, DISTRICT = 17, 4, 1
CHAIN = [SCHOOL, TOWNSHIP, DISTRICT]
WANG, LI, ZHAO, CHEN = 10, 11, 12, 13
PEOPLE = {
    WANG: Person("王老师"),
    LI: Person("李主任"),
    ZHAO: Person("赵科长"),
    CHEN: Person("陈老师", reachable=False),
}


@pytest.mark.parametrize(
    ("step", "region", "told"),
    [(1, SCHOOL, ["王老师"]), (2, TOWNSHIP, ["李主任"]), (3, DISTRICT, ["赵科长"])],
)
def test_step_n_goes_n_minus_one_levels_above_the_site(
    step: int, region: int, told: list[str]
) -> None:
    coordinators = {SCHOOL: [WANG], TOWNSHIP: [LI], DISTRICT: [ZHAO]}
    found, heads, skipped = recipients_of_step(CHAIN, step, coordinators, PEOPLE)
    assert (found, [h.name for h in heads], skipped) == (region, told, [])


def test_a_level_nobody_can_be_reached_at_is_passed_over_and_named() -> None:
    coordinators = {SCHOOL: [CHEN], TOWNSHIP: [LI], DISTRICT: [ZHAO]}
    found, heads, skipped = recipients_of_step(CHAIN, 1, coordinators, PEOPLE)
    assert found == TOWNSHIP
    assert [h.name for h in heads] == ["李主任"]
    assert [s.name for s in skipped] == ["陈老师"]


def test_a_level_without_coordinators_is_passed_over() -> None:
    found, heads, _ = recipients_of_step(CHAIN, 1, {DISTRICT: [ZHAO]}, PEOPLE)
    assert (found, [h.name for h in heads]) == (DISTRICT, ["赵科长"])


def test_nobody_reachable_up_to_the_top() -> None:
    found, heads, skipped = recipients_of_step(CHAIN, 2, {TOWNSHIP: [CHEN]}, PEOPLE)
    assert (found, heads, [s.name for s in skipped]) == (DISTRICT, [], ["陈老师"])


def test_a_step_beyond_the_tree_goes_to_its_top() -> None:
    # a site right under the district: step 3 has no third level
    found, heads, _ = recipients_of_step([SCHOOL, DISTRICT], 3, {DISTRICT: [ZHAO]}, PEOPLE)
    assert (found, [h.name for h in heads]) == (DISTRICT, ["赵科长"])


# in how many messages -----------------------------------------------------------------------


def test_one_step_is_one_message() -> None:
    assert message_groups([(5, EscalationKind.missed_monthly)]) == [("escalation-step:5", [5])]


def test_several_ladder_steps_come_as_one_digest() -> None:
    steps = [(5, EscalationKind.missed_monthly), (6, EscalationKind.must_visit)]
    assert len(steps) > DIGEST_ABOVE
    assert message_groups(steps) == [("escalation-digest:5", [5, 6])]


def test_each_emergency_is_a_message_of_its_own_up_to_a_handful() -> None:
    steps = [(i, EscalationKind.emergency) for i in range(1, URGENT_ALONE + 3)]
    groups = message_groups(steps)
    alone = [ids for key, ids in groups if key.startswith("escalation-step:")]
    assert alone == [[i] for i in range(1, URGENT_ALONE + 1)]
    assert groups[-1] == (
        f"escalation-digest:{URGENT_ALONE + 1}",
        [URGENT_ALONE + 1, URGENT_ALONE + 2],
    )


def test_an_emergency_is_not_lost_in_the_ladders_digest() -> None:
    steps = [
        (1, EscalationKind.missed_monthly),
        (2, EscalationKind.dropout),
        (3, EscalationKind.missed_monthly),
    ]
    assert message_groups(steps) == [
        ("escalation-step:2", [2]),
        ("escalation-digest:1", [1, 3]),
    ]


def test_every_step_is_in_exactly_one_message() -> None:
    steps = [(i, kind) for i, kind in enumerate(list(EscalationKind) * 4, start=1)]
    ids = [sid for _, group in message_groups(steps) for sid in group]
    assert sorted(ids) == [sid for sid, _ in steps]


# the digest for the levels above the sites -------------------------------------------------


def notice(
    child_id: int,
    name: str,
    kind: EscalationKind,
    days_late: int,
    unreachable: tuple[str, ...] = (),
) -> EscalationNotice:
    return EscalationNotice(
        escalation_id=child_id,
        step=2,
        kind=kind,
        child_name=name,
        site_name="中和小学",
        deadline=NOVEMBER_END,
        overdue=days_late * DAY,
        month=Month(2026, 11) if kind is EscalationKind.missed_monthly else None,
        missing=(),
        concern=ConcernKind.mood if kind is EscalationKind.must_visit else None,
        volunteers=(),
        unreachable=unreachable,
        days_late=days_late,
        child_id=child_id,
    )


MISSED, VISIT = EscalationKind.missed_monthly, EscalationKind.must_visit


def test_an_area_digest_counts_children_per_area_below_most_first() -> None:
    digest = area_digest(
        "中和镇",
        [
            ("中和小学", notice(1, "李小花", MISSED, 3)),
            ("中和小学", notice(1, "李小花", VISIT, 1)),  # one child, two things
            ("龙池小学", notice(2, "王小明", MISSED, 3)),
            ("龙池小学", notice(3, "张小红", MISSED, 3)),
        ],
        with_worst=False,
    )
    assert [(a.name, a.children, a.missed, a.must_visits) for a in digest.below] == [
        ("龙池小学", 2, 2, 0),
        ("中和小学", 1, 1, 1),
    ]
    assert digest.total == 4
    assert digest.worst == ()


def test_the_worst_cases_are_must_visits_then_the_longest_overdue() -> None:
    entries = [
        ("中和小学", notice(i, f"孩子{i}", MISSED, i)) for i in range(1, WORST_CASES + 3)
    ] + [("中和小学", notice(99, "李小花", VISIT, 1))]
    digest = area_digest("中和镇", entries, with_worst=True)
    assert len(digest.worst) == WORST_CASES
    assert digest.worst[0].child_name == "李小花"
    assert [n.days_late for n in digest.worst[1:]] == [7, 6, 5, 4]


def test_an_area_digest_names_whom_the_bot_cannot_reach_once() -> None:
    digest = area_digest(
        "秀山区",
        [
            ("中和镇", notice(1, "李小花", MISSED, 3, unreachable=("陈老师",))),
            ("清溪镇", notice(2, "王小明", MISSED, 3, unreachable=("陈老师", "刘老师"))),
        ],
        with_worst=False,
    )
    assert digest.unreachable == ("刘老师", "陈老师")


# emergencies: rounds and levels ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "level", "round_"),
    [(1, 1, 0), (2, 2, 0), (3, 3, 0), (4, 1, 1), (6, 3, 1), (7, 1, 2), (9, 3, 2)],
)
def test_an_emergencys_steps_go_round_the_levels(step: int, level: int, round_: int) -> None:
    assert LEVELS == 3
    assert level_of(step) == level
    assert round_of(step) == round_


RAISED = local(2026, 11, 16, 23, 40)
EVERY = dt.timedelta(minutes=30)


@pytest.mark.parametrize(
    ("last_step", "last_sent", "now", "due"),
    [
        (0, None, RAISED, [1, 2, 3]),  # all three levels at once, at night too
        (3, RAISED, RAISED + 29 * MINUTE, []),  # not taken, but not yet 30 minutes
        (3, RAISED, RAISED + 30 * MINUTE, [4, 5, 6]),  # sent again
        (6, RAISED + EVERY, RAISED + 2 * EVERY, [7, 8, 9]),
        (2, RAISED, RAISED + 30 * MINUTE, [4, 5, 6]),  # a round cut short: the next one
    ],
)
def test_an_emergency_nobody_takes_is_sent_again(
    last_step: int, last_sent: dt.datetime | None, now: dt.datetime, due: list[int]
) -> None:
    assert (
        urgent_steps_due(last_step=last_step, last_sent_at=last_sent, now=now, every=EVERY) == due
    )


@pytest.mark.parametrize(
    ("incident", "kind"),
    [
        (Incident.dropout, EscalationKind.dropout),
        (Incident.missing, EscalationKind.emergency),
        (Incident.bullying, EscalationKind.emergency),
        (Incident.unsupervised, EscalationKind.emergency),
    ],
)
def test_a_drop_out_has_a_ladder_of_its_own(incident: Incident, kind: EscalationKind) -> None:
    assert escalation_kind(incident) is kind


# 控辍保学: the written report ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_on", "returned", "reported", "due"),
    [
        (14, False, False, False),  # persuasion still has time
        (15, False, False, True),  # 15 days without the child back: report in writing
        (40, False, False, True),
        (20, True, False, False),  # back at school
        (20, False, True, False),  # already reported
    ],
)
def test_the_written_report_on_a_drop_out(
    days_on: int, returned: bool, reported: bool, due: bool
) -> None:
    opened = dt.date(2026, 11, 2)
    assert (
        report_due(
            opened_on=opened,
            today=opened + dt.timedelta(days=days_on),
            days=15,
            returned=returned,
            reported=reported,
        )
        is due
    )


# who may raise and see an incident ---------------------------------------------------------

DISTRICT_PATH, TOWNSHIP_PATH, SCHOOL_PATH = "1/", "1/4/", "1/4/17/"


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        ({"paired": True}, True),  # a volunteer for their child
        ({"paired": False}, False),
        ({"paired": False, "teacher_site_paths": [SCHOOL_PATH]}, True),  # a teacher of the school
        ({"paired": False, "teacher_site_paths": ["1/4/18/"]}, False),  # of another school
        ({"paired": False, "scope_paths": [TOWNSHIP_PATH]}, True),  # the township's coordinator
        ({"paired": False, "scope_paths": ["1/5/"]}, False),  # another township's
    ],
)
def test_who_may_raise_an_incident(kwargs: dict[str, object], allowed: bool) -> None:
    assert may_raise(SCHOOL_PATH, **kwargs) is allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("incident", "scopes", "paired", "seen"),
    [
        (Incident.missing, [SCHOOL_PATH], False, True),
        (Incident.missing, [], True, True),
        (Incident.missing, ["1/5/"], False, False),
        # bullying: the levels above the site only, not the school nor the volunteer
        (Incident.bullying, [SCHOOL_PATH], False, False),
        (Incident.bullying, [], True, False),
        (Incident.bullying, [TOWNSHIP_PATH], False, True),
        (Incident.bullying, [DISTRICT_PATH], False, True),
    ],
)
def test_who_may_see_an_incident(
    incident: Incident, scopes: list[str], paired: bool, seen: bool
) -> None:
    assert (
        may_see(
            incident, SCHOOL_PATH, viewer_id=5, reporter_id=9, scope_paths=scopes, paired=paired
        )
        is seen
    )


def test_the_reporter_always_sees_their_report() -> None:
    assert may_see(Incident.bullying, SCHOOL_PATH, viewer_id=9, reporter_id=9, scope_paths=[])


# a late press on an escalation ----------------------------------------------------------------

TAKEN = local(2026, 12, 1, 9, 0)
CLOSED = local(2026, 12, 2, 9, 0)


@pytest.mark.parametrize(
    ("acknowledged_by", "acknowledged_at", "closed_at", "before"),
    [
        (None, None, None, None),  # nobody has it: the presser may act
        (7, TAKEN, None, None),  # the presser took it themselves
        (8, TAKEN, None, (8, TAKEN)),  # another took it
        (8, TAKEN, CLOSED, (8, TAKEN)),  # another took it and closed it
        (7, TAKEN, CLOSED, (7, CLOSED)),  # the presser closed it already
        (None, None, CLOSED, (None, CLOSED)),  # closed by itself: the visit was recorded
    ],
)
def test_who_had_an_escalation_before_a_press(
    acknowledged_by: int | None,
    acknowledged_at: dt.datetime | None,
    closed_at: dt.datetime | None,
    before: tuple[int | None, dt.datetime] | None,
) -> None:
    assert (
        handled_before(
            acknowledged_by=acknowledged_by,
            acknowledged_at=acknowledged_at,
            closed_at=closed_at,
            person_id=7,
        )
        == before
    )


@pytest.mark.parametrize(
    ("kind", "step", "incident", "level"),
    [
        (EscalationKind.missed_monthly, 1, None, 1),
        (EscalationKind.must_visit, 3, None, 3),
        (EscalationKind.emergency, 1, "missing", 1),
        (EscalationKind.emergency, 5, "missing", 2),  # the second round's township
        (EscalationKind.emergency, 1, "bullying", None),  # not the school
        (EscalationKind.emergency, 4, "bullying", None),  # in no round
        (EscalationKind.emergency, 2, "bullying", 2),  # the township
        (EscalationKind.dropout, 3, "dropout", 3),
    ],
)
def test_the_level_each_step_is_told_to(
    kind: EscalationKind, step: int, incident: str | None, level: int | None
) -> None:
    assert level_told(kind, step, incident) == level
