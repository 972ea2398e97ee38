"""The care jobs run the way an operator or the cron runs them: `guanai jobs run NAME --now`."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import EscalationStep, OutboxMessage, Person
from guanai.settings import Settings
from tests.fakes import FakeTelegram
from tests.test_jobs import guanai
from tests.workers_support import Programme, make_programme


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Programme:
    async with UnitOfWork(sessionmaker) as uow:
        programme = await make_programme(uow.session)
        await uow.commit()
    return programme


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_escalations_job_twice_at_once_sends_each_step_once(
    settings: Settings,
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await seed(sessionmaker)
    run = ("jobs", "run", "escalations", "--now", "2026-12-01T09:00+08:00")

    results = await asyncio.gather(guanai(settings, *run), guanai(settings, *run))
    assert all(code == 0 for code, _, _ in results), results
    again, _, stderr = await guanai(settings, *run)
    assert again == 0, stderr
    assert await count(sessionmaker, EscalationStep) == 1

    code, _, stderr = await guanai(
        settings, "jobs", "run", "send-outbox", "--now", "2026-12-01T09:00+08:00"
    )
    assert code == 0, stderr
    [message] = fake_telegram.sent
    assert message.chat_id == p.school_head.telegram_id
    assert "小明" in message.text
    assert message.button_texts() == ["✋ 我来处理", "🔁 改派", "✅ 已解决"]


async def test_reminders_for_a_scope_at_night_wait_for_the_morning(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    p = await seed(sessionmaker)

    code, _, stderr = await guanai(
        settings, "jobs", "run", "reminders", "--now", "2026-11-20T22:30", "--scope", p.school.code
    )

    assert code == 0, stderr
    async with sessionmaker() as session:
        volunteer = await session.get_one(Person, p.volunteer.person_id)
        [queued] = (await session.scalars(select(OutboxMessage))).all()
    assert queued.chat_id == volunteer.telegram_id
    assert queued.not_before.isoformat() == "2026-11-21T00:00:00+00:00"  # 08:00 in Shanghai
