"""The bookkeeping of handled updates and events stays a week deep, on both fronts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.housekeeping import UPDATE_MEMORY, forget_old_updates
from domain.models import ProcessedMatrixEvent, ProcessedUpdate

NOW = dt.datetime(2026, 12, 2, 3, 17, tzinfo=dt.UTC)


async def test_telegram_updates_and_matrix_events_older_than_a_week_are_forgotten(
    session: AsyncSession,
) -> None:
    old = NOW - UPDATE_MEMORY - dt.timedelta(minutes=1)
    recent = NOW - UPDATE_MEMORY + dt.timedelta(minutes=1)
    session.add_all(
        [
            ProcessedUpdate(update_id=1, processed_at=old),
            ProcessedUpdate(update_id=2, processed_at=recent),
            ProcessedMatrixEvent(event_id="$old", processed_at=old),
            ProcessedMatrixEvent(event_id="$recent", processed_at=recent),
        ]
    )
    await session.flush()

    assert await forget_old_updates(session, now=NOW) == 2
    assert list(await session.scalars(select(ProcessedUpdate.update_id))) == [2]
    assert list(await session.scalars(select(ProcessedMatrixEvent.event_id))) == ["$recent"]
