"""Putting work on the queue, for the chat front and the CLI: one call per kind of job."""

from __future__ import annotations

import dataclasses

from arq.connections import ArqRedis

from guanai.settings import Settings


async def store_photo_later(redis: ArqRedis, settings: Settings, photo_id: int) -> bool:
    """Queue the download of a `Photo` row holding the file_id of the largest size.

    The job id makes a second call for the same photo a no-op while the first is queued or
    its result is kept; it carries the Redis prefix because arq's job keys do not. A job
    that starts before the photo's transaction has committed waits and tries again.
    True when a job was queued, False when one for the photo was there already.
    """
    job = await redis.enqueue_job(
        "store_photo",
        photo_id,
        _job_id=f"{settings.redis_prefix}:photo:{photo_id}",
        _queue_name=settings.arq_queue,
    )
    return job is not None


async def climb_now(redis: ArqRedis, settings: Settings, escalation_id: int) -> bool:
    """An emergency was reported: run the ladder now on the escalations queue, once per
    emergency (its job id); the cron's next tick is there if Redis is not."""
    job = await redis.enqueue_job(
        "climb_ladder_now",
        escalation_id,
        _job_id=f"{settings.redis_prefix}:climb-now:{escalation_id}",
        _queue_name=settings.arq_escalation_queue,
    )
    return job is not None


@dataclasses.dataclass(frozen=True)
class ArqPhotoQueue:
    """`domain.ports.PhotoQueue` on arq: what the chat front is handed to queue photos."""

    redis: ArqRedis
    settings: Settings

    async def store_later(self, photo_id: int) -> None:
        await store_photo_later(self.redis, self.settings, photo_id)


@dataclasses.dataclass(frozen=True)
class ArqLadderQueue:
    """`domain.ports.LadderQueue` on arq: the ladder run an emergency asks for at once."""

    redis: ArqRedis
    settings: Settings

    async def climb_now(self, escalation_id: int) -> None:
        await climb_now(self.redis, self.settings, escalation_id)
