"""A coordinator's scopes: which of them holds a child, a volunteer, a region, an escalation.

A person may coordinate more than one region. Every check here answers with the scope
that holds the thing, or raises an `OutOfScope` error (audited by whoever catches it).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import (
    ChildOutOfScope,
    EscalationOutOfScope,
    InvitationOutOfScope,
    InvitationUnknown,
    PlaceOutOfScope,
    UnknownChild,
    UnknownEscalation,
    UnknownPlace,
    UnknownVolunteer,
    VolunteerOutOfScope,
)
from domain.models import Child, Escalation, Invitation, Region, Volunteer
from domain.people import regions
from domain.people.identity import Scope


def holding(scopes: Sequence[Scope], path: str) -> Scope | None:
    """The widest of the scopes that holds a region path (None when none does)."""
    found = [scope for scope in scopes if regions.within(path, scope.path)]
    return min(found, key=lambda scope: len(scope.path)) if found else None


def outermost(scopes: Sequence[Scope]) -> list[Scope]:
    """The scopes with those inside another dropped, so nothing is counted twice."""
    return [s for s in scopes if holding(scopes, s.path) == s]


async def region(session: AsyncSession, scopes: Sequence[Scope], region_id: int) -> Region:
    found = await session.get(Region, region_id)
    if found is None:
        raise UnknownPlace()
    if holding(scopes, found.path) is None:
        raise PlaceOutOfScope(found.id)
    return found


async def child(
    session: AsyncSession, scopes: Sequence[Scope], child_id: int
) -> tuple[Child, Scope]:
    found = await session.get(Child, child_id)
    if found is None:
        raise UnknownChild()
    site = await session.get_one(Region, found.site_id)
    scope = holding(scopes, site.path)
    if scope is None:
        raise ChildOutOfScope(found.id)
    return found, scope


async def volunteer(
    session: AsyncSession, scopes: Sequence[Scope], volunteer_id: int
) -> tuple[Volunteer, Scope]:
    found = await session.get(Volunteer, volunteer_id)
    if found is None or found.removed_at is not None:
        raise UnknownVolunteer()
    site = await session.get_one(Region, found.site_id)
    scope = holding(scopes, site.path)
    if scope is None:
        raise VolunteerOutOfScope(found.id)
    return found, scope


async def escalation(
    session: AsyncSession, scopes: Sequence[Scope], escalation_id: int, *, lock: bool = False
) -> Escalation:
    found = await session.get(Escalation, escalation_id, with_for_update=lock)
    if found is None:
        raise UnknownEscalation()
    try:
        await child(session, scopes, found.child_id)
    except ChildOutOfScope:
        raise EscalationOutOfScope(found.id) from None
    return found


async def invitation(session: AsyncSession, scopes: Sequence[Scope], invitation_id: int) -> Scope:
    """The scope holding the place an invitation is for."""
    found = await session.get(Invitation, invitation_id)
    if found is None:
        raise InvitationUnknown()
    place = await session.get_one(Region, found.region_id)
    scope = holding(scopes, place.path)
    if scope is None:
        raise InvitationOutOfScope(found.id)
    return scope
