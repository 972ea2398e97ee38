"""结对: pairing volunteers with children, ending and moving pairings, with history.

A pairing is never deleted or rewritten: ending one sets `ended_at`, and moving a child
ends the old pairing and starts a new one, so the care record of every month stays true.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import (
    AlreadyPaired,
    ChildOutOfScope,
    NotPaired,
    UnknownChild,
    UnknownVolunteer,
    VolunteerOutOfScope,
)
from domain.models import Child, Pairing, PairingRole, Person, Region, Volunteer, VolunteerKind
from domain.people import audit, regions


async def _site_within(session: AsyncSession, site_id: int, scope_path: str) -> bool:
    site = await session.get_one(Region, site_id)
    return regions.within(site.path, scope_path)


async def child_in_scope(session: AsyncSession, child_id: int, scope_path: str) -> Child:
    """The child, if it lies in the scope; otherwise as if it did not exist."""
    child = await session.get(Child, child_id)
    if child is None:
        raise UnknownChild()
    if not await _site_within(session, child.site_id, scope_path):
        raise ChildOutOfScope(child.id)
    return child


async def volunteer_in_scope(
    session: AsyncSession, volunteer_id: int, scope_path: str
) -> Volunteer:
    volunteer = await session.get(Volunteer, volunteer_id)
    if volunteer is None or volunteer.removed_at is not None:
        raise UnknownVolunteer()
    if not await _site_within(session, volunteer.site_id, scope_path):
        raise VolunteerOutOfScope(volunteer.id)
    return volunteer


async def active_pairing(session: AsyncSession, volunteer_id: int, child_id: int) -> Pairing | None:
    return await session.scalar(
        select(Pairing).where(
            Pairing.volunteer_id == volunteer_id,
            Pairing.child_id == child_id,
            Pairing.ended_at.is_(None),
        )
    )


def role_for(kind: VolunteerKind) -> PairingRole:
    """A surrogate parent (代理家长) is the child's surrogate, the pairing the key-child rule
    counts; a “五老” volunteer or a teacher is a mentor."""
    return PairingRole.surrogate if kind is VolunteerKind.surrogate else PairingRole.mentor


async def pair(
    session: AsyncSession,
    *,
    volunteer_id: int,
    child_id: int,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> Pairing:
    """Pair a volunteer with a child; a surrogate parent's pairing counts for the key-child rule."""
    volunteer = await volunteer_in_scope(session, volunteer_id, scope_path)
    child = await child_in_scope(session, child_id, scope_path)
    if await active_pairing(session, volunteer.id, child.id) is not None:
        raise AlreadyPaired()
    pairing = Pairing(
        volunteer_id=volunteer.id,
        child_id=child.id,
        role=role_for(volunteer.kind),
        started_at=at,
        created_by=actor_id,
    )
    session.add(pairing)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="pairing.start",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child.id,
        details={"pairing_id": pairing.id, "volunteer_id": volunteer.id},
    )
    return pairing


async def unpair(
    session: AsyncSession,
    *,
    volunteer_id: int,
    child_id: int,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
    reason: str | None = None,
) -> Pairing:
    await volunteer_in_scope(session, volunteer_id, scope_path)
    await child_in_scope(session, child_id, scope_path)
    pairing = await active_pairing(session, volunteer_id, child_id)
    if pairing is None:
        raise NotPaired()
    pairing.ended_at = at
    pairing.ended_reason = reason
    audit.record(
        session,
        at=at,
        action="pairing.end",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child_id,
        details={"pairing_id": pairing.id, "volunteer_id": volunteer_id},
    )
    return pairing


async def reassign(
    session: AsyncSession,
    *,
    child_id: int,
    from_volunteer_id: int,
    to_volunteer_id: int,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> Pairing:
    """Move a child to another volunteer: the old pairing ends as the new one starts."""
    await unpair(
        session,
        volunteer_id=from_volunteer_id,
        child_id=child_id,
        scope_path=scope_path,
        actor_id=actor_id,
        at=at,
        reason="reassigned",
    )
    return await pair(
        session,
        volunteer_id=to_volunteer_id,
        child_id=child_id,
        scope_path=scope_path,
        actor_id=actor_id,
        at=at,
    )


async def loads(session: AsyncSession, volunteer_ids: list[int]) -> dict[int, int]:
    """How many children each volunteer is paired with now (shown when choosing)."""
    rows = await session.execute(
        select(Pairing.volunteer_id, func.count())
        .where(Pairing.volunteer_id.in_(volunteer_ids), Pairing.ended_at.is_(None))
        .group_by(Pairing.volunteer_id)
    )
    counts: dict[int, int] = {volunteer_id: 0 for volunteer_id in volunteer_ids}
    counts.update({volunteer_id: count for volunteer_id, count in rows})
    return counts


async def current(session: AsyncSession, child_id: int) -> list[Pairing]:
    """A child's active pairings, the surrogate parent first, then by who came first."""
    result = await session.scalars(
        select(Pairing)
        .where(Pairing.child_id == child_id, Pairing.ended_at.is_(None))
        .order_by((Pairing.role == PairingRole.surrogate).desc(), Pairing.started_at)
    )
    return list(result)


async def move_or_pair(
    session: AsyncSession,
    *,
    child_id: int,
    from_volunteer_id: int | None,
    to_volunteer_id: int,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> Pairing:
    """Reassign from a volunteer when there is one still paired, else simply pair."""
    if from_volunteer_id and await active_pairing(session, from_volunteer_id, child_id):
        return await reassign(
            session,
            child_id=child_id,
            from_volunteer_id=from_volunteer_id,
            to_volunteer_id=to_volunteer_id,
            scope_path=scope_path,
            actor_id=actor_id,
            at=at,
        )
    return await pair(
        session,
        volunteer_id=to_volunteer_id,
        child_id=child_id,
        scope_path=scope_path,
        actor_id=actor_id,
        at=at,
    )


async def responsible(session: AsyncSession, child_id: int, pairing_id: int | None) -> int | None:
    """Who answers for a child now: the given pairing's volunteer while it lasts, else the
    child's surrogate parent (else any paired volunteer)."""
    if pairing_id is not None:
        pairing = await session.get(Pairing, pairing_id)
        if pairing is not None and pairing.ended_at is None and pairing.child_id == child_id:
            return pairing.volunteer_id
    paired = await current(session, child_id)
    return paired[0].volunteer_id if paired else None


@dataclass(frozen=True)
class Candidate:
    volunteer_id: int
    name: str
    kind: VolunteerKind
    load: int  # children paired with now


async def candidates(session: AsyncSession, site_id: int) -> list[Candidate]:
    """A site's volunteers to choose from, the least loaded first, each with their load."""
    load = (
        select(func.count())
        .where(Pairing.volunteer_id == Volunteer.id, Pairing.ended_at.is_(None))
        .correlate(Volunteer)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Volunteer.id, Person.name, Volunteer.kind, load)
        .join(Person, Person.id == Volunteer.person_id)
        .where(Volunteer.site_id == site_id, Volunteer.removed_at.is_(None))
        .order_by(load, Person.name, Volunteer.id)
    )
    return [Candidate(*row) for row in rows]
