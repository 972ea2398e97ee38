"""Running the bot and the worker, after checking what they depend on.

A missing token or a server that does not answer ends the process with one line that
says what is wrong and how to fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker
from redis.asyncio import Redis

from bot.telegram.app import make_bot, make_dispatcher, make_storage
from bot.telegram.patches import check_versions
from domain.clock import SystemClock
from domain.db import make_engine, make_sessionmaker
from domain.errors import DomainError
from guanai.checks import (
    check_bot_api,
    check_cjk_font,
    check_database,
    check_matrix_homeserver,
    check_media_dir,
    check_redis,
    wait_until_ready,
)
from guanai.migrate import migrate
from guanai.outages import Backoff, Outage, is_outage
from guanai.settings import Settings
from guanai.wiring import ladder_queue, photo_queue
from workers.queues import Queue

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


async def prepare(
    settings: Settings,
    *,
    needs_bot: bool,
    needs_matrix: bool = False,
    makes_files: bool = False,
    makes_charts: bool = False,
) -> None:
    """Fail fast, before anything starts, with one line that says what to do: the local
    checks first (token, Matrix account, media folder, font), then the database, Redis and
    Telegram (each waited for up to STARTUP_WAIT_SECONDS); then migrate."""
    check_versions()  # aiogram and pydantic as bot/telegram/patches.py was written for
    if needs_bot:
        settings.require_bot_token()
    if needs_matrix:
        settings.require_matrix()
    if makes_files:
        check_media_dir(settings)
    if makes_charts:
        check_cjk_font()
    await wait_until_ready(settings, check_database)
    await wait_until_ready(settings, check_redis)
    if needs_bot:
        await wait_until_ready(settings, check_bot_api)
    if needs_matrix:
        await wait_until_ready(settings, check_matrix_homeserver)
    await migrate(settings.database_url)


@contextlib.asynccontextmanager
async def bot_parts(settings: Settings) -> AsyncIterator[tuple[Bot, Redis]]:
    bot = make_bot(settings)
    # a Redis that hangs (stopped, or cut off without a reset) is an outage like one that
    # refuses: without timeouts, a user's update would wait for it forever
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    try:
        yield bot, redis
    finally:
        await redis.aclose()
        await bot.session.close()


# Allocations between two collections of the youngest generation (Python's default: 700).
# An update allocates thousands of short-lived objects (aiogram's and pydantic's models,
# SQLAlchemy's rows), nearly all freed by reference counting: collecting every 700 walked
# them over and over. bench/checkins.py: CPU per update 2.44-2.59× the bare bot's with
# it, 2.66-3.47× without (a shared machine: noisy), for 6 MB more peak memory.
GC_YOUNG_THRESHOLD = 20_000


def settle_startup_objects() -> None:
    """Move everything built at start-up (aiogram's hundreds of pydantic models, the
    catalogues, the routers) out of the garbage collector's sight: it would otherwise
    walk them again on every full collection while updates are handled. Then collect the
    young generation less often (GC_YOUNG_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


@contextlib.asynccontextmanager
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """The pool the bot enqueues jobs through (photos to fetch, after the update commits)."""
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def run_bot(settings: Settings) -> None:
    engine = make_engine(settings.database_url, timeout=settings.database_timeout_seconds)
    try:
        async with bot_parts(settings) as (bot, redis), arq_pool(settings) as arq_redis:
            dp = make_dispatcher(
                settings=settings,
                sessionmaker=make_sessionmaker(engine),
                storage=make_storage(settings, redis),
                clock=SystemClock(),
                photo_queue=photo_queue(arq_redis, settings),
                ladder_queue=ladder_queue(arq_redis, settings),
            )
            settle_startup_objects()
            if settings.webhook_url:
                await serve_webhook(settings, settings.webhook_url, bot, dp, engine, redis)
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                await dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    finally:
        await engine.dispose()


async def run_matrix(settings: Settings) -> None:
    """The Matrix front until cancelled: log in, then sync and answer, and send the
    outbox's Matrix rows from the same device (its transaction ids dedupe a resend)."""
    from bot.matrix.client import MatrixFront  # matrix-nio: loaded only where Matrix runs
    from bot.matrix.conversation import Conversation
    from bot.matrix.rooms import Rooms
    from bot.matrix.sender import matrix_sender

    engine = make_engine(settings.database_url, timeout=settings.database_timeout_seconds)
    sessionmaker = make_sessionmaker(engine)
    clock = SystemClock()
    try:
        async with arq_pool(settings) as arq_redis:
            rooms = Rooms(arq_redis, settings.redis_prefix)
            conversation = Conversation(
                rooms,
                clock,
                settings.tz,
                photo_queue(arq_redis, settings),
                ladder_queue(arq_redis, settings),
            )
            front = MatrixFront(
                settings.require_matrix(),
                sessionmaker,
                conversation.answer,
                media_dir=settings.media_dir,
            )
            sender = matrix_sender(sessionmaker, front, rooms)
            try:
                await front.start()
                async with asyncio.TaskGroup() as group:
                    group.create_task(
                        front.run(outage_retry_max_seconds=settings.outage_retry_max_seconds)
                    )
                    group.create_task(front.send_outbox(sender, clock))
            finally:
                await front.close()
    finally:
        await engine.dispose()


async def serve_webhook(
    settings: Settings, url: str, bot: Bot, dp: Dispatcher, engine: AsyncEngine, redis: Redis
) -> None:
    """Webhook mode, until cancelled: listen first, then tell Telegram where to post."""
    from bot.telegram.webhook import (
        database_and_redis,
        make_webhook_app,
        set_webhook,
        webhook_served,
    )

    secret = settings.webhook_secret_token()
    app = make_webhook_app(
        dp,
        bot,
        path=settings.webhook_listen_path(url),
        secret_token=secret,
        health=database_and_redis(engine, redis),
    )
    async with webhook_served(app, settings.webhook_host, settings.webhook_port) as port:
        await set_webhook(bot, dp, url, secret)
        log.info("webhook mode: listening on %s:%d", settings.webhook_host, port)
        await asyncio.Event().wait()


async def run_worker(settings: Settings, queue: Queue = Queue.main) -> None:
    """The queue's arq worker, started again whenever it loses Redis.

    arq's worker ends when a poll of Redis fails; alone, that would end `guanai worker`
    for good and `guanai run` with it. It is made again after a wait that doubles up to
    OUTAGE_RETRY_MAX_SECONDS, with a log line when the outage begins and one when it ends.
    """
    # the worker's imaging and spreadsheet libraries load here, never in a bot-only process
    from guanai.wiring import make_worker

    outage = Outage(log, f"worker ({queue.value} queue)")
    backoff = Backoff(settings.outage_retry_max_seconds)

    def ready() -> None:
        outage.over()
        backoff.reset()

    while True:
        worker = make_worker(
            settings,
            queue=queue,
            handle_signals=False,
            on_ready=ready,
            redis_pool=_worker_redis(settings),
        )
        grace = 0.0  # SIGTERM, or a bug: running jobs are cancelled, as arq's close does
        try:
            await worker.async_run()
            return  # a burst worker's end; a polling one never returns
        except Exception as error:
            if not is_outage(error):
                raise
            outage.failed(error)
            grace = JOBS_GRACE_SECONDS
        finally:
            await _close_worker(worker, grace=grace)
        await asyncio.sleep(backoff.next())


# How long a worker that lost Redis lets its running jobs finish before cancelling them
JOBS_GRACE_SECONDS = 10.0


def _worker_redis(settings: Settings) -> ArqRedis:
    """The worker's Redis, connected on first use: a refusal ends the attempt at once (the
    loop above retries) and a Redis that stops answering is a timeout, not a poll that
    waits for ever (arq sets no timeout on commands)."""
    redis: ArqRedis = ArqRedis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    return redis


async def _close_worker(worker: Worker, *, grace: float) -> None:
    """arq's `Worker.close` without needing Redis to answer: running jobs end (within
    `grace` seconds, then are cancelled), their dependencies close, the pool is dropped."""
    if worker.main_task is not None:
        worker.main_task.cancel()
    running = [task for task in worker.tasks.values() if not task.done()]
    try:
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
    finally:
        for task in running:
            task.cancel()
        # each step bounded: a server slow to answer while we stop must not keep the
        # process from ending
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_STEP_SECONDS):
                await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        if "stack" in worker.ctx:  # arq's on_shutdown: the jobs' engine and Bot
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_STEP_SECONDS):
                    await worker.ctx.pop("stack").aclose()
        pool: ArqRedis | None = worker.pool
        if pool is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await pool.delete(worker.health_check_key)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_STEP_SECONDS):
                    await pool.aclose(close_connection_pool=True)


# The longest one step of stopping a worker may take (its jobs' end, their engine, its pool)
CLOSE_STEP_SECONDS = 5.0


async def run_all(settings: Settings) -> None:
    """The bot and a worker for each queue in one process: what a small deployment runs;
    and the Matrix front, when MATRIX_HOMESERVER is set."""
    from workers.periodic import on_queue

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(run_bot(settings))
            if settings.matrix_homeserver:
                group.create_task(run_matrix(settings))
            for queue in Queue:
                if on_queue(queue):
                    group.create_task(run_worker(settings, queue))
    except* DomainError as failed:
        # a part that cannot start (a webhook Telegram refuses, a port taken) says why in one
        # line, as it does alone, not as a group of tracebacks
        raise failed.exceptions[0] from None
