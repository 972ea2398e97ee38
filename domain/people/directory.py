"""What the operator's command line lists, shows and removes: regions, coordinators,
volunteers, children and invitations.

Everything stays inside a scope path ("" is everywhere). Removal never cuts history off:
a region, a volunteer or a child with anything on record is refused with the reason (the
school year's leave and exit will say how such a one goes). Reading children's data is
recorded in the audit log, as the bot's child card and the exports do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.archive.lookup import MAX_ID
from domain.errors import (
    ChildOutOfScope,
    DomainError,
    Held,
    InvitationOutOfScope,
    RegionOutOfScope,
    VolunteerOutOfScope,
)
from domain.models import (
    CadenceRule,
    Channel,
    CheckIn,
    Child,
    Concern,
    Coordinator,
    DutyShift,
    Escalation,
    EscalationStep,
    Invitation,
    Pairing,
    Person,
    Region,
    Robot,
    Roster,
    Volunteer,
)
from domain.people import accounts, audit, regions


def _held(*counts: tuple[str, int]) -> tuple[Held, ...]:
    return tuple(Held(what, count) for what, count in counts if count)


class RegionNotEmpty(DomainError):
    message = "{code} cannot be removed: it has {what}."


class VolunteerHasHistory(DomainError):
    message = "Volunteer {id} cannot be removed: they have {what} on record."


class ChildHasHistory(DomainError):
    message = "Child {id} cannot be removed: they have {what} on record."


class UnknownVolunteerId(DomainError):
    message = "No volunteer has the id {id}."


class UnknownChildId(DomainError):
    message = "No child has the id {id}."


class UnknownInvitationId(DomainError):
    message = "No invitation has the id {id}."


class InvitationAlreadyUsed(DomainError):
    message = "Invitation {id} has been used; remove the volunteer or coordinator instead."


class InvitationAlreadyRevoked(DomainError):
    message = "Invitation {id} was already revoked."


# --- regions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeLine:
    region: Region
    depth: int


async def region_in(session: AsyncSession, code: str, *, scope_path: str) -> Region:
    region = await regions.by_code(session, code)
    if not regions.within(region.path, scope_path):
        raise RegionOutOfScope(region.id, code=region.code)
    return region


async def region_tree(session: AsyncSession, *, top: Region | None) -> list[TreeLine]:
    """The tree under `top` (with it), or the whole tree: parents first, siblings by code."""
    query = select(Region)
    if top is not None:
        query = query.where(Region.path.startswith(top.path))
    found = list(await session.scalars(query))
    below: dict[int | None, list[Region]] = {}
    for region in found:
        below.setdefault(region.parent_id, []).append(region)
    lines: list[TreeLine] = []

    def walk(region: Region, depth: int) -> None:
        lines.append(TreeLine(region, depth))
        for child in sorted(below.get(region.id, ()), key=lambda r: r.code):
            walk(child, depth + 1)

    ids = {region.id for region in found}
    for root in sorted((r for r in found if r.parent_id not in ids), key=lambda r: r.code):
        walk(root, 0)
    return lines


@dataclass(frozen=True)
class RegionCounts:
    subregions: int
    children: int
    volunteers: int
    coordinators: int
    pending_invitations: int


async def _count(session: AsyncSession, model: type, *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def region_counts(session: AsyncSession, region: Region, *, at: dt.datetime) -> RegionCounts:
    """What sits in a region and everything under it (children who left are not counted)."""
    under = select(Region.id).where(Region.path.startswith(region.path)).scalar_subquery()
    return RegionCounts(
        subregions=await _count(
            session, Region, Region.path.startswith(region.path), Region.id != region.id
        ),
        children=await _count(session, Child, Child.site_id.in_(under), Child.left_at.is_(None)),
        volunteers=await _count(
            session, Volunteer, Volunteer.site_id.in_(under), Volunteer.removed_at.is_(None)
        ),
        coordinators=await _count(
            session, Coordinator, Coordinator.region_id.in_(under), Coordinator.removed_at.is_(None)
        ),
        pending_invitations=await _count(
            session,
            Invitation,
            Invitation.region_id.in_(under),
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        ),
    )


async def remove_region(
    session: AsyncSession, region: Region, *, actor_id: int | None, at: dt.datetime
) -> None:
    """Delete a region nothing refers to, or refuse naming what it holds; invitations
    nobody used and its cadence rules go with it."""
    held = _held(
        ("sub-regions", await _count(session, Region, Region.parent_id == region.id)),
        ("children", await _count(session, Child, Child.site_id == region.id)),
        ("volunteers", await _count(session, Volunteer, Volunteer.site_id == region.id)),
        (
            "coordinators",
            await _count(session, Coordinator, Coordinator.region_id == region.id),
        ),
        (
            "used invitations",
            await _count(
                session,
                Invitation,
                Invitation.region_id == region.id,
                Invitation.used_at.is_not(None),
            ),
        ),
        ("rosters", await _count(session, Roster, Roster.region_id == region.id)),
        (
            "escalation steps",
            await _count(session, EscalationStep, EscalationStep.region_id == region.id),
        ),
        ("duty shifts", await _count(session, DutyShift, DutyShift.site_id == region.id)),
        ("robots", await _count(session, Robot, Robot.region_id == region.id)),
    )
    if held:
        raise RegionNotEmpty(code=region.code, what=held)
    await session.execute(delete(Invitation).where(Invitation.region_id == region.id))
    await session.execute(delete(CadenceRule).where(CadenceRule.region_id == region.id))
    await session.delete(region)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="region.remove",
        actor_id=actor_id,
        subject_type="region",
        subject_id=region.id,
        details={"parent_id": region.parent_id},
    )


# --- coordinators ----------------------------------------------------------------------


@dataclass(frozen=True)
class CoordinatorLine:
    person: Person
    region: Region
    since: dt.datetime


async def coordinators(session: AsyncSession, *, scope_path: str) -> list[CoordinatorLine]:
    """Active coordinators of regions in a scope, by region code then name."""
    rows = await session.execute(
        select(Person, Region, Coordinator.created_at)
        .join(Coordinator, Coordinator.person_id == Person.id)
        .join(Region, Region.id == Coordinator.region_id)
        .where(Coordinator.removed_at.is_(None), Region.path.startswith(scope_path))
        .order_by(Region.code, Person.name, Person.id)
    )
    return [CoordinatorLine(person, region, since) for person, region, since in rows]


async def remove_coordinator(
    session: AsyncSession,
    *,
    channel: Channel,
    external_id: str,
    region: Region | None,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> list[Region]:
    """End the coordination of `region` (or of every region in the scope) by the person
    behind an account; the escalations and rosters they had stay on record. Returns the
    regions they left: none if they coordinate none of them (or nobody has the account)."""
    person = await accounts.person_on(session, channel, external_id)
    if person is None:
        return []
    query = (
        select(Coordinator)
        .options(selectinload(Coordinator.region))
        .join(Region, Region.id == Coordinator.region_id)
        .where(
            Coordinator.person_id == person.id,
            Coordinator.removed_at.is_(None),
            Region.path.startswith(scope_path),
        )
        .order_by(Region.code)
        .with_for_update(of=Coordinator)
    )
    if region is not None:
        query = query.where(Coordinator.region_id == region.id)
    roles = list(await session.scalars(query))
    for role in roles:
        role.removed_at = at
        audit.record(
            session,
            at=at,
            action="coordinator.remove",
            actor_id=actor_id,
            subject_type="person",
            subject_id=person.id,
            details={"region_id": role.region_id},
        )
    return [role.region for role in roles]


# --- volunteers ------------------------------------------------------------------------


@dataclass(frozen=True)
class VolunteerLine:
    volunteer: Volunteer
    person: Person
    site: Region
    pairings: int  # active
    checkins: int


def _counted(*where: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet `where`, as a column of the row the condition names."""
    return select(func.count()).where(*where).scalar_subquery()


