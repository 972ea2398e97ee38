"""Periodic jobs: each opens its units of work and calls domain services.

A job takes `(deps, now, scope)`: `now` is the moment the run believes it is (the cron's
time, or `guanai jobs run --now`); a job that runs for long reads later moments from
`deps.clock`. `scope` is a region code or None for everything. Jobs may run more than
once, or in two workers at once; every one of them is idempotent. Each returns counts
of what it did, for the log and the operator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from arq import Retry
from arq.connections import RedisSettings, create_pool
from sqlalchemy.ext.asyncio import AsyncSession

from domain import housekeeping
from domain.archive import leaving, school_year
from domain.care import photos, sample
from domain.people import regions
from domain.reports import care_record, rosters
from domain.schedule import ladder, reminders
from domain.schedule.calendar import Month
from guanai.outages import describe, is_outage
from guanai.settings import Settings
from workers.context import Deps
from workers.enqueue import store_photo_later

log = logging.getLogger(__name__)


async def send_outbox(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Drain the outbox, every channel at once under its own limits; cron starts it every
    few seconds, one drain per channel runs at a time."""
    reports = await asyncio.gather(*(sender.drain(deps.clock) for sender in deps.senders))
    total: dict[str, int] = {}
    for report in reports:
        for name, count in dataclasses.asdict(report).items():
            total[name] = total.get(name, 0) + count
    return total


