"""Keeping the bookkeeping tables small."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import ProcessedMatrixEvent, ProcessedUpdate

# Telegram stops redelivering an update after 24 hours; a week is ample margin.
UPDATE_MEMORY = dt.timedelta(days=7)


async def forget_old_updates(session: AsyncSession, *, now: dt.datetime) -> int:
    """Drop processed-update ids Telegram can no longer redeliver, and Matrix event ids as
    old (a sync resumes from its saved token, never a week back); returns how many."""
    forgotten = 0
    for table, column in (
        (ProcessedUpdate, ProcessedUpdate.processed_at),
        (ProcessedMatrixEvent, ProcessedMatrixEvent.processed_at),
    ):
        result = await session.execute(delete(table).where(column < now - UPDATE_MEMORY))
        forgotten += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return forgotten
