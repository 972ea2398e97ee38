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
from redis.asyncio import Redis

from bot.app import make_bot, make_dispatcher, make_storage
from bot.patches import check_versions
from domain.clock import SystemClock
from domain.db import make_engine, make_sessionmaker
from guanai.checks import (
    check_bot_api,
    check_cjk_font,
    check_database,
    check_media_dir,
    check_redis,
    wait_until_ready,
)
from guanai.migrate import migrate
from guanai.settings import Settings
from workers.queues import Queue

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


async def prepare(
    settings: Settings,
    *,
    needs_bot: bool,
    makes_files: bool = False,
    makes_charts: bool = False,
) -> None:
    """Fail fast, before anything starts, with one line that says what to do: the local
    checks first (token, media folder, font), then the database, Redis and Telegram (each
    waited for up to STARTUP_WAIT_SECONDS); then migrate."""
    check_versions()  # aiogram and pydantic as bot/patches.py was written for
    if needs_bot:
        settings.require_bot_token()
    if makes_files:
        check_media_dir(settings)
    if makes_charts:
        check_cjk_font()
    await wait_until_ready(settings, check_database)
    await wait_until_ready(settings, check_redis)
    if needs_bot:
        await wait_until_ready(settings, check_bot_api)
    await migrate(settings.database_url)


@contextlib.asynccontextmanager
async def bot_parts(settings: Settings) -> AsyncIterator[tuple[Bot, Redis]]:
    bot = make_bot(settings)
    redis = Redis.from_url(settings.redis_url)
    try:
        yield bot, redis
    finally:
        await redis.aclose()
        await bot.session.close()


def settle_startup_objects() -> None:
    """Move everything built at start-up (aiogram's hundreds of pydantic models, the
    catalogues, the routers) out of the garbage collector's sight: it would otherwise
    walk them again on every full collection while updates are handled."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """The pool the bot enqueues jobs through (photos to fetch, after the update commits)."""
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def run_bot(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with bot_parts(settings) as (bot, redis), arq_pool(settings) as arq_redis:
            dp = make_dispatcher(
                settings=settings,
                sessionmaker=make_sessionmaker(engine),
                storage=make_storage(settings, redis),
                clock=SystemClock(),
                arq_redis=arq_redis,
            )
            settle_startup_objects()
            if settings.webhook_url:
                await serve_webhook(settings, settings.webhook_url, bot, dp, engine, redis)
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                await dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    finally:
        await engine.dispose()


async def serve_webhook(
    settings: Settings, url: str, bot: Bot, dp: Dispatcher, engine: AsyncEngine, redis: Redis
) -> None:
    """Webhook mode, until cancelled: listen first, then tell Telegram where to post."""
    from bot.webhook import database_and_redis, make_webhook_app, set_webhook, webhook_served

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
    # the worker's imaging and spreadsheet libraries load here, never in a bot-only process
    from workers.app import make_worker

    worker = make_worker(settings, queue=queue, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def run_all(settings: Settings) -> None:
    """The bot and a worker for each queue in one process: what a small deployment runs."""
    from workers.periodic import on_queue

    async with asyncio.TaskGroup() as group:
        group.create_task(run_bot(settings))
        for queue in Queue:
            if on_queue(queue):
                group.create_task(run_worker(settings, queue))
