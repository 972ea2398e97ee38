"""Periodic jobs: by hand through `guanai jobs`, and by arq's cron in a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.content import Content
from domain.models import OutboxMessage, OutboxStatus
from guanai.settings import Settings
from guanai.wiring import make_worker
from tests.cli_support import Guanai, deployment
from tests.conftest import SHANGHAI
from tests.fakes import FakeTelegram
from tests.outbox_support import tg
from workers.periodic import PERIODIC
from workers.queues import Queue

TEN = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def cli(guanai: Guanai, settings: Settings) -> Guanai:
    """`guanai` with the test's deployment, speaking English."""
    guanai.env.update(deployment(settings))
    return guanai


async def queue_reminders(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        for chat_id, text, at in ((11, "上午好", TEN), (12, "中午好", TEN + dt.timedelta(hours=2))):
            await outbox.enqueue(
                uow.session,
                to=tg(chat_id),
                content=Content.lines([text]),
                not_before=at,
            )
        await uow.commit()


async def sent_at(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, dt.datetime | None]:
    async with UnitOfWork(sessionmaker) as uow:
        rows = await uow.session.execute(select(OutboxMessage.target, OutboxMessage.sent_at))
        return {int(target): at for target, at in rows}


async def test_jobs_list_names_every_job(cli: Guanai) -> None:
    result = await cli("jobs", "list")
    assert result.code == 0
    assert [line.split()[0] for line in result.out.splitlines()] == list(PERIODIC)


async def test_jobs_run_sends_what_is_due_at_the_given_moment(
    cli: Guanai,
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await queue_reminders(sessionmaker)

    result = await cli("jobs", "run", "send-outbox", "--now", "2026-11-16T10:00+08:00")
    assert result.code == 0, result.err
    assert "send-outbox done: sent 1" in result.out
    assert [m.text for m in fake_telegram.sent] == ["上午好"]
    assert await sent_at(sessionmaker) == {11: TEN, 12: None}

    # without an offset the moment is read in the deployment's timezone (Asia/Shanghai)
    result = await cli("jobs", "run", "send-outbox", "--now", "2026-11-16T12:00")
    assert result.code == 0, result.err
    assert [m.text for m in fake_telegram.sent] == ["上午好", "中午好"]
    assert (await sent_at(sessionmaker))[12] == TEN + dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "roster-now"), "There is no job called roster-now. The jobs are: send-outbox"),
        (("run", "send-outbox", "--now", "next monday"), "next monday is not a moment"),
        (("run", "send-outbox", "--scope", "S1"), "takes no --scope"),
    ],
)
async def test_jobs_run_refuses_bad_input_in_one_line(
    cli: Guanai, args: tuple[str, ...], says: str
) -> None:
    result = await cli("jobs", *args)
    assert result.code == 1
    assert says in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert result.out == ""


async def test_a_worker_sends_what_was_queued_while_it_was_down(
    settings: Settings,
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await queue_reminders(sessionmaker)  # queued before the worker exists: as after a restart
    worker = make_worker(settings, clock=FixedClock(TEN), burst=True, handle_signals=False)
    try:
        await worker.async_run()  # burst: runs the start-up drain, then stops
    finally:
        await worker.close()

    assert [m.text for m in fake_telegram.sent] == ["上午好"]
    async with UnitOfWork(sessionmaker) as uow:
        statuses = (await uow.session.scalars(select(OutboxMessage.status))).all()
    assert sorted(statuses) == [OutboxStatus.pending, OutboxStatus.sent]


async def test_escalations_run_on_a_queue_of_their_own(settings: Settings) -> None:
    worker = make_worker(settings, queue=Queue.escalations, handle_signals=False)
    # the cron's ladder, and the ladder at once when an emergency is reported
    assert set(worker.functions) == {f"{settings.redis_prefix}:escalations", "climb_ladder_now"}
    assert worker.queue_name == settings.arq_escalation_queue