def _volunteer_lines() -> Select[Volunteer, Person, Region, int, int]:
    """Volunteers with their person, site, active pairings and check-ins."""
    return (
        select(
            Volunteer,
            Person,
            Region,
            _counted(Pairing.volunteer_id == Volunteer.id, Pairing.ended_at.is_(None)),
            _counted(CheckIn.volunteer_id == Volunteer.id),
        )
        .join(Person, Person.id == Volunteer.person_id)
        .join(Region, Region.id == Volunteer.site_id)
    )


async def volunteers(session: AsyncSession, *, region: Region) -> list[VolunteerLine]:
    """The volunteers (not removed) of the sites in a region, by site then name."""
    rows = await session.execute(
        _volunteer_lines()
        .where(Volunteer.removed_at.is_(None), Region.path.startswith(region.path))
        .order_by(Region.code, Person.name, Volunteer.id)
    )
    return [VolunteerLine(*row) for row in rows]


async def volunteer(session: AsyncSession, volunteer_id: int, *, scope_path: str) -> VolunteerLine:
    row = (
        await session.execute(
            _volunteer_lines().where(Volunteer.id == volunteer_id, Volunteer.removed_at.is_(None))
        )
        if volunteer_id <= MAX_ID
        else None
    )
    found = row.first() if row is not None else None
    if found is None:
        raise UnknownVolunteerId(id=volunteer_id)
    line = VolunteerLine(*found)
    if not regions.within(line.site.path, scope_path):
        raise VolunteerOutOfScope(line.volunteer.id)
    return line


