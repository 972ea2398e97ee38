"""Rows for tests: each `make_*` adds one row (and what it needs), flushes, never commits.

Every field can be overridden by keyword; missing parents are made on the spot, so
`await make_checkin(session)` alone gives a site, a child, a volunteer, their pairing
and a check-in. Codes, names and keys are unique per call.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import (
    Account,
    Activity,
    Channel,
    CheckIn,
    CheckInActivity,
    Child,
    Pairing,
    PairingRole,
    Person,
    Photo,
    Region,
    RegionKind,
    Volunteer,
    VolunteerKind,
)

# A fixed moment, the conftest clock's morning: factories never read the wall clock.
AT = dt.datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

T = TypeVar("T")

_numbers = itertools.count(1)


def _n() -> int:
    return next(_numbers)


async def _add(session: AsyncSession, row: T) -> T:
    session.add(row)
    await session.flush()
    return row


async def make_region(
    session: AsyncSession, *, parent: Region | None = None, **overrides: Any
) -> Region:
    """A region of any kind (a district by default), with its tree path filled in."""
    n = _n()
    fields: dict[str, Any] = {
        "code": f"R{n}",
        "name": f"区域{n}",
        "kind": RegionKind.district,
        "parent_id": parent.id if parent else None,
        "path": "",
    }
    region = await _add(session, Region(**(fields | overrides)))
    region.path = f"{parent.path if parent else ''}{region.id}/"
    await session.flush()
    return region


async def make_site(
    session: AsyncSession, *, parent: Region | None = None, **overrides: Any
) -> Region:
    """A school (or another kind by `kind=`), under a new district unless given a parent."""
    if parent is None:
        parent = await make_region(session)
    return await make_region(session, parent=parent, **({"kind": RegionKind.school} | overrides))


async def make_person(session: AsyncSession, **overrides: Any) -> Person:
    """A person with a Telegram account (`telegram_id=None`: without one)."""
    n = _n()
    telegram_id = overrides.pop("telegram_id", 900_000 + n)
    person = await _add(session, Person(**({"name": f"志愿者{n}"} | overrides)))
    if telegram_id is not None:
        await _add(
            session,
            Account(person_id=person.id, channel=Channel.telegram, external_id=str(telegram_id)),
        )
    return person


async def telegram_account(session: AsyncSession, person_id: int) -> Account:
    """The person's Telegram account, to mark it unreachable or read it."""
    account = await session.scalar(
        select(Account).where(Account.person_id == person_id, Account.channel == Channel.telegram)
    )
    assert account is not None, f"person {person_id} has no Telegram account"
    return account


def on_telegram(telegram_id: int) -> ColumnElement[bool]:
    """A `where` for the person with this Telegram account."""
    return Person.id.in_(
        select(Account.person_id).where(
            Account.channel == Channel.telegram, Account.external_id == str(telegram_id)
        )
    )


async def make_child(session: AsyncSession, site: Region | None = None, **overrides: Any) -> Child:
    site = site or await make_site(session)
    n = _n()
    fields: dict[str, Any] = {
        "site_id": site.id,
        "name": f"孩子{n}",
        "external_id": f"C{n}",
        "birth_date": dt.date(2015, 3, 2),
    }
    return await _add(session, Child(**(fields | overrides)))


async def make_volunteer(
    session: AsyncSession,
    site: Region | None = None,
    *,
    person: Person | None = None,
    **overrides: Any,
) -> Volunteer:
    site = site or await make_site(session)
    person = person or await make_person(session)
    fields: dict[str, Any] = {
        "site_id": site.id,
        "person_id": person.id,
        "kind": VolunteerKind.surrogate,
    }
    return await _add(session, Volunteer(**(fields | overrides)))


async def make_pairing(
    session: AsyncSession,
    volunteer: Volunteer | None = None,
    child: Child | None = None,
    **overrides: Any,
) -> Pairing:
    """A current pairing; the volunteer and child share a site when either is made here.

    A surrogate parent's pairing has the surrogate role, anyone else's the mentor role.
    """
    if child is None:
        site = await session.get_one(Region, volunteer.site_id) if volunteer else None
        child = await make_child(session, site=site)
    if volunteer is None:
        volunteer = await make_volunteer(session, site=await session.get_one(Region, child.site_id))
    role = (
        PairingRole.surrogate if volunteer.kind is VolunteerKind.surrogate else PairingRole.mentor
    )
    fields: dict[str, Any] = {
        "volunteer_id": volunteer.id,
        "child_id": child.id,
        "role": role,
        "started_at": AT - dt.timedelta(days=60),
    }
    return await _add(session, Pairing(**(fields | overrides)))


async def make_checkin(
    session: AsyncSession,
    pairing: Pairing | None = None,
    *,
    activities: tuple[Activity, ...] = (Activity.home_visit,),
    **overrides: Any,
) -> CheckIn:
    pairing = pairing or await make_pairing(session)
    fields: dict[str, Any] = {
        "pairing_id": pairing.id,
        "child_id": pairing.child_id,
        "volunteer_id": pairing.volunteer_id,
        "occurred_at": AT,
        "idempotency_key": f"test-checkin-{_n()}",
    }
    checkin = CheckIn(**(fields | overrides))
    checkin.activities = [
        CheckInActivity(activity=a, pairing_id=pairing.id, occurred_at=checkin.occurred_at)
        for a in activities
    ]
    return await _add(session, checkin)


async def make_photo(
    session: AsyncSession, *, checkin: CheckIn | None = None, **overrides: Any
) -> Photo:
    """A photo as the chat front leaves it: Telegram's ids, not yet downloaded."""
    checkin = checkin or await make_checkin(session)
    n = _n()
    fields: dict[str, Any] = {
        "checkin_id": checkin.id,
        "file_id": f"FILE-{n}",
        "file_unique_id": f"UNIQUE-{n}",
    }
    return await _add(session, Photo(**(fields | overrides)))
