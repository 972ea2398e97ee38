"""Benchmark: 2,000 volunteers' complete check-in conversations through the real dispatcher.

Every update of the flow goes through `dp.feed_update` with a real aiogram Bot whose
API calls go over HTTP to the fake Bot API (tests/fakes), with real PostgreSQL and
Redis: menu → home visit → next → an album of two photos (fed together, as Telegram
delivers an album) → five home-visit answers → confirm. The driver reads the bot's
messages to press their buttons, as a person would.

    uv run python bench/checkins.py [--volunteers 2000] [--concurrency 64]

Prints updates handled per second and the process's peak memory (bot, fake Telegram and
driver together, so an upper bound for the bot). A scratch database and Redis prefix are
made for the run and dropped afterwards. Target on a 2-core machine: ≥ 300 updates/s,
< 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import job_key_prefix
from redis.asyncio import Redis
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import make_bot, make_dispatcher, make_storage
from domain.clock import SystemClock
from domain.db import make_engine, make_sessionmaker
from domain.models import (
    CheckIn,
    Child,
    Pairing,
    PairingRole,
    Person,
    Photo,
    Region,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from guanai.migrate import migrate
from guanai.runtime import settle_startup_objects
from guanai.settings import Settings
from tests.fakes import FakeTelegram
from tests.fakes.telegram import Call, FakeUser, SentMessage

SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
FIRST_TELEGRAM_ID = 50_000_000
ANSWERS = ("是", "有一点", "勉强够", "有时", "要人提醒")
SITES = 20


async def _admin(sql: str) -> None:
    url = make_url(f"{SERVER}/postgres").set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def seed(database_url: str, volunteers: int) -> None:
    """A district of 20 schools; each volunteer paired with one child of their school."""
    engine = make_engine(database_url, pool_size=1)
    started = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    try:
        async with engine.begin() as connection:
            district = await connection.scalar(
                insert(Region)
                .values(code="BD", name="区", kind=RegionKind.district, path="")
                .returning(Region.id)
            )
            await connection.execute(
                Region.__table__.update().where(Region.id == district).values(path=f"{district}/")
            )
            site_ids = []
            for n in range(SITES):
                site_id = await connection.scalar(
                    insert(Region)
                    .values(
                        code=f"BS{n}",
                        name=f"第{n}小学",
                        kind=RegionKind.school,
                        parent_id=district,
                        path="",
                    )
                    .returning(Region.id)
                )
                await connection.execute(
                    Region.__table__.update()
                    .where(Region.id == site_id)
                    .values(path=f"{district}/{site_id}/")
                )
                site_ids.append(site_id)
            await connection.execute(
                insert(Person),
                [
                    {"telegram_id": FIRST_TELEGRAM_ID + n, "name": f"志愿者{n}"}
                    for n in range(volunteers)
                ],
            )
            person_ids = list(await connection.scalars(select(Person.id).order_by(Person.id)))
            await connection.execute(
                insert(Volunteer),
                [
                    {
                        "person_id": person_id,
                        "site_id": site_ids[n % SITES],
                        "kind": VolunteerKind.surrogate,
                        "is_core": False,
                    }
                    for n, person_id in enumerate(person_ids)
                ],
            )
            await connection.execute(
                insert(Child),
                [{"site_id": site_ids[n % SITES], "name": f"孩子{n}"} for n in range(volunteers)],
            )
            volunteer_ids = list(
                await connection.scalars(select(Volunteer.id).order_by(Volunteer.id))
            )
            child_ids = list(await connection.scalars(select(Child.id).order_by(Child.id)))
            await connection.execute(
                insert(Pairing),
                [
                    {
                        "volunteer_id": volunteer_id,
                        "child_id": child_id,
                        "role": PairingRole.surrogate,
                        "started_at": started,
                    }
                    for volunteer_id, child_id in zip(volunteer_ids, child_ids, strict=True)
                ],
            )
    finally:
        await engine.dispose()


class IndexedFakeTelegram(FakeTelegram):
    """The test fake with its message lookups indexed: it scans every message ever sent,
    which is fine for a test and quadratic for 2,000 conversations."""

    def __init__(self) -> None:
        super().__init__()
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._by_id: dict[tuple[int, int], SentMessage] = {}
        self.api_calls = 0

    def _record(self, call: Call, **kwargs: Any) -> SentMessage:
        message = super()._record(call, **kwargs)
        self._by_chat.setdefault(message.chat_id, []).append(message)
        self._by_id[message.chat_id, message.message_id] = message
        return message

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return self._by_chat.get(chat_id, [])

    def find_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return self._by_id.get((chat_id, message_id))

    def forget(self, chat_id: int, update_ids: list[int]) -> None:
        """Drop a finished conversation, so the harness's memory stays flat."""
        for message in self._by_chat.pop(chat_id, []):
            del self._by_id[chat_id, message.message_id]
        for update_id in update_ids:
            del self._updates[update_id]
        self.api_calls += len(self.calls)
        self.calls.clear()
        self.sent.clear()
        self._pending.clear()
        self.callback_answers.clear()


