"""Escalations: something overdue, climbing volunteer → site → township → district.

An escalation is opened once per item (its `item_key` is unique), so the ladder and the
coordinators' buttons always talk about the same row. Steps are written by the ladder
(workers); acknowledging, reassigning or resolving stops the climb.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendar import Month
from domain.models import Escalation, EscalationKind


def missed_month_key(pairing_id: int, month: Month) -> str:
    """One item per pairing and month: all of the month's missing activities together."""
    return f"missed:{pairing_id}:{month}"


def concern_key(concern_id: int) -> str:
    return f"concern:{concern_id}"


async def open_once(
    session: AsyncSession,
    *,
    kind: EscalationKind,
    item_key: str,
    child_id: int,
    at: dt.datetime,
    pairing_id: int | None = None,
    concern_id: int | None = None,
    period_start: dt.date | None = None,
    details: dict[str, Any] | None = None,
) -> Escalation:
    """The escalation of an item, opened now if it was not already (safe to call twice)."""
    await session.execute(
        insert(Escalation)
        .values(
            kind=kind,
            item_key=item_key,
            child_id=child_id,
            pairing_id=pairing_id,
            concern_id=concern_id,
            period_start=period_start,
            details=details,
            opened_at=at,
        )
        .on_conflict_do_nothing(index_elements=[Escalation.item_key])
    )
    escalation = await session.scalar(select(Escalation).where(Escalation.item_key == item_key))
    assert escalation is not None
    return escalation
