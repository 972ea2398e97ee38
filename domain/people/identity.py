"""Who someone is to guanai: unknown, a volunteer at some sites, a coordinator of some scopes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain.errors import AlreadyCoordinator
from domain.models import Account, Channel, Coordinator, Person, Region, Volunteer
from domain.people import accounts, audit, regions


@dataclass(frozen=True)
class Scope:
    region_id: int
    code: str
    name: str
    path: str


@dataclass(frozen=True)
class Identity:
    """What the chat front needs to know about the sender, loaded once per update."""

    person_id: int
    name: str
    language: str | None
    volunteer_ids: tuple[int, ...] = ()
    scopes: tuple[Scope, ...] = field(default=())

    @property
    def is_coordinator(self) -> bool:
        return bool(self.scopes)

    @property
    def is_volunteer(self) -> bool:
        return bool(self.volunteer_ids)


def timezone_of(me: Identity | None, *, default: ZoneInfo) -> ZoneInfo:
    """The timezone of the person's site, in which their days, dates and months are told.
    Every site keeps the deployment's (TIMEZONE, `default`) today; a site's own timezone,
    when there is one, is read here, from `me`'s volunteer places and scopes."""
    return default


def _identity_query() -> Select[Any]:
    volunteer_ids = (
        select(func.array_agg(aggregate_order_by(Volunteer.id, Volunteer.id)))
        .where(Volunteer.person_id == Person.id, Volunteer.removed_at.is_(None))
        .scalar_subquery()
    )
    coordinates = exists().where(
        Coordinator.person_id == Person.id, Coordinator.removed_at.is_(None)
    )
    return (
        select(
            Person.id,
            Person.name,
            Person.language,
            volunteer_ids.label("volunteer_ids"),
            coordinates.label("coordinates"),
        )
        .join(Account, Account.person_id == Person.id)
        .where(
            Account.channel == bindparam("channel"),
            Account.external_id == bindparam("external_id"),
        )
    )


# Built once: it runs on every update, and building a statement costs more than running it.
# Its parameters are `channel` and `external_id`; a front may run it inside a statement of
# its own (the Telegram front, with the update's first-time check) and hand the row to
# `from_row`.
IDENTITY = _identity_query()


async def identify(session: AsyncSession, channel: Channel, external_id: str) -> Identity | None:
    """The registered person behind an account on a channel, with active roles; None if
    unknown. Any of a person's accounts gives the same identity.

    Runs on every update: one query for a volunteer, a second only for coordinators.
    """
    row = (
        await session.execute(IDENTITY, {"channel": channel, "external_id": external_id})
    ).first()
    return await from_row(session, row)


async def from_row(session: AsyncSession, row: Any) -> Identity | None:
    """The identity of a row with `IDENTITY`'s columns (None, or a row of nulls: unknown)."""
    if row is None or not (row.volunteer_ids or row.coordinates):
        return None
    coordinators = (
        (
            await session.scalars(
                select(Coordinator)
                .options(joinedload(Coordinator.region))
                .where(Coordinator.person_id == row.id, Coordinator.removed_at.is_(None))
            )
        ).all()
        if row.coordinates
        else ()
    )
    return Identity(
        person_id=row.id,
        name=row.name,
        language=row.language,
        volunteer_ids=tuple(row.volunteer_ids or ()),
        scopes=tuple(_scope(c.region) for c in coordinators),
    )


def _scope(region: Region) -> Scope:
    return Scope(region_id=region.id, code=region.code, name=region.name, path=region.path)


async def add_coordinator(
    session: AsyncSession,
    *,
    channel: Channel,
    external_id: str,
    name: str,
    scope_code: str,
    at: dt.datetime,
    actor_id: int | None = None,
) -> Coordinator:
    """Make the person behind an account coordinator of a region; the person (and the
    account) is created on first sight."""
    region = await regions.by_code(session, scope_code)
    person = await accounts.person_for(session, channel, external_id, name=name)
    existing = await session.scalar(
        select(Coordinator.id).where(
            Coordinator.person_id == person.id,
            Coordinator.region_id == region.id,
            Coordinator.removed_at.is_(None),
        )
    )
    if existing is not None:
        raise AlreadyCoordinator(code=scope_code)
    coordinator = Coordinator(person_id=person.id, region_id=region.id)
    session.add(coordinator)
    await session.flush()
    audit.record(
        session,
        at=at,
        action="coordinator.add",
        actor_id=actor_id,
        subject_type="person",
        subject_id=person.id,
        details={"region_id": region.id},
    )
    return coordinator


async def set_language(
    session: AsyncSession, *, person_id: int, language: str, at: dt.datetime
) -> None:
    person = await session.get_one(Person, person_id)
    person.language = language
    audit.record(
        session,
        at=at,
        action="person.language",
        actor_id=person_id,
        subject_type="person",
        subject_id=person_id,
        details={"language": language},
    )
