"""Invitations: single-use join links that carry a site, a role and a volunteer kind.

Only a hash of the token is stored, so a leaked database holds no usable links. A link
is refused once used, revoked or expired, and a volunteer removed after it was made
cannot come back through it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import (
    InvitationExpired,
    InvitationNotForSite,
    InvitationOutOfScope,
    InvitationUnknown,
    InvitationUsed,
)
from domain.models import (
    Channel,
    Coordinator,
    Invitation,
    InvitationRole,
    Person,
    Region,
    Volunteer,
    VolunteerKind,
)
from domain.people import accounts, audit

DEFAULT_LIFETIME = dt.timedelta(days=14)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # shown once, in the link; never stored


async def create(
    session: AsyncSession,
    *,
    region: Region,
    role: InvitationRole,
    volunteer_kind: VolunteerKind | None,
    created_by: int | None,
    at: dt.datetime,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> NewInvitation:
    if role is InvitationRole.volunteer and not region.kind.is_site:
        raise InvitationNotForSite(code=region.code)
    token = secrets.token_urlsafe(18)  # 24 characters, inside Telegram's 64 for /start
    invitation = Invitation(
        token_hash=_hash(token),
        region_id=region.id,
        role=role,
        volunteer_kind=(volunteer_kind or VolunteerKind.surrogate)
        if role is InvitationRole.volunteer
        else None,
        created_by=created_by,
        created_at=at,
        expires_at=at + lifetime,
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="invitation.create",
        actor_id=created_by,
        subject_type="invitation",
        subject_id=invitation.id,
        details={"region_id": region.id},
    )
    return NewInvitation(invitation=invitation, token=token)


def hash_of(token: str) -> str:
    """What is kept of a token, in the database and in a joining person's conversation."""
    return _hash(token)


async def check(
    session: AsyncSession, token: str, *, at: dt.datetime, hashed: bool = False
) -> Invitation:
    """The invitation behind a token (or, `hashed`, its hash), if it can still be used; a
    DomainError says why not."""
    token_hash = token if hashed else _hash(token)
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash).with_for_update()
    )
    if invitation is None or invitation.revoked_at is not None:
        raise InvitationUnknown()
    if invitation.used_at is not None:
        raise InvitationUsed()
    if invitation.expires_at <= at:
        raise InvitationExpired()
    return invitation


async def _removed_since(session: AsyncSession, person: Person, invitation: Invitation) -> bool:
    removed = await session.scalar(
        select(Volunteer.id).where(
            Volunteer.person_id == person.id,
            Volunteer.removed_at.is_not(None),
            Volunteer.removed_at >= invitation.created_at,
        )
    )
    return removed is not None


async def accept(
    session: AsyncSession,
    *,
    token: str,
    channel: Channel,
    external_id: str,
    name: str,
    phone: str | None,
    language: str | None,
    at: dt.datetime,
    hashed: bool = False,
) -> Person:
    """Join through an invitation, after consent, from an account on a channel: the person
    behind it (created with the account on first sight) gets the invitation's role, and
    the account is reachable again. `hashed`: `token` is the token's hash (`hash_of`), all
    the conversation keeps of it."""
    invitation = await check(session, token, at=at, hashed=hashed)
    person = await accounts.person_on(session, channel, external_id)
    if person is None:
        person = await accounts.person_for(session, channel, external_id, name=name)
    elif await _removed_since(session, person, invitation):
        raise InvitationUnknown()
    await accounts.reachable_again(session, channel, external_id)
    person.name = name
    person.phone = phone or person.phone
    person.language = language or person.language
    person.consented_at = at
    if invitation.role is InvitationRole.volunteer:
        await _join_as_volunteer(session, person, invitation)
    else:
        await _join_as_coordinator(session, person, invitation)
    invitation.used_at = at
    invitation.used_by = person.id
    audit.record(
        session,
        at=at,
        action="invitation.accept",
        actor_id=person.id,
        subject_type="invitation",
        subject_id=invitation.id,
    )
    return person


async def _join_as_volunteer(session: AsyncSession, person: Person, invitation: Invitation) -> None:
    existing = await session.scalar(
        select(Volunteer).where(
            Volunteer.person_id == person.id,
            Volunteer.site_id == invitation.region_id,
            Volunteer.removed_at.is_(None),
        )
    )
    if existing is None:
        assert invitation.volunteer_kind is not None
        session.add(
            Volunteer(
                person_id=person.id, site_id=invitation.region_id, kind=invitation.volunteer_kind
            )
        )
        await session.flush()


async def _join_as_coordinator(
    session: AsyncSession, person: Person, invitation: Invitation
) -> None:
    existing = await session.scalar(
        select(Coordinator).where(
            Coordinator.person_id == person.id,
            Coordinator.region_id == invitation.region_id,
            Coordinator.removed_at.is_(None),
        )
    )
    if existing is None:
        session.add(Coordinator(person_id=person.id, region_id=invitation.region_id))
        await session.flush()


async def revoke(
    session: AsyncSession, *, invitation_id: int, scope_path: str, actor_id: int, at: dt.datetime
) -> Invitation:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None:
        raise InvitationUnknown()
    region = await session.get_one(Region, invitation.region_id)
    if not region.path.startswith(scope_path):
        raise InvitationOutOfScope(invitation.id)
    if invitation.used_at is not None:
        raise InvitationUsed()
    invitation.revoked_at = at
    audit.record(
        session,
        at=at,
        action="invitation.revoke",
        actor_id=actor_id,
        subject_type="invitation",
        subject_id=invitation.id,
    )
    return invitation


@dataclass(frozen=True)
class Listed:
    invitation: Invitation
    region_name: str
    used_by_name: str | None


async def of_scope(
    session: AsyncSession, *, scope_path: str, at: dt.datetime, limit: int = 10
) -> tuple[list[Listed], list[Listed]]:
    """The newest pending and used invitations for places in a scope (expired ones drop out)."""
    base = (
        select(Invitation, Region.name, Person.name)
        .join(Region, Region.id == Invitation.region_id)
        .outerjoin(Person, Person.id == Invitation.used_by)
        .where(Region.path.startswith(scope_path))
        .limit(limit)
    )
    pending = await session.execute(
        base.where(
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        ).order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    used = await session.execute(
        base.where(Invitation.used_at.is_not(None)).order_by(Invitation.used_at.desc())
    )
    return (
        [Listed(*row) for row in pending],
        [Listed(*row) for row in used],
    )
