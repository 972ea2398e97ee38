"""Shared fixtures: real PostgreSQL and Redis, each run in databases of its own.

The run migrates one template database; a test that needs real commits (the bot, the
workers, the CLI) gets its own copy made with `CREATE DATABASE … TEMPLATE`, dropped
afterwards. Persistence tests that need no commits use `session`, an outer
transaction rolled back at the end. Redis keys live under a prefix per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FixedClock

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher
    from arq.connections import ArqRedis
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from guanai.settings import Settings
    from tests.cli_support import Guanai
    from tests.fakes import FakeTelegram
    from tests.matrix_people import Person
    from tests.synapse_server import MatrixUser, Synapse

SERVER_URL = os.environ.get("TEST_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIT_TESTS = Path(__file__).resolve().parent / "unit"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject): two workers per core, since most tests wait on PostgreSQL,
    Redis, Synapse or a `guanai` process rather than compute (on 2 cores: 128–151 s with
    four workers, 178 s with two). The unit tests alone run in one process: starting
    workers would cost them more than it saves."""
    chosen = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if chosen and all(path.is_relative_to(UNIT_TESTS) for path in chosen):
        return 0
    return 2 * len(os.sched_getaffinity(0))


def pytest_collectstart(collector: pytest.Collector) -> None:
    """aiogram's types are built on first use only if the patch is imported before aiogram
    (bot/telegram/patches.py): before any test module but the unit tests', which need
    neither aiogram nor the servers and stay fast for it (tests/unit/conftest.py)."""
    if isinstance(collector, pytest.Module) and UNIT_TESTS not in collector.path.resolve().parents:
        import bot.telegram.patches  # noqa: F401


def database_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


async def _admin(sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url("postgres")).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_database(name: str, *, template: str | None = None) -> str:
    await _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return database_url(name)


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_name(kind: str) -> str:
    return f"guanai_test_{RUN_ID}_{kind}_{uuid.uuid4().hex[:6]}"


# Tests' own databases, dropped together when the run ends: PostgreSQL checkpoints on
# every DROP DATABASE, ~0.2 s each while tests write; at the end, dropped side by side,
# they share their checkpoints.
_DROP_AT_THE_END: list[str] = []


@pytest.fixture(scope="session")
async def template_db() -> AsyncIterator[str]:
    from guanai.migrate import migrate

    name = f"guanai_test_{RUN_ID}_template"
    url = database_url(name)
    await migrate(url)
    yield name
    # concurrent drops share their checkpoints
    at_once = asyncio.Semaphore(16)

    async def drop(copy: str) -> None:
        async with at_once:
            await drop_database(copy)

    await asyncio.gather(*(drop(copy) for copy in _DROP_AT_THE_END))
    await drop_database(name)


