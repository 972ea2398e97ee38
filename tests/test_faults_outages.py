"""Redis or PostgreSQL lost under a running bot and its workers: they carry on.

A real `guanai run` process against the fake Bot API, with a private Redis or a private
PostgreSQL (tests/servers.py) stopped and started again under it. During the outage a
volunteer confirming a check-in is told, in Chinese, to try again, and nothing is stored;
after it the bot answers and the workers poll again, with no restart, no traceback, one
log line per outage. In-process: a commit lost at the last moment (a deferred trigger
ends the session) is never called saved, and the conversation waits to be sent again; a
photo job that cannot reach PostgreSQL is retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.utils.keyboard import InlineKeyboardBuilder
from arq import Retry
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.callbacks import EscalationAct, EscalationAction
from bot.telegram.front import TelegramFront
from domain.clock import FixedClock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import CheckIn, Concern, Escalation, EscalationKind, EscalationStep, Person
from guanai.settings import Settings
from tests.conftest import REDIS_URL, SHANGHAI, RunningBot
from tests.factories import on_telegram
from tests.fakes import FakeTelegram
from tests.fakes.telegram import FakeUser, SentMessage
from tests.servers import PrivatePostgres, PrivateRedis, free_port
from tests.test_photos import jpeg, scene
from tests.volunteering import COORDINATOR, VOLUNTEER, seed_school, settled
from workers import jobs
from workers.context import Deps

pytestmark = pytest.mark.faults

TRY_AGAIN = "服务暂时不可用"
STRANGER = 7777
WAIT = 20  # seconds, for what the tests can only poll for: the log, Redis's keys


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    server = PrivatePostgres()
    await server.init()
    await server.start()
    yield server
    await server.remove()


class Guanai:
    """`guanai run` as a real process; its log goes to a file (a pipe could fill up)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")},
            "BOT_TOKEN": "4242:TEST-TOKEN",
            # an outage in a test lasts seconds: retry within a second, not after minutes
            "OUTAGE_RETRY_MAX_SECONDS": "0.5",
            **env,
        }
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "guanai.cli", "run"),
                env=self.env,
                cwd=tempfile.gettempdir(),
                stdout=log,
                stderr=log,
            )

    async def stop(self) -> str:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), timeout=30)
        return self.log.read_text()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def logged(self, text: str, times: int = 1) -> None:
        """Reads the log (no other signal exists) until `text` is in it `times` times;
        fails at once if the process has ended."""
        async with asyncio.timeout(WAIT):
            while True:
                if self.log.read_text().count(text) >= times:
                    return
                assert self.running, self.log.read_text()
                await asyncio.sleep(0.05)


@pytest.fixture
async def guanai(fake_telegram: FakeTelegram, tmp_path: Path) -> AsyncIterator[Guanai]:
    service = Guanai({"BOT_API_URL": fake_telegram.base_url}, tmp_path / "guanai.log")
    yield service
    if service.running:
        await service.stop()


async def _to_summary(user: FakeUser, photo: bytes | None = None) -> SentMessage:
    """打卡 → 谈心 → 下一步 → a photo or 没有照片: the summary with its 确认 button."""
    user.send_text("✅ 打卡")
    activities = await user.next_message()
    user.press(activities.callback_data("谈心"), activities)
    await user.fake.wait_until(lambda: "✅ 谈心" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    prompt = await user.next_message()
    if photo is None:
        user.press(prompt.callback_data("没有照片"), prompt)
    else:
        user.send_photo(photo)
    summary = await user.next_message()
    await settled(user)  # the summary is sent before the conversation's state is written
    return summary


async def _checkins(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(CheckIn)) or 0)


async def _answered_text(fake: FakeTelegram, update_id: int) -> str:
    return str((await fake.wait_callback_answer(update_id, timeout=10)).params.get("text"))


def _assert_quiet(log: str, returncode: int | None, outages: int = 1) -> None:
    """Ended by SIGTERM as always; no traceback; each part tells of each outage once."""
    assert returncode == 0, log
    assert "Traceback" not in log, log
    for part in ("bot", "worker (main queue)", "worker (escalations queue)", "job send-outbox"):
        assert log.count(f"{part}: connection lost") <= outages, log


