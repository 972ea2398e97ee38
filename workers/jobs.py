"""arq jobs: each takes ids, opens one unit of work, calls one domain service.

Jobs may run more than once; every one of them is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import Retry

from domain import housekeeping, photos
from guanai.settings import Settings
from workers.context import unit_of_work
from workers.downloads import TelegramDownloader

log = logging.getLogger(__name__)


async def forget_old_updates(ctx: dict[str, Any]) -> int:
    async with unit_of_work(ctx) as uow:
        count = await housekeeping.forget_old_updates(uow.session, now=ctx["clock"].now())
        await uow.commit()
    log.info("forgot %d processed update ids", count)
    return count


async def store_photo(ctx: dict[str, Any], photo_id: int) -> str:
    """Download, clean, store and compare one check-in photo; retried while downloads fail."""
    async with unit_of_work(ctx) as uow:
        result = await photos.store_photo(
            uow.session,
            photo_id,
            downloader=TelegramDownloader(ctx["bot"]),
            policy=photo_policy(ctx["settings"]),
            now=ctx["clock"].now(),
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
    )
