"""The care jobs run the way an operator or the cron runs them: `guanai jobs run NAME --now`."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import EscalationStep, OutboxMessage
from guanai.settings import Settings
from tests.cli_support import Guanai, deployment
from tests.factories import telegram_account
from tests.fakes import FakeTelegram
from tests.outbox_support import chat_of
from tests.workers_support import Programme, make_programme


@pytest.fixture
def cli(guanai: Guanai, settings: Settings) -> Guanai:
    guanai.env.update(deployment(settings))
    return guanai


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Programme:
    async with UnitOfWork(sessionmaker) as uow:
        programme = await make_programme(uow.session)
        await uow.commit()
    return programme


async def telegram_id_of(sessionmaker: async_sessionmaker[AsyncSession], person_id: int) -> str:
    async with sessionmaker() as session:
        return (await telegram_account(session, person_id)).external_id


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_escalations_job_twice_at_once_sends_each_step_once(
    cli: Guanai,
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    p = await seed(sessionmaker)
    run = ("jobs", "run", "escalations", "--now", "2026-12-01T09:00+08:00")

    # two at once, each with its own event loop and connections, as two processes would be
    results = await asyncio.gather(cli(*run), cli(*run))
    assert all(result.code == 0 for result in results), results
    again = await cli(*run)
    assert again.code == 0, again.err
    assert await count(sessionmaker, EscalationStep) == 1

    sent = await cli("jobs", "run", "send-outbox", "--now", "2026-12-01T09:00+08:00")
    assert sent.code == 0, sent.err
    [message] = fake_telegram.sent
    assert str(message.chat_id) == await telegram_id_of(sessionmaker, p.school_head.id)
    assert "小明" in message.text
    assert message.button_texts() == ["✋ 我来处理", "🔁 改派", "✅ 已解决"]


async def test_reminders_for_a_scope_at_night_wait_for_the_morning(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    p = await seed(sessionmaker)

    result = await cli(
        "jobs", "run", "reminders", "--now", "2026-11-20T22:30", "--scope", p.school.code
    )

    assert result.code == 0, result.err
    async with sessionmaker() as session:
        [queued] = (await session.scalars(select(OutboxMessage))).all()
    assert str(chat_of(queued)) == await telegram_id_of(sessionmaker, p.volunteer.person_id)
    assert queued.not_before.isoformat() == "2026-11-21T00:00:00+00:00"  # 08:00 in Shanghai
