"""The escalation ladder with a moved clock: who is told, when, and never twice."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.callbacks import EscalationAct, EscalationAction
from domain.db import UnitOfWork
from domain.models import (
    Activity,
    Concern,
    ConcernKind,
    Escalation,
    EscalationKind,
    EscalationStep,
    OutboxMessage,
    Pairing,
    RegionKind,
)
from domain.schedule import due, ladder
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI
from tests.factories import (
    make_checkin,
    make_child,
    make_pairing,
    make_site,
    make_volunteer,
    telegram_account,
)
from tests.outbox_support import shown
from tests.workers_support import Programme, coordinator, make_programme, outbox_to

NOVEMBER = Month(2026, 11)


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    year = 2026 if month >= 10 else 2027
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def climb(
    session: AsyncSession, now: dt.datetime, notices: Notices, tmp_path: Path
) -> ladder.LadderReport:
    return await ladder.climb(session, now=now, tz=SHANGHAI, text=notices, media_dir=tmp_path)


async def complete_month(session: AsyncSession, pairing: Pairing, when: dt.datetime) -> None:
    """A (late) check-in recording everything the pairing still owes in that month."""
    missing = await due.due_items(
        session,
        month=Month.of(when, SHANGHAI),
        tz=SHANGHAI,
        selection=due.Selection(pairing_ids=[pairing.id]),
        only_missing=True,
    )
    await make_checkin(
        session, pairing, occurred_at=when, activities=tuple(i.activity for i in missing)
    )


async def test_a_missed_month_climbs_site_township_district_at_its_times(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    await climb(session, at(11, 30, 23), notices, tmp_path)  # November is not over yet
    assert await session.scalar(select(func.count()).select_from(Escalation)) == 0

    first = await climb(session, at(12, 1, 9), notices, tmp_path)
    assert (first.opened, first.steps, first.messages) == (1, 1, 1)
    [message] = await outbox_to(session, p.school_head)
    text = shown(message)["text"]
    assert "小明" in text and "中和小学" in text
    assert "谈心" in text and "2026年11月" in text  # what is missing, in the head's Chinese
    escalation = await session.scalar(select(Escalation))
    assert escalation is not None and escalation.kind is EscalationKind.missed_monthly
    buttons = [b["callback_data"] for row in shown(message)["reply_markup"]["inline_keyboard"]
               for b in row]  # fmt: skip
    assert buttons == [
        EscalationAction(escalation_id=escalation.id, act=act).pack() for act in EscalationAct
    ]

    assert (await climb(session, at(12, 3, 23), notices, tmp_path)).steps == 0
    assert await outbox_to(session, p.township_head) == []
    assert (await climb(session, at(12, 4, 9), notices, tmp_path)).steps == 1
    [to_township] = await outbox_to(session, p.township_head)
    assert "已逾期 4 天" in shown(to_township)["text"]  # due by 30 November, now 4 December
    assert (await climb(session, at(12, 7, 23), notices, tmp_path)).steps == 0
    assert (await climb(session, at(12, 8, 9), notices, tmp_path)).steps == 1
    assert len(await outbox_to(session, p.district_head)) == 1
    assert (await climb(session, at(12, 20), notices, tmp_path)).steps == 0  # the top is reached

    steps = (await session.scalars(select(EscalationStep).order_by(EscalationStep.step))).all()
    assert [(s.step, s.recipient_id, s.region_id) for s in steps] == [
        (1, p.school_head.id, p.school.id),
        (2, p.township_head.id, p.township.id),
        (3, p.district_head.id, p.district.id),
    ]
    assert all(s.outbox_id is not None for s in steps)


async def test_the_semester_letter_is_not_missed_before_the_semesters_last_month(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    await climb(session, at(12, 1), notices, tmp_path)

    escalation = await session.scalar(select(Escalation))
    assert escalation is not None and "home_visit" in escalation.details["missing"]
    assert Activity.parent_letter.value not in escalation.details["missing"]
    [message] = await outbox_to(session, p.school_head)
    assert "给父母写信" not in shown(message)["text"]  # the reminder said: by 28 February


async def test_a_late_check_in_stops_the_climb(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await climb(session, at(12, 1), notices, tmp_path)

    await complete_month(session, p.pairing, at(11, 28))  # recorded late, back-dated
    report = await climb(session, at(12, 4), notices, tmp_path)

    assert (report.closed, report.steps) == (1, 0)
    escalation = await session.scalar(select(Escalation))
    assert escalation is not None and escalation.resolution == "done"
    assert await outbox_to(session, p.township_head) == []


async def test_closing_by_itself_leaves_no_live_buttons_on_its_copies(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await climb(session, at(12, 1), notices, tmp_path)
    [message] = await outbox_to(session, p.school_head)
    assert shown(message)["reply_markup"]  # not sent yet: rewritten in the outbox

    await complete_month(session, p.pairing, at(11, 28))
    report = await climb(session, at(12, 2), notices, tmp_path)

    assert (report.closed, report.edited) == (1, 1)
    await session.refresh(message)
    assert "reply_markup" not in shown(message)
    settled = "✅ 小明：该做的已经记录，此事已办结（12月2日 10:00）。"
    assert shown(message)["text"].endswith(settled)


async def test_an_acknowledgement_stops_the_climb(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await climb(session, at(12, 1), notices, tmp_path)
    escalation = await session.scalar(select(Escalation))
    assert escalation is not None
    escalation.acknowledged_by, escalation.acknowledged_at = p.school_head.id, at(12, 2)

    assert (await climb(session, at(12, 9), notices, tmp_path)).steps == 0
    assert await outbox_to(session, p.township_head) == []
    assert await outbox_to(session, p.district_head) == []


async def test_a_must_visit_climbs_fast_and_waits_for_the_morning(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await complete_month(session, p.pairing, at(11, 2))
    deadline = at(11, 18, 22)
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.health,
            raised_by=p.school_head.id,
            raised_at=at(11, 15),
            due_at=deadline,
        )
    )
    await session.flush()

    assert (await climb(session, at(11, 18, 21), notices, tmp_path)).steps == 0
    assert (await climb(session, deadline, notices, tmp_path)).steps == 1
    [message] = await outbox_to(session, p.school_head)
    assert "必访" in shown(message)["text"] and "身体不好" in shown(message)["text"]
    assert message.not_before == at(11, 19, 8)  # decided at 22:00, delivered at 08:00
    assert (await climb(session, at(11, 19, 22), notices, tmp_path)).steps == 1
    assert len(await outbox_to(session, p.township_head)) == 1
    assert (await climb(session, at(11, 20, 22), notices, tmp_path)).steps == 1
    assert len(await outbox_to(session, p.district_head)) == 1


async def test_an_emergency_reaches_every_level_at_once_even_at_night(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await complete_month(session, p.pairing, at(11, 2))
    night = at(11, 16, 23)
    session.add(
        Escalation(
            kind=EscalationKind.emergency,
            item_key="emergency:1",
            child_id=p.child.id,
            opened_at=night,
        )
    )
    await session.flush()

    report = await climb(session, night, notices, tmp_path)

    assert report.steps == 3
    for head in (p.school_head, p.township_head, p.district_head):
        [message] = await outbox_to(session, head)
        assert message.not_before == night


async def test_many_at_once_come_as_one_digest(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    for _ in range(ladder.DIGEST_ABOVE):
        volunteer = await make_volunteer(session, p.school)
        child = await make_child(session, p.school)
        await make_pairing(session, volunteer, child, started_at=at(11, 1))

    report = await climb(session, at(12, 1), notices, tmp_path)

    assert report.steps == ladder.DIGEST_ABOVE + 1
    [digest] = await outbox_to(session, p.school_head)
    rows = shown(digest)["reply_markup"]["inline_keyboard"]
    assert len(rows) == ladder.DIGEST_ABOVE + 1  # a row of three buttons per item
    assert all(len(row) == 3 for row in rows)
    outbox_ids = set(await session.scalars(select(EscalationStep.outbox_id)))
    assert outbox_ids == {digest.id}


async def test_an_unreachable_coordinator_is_passed_over_and_named(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    (await telegram_account(session, p.school_head.id)).unreachable_at = at(11, 1)
    await session.flush()

    await climb(session, at(12, 1), notices, tmp_path)

    assert await outbox_to(session, p.school_head) == []
    [message] = await outbox_to(session, p.township_head)
    assert "王校长" in shown(message)["text"]  # named as out of reach


async def test_a_second_coordinator_of_a_site_is_told_too(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    deputy = await coordinator(session, p.school, name="李主任")

    await climb(session, at(12, 1), notices, tmp_path)

    assert len(await outbox_to(session, p.school_head)) == 1
    assert len(await outbox_to(session, deputy)) == 1


async def _seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Programme:
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        for _ in range(2):
            volunteer = await make_volunteer(uow.session, p.school)
            child = await make_child(uow.session, p.school)
            await make_pairing(uow.session, volunteer, child, started_at=at(11, 1))
        await uow.commit()
    return p


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: dt.datetime,
    notices: Notices,
    tmp_path: Path,
) -> ladder.LadderReport:
    async with UnitOfWork(sessionmaker) as uow:
        report = await climb(uow.session, now, notices, tmp_path)
        await uow.commit()
    return report


async def test_two_workers_at_once_and_reruns_send_each_step_once(
    sessionmaker: async_sessionmaker[AsyncSession], notices: Notices, tmp_path: Path
) -> None:
    await _seed(sessionmaker)

    for now in (at(12, 1), at(12, 4), at(12, 8)):
        reports = await asyncio.gather(
            *(_run(sessionmaker, now, notices, tmp_path) for _ in range(2))
        )
        assert sorted(r.steps for r in reports) == [0, 3]
        assert (await _run(sessionmaker, now, notices, tmp_path)).steps == 0

    async with sessionmaker() as session:
        steps = await session.scalar(select(func.count()).select_from(EscalationStep))
        messages = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert steps == 9  # three escalations × three steps
    assert messages == 3  # one digest per recipient and run


async def test_each_level_gets_one_digest_of_its_own_shape(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    """A district of two townships of two schools, three children each missing November:
    at the top of the ladder the district reads its townships' counts, a township its
    schools' counts and the worst cases, a school its children — one message each."""
    p = await make_programme(session)  # 中和镇 / 中和小学 / 小明, one more school and township
    other_township = await make_site(
        session, parent=p.district, kind=RegionKind.township, name="清溪镇"
    )
    schools = [
        p.school,
        await make_site(session, parent=p.township, name="中和二小"),
        await make_site(session, parent=other_township, name="清溪小学"),
        await make_site(session, parent=other_township, name="清溪二小"),
    ]
    heads = [p.school_head] + [await coordinator(session, s) for s in schools[1:]]
    other_head = await coordinator(session, other_township, name="清溪镇负责人")
    for school in schools:
        for n in range(3 if school is not p.school else 2):
            volunteer = await make_volunteer(session, school)
            child = await make_child(session, school, name=f"{school.name}孩子{n}")
            await make_pairing(session, volunteer, child, started_at=at(11, 1))

    for day in (1, 4, 8):
        await climb(session, at(12, day), notices, tmp_path)

    [to_district] = await outbox_to(session, p.district_head)
    text = shown(to_district)["text"]
    assert "中和镇：6 名儿童" in text and "清溪镇：6 名儿童" in text
    assert "孩子" not in text and "小明" not in text  # no child is named at the top
    assert "reply_markup" not in shown(to_district)

    for township_head, mine, theirs in (
        (p.township_head, ("中和小学", "中和二小"), "清溪"),
        (other_head, ("清溪小学", "清溪二小"), "中和"),
    ):
        [digest] = await outbox_to(session, township_head)
        text = shown(digest)["text"]
        assert all(f"{school}：3 名儿童" in text for school in mine), text
        assert theirs not in text.split("\n", 1)[1]
        rows = shown(digest)["reply_markup"]["inline_keyboard"]
        assert len(rows) == ladder.WORST_CASES  # the worst cases, each with its buttons

    for head in heads:
        [digest] = await outbox_to(session, head)  # one message, naming the children
        assert "孩子" in shown(digest)["text"] or "小明" in shown(digest)["text"]
