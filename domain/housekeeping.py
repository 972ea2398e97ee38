"""Keeping the bookkeeping tables small."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import ProcessedUpdate

# Telegram stops redelivering an update after 24 hours; a week is ample margin.
UPDATE_MEMORY = dt.timedelta(days=7)


async def forget_old_updates(session: AsyncSession, *, now: dt.datetime) -> int:
    """Drop processed-update ids Telegram can no longer redeliver; returns how many."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - UPDATE_MEMORY)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