async def forget_old_updates(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    async with deps.unit_of_work() as uow:
        count = await housekeeping.forget_old_updates(uow.session, now=now)
        await uow.commit()
    log.info("forgot %d processed update ids", count)
    return {"forgotten": count}


async def forget_leavers(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Erase the personal data of children who left longer ago than their site keeps it;
    their photos and sent documents leave MEDIA_DIR once the erasure is committed."""
    async with deps.unit_of_work() as uow:
        due = await leaving.due_for_forgetting(uow.session, now=now)
        forgotten = await leaving.forget(uow.session, due, actor_id=None, at=now, why="retention")
        await uow.commit()
    media_dir = deps.settings.media_dir
    removed = await asyncio.to_thread(leaving.remove_files, media_dir, forgotten.files)
    if forgotten.children:
        log.info("forgot %d children who left; %d files removed", forgotten.children, removed)
    return {"forgotten": forgotten.children, "messages": forgotten.messages, "files": removed}


PhotoJob = TypeVar("PhotoJob", bound=Callable[[dict[str, Any], int], Coroutine[Any, Any, str]])


def _retried_in_outages(job: PhotoJob) -> PhotoJob:
    """PostgreSQL out of reach: arq would fail the job for good (it retries only on
    `Retry`) and leave the photo pending forever; it is tried again later instead, with
    the same doubling wait as a failed download."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], photo_id: int) -> str:
        try:
            return await job(ctx, photo_id)
        except Exception as error:
            if not is_outage(error):
                raise
            deps: Deps = ctx["deps"]
            retry_in = deps.settings.photo_retry_seconds * 2 ** (ctx.get("job_try", 1) - 1)
            log.warning("photo %d: %s; trying again in %g s", photo_id, describe(error), retry_in)
            raise Retry(defer=retry_in) from None

    return cast(PhotoJob, run)


@_retried_in_outages
async def store_photo(ctx: dict[str, Any], photo_id: int) -> str:
    """Download, clean, store and compare one check-in photo; retried while downloads fail."""
    deps: Deps = ctx["deps"]
    # One photo in hand per process: its download (up to 20 MB) and decoded pixels are the
    # worker's largest objects; waiting for the slot holds no connection.
    async with deps.photo_slot, deps.unit_of_work() as uow:
        result = await photos.store_photo(
            uow.session,
            photo_id,
            downloader=deps.downloader,
            policy=photo_policy(deps.settings),
            now=deps.clock.now(),
            tries=ctx.get("job_try", 1),
        )
        await uow.commit()  # the attempt is counted even when the download failed
    log.info("photo %d: %s", photo_id, result.outcome)
    if result.retry_in is not None:
        raise Retry(defer=result.retry_in)
    return result.outcome.value


def photo_policy(settings: Settings) -> photos.PhotoPolicy:
    return photos.PhotoPolicy(
        media_dir=settings.media_dir,
        similarity_threshold=settings.photo_similarity_threshold,
        max_attempts=settings.photo_max_attempts,
        first_retry=dt.timedelta(seconds=settings.photo_retry_seconds),
        max_pixels=settings.photo_max_pixels,
    )


async def _scope_path(session: AsyncSession, scope: str | None) -> str | None:
    return None if scope is None else (await regions.by_code(session, scope)).path


async def _in_scope(deps: Deps, now: dt.datetime, scope: str | None, service: Any) -> Any:
    """One unit of work around a service that decides what to tell whom in a scope and
    queues the messages, rendered by the front's texts."""
    async with deps.unit_of_work() as uow:
        result = await service(
            uow.session,
            now=now,
            tz=deps.settings.tz,
            text=deps.texts,
            media_dir=deps.settings.media_dir,
            scope_path=await _scope_path(uow.session, scope),
        )
        await uow.commit()
    return result


async def send_reminders(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Today's friendly digests for volunteers (reminder day, must-visits due tomorrow)."""
    return {"queued": await _in_scope(deps, now, scope, reminders.send_reminders)}


async def climb_ladder(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Open, close and climb escalations; each step is written with its message."""
    return dataclasses.asdict(await _in_scope(deps, now, scope, ladder.climb))


async def climb_ladder_now(ctx: dict[str, Any], escalation_id: int) -> dict[str, int]:
    """An emergency was just reported (`escalation_id`): the ladder runs now rather than
    at its next tick, so every level hears at once. The run is the cron's, whole."""
    deps: Deps = ctx["deps"]
    return await climb_ladder(deps, deps.clock.now(), None)


async def send_rosters(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """This ISO week's rosters for coordinators and volunteers not yet made: read in one
    transaction, charts and workbooks drawn outside any, queued in a second."""
    async with deps.unit_of_work() as uow:
        plan = await rosters.plan_rosters(
            uow.session,
            now=now,
            tz=deps.settings.tz,
            scope_path=await _scope_path(uow.session, scope),
        )
    if plan is None:
        return {"queued": 0}
    drawn = rosters.draw_rosters(plan, deps.texts)
    async with deps.unit_of_work() as uow:
        queued = await rosters.queue_rosters(
            uow.session,
            plan,
            drawn,
            tz=deps.settings.tz,
            media_dir=deps.settings.media_dir,
            text=deps.texts,
        )
        await uow.commit()
    return {"queued": queued}


async def new_school_year(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """On each site's day (default 1 September) grades move up; children past the last
    grade leave, their volunteers told."""
    return dataclasses.asdict(await _in_scope(deps, now, scope, school_year.new_school_year))


async def send_care_records(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """The monthly care records due tomorrow, to sites and townships."""
    return {"queued": await _in_scope(deps, now, scope, care_record.send_care_records)}


async def draw_verification_sample(
    deps: Deps, now: dt.datetime, scope: str | None
) -> dict[str, int]:
    """回访抽查: on the 1st, last month's sample of home visits for the coordinators to phone
    the guardians; run again, the stored seed draws the same sample."""
    month = Month.of(now, deps.settings.tz).previous()
    async with deps.unit_of_work() as uow:
        drawn = await sample.draw_month(uow.session, month=month, tz=deps.settings.tz, now=now)
        await uow.commit()
    log.info("verification sample of %s: %d of %d home visits", month, drawn.checks, drawn.visits)
    return {"visits": drawn.visits, "drawn": drawn.checks}


async def sweep_photos(deps: Deps, now: dt.datetime, scope: str | None) -> dict[str, int]:
    """Queue again the photos still pending a while after their check-in (`photos.SWEEP_GRACE`):
    one whose job was lost (its enqueue failed after the commit) is stored a sweep later.
    The job id is the chat's own, so a photo whose job is queued, running or waiting to
    retry is not queued twice; its attempts still decide when it is given up."""
    async with deps.unit_of_work() as uow:
        pending = await photos.stranded(uow.session, now=now)
    queued = 0
    if pending:
        pool = await create_pool(RedisSettings.from_dsn(deps.settings.redis_url))
        try:
            for photo_id in pending:
                queued += await store_photo_later(pool, deps.settings, photo_id)
        finally:
            await pool.aclose()
    if queued:
        log.warning("photo sweep: %d of %d pending photos had no job; queued", queued, len(pending))
    return {"pending": len(pending), "queued": queued}
