"""Emergencies on the ladder: every level in one run, with the child's contacts; sent
again after the site's interval at 03:00 local time; taken, the re-sending stops."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import emergencies
from domain.care.emergencies import Incident
from domain.models import (
    Coordinator,
    EscalationKind,
    Guardian,
    Guardianship,
    IncidentStep,
    Parent,
    Person,
)
from domain.schedule import ladder, overdue
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI
from tests.outbox_support import shown
from tests.workers_support import make_programme, outbox_to

NIGHT = dt.datetime(2026, 11, 18, 3, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def climb(session: AsyncSession, now: dt.datetime, tmp_path: Path) -> ladder.LadderReport:
    return await ladder.climb(session, now=now, tz=SHANGHAI, text=Notices(), media_dir=tmp_path)


async def test_a_drop_out_reaches_every_level_at_once_and_again_every_interval_at_night(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.school.emergency_repeat_minutes = 20
    session.add(
        Guardian(child_id=p.child.id, name="李奶奶", relation="祖母", phone="+8613812345678")
    )
    session.add(Parent(child_id=p.child.id, relation="father", phone="13987654321"))
    reporter = await session.get_one(Person, p.volunteer.person_id)
    await session.flush()
    escalation = await emergencies.raise_incident(
        session,
        child_id=p.child.id,
        incident=Incident.dropout,
        note="三天没来上学",
        reporter_id=reporter.id,
        now=NIGHT,
        tz=SHANGHAI,
    )
    assert escalation.kind is EscalationKind.dropout
    [registered] = await session.scalars(select(IncidentStep))
    assert registered.kind == "registered" and registered.on_day == NIGHT.date()

    report = await climb(session, NIGHT, tmp_path)

    assert report.steps == 3
    for head in (p.school_head, p.township_head, p.district_head):
        [message] = await outbox_to(session, head)
        assert message.not_before == NIGHT  # quiet hours do not apply
        text = shown(message)["text"]
        assert "小明" in text and "辍学" in text and "三天没来上学" in text
        assert reporter.name in text
        assert text.index("李奶奶") < text.index("父亲")
        assert "138 1234 5678" in text and "139 8765 4321" in text

    assert (await climb(session, NIGHT + dt.timedelta(minutes=19), tmp_path)).steps == 0
    again = await climb(session, NIGHT + dt.timedelta(minutes=20), tmp_path)
    assert again.steps == 3
    for head in (p.school_head, p.township_head, p.district_head):
        _first, second = await outbox_to(session, head)
        assert second.not_before == NIGHT + dt.timedelta(minutes=20)
        assert "提醒" in shown(second)["text"]

    escalation.acknowledged_by = p.township_head.id  # taken (in chat: the button)
    escalation.acknowledged_at = NIGHT + dt.timedelta(minutes=25)
    assert (await climb(session, NIGHT + dt.timedelta(hours=2), tmp_path)).steps == 0


async def test_the_default_interval_is_thirty_minutes_and_a_missing_level_is_passed_over(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await session.execute(  # nobody at the school any more
        update(Coordinator)
        .where(Coordinator.person_id == p.school_head.id)
        .values(removed_at=NIGHT)
    )
    await emergencies.raise_incident(
        session,
        child_id=p.child.id,
        incident=Incident.missing,
        note=None,
        reporter_id=p.volunteer.person_id,
        now=NIGHT,
        tz=SHANGHAI,
    )
    await climb(session, NIGHT, tmp_path)
    assert len(await outbox_to(session, p.township_head)) == 1  # once, not twice
    assert (await climb(session, NIGHT + dt.timedelta(minutes=29), tmp_path)).steps == 0
    await climb(session, NIGHT + dt.timedelta(minutes=30), tmp_path)
    assert len(await outbox_to(session, p.township_head)) == 2
    assert len(await outbox_to(session, p.district_head)) == 2


async def test_a_missing_child_found_or_an_entrusted_guardian_with_the_letter_closes_it(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    missing = await emergencies.raise_incident(
        session,
        child_id=p.child.id,
        incident=Incident.missing,
        note="昨晚没回家",
        reporter_id=p.volunteer.person_id,
        now=NIGHT,
        tz=SHANGHAI,
    )
    later = NIGHT + dt.timedelta(hours=5)
    await emergencies.record_step(
        session,
        missing,
        kind=emergencies.StepKind.found,
        actor_id=p.township_head.id,
        now=later,
        **emergencies.parse_step(
            emergencies.StepKind.found, "11月18日 在县城外婆家", today=later.date()
        ),
    )
    assert missing.closed_at == later and missing.resolution == "found"
    page = await emergencies.page(session, missing)
    reporter = await session.get_one(Person, p.volunteer.person_id)
    assert [(s.kind, s.actor) for s in page.steps] == [
        (emergencies.StepKind.registered, reporter.name),
        (emergencies.StepKind.found, "镇负责人"),
    ]
    assert page.steps[1].place == "在县城外婆家"

    alone = await emergencies.raise_incident(
        session,
        child_id=p.child.id,
        incident=Incident.unsupervised,
        note="奶奶住院了",
        reporter_id=p.volunteer.person_id,
        now=NIGHT,
        tz=SHANGHAI,
    )
    named = emergencies.parse_guardian("李桂兰 姑姑 13800000003", today=later.date())
    assert named is not None
    await emergencies.name_entrusted_guardian(
        session, alone, named, actor_id=p.school_head.id, now=later
    )
    assert alone.closed_at is None and p.child.guardianship is Guardianship.none
    signed = emergencies.parse_guardian("李桂兰 姑姑 13800000003 11月18日", today=later.date())
    assert signed is not None
    await emergencies.name_entrusted_guardian(
        session, alone, signed, actor_id=p.school_head.id, now=later
    )
    assert alone.closed_at == later and alone.resolution == "guardian"
    assert p.child.guardianship is Guardianship.entrusted
    letters = list(
        await session.scalars(select(Guardian.letter_signed_on).where(Guardian.entrusted))
    )
    assert dt.date(2026, 11, 18) in letters


async def test_bullying_is_left_out_of_the_sites_overdue_list_but_not_the_townships(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    bullying = await emergencies.raise_incident(
        session,
        child_id=p.child.id,
        incident=Incident.bullying,
        note=None,
        reporter_id=p.volunteer.person_id,
        now=NIGHT,
        tz=SHANGHAI,
    )
    await climb(session, NIGHT, tmp_path)
    assert await outbox_to(session, p.school_head) == []  # not told at the site either
    assert len(await outbox_to(session, p.township_head)) == 1

    def ids(items: list[overdue.OverdueItem]) -> set[int | None]:
        return {i.escalation_id for i in items}

    at_site = await overdue.overdue(session, scope_path=p.school.path, now=NIGHT, tz=SHANGHAI)
    above = await overdue.overdue(session, scope_path=p.township.path, now=NIGHT, tz=SHANGHAI)
    assert bullying.id not in ids(at_site) and bullying.id in ids(above)


async def test_many_emergencies_at_once_come_as_a_few_messages_and_one_digest(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    for _ in range(ladder.URGENT_ALONE + 3):
        await emergencies.raise_incident(
            session,
            child_id=p.child.id,
            incident=Incident.injury,
            note=None,
            reporter_id=p.volunteer.person_id,
            now=NIGHT,
            tz=SHANGHAI,
        )
    report = await climb(session, NIGHT, tmp_path)
    assert report.steps == 3 * (ladder.URGENT_ALONE + 3)
    messages = await outbox_to(session, p.district_head)
    assert len(messages) == ladder.URGENT_ALONE + 1
    digest = shown(messages[-1])["text"]
    assert "3" in digest and "意外伤害或重病" in digest
    assert len(shown(messages[-1])["reply_markup"]["inline_keyboard"]) == 3
