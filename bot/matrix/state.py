"""Where the Matrix front's sync stands, kept in PostgreSQL so a restart resumes it.

An event is recorded by its id in the transaction that acts on it (as Telegram's update
ids are, `bot/telegram/middlewares.py`): one handled is skipped if synced again, one whose
handling failed is handled again. The `since` token is saved only after every event of
its sync was handled, so a restart never skips one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import MatrixSyncState, ProcessedMatrixEvent

_PROCESSED = cast(Table, ProcessedMatrixEvent.__table__)
_FIRST_TIME = (
    insert(_PROCESSED)
    .values(event_id=bindparam("event_id"))
    .on_conflict_do_nothing()
    .returning(_PROCESSED.c.event_id)
)


async def first_time(session: AsyncSession, event_id: str) -> bool:
    """Records the event as handled; False if it already was (then skip it)."""
    return await session.scalar(_FIRST_TIME, {"event_id": event_id}) is not None


@dataclass(frozen=True)
class SyncPoint:
    device_id: str | None
    next_batch: str | None


async def load(session: AsyncSession, user_id: str) -> SyncPoint:
    row = await session.get(MatrixSyncState, user_id)
    if row is None:
        return SyncPoint(device_id=None, next_batch=None)
    return SyncPoint(device_id=row.device_id, next_batch=row.next_batch)


async def save_device(session: AsyncSession, user_id: str, device_id: str) -> None:
    """The device the bot logged in as, whose keys the store holds."""
    statement = insert(MatrixSyncState).values(user_id=user_id, device_id=device_id)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[MatrixSyncState.user_id],
            set_={"device_id": device_id},
            where=MatrixSyncState.device_id.is_distinct_from(device_id),
        )
    )


async def save_since(session: AsyncSession, user_id: str, next_batch: str) -> None:
    statement = insert(MatrixSyncState).values(user_id=user_id, next_batch=next_batch)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[MatrixSyncState.user_id], set_={"next_batch": next_batch}
        )
    )
