"""Benchmark: 2,000 volunteers' complete check-in conversations through the real bot.

The bot is `guanai bot` in its own process, the entry point a deployment runs: the real
dispatcher long-polls the fake Bot API (tests/fakes) over HTTP, with real PostgreSQL and
Redis. Each volunteer goes menu → home visit → next → an album of two photos → five
home-visit answers → confirm, tapping the buttons of the bot's messages once the bot has
answered, as a person would; 64 of them at a time.

    uv run python bench/checkins.py [--volunteers 2000] [--concurrency 64]

Prints updates handled per second, the bot's CPU per update, and the bot process's peak
memory (VmHWM), beside the same for a stock aiogram bot that makes the same Bot API calls
and nothing else (`bench/bare_checkin_bot.py`), with the ratio (target: CPU ≤ 2×). A
scratch database and Redis prefix are made for the run and dropped afterwards. Target on a
2-core machine: ≥ 300 updates/s, < 200 MB.
BENCH_PROFILE=bot.prof runs the bot under cProfile (slower) and leaves its stats there.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from arq.constants import job_key_prefix
from redis.asyncio import Redis
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.db import make_engine
from domain.models import (
    Account,
    Channel,
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
from tests.fakes import FakeTelegram
from tests.fakes.telegram import JSON, Call, SentMessage

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
PROFILE = os.environ.get("BENCH_PROFILE")  # a file: run the bot under cProfile, stats there
STEP_TIMEOUT = 60.0  # seconds a volunteer waits for the bot's answer before the run fails
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
                insert(Person), [{"name": f"志愿者{n}"} for n in range(volunteers)]
            )
            person_ids = list(await connection.scalars(select(Person.id).order_by(Person.id)))
            await connection.execute(
                insert(Account),
                [
                    {
                        "person_id": person_id,
                        "channel": Channel.telegram,
                        "external_id": str(FIRST_TELEGRAM_ID + n),
                    }
                    for n, person_id in enumerate(person_ids)
                ],
            )
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


class BenchTelegram(FakeTelegram):
    """The test fake, with what 2,000 conversations need: message lookups indexed (the
    fake scans every message ever sent), and a volunteer waiting only on their own chat
    (the fake wakes every waiter on every call)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._by_id: dict[tuple[int, int], SentMessage] = {}
        self._chat_changed: dict[int, asyncio.Event] = {}

    def _record(self, call: Call, **kwargs: Any) -> SentMessage:
        message = super()._record(call, **kwargs)
        self._by_chat.setdefault(message.chat_id, []).append(message)
        self._by_id[message.chat_id, message.message_id] = message
        self._changed(message.chat_id)
        return message

    def _apply_edit(self, message: SentMessage, call: Call, *, text: Any) -> JSON:
        result = super()._apply_edit(message, call, text=text)
        self._changed(message.chat_id)
        return result

    def _changed(self, chat_id: int) -> None:
        if (event := self._chat_changed.pop(chat_id, None)) is not None:
            event.set()

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return self._by_chat.get(chat_id, [])

    def find_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return self._by_id.get((chat_id, message_id))

    async def in_chat(self, chat_id: int, probe: Callable[[], T | None]) -> T:
        """Wait until `probe()` holds, re-checked whenever the bot writes to this chat."""
        async with asyncio.timeout(STEP_TIMEOUT):
            while (result := probe()) is None:
                await self._chat_changed.setdefault(chat_id, asyncio.Event()).wait()
        return result

    def forget(self, chat_id: int, update_ids: list[int]) -> None:
        """Drop a finished conversation, so the harness's memory stays flat."""
        for message in self._by_chat.pop(chat_id, []):
            del self._by_id[chat_id, message.message_id]
        for update_id in update_ids:
            del self._updates[update_id]


class Driver:
    """One volunteer's check-in, tapping as a person would: each tap once the bot has
    answered the one before."""

    def __init__(self, fake: BenchTelegram, telegram_id: int) -> None:
        self.fake, self.user = fake, fake.user(telegram_id)
        self.update_ids: list[int] = []
        self._seen = 0

    def send(self, update_id: int) -> None:
        self.update_ids.append(update_id)

    def press(self, message: SentMessage, label: str) -> None:
        self.send(self.user.press(message.callback_data(label), message))

    async def reply(self) -> SentMessage:
        """The bot's next new message to me."""

        def probe() -> SentMessage | None:
            messages = self.fake.messages_to(self.user.chat_id)
            return messages[self._seen] if len(messages) > self._seen else None

        message = await self.fake.in_chat(self.user.chat_id, probe)
        self._seen += 1
        return message

    async def check_in(self) -> None:
        user = self.user
        self.send(user.send_text("✅ 打卡"))
        activities = await self.reply()
        self.press(activities, "家访")
        await self.fake.in_chat(
            user.chat_id, lambda: "✅ 家访" in activities.button_texts() or None
        )
        self.press(activities, "下一步")
        await self.reply()  # the photo prompt
        album = uuid.uuid4().hex[:12]
        for photo in (b"photo-a", b"photo-b"):
            self.send(user.send_photo(photo + album.encode(), media_group_id=album))
        question = await self.reply()
        for answer in ANSWERS:  # the question's message becomes the next one, then the summary
            asked = question.text
            self.press(question, answer)
            await self.fake.in_chat(user.chat_id, lambda a=asked: question.text != a or None)  # type: ignore[misc]
        self.press(question, "确认")
        saved = await self.reply()
        if "已保存" not in (saved.text or ""):
            raise AssertionError(f"user {user.id}: no confirmation, got {saved.text!r}")
        self.fake.forget(user.chat_id, self.update_ids)


