"""Reminders with a moved clock: one friendly digest a day, before deadlines, never at night."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Concern, ConcernKind, Person
from domain.schedule import reminders
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI
from tests.factories import make_child, make_pairing, telegram_account
from tests.outbox_support import shown
from tests.workers_support import NOVEMBER_1, Programme, make_programme, outbox_to


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def remind(session: AsyncSession, now: dt.datetime, notices: Notices, tmp_path: Path) -> int:
    return await reminders.send_reminders(
        session, now=now, tz=SHANGHAI, text=notices, media_dir=tmp_path
    )


async def volunteer_person(session: AsyncSession, p: Programme) -> Person:
    return await session.get_one(Person, p.volunteer.person_id)


async def test_on_the_reminder_day_each_volunteer_gets_one_digest(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    second = await make_child(session, p.school, name="小红")
    await make_pairing(session, p.volunteer, second, started_at=NOVEMBER_1)
    person = await volunteer_person(session, p)

    assert await remind(session, at(19), notices, tmp_path) == 0
    assert await remind(session, at(20), notices, tmp_path) == 1
    assert await remind(session, at(20, 15), notices, tmp_path) == 0  # one a day

    [message] = await outbox_to(session, person)
    text = shown(message)["text"]
    assert "小明" in text and "小红" in text  # both children in one message
    assert "谈心" in text and "本月底前" in text and "11月30日" not in text
    assert message.not_before == at(20)
    assert message.dedupe_key == reminders.reminder_key(person.id, dt.date(2026, 11, 20))


async def test_a_reminder_decided_at_night_waits_for_the_morning(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    assert await remind(session, at(20, 22), notices, tmp_path) == 1

    [message] = await outbox_to(session, await volunteer_person(session, p))
    assert message.not_before == at(21, 8)


async def test_the_day_before_a_must_visit_deadline_the_volunteer_is_reminded(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.mood,
            raised_by=p.school_head.id,
            raised_at=at(9),
            due_at=at(12, 18),
        )
    )
    await session.flush()

    assert await remind(session, at(10), notices, tmp_path) == 0  # two days before
    assert await remind(session, at(11, 9), notices, tmp_path) == 1

    [message] = await outbox_to(session, await volunteer_person(session, p))
    assert "情绪低落" in shown(message)["text"] and "11月12日" in shown(message)["text"]


async def test_a_site_sets_its_own_reminder_day_and_the_unreachable_are_skipped(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.township.reminder_day = 15  # the school inherits it
    await session.flush()

    assert await remind(session, at(20), notices, tmp_path) == 0
    account = await telegram_account(session, (await volunteer_person(session, p)).id)
    account.unreachable_at = at(1)
    assert await remind(session, at(15), notices, tmp_path) == 0
    account.unreachable_at = None
    assert await remind(session, at(15), notices, tmp_path) == 1


async def test_nothing_open_means_no_reminder(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.pairing.ended_at = at(10)
    await session.flush()

    assert await remind(session, at(20), notices, tmp_path) == 0
