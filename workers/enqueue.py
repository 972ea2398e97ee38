"""Enqueueing jobs from the chat, with deterministic job ids so a job is queued once."""

from __future__ import annotations

from arq.connections import ArqRedis

from guanai.settings import Settings


async def store_photo_later(redis: ArqRedis, settings: Settings, photo_id: int) -> None:
    await redis.enqueue_job(
        "store_photo", photo_id, _job_id=f"photo:{photo_id}", _queue_name=settings.arq_queue
    )