@pytest.fixture
async def db_url(template_db: str) -> str:
    """A database of this test's own, migrated, empty, committed to freely."""
    name = fresh_name("db")
    url = await create_database(name, template=template_db)
    _DROP_AT_THE_END.append(name)
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    from domain.db import make_engine

    engine = make_engine(db_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from domain.db import make_sessionmaker

    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
async def shared_engine(template_db: str) -> AsyncIterator[AsyncEngine]:
    """A copy for rolled-back sessions: the template must stay idle to be copied."""
    from sqlalchemy.ext.asyncio import create_async_engine

    name = fresh_name("shared")
    engine = create_async_engine(await create_database(name, template=template_db), pool_size=2)
    yield engine
    await engine.dispose()
    await drop_database(name)


@pytest.fixture
async def session(shared_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back: nothing persists."""
    from sqlalchemy.ext.asyncio import AsyncSession

    async with shared_engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def new_database() -> AsyncIterator[tuple[str, str]]:
    """A database that does not exist yet (name, URL): `guanai run` must create it."""
    name = fresh_name("run")
    yield name, database_url(name)
    await drop_database(name)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    prefix = f"guanai_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    yield prefix
    # arq's job, result, in-progress and retry keys hold the prefix inside the job id
    keys = [
        key for match in (f"{prefix}*", f"arq:*:{prefix}:*") async for key in redis.scan_iter(match)
    ]
    if keys:
        await redis.delete(*keys)


@pytest.fixture(scope="session")
async def synapse() -> AsyncIterator[Synapse]:
    """One real Synapse for the run's Matrix tests, installed on first use (tests/synapse)."""
    from tests.synapse_server import Synapse

    server = Synapse()
    await server.start()
    print(  # shown with -s or on failure: what the Matrix tests cost the run
        f"synapse: install {server.install_seconds:.1f} s, start {server.start_seconds:.1f} s"
    )
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def person(synapse: Synapse, tmp_path: Path) -> AsyncIterator[Person]:
    """Someone on Matrix, with a client of their own, as the Matrix tests' user."""
    from tests.matrix_people import Person

    user = await synapse.register(f"person-{secrets.token_hex(4)}")
    someone = Person(synapse, user, tmp_path / "person")
    await someone.open()
    try:
        yield someone
    finally:
        await someone.close()


@pytest.fixture
async def bot_user(synapse: Synapse) -> MatrixUser:
    """The bot's own account on the test homeserver."""
    return await synapse.register(f"guanai-{secrets.token_hex(4)}")


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    from tests.fakes import FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(
    db_url: str, redis_prefix: str, fake_telegram: FakeTelegram, tmp_path: object
) -> Settings:
    from guanai.settings import Settings

    return Settings(
        BOT_TOKEN="4242:TEST-TOKEN",
        BOT_API_URL=fake_telegram.base_url,
        DATABASE_URL=db_url,
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=redis_prefix,
        MEDIA_DIR=str(tmp_path),
    )


DELIVERIES = ("polling", "webhook")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module that sets `BOTH_DELIVERIES = True` runs its chat tests twice: the bot
    polling the fake Bot API, and the fake posting to the bot's webhook."""
    if "delivery" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_DELIVERIES", False):
        metafunc.parametrize("delivery", DELIVERIES, indirect=True)


@pytest.fixture
def delivery(request: pytest.FixtureRequest) -> str:
    """How updates reach the bot: "polling" unless the test module asks for both."""
    return str(getattr(request, "param", "polling"))


@contextlib.asynccontextmanager
async def updates_delivered(
    delivery: str, bot: Bot, dp: Dispatcher, fake: FakeTelegram, settings: Settings
) -> AsyncIterator[None]:
    """The dispatcher taking updates from the fake Bot API, the way `guanai bot` does."""
    from bot.telegram.webhook import make_webhook_app, set_webhook, webhook_served

    if delivery == "webhook":
        secret = settings.webhook_secret_token()
        path = "/telegram/updates"
        app = make_webhook_app(dp, bot, path=path, secret_token=secret, health=_always_healthy)
        async with webhook_served(app, "127.0.0.1", 0) as port:
            await set_webhook(bot, dp, f"http://127.0.0.1:{port}{path}", secret)
            yield
        return
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    await fake.wait_for_call("getUpdates")
    yield
    await dp.stop_polling()
    await polling


async def _always_healthy() -> bool:
    return True


@dataclass
class RunningBot:
    """The real bot and dispatcher, taking updates from the fake Bot API over HTTP (long
    polling, or the fake posting to its webhook)."""

    bot: Bot
    dp: Dispatcher
    fake: FakeTelegram
    clock: FixedClock
    sessionmaker: async_sessionmaker[AsyncSession]
    arq_redis: ArqRedis
    settings: Settings


@pytest.fixture
async def running_bot(
    settings: Settings,
    fake_telegram: FakeTelegram,
    clock: FixedClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    delivery: str,
) -> AsyncIterator[RunningBot]:
    from arq import create_pool
    from arq.connections import RedisSettings

    from bot.telegram.app import make_bot, make_dispatcher, make_storage
    from guanai.wiring import ladder_queue, photo_queue

    bot = make_bot(settings)
    arq_redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    dp = make_dispatcher(
        settings=settings,
        sessionmaker=sessionmaker,
        storage=make_storage(settings, redis),
        clock=clock,
        photo_queue=photo_queue(arq_redis, settings),
        ladder_queue=ladder_queue(arq_redis, settings),
    )
    async with updates_delivered(delivery, bot, dp, fake_telegram, settings):
        yield RunningBot(
            bot=bot,
            dp=dp,
            fake=fake_telegram,
            clock=clock,
            sessionmaker=sessionmaker,
            arq_redis=arq_redis,
            settings=settings,
        )
    await bot.session.close()
    await forget_queued_jobs(arq_redis, settings.arq_queue)
    await arq_redis.aclose()


async def forget_queued_jobs(arq_redis: ArqRedis, queue: str) -> None:
    """arq keeps a job's key outside the queue's prefix: drop this test's, so a later test
    may enqueue the same job id."""
    from arq.constants import job_key_prefix

    job_ids = [job_id.decode() for job_id in await arq_redis.zrange(queue, 0, -1)]
    if job_ids:
        await arq_redis.delete(*(f"{job_key_prefix}{job_id}" for job_id in job_ids))


@pytest.fixture
def guanai(capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory) -> Guanai:
    """The `guanai` command, run in this process (tests/cli_support.py)."""
    from tests.cli_support import Guanai

    return Guanai(capsys, tmp_path_factory.mktemp("cli"))
