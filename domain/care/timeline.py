"""A child's card for a coordinator: the archive, who is paired, the check-ins and photos,
and the check-ins marked for review (near-duplicate photos, back-dated, a failed photo).

Opening a card is recorded in the audit log: children's archives are sensitive, and the
log says who saw which child when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.delivery import outbox
from domain.delivery.addresses import address_of
from domain.delivery.content import Content
from domain.errors import CheckInOutOfScope, ChildOutOfScope, NotInChat, UnknownCheckIn
from domain.models import (
    CheckIn,
    Child,
    Pairing,
    Person,
    Region,
    ReviewStatus,
    Volunteer,
    VolunteerKind,
)
from domain.people import audit, scopes
from domain.people.identity import Identity


@dataclass(frozen=True)
class Paired:
    volunteer_id: int
    name: str
    kind: VolunteerKind
    since: dt.datetime


@dataclass(frozen=True)
class Entry:
    """One check-in with the name of the volunteer who made it."""

    checkin: CheckIn
    volunteer_name: str


@dataclass(frozen=True)
class Card:
    child: Child
    site_name: str
    paired: list[Paired]
    recent: list[Entry]
    to_review: int


async def card(
    session: AsyncSession, child_id: int, person: Identity, at: dt.datetime, *, recent: int = 5
) -> Card:
    child, _scope = await scopes.child(session, person.scopes, child_id)
    await session.refresh(child, ["guardians", "parents"])
    site = await session.get_one(Region, child.site_id)
    paired = [
        Paired(volunteer_id=volunteer_id, name=name, kind=kind, since=since)
        for volunteer_id, name, kind, since in await session.execute(
            select(Volunteer.id, Person.name, Volunteer.kind, Pairing.started_at)
            .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
            .join(Person, Person.id == Volunteer.person_id)
            .where(Pairing.child_id == child.id, Pairing.ended_at.is_(None))
            .order_by(Pairing.started_at)
        )
    ]
    to_review = await session.scalar(
        select(func.count()).where(
            CheckIn.child_id == child.id, CheckIn.review == ReviewStatus.pending
        )
    )
    audit.record(
        session,
        at=at,
        action="child.view",
        actor_id=person.person_id,
        subject_type="child",
        subject_id=child.id,
    )
    return Card(
        child=child,
        site_name=site.name,
        paired=paired,
        recent=await entries(session, child.id, limit=recent),
        to_review=to_review or 0,
    )


async def entries(
    session: AsyncSession, child_id: int, *, limit: int, pending_review: bool = False
) -> list[Entry]:
    """The newest check-ins of a child (or only those awaiting review), photos loaded."""
    query = (
        select(CheckIn, Person.name)
        .join(Volunteer, Volunteer.id == CheckIn.volunteer_id)
        .join(Person, Person.id == Volunteer.person_id)
        .options(selectinload(CheckIn.photos), selectinload(CheckIn.activities))
        .where(CheckIn.child_id == child_id)
        .order_by(CheckIn.occurred_at.desc(), CheckIn.id.desc())
        .limit(limit)
    )
    if pending_review:
        query = query.where(CheckIn.review == ReviewStatus.pending)
    return [Entry(checkin, name) for checkin, name in await session.execute(query)]


async def checkin_in_scope(
    session: AsyncSession, checkin_id: int, person: Identity
) -> tuple[CheckIn, Child]:
    checkin = await session.get(CheckIn, checkin_id, with_for_update=True)
    if checkin is None:
        raise UnknownCheckIn()
    try:
        child, _scope = await scopes.child(session, person.scopes, checkin.child_id)
    except ChildOutOfScope:
        raise CheckInOutOfScope(checkin.id) from None
    return checkin, child


async def approve(
    session: AsyncSession, checkin_id: int, person: Identity, at: dt.datetime
) -> CheckIn:
    """The coordinator looked and the check-in stands."""
    checkin, _child = await checkin_in_scope(session, checkin_id, person)
    _review(session, checkin, person, ReviewStatus.approved, at)
    return checkin


def _review(
    session: AsyncSession,
    checkin: CheckIn,
    person: Identity,
    status: ReviewStatus,
    at: dt.datetime,
) -> None:
    checkin.review = status
    checkin.reviewed_by = person.person_id
    audit.record(
        session,
        at=at,
        action=f"checkin.{status.value}",
        actor_id=person.person_id,
        subject_type="checkin",
        subject_id=checkin.id,
        details={"child_id": checkin.child_id, "reason": checkin.review_reason},
    )


async def question(
    session: AsyncSession,
    checkin_id: int,
    person: Identity,
    *,
    text_for: Callable[[Person, CheckIn, Child], str],
    at: dt.datetime,
) -> CheckIn:
    """The coordinator has a question: the volunteer gets a message through the outbox.

    `text_for` renders the message in the volunteer's language (texts live in the chat
    front's catalogues, not here).
    """
    checkin, child = await checkin_in_scope(session, checkin_id, person)
    volunteer = await session.get_one(Volunteer, checkin.volunteer_id)
    to = await session.get_one(Person, volunteer.person_id)
    address = address_of(to)
    if address is None:
        raise NotInChat()
    _review(session, checkin, person, ReviewStatus.questioned, at)
    await outbox.enqueue(
        session,
        to=address,
        content=Content.lines([text_for(to, checkin, child)]),
        not_before=at,
        dedupe_key=f"question:{checkin.id}",
    )
    return checkin
