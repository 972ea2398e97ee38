"""The rules of emergencies and drop-outs, without a database: who may raise one, who may
see one, when it is sent again, when the drop-out report falls due."""

from __future__ import annotations

import datetime as dt

from domain.care.emergencies import (
    EntrustedGuardian,
    Incident,
    StepKind,
    level_of,
    may_raise,
    may_see,
    parse_guardian,
    parse_step,
    report_due,
    round_of,
    urgent_steps_due,
)

SITE = "1/2/3/"  # district 1, township 2, school 3
T0 = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)  # 03:00 in Beijing the next day
EVERY = dt.timedelta(minutes=30)


def test_who_may_raise_one() -> None:
    assert may_raise(SITE, paired=True)
    assert not may_raise(SITE, paired=False)
    assert may_raise(SITE, paired=False, teacher_site_paths=[SITE])
    assert not may_raise(SITE, paired=False, teacher_site_paths=["1/2/4/"])
    assert may_raise(SITE, paired=False, scope_paths=["1/2/"])
    assert may_raise(SITE, paired=False, scope_paths=[SITE])
    assert not may_raise(SITE, paired=False, scope_paths=["1/5/"])


def test_bullying_is_seen_by_the_reporter_and_the_levels_above_the_site_only() -> None:
    def sees(viewer: int, scopes: list[str], paired: bool = False) -> bool:
        return may_see(
            Incident.bullying,
            SITE,
            viewer_id=viewer,
            reporter_id=7,
            scope_paths=scopes,
            paired=paired,
        )

    assert sees(7, [])  # the reporter
    assert sees(8, ["1/2/"]) and sees(8, ["1/"])  # township, district
    assert not sees(8, [SITE])  # the site's coordinator
    assert not sees(8, [], paired=True)  # another volunteer, even the paired one
    assert not sees(8, ["1/5/"])


def test_other_incidents_are_seen_by_everyone_responsible() -> None:
    def sees(scopes: list[str], paired: bool = False) -> bool:
        return may_see(
            Incident.missing, SITE, viewer_id=8, reporter_id=7, scope_paths=scopes, paired=paired
        )

    assert sees([SITE]) and sees(["1/"]) and sees([], paired=True)
    assert not sees([]) and not sees(["1/5/"])


def test_an_emergency_reaches_all_levels_then_again_every_interval() -> None:
    assert urgent_steps_due(last_step=0, last_sent_at=None, now=T0, every=EVERY) == [1, 2, 3]
    later = T0 + dt.timedelta(minutes=29)
    assert urgent_steps_due(last_step=3, last_sent_at=T0, now=later, every=EVERY) == []
    again = T0 + EVERY
    assert urgent_steps_due(last_step=3, last_sent_at=T0, now=again, every=EVERY) == [4, 5, 6]
    # a round where the district had nobody to reach ends at step 5: the next is still 7-9
    assert urgent_steps_due(last_step=5, last_sent_at=again, now=again + EVERY, every=EVERY) == [
        7,
        8,
        9,
    ]
    assert [level_of(s) for s in (1, 2, 3, 4, 5, 6)] == [1, 2, 3, 1, 2, 3]
    assert [round_of(s) for s in (1, 3, 4, 7)] == [0, 0, 1, 2]


def test_the_drop_out_report_is_due_after_the_sites_deadline_unless_back() -> None:
    opened = dt.date(2026, 11, 2)

    def due(today: dt.date, *, returned: bool = False, reported: bool = False) -> bool:
        return report_due(
            opened_on=opened, today=today, days=15, returned=returned, reported=reported
        )

    assert not due(dt.date(2026, 11, 16))
    assert due(dt.date(2026, 11, 17))
    assert not due(dt.date(2026, 11, 20), returned=True)
    assert not due(dt.date(2026, 11, 20), reported=True)


TODAY = dt.date(2026, 11, 20)


def test_a_persuasion_visit_is_read_from_one_message() -> None:
    fields = parse_step(
        StepKind.persuasion, "班主任王老师、村干部李主任 11月18日 家长同意下周一返校", today=TODAY
    )
    assert fields == {
        "on_day": dt.date(2026, 11, 18),
        "by_whom": "班主任王老师、村干部李主任",
        "note": "家长同意下周一返校",
    }
    assert parse_step(StepKind.persuasion, "王老师 昨天 没见到人", today=TODAY)["on_day"] == (
        dt.date(2026, 11, 19)
    )
    # a December visit typed in January belongs to last year
    january = dt.date(2027, 1, 3)
    assert parse_step(StepKind.persuasion, "王老师 12/30", today=january)["on_day"] == (
        dt.date(2026, 12, 30)
    )
    assert parse_step(StepKind.persuasion, "王老师 13月40日", today=TODAY)["on_day"] == TODAY


def test_found_and_police_keep_the_place() -> None:
    found = parse_step(StepKind.found, "11月18日 在县城外婆家", today=TODAY)
    assert found["on_day"] == dt.date(2026, 11, 18) and found["place"] == "在县城外婆家"
    police = parse_step(StepKind.police, "11/19 中和派出所", today=TODAY)
    assert police["on_day"] == dt.date(2026, 11, 19) and police["place"] == "中和派出所"


def test_an_entrusted_guardian_is_read_from_one_message() -> None:
    assert parse_guardian("李桂兰 姑姑 13800000003 11月20日 签订", today=TODAY) == (
        EntrustedGuardian("李桂兰", "姑姑", "13800000003", dt.date(2026, 11, 20))
    )
    pending = parse_guardian("李桂兰，姑姑", today=TODAY)
    assert pending == EntrustedGuardian("李桂兰", "姑姑", None, None)
    assert parse_guardian("11月20日", today=TODAY) is None