async def paired_child_ids(session: AsyncSession, volunteer_id: int) -> list[int]:
    found = await session.scalars(
        select(Pairing.child_id)
        .where(Pairing.volunteer_id == volunteer_id, Pairing.ended_at.is_(None))
        .order_by(Pairing.child_id)
    )
    return list(found)


async def remove_volunteer(
    session: AsyncSession, line: VolunteerLine, *, actor_id: int | None, at: dt.datetime
) -> None:
    """Take a volunteer off their site: refused once they were ever paired or checked in."""
    held = _held(
        ("pairings", await _count(session, Pairing, Pairing.volunteer_id == line.volunteer.id)),
        ("check-ins", line.checkins),
    )
    if held:
        raise VolunteerHasHistory(id=line.volunteer.id, what=held)
    line.volunteer.removed_at = at
    audit.record(
        session,
        at=at,
        action="volunteer.remove",
        actor_id=actor_id,
        subject_type="volunteer",
        subject_id=line.volunteer.id,
    )


# --- children --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildLine:
    child: Child
    site: Region
    pairings: int  # active
    checkins: int


def _child_lines() -> Select[Child, Region, int, int]:
    """Children with their site, active pairings and check-ins."""
    return select(
        Child,
        Region,
        _counted(Pairing.child_id == Child.id, Pairing.ended_at.is_(None)),
        _counted(CheckIn.child_id == Child.id),
    ).join(Region, Region.id == Child.site_id)


async def children(
    session: AsyncSession, *, region: Region, actor_id: int | None, at: dt.datetime
) -> list[ChildLine]:
    """The children (who have not left) of the sites in a region; the reading is audited."""
    rows = await session.execute(
        _child_lines()
        .where(Child.left_at.is_(None), Region.path.startswith(region.path))
        .order_by(Region.code, Child.name, Child.id)
    )
    lines = [ChildLine(*row) for row in rows]
    audit.record(
        session,
        at=at,
        action="children.list",
        actor_id=actor_id,
        subject_type="region",
        subject_id=region.id,
        details={"via": "cli", "children": len(lines)},
    )
    return lines


@dataclass(frozen=True)
class ChildCard:
    line: ChildLine
    volunteers: list[tuple[int, str]]  # (volunteer id, name) of the active pairings