GUANAI_BOT = ("-m", "guanai.cli", "bot")
BARE_BOT = (str(ROOT / "bench" / "bare_checkin_bot.py"),)


class BotProcess:
    """A bot in its own process (`guanai bot`, the real entry point, or the bare baseline),
    long-polling the fake; read through /proc."""

    def __init__(self, settings: dict[str, str], command: tuple[str, ...] = GUANAI_BOT) -> None:
        self.settings, self.command = settings, command
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, fake: BenchTelegram) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *(["-m", "cProfile", "-o", PROFILE] if PROFILE and self.command == GUANAI_BOT else []),
            *self.command,
            env={**os.environ, **self.settings},
            cwd=ROOT,
        )
        await fake.wait_for_call("getUpdates", timeout=120)

    def _proc(self, name: str) -> str:
        assert self.process is not None
        return (Path("/proc") / str(self.process.pid) / name).read_text()

    def cpu_seconds(self) -> float:
        utime, stime = self._proc("stat").rsplit(")", 1)[1].split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def peak_mb(self) -> float:
        line = next(x for x in self._proc("status").splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.process.wait()


@dataclass
class Measured:
    updates: int
    seconds: float
    cpu_seconds: float
    peak_mb: float
    calls: Counter[str]

    @property
    def cpu_ms_per_update(self) -> float:
        return self.cpu_seconds / self.updates * 1000


async def converse(
    bot: BotProcess, fake: BenchTelegram, volunteers: int, concurrency: int
) -> Measured:
    """Every volunteer checks in once, `concurrency` at a time, with `bot` answering."""
    await bot.start(fake)
    drivers = [Driver(fake, FIRST_TELEGRAM_ID + n) for n in range(volunteers)]
    limit = asyncio.Semaphore(concurrency)

    async def one(volunteer: Driver) -> None:
        async with limit:
            await volunteer.check_in()

    started, cpu_started = time.perf_counter(), bot.cpu_seconds()
    await asyncio.gather(*(one(v) for v in drivers))
    return Measured(
        updates=sum(len(v.update_ids) for v in drivers),
        seconds=time.perf_counter() - started,
        cpu_seconds=bot.cpu_seconds() - cpu_started,
        peak_mb=bot.peak_mb(),
        calls=Counter(call.method for call in fake.calls if call.method != "getUpdates"),
    )


async def bare_baseline(volunteers: int, concurrency: int) -> Measured:
    """The same conversations with a stock aiogram bot that makes the same calls."""
    fake = BenchTelegram()
    await fake.start()
    bot = BotProcess({"BOT_TOKEN": "4243:BARE", "BOT_API_URL": fake.base_url}, BARE_BOT)
    try:
        return await converse(bot, fake, volunteers, concurrency)
    finally:
        await bot.stop()
        await fake.stop()


async def run(volunteers: int, concurrency: int) -> None:
    run_id = uuid.uuid4().hex[:8]
    db_name = f"guanai_bench_{run_id}"
    database_url = f"{SERVER}/{db_name}"
    prefix = f"guanai_bench_{run_id}"
    await migrate(database_url)
    fake = BenchTelegram()
    await fake.start()
    bot = BotProcess(
        {
            "BOT_TOKEN": "4242:BENCH",
            "BOT_API_URL": fake.base_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
        }
    )
    redis = Redis.from_url(REDIS_URL)
    engine = make_engine(database_url, pool_size=1)
    try:
        await seed(database_url, volunteers)
        guanai = await converse(bot, fake, volunteers, concurrency)
        async with engine.connect() as connection:
            stored = await connection.scalar(select(func.count()).select_from(CheckIn))
            photos = await connection.scalar(select(func.count()).select_from(Photo))
        print(f"bot exit status:     {await bot.stop()}")
        bare = await bare_baseline(volunteers, concurrency)
        ratio = guanai.cpu_ms_per_update / bare.cpu_ms_per_update
        print(f"volunteers:          {volunteers} (concurrency {concurrency})")
        print(f"check-ins stored:    {stored}, photos {photos}")
        print(f"{'':21}{'guanai':>10}{'bare':>10}{'ratio':>8}")
        for name, ours, theirs in (
            ("updates handled", guanai.updates, bare.updates),
            ("seconds", guanai.seconds, bare.seconds),
            ("updates per second", guanai.updates / guanai.seconds, bare.updates / bare.seconds),
            ("CPU per update, ms", guanai.cpu_ms_per_update, bare.cpu_ms_per_update),
            ("peak memory, MB", guanai.peak_mb, bare.peak_mb),
        ):
            print(f"{name:21}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>7.2f}×")
        print(f"guanai's API calls:  {dict(guanai.calls.most_common())}")
        print(f"bare bot's calls:    {dict(bare.calls.most_common())}")
        print(f"CPU per update:      {ratio:.2f}× the bare bot's (target ≤ 2×)")
    finally:
        await bot.stop()
        await fake.stop()
        job_ids = await redis.zrange(f"{prefix}:queue", 0, -1)  # photos to fetch, no worker
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        keys += [f"{job_key_prefix}{job_id.decode()}".encode() for job_id in job_ids]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(run(args.volunteers, args.concurrency))


if __name__ == "__main__":
    main()
