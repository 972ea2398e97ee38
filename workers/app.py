"""The arq worker, built from settings (never at import)."""

from __future__ import annotations

from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker

from bot.app import make_bot
from domain.clock import Clock, SystemClock
from domain.db import make_engine, make_sessionmaker
from guanai.settings import Settings
from workers import jobs


def make_worker(
    settings: Settings,
    *,
    clock: Clock | None = None,
    burst: bool = False,
    handle_signals: bool = True,
) -> Worker:
    async def on_startup(ctx: dict[str, Any]) -> None:
        engine = make_engine(settings.database_url, pool_size=5)
        ctx.update(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            clock=clock or SystemClock(),
            bot=make_bot(settings),
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await ctx["bot"].session.close()
        await ctx["engine"].dispose()

    return Worker(
        functions=[
            # One spare try beyond the job's own count, for a run that died before committing.
            func(jobs.store_photo, name="store_photo", max_tries=settings.photo_max_attempts + 1),
        ],
        cron_jobs=[cron(jobs.forget_old_updates, hour={3}, minute={17})],
        queue_name=settings.arq_queue,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        timezone=settings.tz,  # type: ignore[arg-type]  # arq types it as datetime.timezone; any tzinfo works
        burst=burst,
        handle_signals=handle_signals,
    )
