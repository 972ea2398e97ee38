"""The audit log: who saw or changed what. Details carry ids only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.errors import OutOfScope
from domain.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    at: dt.datetime,
    action: str,
    actor_id: int | None = None,
    actor_telegram_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            action=action,
            actor_id=actor_id,
            actor_telegram_id=actor_telegram_id,
            subject_type=subject_type,
            subject_id=subject_id,
            details=details,
        )
    )


async def record_refusal(
    sessionmaker: async_sessionmaker[AsyncSession],
    error: OutOfScope,
    *,
    at: dt.datetime,
    actor_id: int | None = None,
    actor_telegram_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Someone asked for a thing outside their scope: who, what, and through which door.

    Kept in a transaction of its own, because the refused one is rolled back.
    """
    async with UnitOfWork(sessionmaker) as uow:
        record(
            uow.session,
            at=at,
            action="scope.refused",
            actor_id=actor_id,
            actor_telegram_id=actor_telegram_id,
            subject_type=error.subject_type,
            subject_id=error.subject_id,
            details=details,
        )
        await uow.commit()
