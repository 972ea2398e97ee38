"""The arq workers, built from settings (never at import): one per queue."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from arq.cron import CronJob
from arq.worker import Worker

from domain.clock import Clock, SystemClock
from domain.errors import DomainError
from guanai.outages import Outage, is_outage
from guanai.settings import Settings
from workers import jobs
from workers.context import Deps, FrontFactory, SenderFactory, open_deps
from workers.periodic import MAX_TRIES, Periodic, on_queue
from workers.queues import QUEUE_TIMEOUT, Queue, queue_name

log = logging.getLogger(__name__)


@functools.cache
def _outage(name: str) -> Outage:
    return Outage(log, f"job {name}")


async def _unless_outage(job: Periodic, deps: Deps) -> dict[str, int]:
    """A run that cannot reach PostgreSQL or Redis is logged in a line (the first of an
    outage only) and left to the next tick; the jobs are idempotent."""
    try:
        result = dict(await job.run(deps, deps.clock.now(), None))
    except Exception as error:
        if not is_outage(error):
            raise
        _outage(job.name).failed(error)
        return {}
    _outage(job.name).over()
    return result


class NoJobsOnQueue(DomainError):
    message = "No periodic job runs on the {queue} queue yet."


def _cron(job: Periodic, prefix: str) -> CronJob:
    """arq names a cron run's job `<name>:<ms of the tick>`, and keeps its job, result,
    in-progress and retry keys under that id, outside the queue's prefix: the name carries
    REDIS_PREFIX so that two deployments on one Redis each run every tick."""

    async def run(ctx: dict[str, Any]) -> dict[str, int]:
        deps: Deps = ctx["deps"]
        return await _unless_outage(job, deps)

    return cron(
        run,
        name=f"{prefix}:{job.name}",
        run_at_startup=job.at_startup,
        timeout=QUEUE_TIMEOUT[job.queue],
        max_tries=MAX_TRIES,
        **job.cron_fields(),
    )


def make_worker(
    settings: Settings,
    *,
    front: FrontFactory,
    channels: Sequence[SenderFactory] = (),
    queue: Queue = Queue.main,
    clock: Clock | None = None,
    burst: bool = False,
    handle_signals: bool = True,
    on_ready: Callable[[], None] | None = None,
    redis_pool: ArqRedis | None = None,
) -> Worker:
    """`front` makes the chat front the jobs send through (`guanai.wiring.make_worker`
    hands over Telegram's); `channels` make the senders of further channels. `on_ready` is
    called once the worker has Redis and its dependencies and starts polling. Without
    `redis_pool` the worker connects itself, as arq does (five tries a second apart, then
    no timeout on commands)."""
    periodic = on_queue(queue)
    if not periodic:
        raise NoJobsOnQueue(queue=queue.value)

    async def on_startup(ctx: dict[str, Any]) -> None:
        stack = contextlib.AsyncExitStack()
        ctx["stack"] = stack
        ctx["deps"] = await stack.enter_async_context(
            open_deps(settings, clock or SystemClock(), front, channels)
        )
        if on_ready is not None:
            on_ready()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if "stack" in ctx:  # not when stopped before on_startup ran
            await ctx["stack"].aclose()

    # Jobs enqueued by the chat; one spare try beyond the photo job's own count, for a run
    # that died before committing.
    functions = (
        [func(jobs.store_photo, name="store_photo", max_tries=settings.photo_max_attempts + 1)]
        if queue is Queue.main
        else []
    )
    if queue is Queue.escalations:  # an emergency reported: the ladder now (workers.enqueue)
        functions.append(func(jobs.climb_ladder_now, name="climb_ladder_now", max_tries=3))
    return Worker(
        functions=functions,
        cron_jobs=[_cron(job, settings.redis_prefix) for job in periodic],
        queue_name=queue_name(settings, queue),
        job_timeout=QUEUE_TIMEOUT[queue],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        redis_pool=redis_pool,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        timezone=settings.tz,  # type: ignore[arg-type]  # arq types it as datetime.timezone; any tzinfo works
        burst=burst,
        handle_signals=handle_signals,
    )
