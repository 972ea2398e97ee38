"""Two deployments on one Redis share nothing: every key and job id carries REDIS_PREFIX.

arq names a cron run's job `<name>:<ms of the tick>` and keeps its job, result,
in-progress and retry keys under `arq:…:<job id>`; without the prefix in the job id, the
deployment that enqueues a tick first takes it from every other deployment on that Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.delivery import outbox
from domain.models import OutboxMessage, OutboxStatus
from guanai.settings import Settings
from guanai.wiring import make_worker
from tests.conftest import (
    REDIS_URL,
    SHANGHAI,
    RunningBot,
    create_database,
    drop_database,
    fresh_name,
)
from tests.fakes import FakeTelegram
from tests.outbox_support import text, tg
from tests.test_volunteer_checkin import Walk
from tests.volunteering import VOLUNTEER, seed_school

TEN = dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
ARQ_KEYS = (job_key_prefix, in_progress_key_prefix, result_key_prefix, retry_key_prefix)


async def queue_message(sessionmaker: async_sessionmaker[AsyncSession], chat_id: int) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await outbox.enqueue(
            uow.session,
            to=tg(chat_id),
            content=text(f"给 {chat_id}"),
            not_before=TEN,
        )
        await uow.commit()


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxStatus]:
    async with UnitOfWork(sessionmaker) as uow:
        return list((await uow.session.scalars(select(OutboxMessage.status))).all())


@pytest.fixture
async def second_deployment(
    settings: Settings, template_db: str, redis: Redis
) -> AsyncIterator[Settings]:
    """Another deployment on the same Redis and Bot API: its own database and prefix."""
    name = fresh_name("other")
    url = await create_database(name, template=template_db)
    prefix = f"{settings.redis_prefix}_other"
    yield settings.model_copy(update={"database_url": url, "redis_prefix": prefix})
    keys = [key async for key in redis.scan_iter(match=f"*{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await drop_database(name)


def last_tick(now: dt.datetime, every_seconds: int = 5) -> dt.datetime:
    """The most recent moment send-outbox's cron (every 5 s, on the second) fired."""
    whole = now.replace(microsecond=0)
    return whole - dt.timedelta(seconds=whole.second % every_seconds)


async def test_two_deployments_on_one_redis_both_run_every_cron_tick(
    settings: Settings,
    second_deployment: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_telegram: FakeTelegram,
) -> None:
    other_engine = make_engine(second_deployment.database_url, pool_size=2)
    other_sessionmaker = make_sessionmaker(other_engine)
    await queue_message(sessionmaker, 11)
    await queue_message(other_sessionmaker, 12)

    workers = [
        make_worker(deployment, clock=FixedClock(TEN), burst=True, handle_signals=False)
        for deployment in (settings, second_deployment)
    ]
    # Both workers were running when the same tick came: its cron run, not the run at start.
    tick = last_tick(dt.datetime.now(settings.tz))
    for worker in workers:
        for cron_job in worker.cron_jobs:
            if cron_job.name.endswith("send-outbox"):
                cron_job.next_run = tick
    try:
        await asyncio.gather(*(worker.async_run() for worker in workers))
    finally:
        for worker in workers:
            await worker.close()
        await other_engine.dispose()

    assert sorted(message.chat_id for message in fake_telegram.sent) == [11, 12]
    assert await statuses(sessionmaker) == [OutboxStatus.sent]
    assert await statuses(other_sessionmaker) == [OutboxStatus.sent]


# ---------------------------------------------------------------------- every key, listed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def private_redis_url() -> AsyncIterator[str]:
    """A Redis of this test's own, so that listing every key lists only this deployment's."""
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        server = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", workdir,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert server.stdout is not None
        async with asyncio.timeout(10):
            while b"Ready to accept connections" not in await server.stdout.readline():
                pass
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            await server.wait()


@pytest.fixture
async def redis(private_redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def settings(
    db_url: str,
    redis_prefix: str,
    fake_telegram: FakeTelegram,
    tmp_path: Path,
    private_redis_url: str,
) -> Settings:
    assert private_redis_url != REDIS_URL
    return Settings(
        BOT_TOKEN="4242:TEST-TOKEN",
        BOT_API_URL=fake_telegram.base_url,
        DATABASE_URL=db_url,
        REDIS_URL=private_redis_url,
        REDIS_PREFIX=redis_prefix,
        MEDIA_DIR=str(tmp_path),
    )


def belongs_to(key: str, prefix: str) -> bool:
    """The deployment's own key, or arq's key for one of the deployment's job ids."""
    own = re.escape(prefix) + ":"
    return re.match(f"(?:{'|'.join(map(re.escape, ARQ_KEYS))})?{own}", key) is not None


class KeysWritten:
    """Every key written to a Redis while it runs, from Redis's keyspace notifications."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.keys: set[str] = set()
        self._pubsub = redis.pubsub()
        self._task: asyncio.Task[None] | None = None
        self._last = ""
        self._ended = asyncio.Event()

    async def start(self) -> None:
        await self.redis.config_set("notify-keyspace-events", "KEA")
        await self._pubsub.psubscribe("__keyevent@0__:*")
        await self._pubsub.get_message(timeout=5)  # the subscription's confirmation
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message["type"] == "pmessage":
                key = message["data"].decode()
                self.keys.add(key)
                if key == self._last:
                    self._ended.set()

    async def stop(self, prefix: str) -> list[str]:
        """Every key written so far (a last key of our own marks the end of the stream)."""
        self._last = last = f"{prefix}:test-end"
        await self.redis.set(last, 1)
        async with asyncio.timeout(5):
            await self._ended.wait()
        assert self._task is not None
        self._task.cancel()
        await self._pubsub.aclose()
        return sorted(self.keys - {last})


async def test_every_redis_key_of_a_deployment_carries_its_prefix(
    running_bot: RunningBot, redis: Redis
) -> None:
    """A volunteer's check-in with photos (the conversation's state, the photo jobs), and a
    worker's run (cron ticks, jobs, their tries, results, in-progress marks, health)."""
    settings = running_bot.settings
    written = KeysWritten(redis)
    await written.start()
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    walk = Walk(running_bot.fake.user(VOLUNTEER))
    walk.tap_menu("✅ 打卡")
    message = await walk.reply()
    walk.tap(message, "谈心")
    await walk.user.fake.wait_until(lambda: "✅ 谈心" in message.button_texts() or None)
    walk.tap(message, "下一步")
    await walk.reply()
    walk.user.send_photo(b"not-a-picture-0", media_group_id="album-1")
    walk.user.send_photo(b"not-a-picture-1", media_group_id="album-1")
    summary = await walk.reply()
    walk.tap(summary, "确认")
    await walk.reply()  # saved: the photos are queued

    worker = make_worker(settings, clock=running_bot.clock, burst=True, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    keys = await written.stop(settings.redis_prefix)

    kinds = {re.sub(re.escape(settings.redis_prefix) + ".*", "", key) for key in keys}
    assert {"", *ARQ_KEYS} <= kinds, keys  # the deployment's own keys, and arq's of each kind
    assert any(key.startswith(f"{settings.redis_prefix}:fsm:") for key in keys), keys
    assert [key for key in keys if not belongs_to(key, settings.redis_prefix)] == []
