"""A volunteer's caseload: the children paired with them now, what is due, and each card.

Every look goes through the volunteer's active pairings: a past pairing shows nothing,
and a request for a child not paired now is refused and written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.models import CheckIn, Child, Concern, Pairing
from domain.people import audit
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.due import DueItem, Selection

RECENT_CHECKINS = 3


async def active_pairing(
    session: AsyncSession, *, volunteer_ids: Sequence[int], child_id: int
) -> Pairing | None:
    return await session.scalar(
        select(Pairing)
        .where(
            Pairing.volunteer_id.in_(volunteer_ids),
            Pairing.child_id == child_id,
            Pairing.ended_at.is_(None),
        )
        .order_by(Pairing.id)
        .limit(1)
    )


async def pairing_for(
    session: AsyncSession,
    *,
    volunteer_ids: Sequence[int],
    child_id: int,
    actor_id: int,
    at: dt.datetime,
) -> Pairing | None:
    """The active pairing of one of these volunteers with the child, or None — refused and
    audited (the caller answers; raising would roll the audit entry back)."""
    pairing = await active_pairing(session, volunteer_ids=volunteer_ids, child_id=child_id)
    if pairing is None:
        audit.record(
            session,
            at=at,
            action="scope.refused",
            actor_id=actor_id,
            subject_type="child",
            subject_id=child_id,
        )
    return pairing


@dataclass(frozen=True)
class ChildSummary:
    child_id: int
    name: str
    items: list[DueItem] = field(default_factory=list)
    concerns: list[Concern] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(item.missing for item in self.items)

    def urgency(self, now: dt.datetime) -> tuple[int, dt.datetime, int]:
        """Overdue concern first, then the nearest concern deadline, then the most missing."""
        if not self.concerns:
            return (2, dt.datetime.max.replace(tzinfo=dt.UTC), -self.missing)
        deadline = self.concerns[0].due_at
        return (0 if deadline <= now else 1, deadline, -self.missing)


async def active_children(
    session: AsyncSession, *, volunteer_ids: Sequence[int]
) -> list[tuple[int, str, int]]:
    """(child id, name, pairing id) of the children paired with these volunteers now."""
    rows = await session.execute(
        select(Child.id, Child.name, Pairing.id)
        .join(Pairing, Pairing.child_id == Child.id)
        .where(Pairing.volunteer_id.in_(volunteer_ids), Pairing.ended_at.is_(None))
        .order_by(Child.name, Child.id)
    )
    seen: dict[int, tuple[int, str, int]] = {}
    for child_id, name, pairing_id in rows:
        seen.setdefault(child_id, (child_id, name, pairing_id))
    return list(seen.values())


async def my_children(
    session: AsyncSession, *, volunteer_ids: Sequence[int], now: dt.datetime, tz: ZoneInfo
) -> list[ChildSummary]:
    """This month's care of each child paired with me now, the most urgent first."""
    children = await active_children(session, volunteer_ids=volunteer_ids)
    if not children:
        return []
    items = await due.due_items(
        session,
        month=Month.of(now, tz),
        tz=tz,
        selection=Selection(pairing_ids=[pairing_id for _, _, pairing_id in children]),
    )
    concerns = await due.open_concerns(session, child_ids=[child_id for child_id, _, _ in children])
    summaries = {
        child_id: ChildSummary(child_id=child_id, name=name) for child_id, name, _ in children
    }
    for item in items:
        summaries[item.child_id].items.append(item)
    for concern in concerns:
        summaries[concern.child_id].concerns.append(concern)
    return sorted(summaries.values(), key=lambda summary: summary.urgency(now))


@dataclass(frozen=True)
class ChildCard:
    child: Child
    recent: list[CheckIn]
    concerns: list[Concern]


async def card(
    session: AsyncSession, *, pairing: Pairing, actor_id: int, at: dt.datetime
) -> ChildCard:
    """What a volunteer needs for a visit; every look is audited."""
    child = await session.scalar(
        select(Child)
        .options(selectinload(Child.guardians), selectinload(Child.parents))
        .where(Child.id == pairing.child_id)
    )
    assert child is not None  # a pairing's child exists
    recent = await session.scalars(
        select(CheckIn)
        .options(selectinload(CheckIn.activities))
        .where(CheckIn.child_id == child.id)
        .order_by(CheckIn.occurred_at.desc())
        .limit(RECENT_CHECKINS)
    )
    audit.record(
        session,
        at=at,
        action="child.view",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child.id,
    )
    return ChildCard(
        child=child,
        recent=list(recent),
        concerns=await due.open_concerns(session, child_ids=[child.id]),
    )


async def child_name(session: AsyncSession, child_id: int) -> str:
    return str(await session.scalar(select(Child.name).where(Child.id == child_id)))
