"""Small builders of rows for tests: sensible defaults, keyword overrides, flushed."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Pairing,
    PairingRole,
    Person,
    Region,
    RegionKind,
    Volunteer,
    VolunteerKind,
)

_numbers = itertools.count(1)


async def make_site(
    session: AsyncSession,
    *,
    parent: Region | None = None,
    kind: RegionKind = RegionKind.school,
    **overrides: Any,
) -> Region:
    n = next(_numbers)
    region = Region(
        code=overrides.pop("code", f"R{n}-{uuid.uuid4().hex[:4]}"),
        name=overrides.pop("name", f"第{n}小学"),
        kind=kind,
        parent_id=parent.id if parent else None,
        path="",
        **overrides,
    )
    session.add(region)
    await session.flush()
    region.path = f"{parent.path if parent else ''}{region.id}/"
    await session.flush()
    return region


async def make_person(session: AsyncSession, **overrides: Any) -> Person:
    n = next(_numbers)
    person = Person(
        telegram_id=overrides.pop("telegram_id", 10_000_000 + n),
        name=overrides.pop("name", f"志愿者{n}"),
        **overrides,
    )
    session.add(person)
    await session.flush()
    return person


async def make_volunteer(
    session: AsyncSession,
    site: Region,
    *,
    kind: VolunteerKind = VolunteerKind.surrogate,
    person: Person | None = None,
    **overrides: Any,
) -> Volunteer:
    person = person or await make_person(session)
    volunteer = Volunteer(person_id=person.id, site_id=site.id, kind=kind, **overrides)
    session.add(volunteer)
    await session.flush()
    return volunteer


async def make_child(session: AsyncSession, site: Region, **overrides: Any) -> Child:
    n = next(_numbers)
    child = Child(
        site_id=site.id,
        name=overrides.pop("name", f"孩子{n}"),
        birth_date=overrides.pop("birth_date", dt.date(2015, 3, 2)),
        **overrides,
    )
    session.add(child)
    await session.flush()
    return child


async def make_pairing(
    session: AsyncSession,
    volunteer: Volunteer,
    child: Child,
    *,
    started_at: dt.datetime,
    **overrides: Any,
) -> Pairing:
    role = (
        PairingRole.surrogate if volunteer.kind is VolunteerKind.surrogate else PairingRole.mentor
    )
    pairing = Pairing(
        volunteer_id=volunteer.id,
        child_id=child.id,
        role=overrides.pop("role", role),
        started_at=started_at,
        **overrides,
    )
    session.add(pairing)
    await session.flush()
    return pairing


async def make_checkin(
    session: AsyncSession,
    pairing: Pairing,
    *,
    occurred_at: dt.datetime,
    activities: tuple[Activity, ...] = (Activity.home_visit,),
    **overrides: Any,
) -> CheckIn:
    checkin = CheckIn(
        pairing_id=pairing.id,
        child_id=pairing.child_id,
        volunteer_id=pairing.volunteer_id,
        occurred_at=occurred_at,
        idempotency_key=overrides.pop("idempotency_key", uuid.uuid4().hex),
        **overrides,
    )
    checkin.activities = [
        CheckInActivity(activity=a, pairing_id=pairing.id, occurred_at=occurred_at)
        for a in activities
    ]
    session.add(checkin)
    await session.flush()
    return checkin