class Conversation:
    """One volunteer's check-in, fed update by update into the dispatcher."""

    def __init__(self, dp: Dispatcher, bot: Bot, user: FakeUser) -> None:
        self.dp, self.bot, self.user = dp, bot, user
        self.update_ids: list[int] = []

    async def feed(self, update_id: int) -> None:
        update = Update.model_validate(self.user.fake.update(update_id))
        await self.dp.feed_update(self.bot, update)
        self.update_ids.append(update_id)

    async def press(self, message: SentMessage, label: str) -> None:
        await self.feed(self.user.press(message.callback_data(label), message))

    async def run(self) -> None:
        user = self.user
        await self.feed(user.send_text("✅ 打卡"))
        activities = user.last_message
        await self.press(activities, "家访")
        await self.press(activities, "下一步")
        album = uuid.uuid4().hex[:12]
        first = user.send_photo(b"photo-a" + album.encode(), media_group_id=album)
        second = user.send_photo(b"photo-b" + album.encode(), media_group_id=album)
        await asyncio.gather(self.feed(first), self.feed(second))
        for answer in ANSWERS:
            await self.press(user.last_message, answer)
        await self.press(user.last_message, "确认")
        if "已保存" not in (user.last_message.text or ""):
            raise AssertionError(f"user {user.id}: no confirmation, got {user.last_message.text!r}")
        fake = user.fake
        assert isinstance(fake, IndexedFakeTelegram)
        fake.forget(user.chat_id, self.update_ids)


async def run(volunteers: int, concurrency: int) -> None:
    run_id = uuid.uuid4().hex[:8]
    db_name = f"guanai_bench_{run_id}"
    database_url = f"{SERVER}/{db_name}"
    prefix = f"guanai_bench_{run_id}"
    await migrate(database_url)
    fake = IndexedFakeTelegram()
    await fake.start()
    redis = Redis.from_url(REDIS_URL)
    settings = Settings(
        BOT_TOKEN="4242:BENCH",
        BOT_API_URL=fake.base_url,
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=prefix,
    )
    engine = make_engine(database_url, pool_size=10)
    arq_redis = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    bot = make_bot(settings)
    try:
        await seed(database_url, volunteers)
        dp = make_dispatcher(
            settings=settings,
            sessionmaker=make_sessionmaker(engine),
            storage=make_storage(settings, redis),
            clock=SystemClock(),
            arq_redis=arq_redis,
        )
        conversations = [
            Conversation(dp, bot, fake.user(FIRST_TELEGRAM_ID + n)) for n in range(volunteers)
        ]
        limit = asyncio.Semaphore(concurrency)
        settle_startup_objects()  # as run_bot does

        async def one(conversation: Conversation) -> None:
            async with limit:
                await conversation.run()

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(c) for c in conversations))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started

        updates = sum(len(c.update_ids) for c in conversations)
        async with engine.connect() as connection:
            stored = await connection.scalar(select(func.count()).select_from(CheckIn))
            photos = await connection.scalar(select(func.count()).select_from(Photo))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"volunteers:          {volunteers} (concurrency {concurrency})")
        print(f"updates handled:     {updates} in {elapsed:.1f} s")
        print(f"updates per second:  {updates / elapsed:.0f}")
        print(f"CPU per update:      {cpu / updates * 1000:.1f} ms (this process, all of it)")
        print(f"check-ins stored:    {stored}, photos {photos}")
        print(f"bot API calls:       {fake.api_calls + len(fake.calls)}")
        print(f"peak memory (RSS):   {peak_mb:.0f} MB (bot + fake Telegram + driver)")
    finally:
        await bot.session.close()
        job_ids = [j.decode() for j in await arq_redis.zrange(settings.arq_queue, 0, -1)]
        if job_ids:
            await arq_redis.delete(*(f"{job_key_prefix}{job_id}" for job_id in job_ids))
        await arq_redis.aclose()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await engine.dispose()
        await fake.stop()
        await _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(run(args.volunteers, args.concurrency))


if __name__ == "__main__":
    main()
