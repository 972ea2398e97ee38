"""The audit log: who saw or changed what. Details carry ids only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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


def refused(
    session: AsyncSession,
    *,
    at: dt.datetime,
    error: OutOfScope,
    actor_id: int | None = None,
    actor_telegram_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Someone asked for a thing outside their scope: who, what, and through which door."""
    record(
        session,
        at=at,
        action="scope.refused",
        actor_id=actor_id,
        actor_telegram_id=actor_telegram_id,
        subject_type=error.subject_type,
        subject_id=error.subject_id,
        details=details,
    )