async def _wait_for_key(redis: Redis, key: str) -> None:
    """Polls Redis (no other signal exists) until the key is there."""
    async with asyncio.timeout(WAIT):
        while True:
            if await redis.exists(key):
                return
            await asyncio.sleep(0.05)


async def test_guanai_run_rides_out_a_redis_restart(
    guanai: Guanai,
    private_redis: PrivateRedis,
    fake_telegram: FakeTelegram,
    db_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    engine = make_engine(db_url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    redis = Redis.from_url(private_redis.url)
    try:
        await seed_school(sessionmaker, dt.datetime.now(SHANGHAI))
        guanai.env |= {
            "DATABASE_URL": db_url,
            "REDIS_URL": private_redis.url,
            "REDIS_PREFIX": redis_prefix,
            "MEDIA_DIR": str(tmp_path / "media"),
        }
        await guanai.start()
        await fake_telegram.wait_for_call("getUpdates", timeout=60)
        volunteer = fake_telegram.user(VOLUNTEER)
        summary = await _to_summary(volunteer)

        await private_redis.stop()
        confirm = volunteer.press(summary.callback_data("确认"), summary)
        assert TRY_AGAIN in await _answered_text(fake_telegram, confirm)
        stranger = fake_telegram.user(STRANGER)
        stranger.send_text("/start")
        assert TRY_AGAIN in ((await stranger.next_message(timeout=10)).text or "")
        assert await _checkins(sessionmaker) == 0
        # the outage outlasts the workers' polls: both lose Redis, and both wait
        await guanai.logged("connection lost", times=2)

        await private_redis.start()  # empty: the conversation is gone, as after a crash
        stranger.send_text("/start")
        assert "邀请链接" in ((await stranger.next_message(timeout=10)).text or "")
        await guanai.logged("bot: back after the outage (2 failed attempts)")
        summary = await _to_summary(volunteer, photo=jpeg(scene(1)))
        volunteer.press(summary.callback_data("确认"), summary)
        assert "已保存" in ((await volunteer.next_message(timeout=10)).text or "")
        await settled(volunteer)
        assert await _checkins(sessionmaker) == 1
        # both workers poll the new Redis: each records its health when it starts polling
        await guanai.logged("back after the outage", times=2)
        await _wait_for_key(redis, f"{redis_prefix}:queue:health-check")
        await _wait_for_key(redis, f"{redis_prefix}:escalations:health-check")
        # and the bot's queue reaches the worker again: the photo is fetched and kept
        await guanai.logged("photo 1: stored")
    finally:
        await redis.aclose()
        await engine.dispose()
        log = await guanai.stop()
    _assert_quiet(log, guanai.process.returncode if guanai.process else None)


async def test_guanai_run_rides_out_a_postgresql_restart(
    guanai: Guanai,
    private_postgres: PrivatePostgres,
    fake_telegram: FakeTelegram,
    redis_prefix: str,
) -> None:
    url = private_postgres.url("guanai")
    guanai.env |= {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "DATABASE_TIMEOUT_SECONDS": "2",
    }
    await guanai.start()  # creates and migrates the database, then polls
    await fake_telegram.wait_for_call("getUpdates", timeout=60)
    engine = make_engine(url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    try:
        await seed_school(sessionmaker, dt.datetime.now(SHANGHAI))
        volunteer = fake_telegram.user(VOLUNTEER)
        summary = await _to_summary(volunteer)

        await private_postgres.stop()
        confirm = volunteer.press(summary.callback_data("确认"), summary)
        assert TRY_AGAIN in await _answered_text(fake_telegram, confirm)
        stranger = fake_telegram.user(STRANGER)
        stranger.send_text("/start")
        assert TRY_AGAIN in ((await stranger.next_message(timeout=10)).text or "")
        # the outage outlasts a tick of the outbox's sender (every 5 s)
        await guanai.logged("job send-outbox: connection lost")

        await private_postgres.start()
        assert await _checkins(sessionmaker) == 0  # nothing half-stored
        stranger.send_text("/start")
        assert "邀请链接" in ((await stranger.next_message(timeout=10)).text or "")
        await guanai.logged("bot: back after the outage (2 failed attempts)")
        # the conversation survived in Redis: the same 确认 now saves, once
        volunteer.press(summary.callback_data("确认"), summary)
        assert "已保存" in ((await volunteer.next_message(timeout=10)).text or "")
        await settled(volunteer)
        assert await _checkins(sessionmaker) == 1

        # a PostgreSQL that hangs, rather than refuses, is an outage too
        private_postgres.pause()
        try:
            stranger.send_text("/start")
            assert TRY_AGAIN in ((await stranger.next_message(timeout=15)).text or "")
        finally:
            private_postgres.resume()
        stranger.send_text("/start")
        assert "邀请链接" in ((await stranger.next_message(timeout=10)).text or "")
        # the outbox's sender runs again (its next tick, every 5 s)
        await guanai.logged("job send-outbox: back after the outage")
    finally:
        await engine.dispose()
        log = await guanai.stop()
    _assert_quiet(log, guanai.process.returncode if guanai.process else None, outages=2)


async def test_guanai_run_rides_out_a_redis_that_hangs_and_stops_cleanly_mid_outage(
    guanai: Guanai,
    private_redis: PrivateRedis,
    fake_telegram: FakeTelegram,
    db_url: str,
    redis_prefix: str,
) -> None:
    guanai.env |= {
        "DATABASE_URL": db_url,
        "REDIS_URL": private_redis.url,
        "REDIS_PREFIX": redis_prefix,
        "REDIS_TIMEOUT_SECONDS": "1",
    }
    await guanai.start()
    await fake_telegram.wait_for_call("getUpdates", timeout=60)
    stranger = fake_telegram.user(STRANGER)
    try:
        private_redis.pause()  # no answer, no reset: nobody may wait for it for ever
        stranger.send_text("/start")
        assert TRY_AGAIN in ((await stranger.next_message(timeout=10)).text or "")
        await guanai.logged("worker (main queue): connection lost (TimeoutError")
        await guanai.logged("worker (escalations queue): connection lost (TimeoutError")
        private_redis.resume()
        stranger.send_text("/start")
        assert "邀请链接" in ((await stranger.next_message(timeout=10)).text or "")
        await guanai.logged("worker (main queue): back after the outage")
        await guanai.logged("worker (escalations queue): back after the outage")

        # and a SIGTERM in the middle of an outage ends it as cleanly as ever
        await private_redis.stop()
        await guanai.logged("worker (main queue): connection lost", times=2)
        await guanai.logged("worker (escalations queue): connection lost", times=2)
    finally:
        log = await guanai.stop()
    _assert_quiet(log, guanai.process.returncode if guanai.process else None, outages=2)


# PostgreSQL gone at the very moment of the commit: a deferred trigger ends the session
# when the transaction commits, exactly as a server dying between the last statement and
# the commit would.
@contextlib.asynccontextmanager
async def dying_at_commit(
    sessionmaker: async_sessionmaker[AsyncSession], table: str
) -> AsyncIterator[None]:
    statements = (
        """CREATE OR REPLACE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$""",
        f"""CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT OR UPDATE ON {table}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit()""",
    )
    async with sessionmaker() as session:
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()
    try:
        yield
    finally:
        async with sessionmaker() as session:
            await session.execute(text(f"DROP TRIGGER die_at_commit ON {table}"))
            await session.commit()


async def test_a_checkin_whose_commit_is_lost_is_never_called_saved(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    volunteer = running_bot.fake.user(VOLUNTEER)
    summary = await _to_summary(volunteer)

    async with dying_at_commit(running_bot.sessionmaker, "checkins"):
        confirm = volunteer.press(summary.callback_data("确认"), summary)
        assert TRY_AGAIN in await _answered_text(running_bot.fake, confirm)
        await settled(volunteer)
    assert not [m for m in volunteer.messages if "已保存" in (m.text or "")]
    assert await _checkins(running_bot.sessionmaker) == 0

    volunteer.press(summary.callback_data("确认"), summary)  # the same summary, again
    assert "已保存" in ((await volunteer.next_message()).text or "")
    await settled(volunteer)
    assert await _checkins(running_bot.sessionmaker) == 1


async def test_a_concern_whose_commit_is_lost_is_never_called_noted(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    volunteer = running_bot.fake.user(VOLUNTEER)
    volunteer.send_text("👧 我的孩子")
    overview = await volunteer.next_message()
    volunteer.press(overview.callback_data("李小花"), overview)
    card = await volunteer.next_message()
    volunteer.press(card.callback_data("反映情况"), card)
    kinds = await volunteer.next_message()
    volunteer.press(kinds.callback_data("情绪低落"), kinds)
    await volunteer.next_message()  # note, or skip
    await settled(volunteer)

    async with dying_at_commit(running_bot.sessionmaker, "concerns"):
        volunteer.send_text("最近总是一个人哭")
        assert TRY_AGAIN in ((await volunteer.next_message()).text or "")
        await settled(volunteer)
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Concern)) == 0

    volunteer.send_text("最近总是一个人哭")  # the conversation waits for the note still
    assert "关工委" in ((await volunteer.next_message()).text or "")
    await settled(volunteer)
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Concern)) == 1


async def test_an_escalation_whose_commit_is_lost_is_never_called_taken_or_closed(
    running_bot: RunningBot,
) -> None:
    fake, sessionmaker, now = running_bot.fake, running_bot.sessionmaker, running_bot.clock.now()
    school = await seed_school(sessionmaker, now)
    async with UnitOfWork(sessionmaker) as uow:
        escalation = Escalation(
            kind=EscalationKind.dropout, item_key="dropout:test", child_id=school.child_ids[0]
        )
        escalation.opened_at = now
        uow.session.add(escalation)
        await uow.session.flush()
        coordinator_id = await uow.session.scalar(select(Person.id).where(on_telegram(COORDINATOR)))
        assert coordinator_id is not None
        uow.session.add(
            EscalationStep(
                escalation_id=escalation.id,
                step=0,
                region_id=school.site.id,
                recipient_id=coordinator_id,
                decided_at=now,
            )
        )
        await uow.commit()
    buttons = InlineKeyboardBuilder()
    for act in EscalationAct:
        buttons.button(
            text=act.value, callback_data=EscalationAction(escalation_id=escalation.id, act=act)
        )
    await running_bot.bot.send_message(
        COORDINATOR, "李小花 未到校", reply_markup=buttons.as_markup()
    )
    coordinator = fake.user(COORDINATOR)
    told = await coordinator.next_message()

    async def state() -> tuple[bool, bool]:
        async with sessionmaker() as session:
            stored = await session.get_one(Escalation, escalation.id)
            return stored.acknowledged_by is not None, stored.closed_at is not None

    async with dying_at_commit(sessionmaker, "escalations"):
        take = coordinator.press(told.callback_data("take"), told)
        assert TRY_AGAIN in await _answered_text(fake, take)
        await settled(coordinator)
    assert await state() == (False, False)
    take = coordinator.press(told.callback_data("take"), told)
    assert "由您处理" in await _answered_text(fake, take)

    coordinator.press(told.callback_data("resolve"), told)
    assert "怎么解决" in ((await coordinator.next_message()).text or "")
    async with dying_at_commit(sessionmaker, "escalations"):
        coordinator.send_text("孩子已回校上课")
        assert TRY_AGAIN in ((await coordinator.next_message()).text or "")
        await settled(coordinator)
    assert await state() == (True, False)
    coordinator.send_text("孩子已回校上课")  # the conversation waits for the note still
    assert "已办结" in ((await coordinator.next_message()).text or "")
    await settled(coordinator)
    assert await state() == (True, True)


async def test_a_photo_job_that_cannot_reach_postgresql_is_tried_again_later(
    settings: Settings, clock: FixedClock
) -> None:
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/guanai"}
    )
    engine = make_engine(unreachable.database_url, pool_size=1)
    try:
        sessionmaker = make_sessionmaker(engine)
        deps = Deps(unreachable, sessionmaker, clock, TelegramFront(unreachable, sessionmaker))
        with pytest.raises(Retry) as retry:
            await jobs.store_photo({"deps": deps, "job_try": 2}, 1)
    finally:
        await engine.dispose()
    assert retry.value.defer_score == 60_000  # PHOTO_RETRY_SECONDS, twice on the second try