async def child(
    session: AsyncSession, child_id: int, *, scope_path: str, actor_id: int | None, at: dt.datetime
) -> ChildCard:
    """A child's archive, guardians and parents loaded, with who is paired; audited."""
    line = await _child_line(session, child_id, scope_path=scope_path)
    rows = await session.execute(
        select(Volunteer.id, Person.name)
        .join(Pairing, Pairing.volunteer_id == Volunteer.id)
        .join(Person, Person.id == Volunteer.person_id)
        .where(Pairing.child_id == child_id, Pairing.ended_at.is_(None))
        .order_by(Volunteer.id)
    )
    audit.record(
        session,
        at=at,
        action="child.view",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child_id,
        details={"via": "cli"},
    )
    return ChildCard(line=line, volunteers=[(vid, name) for vid, name in rows])


async def _child_line(session: AsyncSession, child_id: int, *, scope_path: str) -> ChildLine:
    found = (
        (
            await session.execute(
                _child_lines()
                .options(selectinload(Child.guardians), selectinload(Child.parents))
                .where(Child.id == child_id)
            )
        ).first()
        if child_id <= MAX_ID
        else None
    )
    if found is None:
        raise UnknownChildId(id=child_id)
    line = ChildLine(*found)
    if not regions.within(line.site.path, scope_path):
        raise ChildOutOfScope(child_id)
    return line


async def remove_child(
    session: AsyncSession, child_id: int, *, scope_path: str, actor_id: int | None, at: dt.datetime
) -> Child:
    """Delete a child's archive (a wrong import); refused once anything was done for them."""
    line = await _child_line(session, child_id, scope_path=scope_path)
    held = _held(
        ("pairings", await _count(session, Pairing, Pairing.child_id == child_id)),
        ("check-ins", line.checkins),
        ("concerns", await _count(session, Concern, Concern.child_id == child_id)),
        ("escalations", await _count(session, Escalation, Escalation.child_id == child_id)),
    )
    if held:
        raise ChildHasHistory(id=child_id, what=held)
    await session.delete(line.child)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="child.remove",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child_id,
        details={"site_id": line.site.id},
    )
    return line.child


# --- invitations -----------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationLine:
    invitation: Invitation
    region: Region


async def invitations(
    session: AsyncSession, *, region: Region | None, every: bool, at: dt.datetime
) -> list[InvitationLine]:
    """Invitations for places in a region (or anywhere), newest first: those still usable,
    or with `every` all of them."""
    query = select(Invitation, Region).join(Region, Region.id == Invitation.region_id)
    if region is not None:
        query = query.where(Region.path.startswith(region.path))
    if not every:
        query = query.where(
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        )
    rows = await session.execute(query.order_by(Invitation.created_at.desc(), Invitation.id.desc()))
    return [InvitationLine(*row) for row in rows]


async def revoke_invitation(
    session: AsyncSession,
    invitation_id: int,
    *,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> InvitationLine:
    """Revoke an invitation nobody used: its link stops working; the row stays on record."""
    found = (
        (
            await session.execute(
                select(Invitation, Region)
                .join(Region, Region.id == Invitation.region_id)
                .where(Invitation.id == invitation_id)
                .with_for_update(of=Invitation)
            )
        ).first()
        if invitation_id <= MAX_ID
        else None
    )
    if found is None:
        raise UnknownInvitationId(id=invitation_id)
    line = InvitationLine(*found)
    if not regions.within(line.region.path, scope_path):
        raise InvitationOutOfScope(invitation_id)
    if line.invitation.used_at is not None:
        raise InvitationAlreadyUsed(id=invitation_id)
    if line.invitation.revoked_at is not None:
        raise InvitationAlreadyRevoked(id=invitation_id)
    line.invitation.revoked_at = at
    audit.record(
        session,
        at=at,
        action="invitation.revoke",
        actor_id=actor_id,
        subject_type="invitation",
        subject_id=invitation_id,
    )
    return line
