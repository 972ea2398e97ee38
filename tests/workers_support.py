"""A small care programme for the worker tests: district → township → school, a
coordinator at each level, a surrogate parent paired with a key child."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery.addresses import TELEGRAM
from domain.models import (
    Child,
    Coordinator,
    OutboxMessage,
    Pairing,
    Person,
    Priority,
    Region,
    RegionKind,
    Volunteer,
)
from tests.conftest import SHANGHAI
from tests.factories import (
    make_child,
    make_pairing,
    make_person,
    make_site,
    make_volunteer,
    telegram_account,
)

NOVEMBER_1 = dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)


@dataclass
class Programme:
    district: Region
    township: Region
    school: Region
    district_head: Person
    township_head: Person
    school_head: Person
    volunteer: Volunteer
    child: Child
    pairing: Pairing


async def coordinator(session: AsyncSession, region: Region, **person: object) -> Person:
    head = await make_person(session, **person)
    session.add(Coordinator(person_id=head.id, region_id=region.id))
    await session.flush()
    return head


async def make_programme(session: AsyncSession) -> Programme:
    district = await make_site(session, kind=RegionKind.district, name="秀山区")
    township = await make_site(session, parent=district, kind=RegionKind.township, name="中和镇")
    school = await make_site(session, parent=township, name="中和小学")
    district_head = await coordinator(session, district, name="区关工委")
    township_head = await coordinator(session, township, name="镇负责人")
    school_head = await coordinator(session, school, name="王校长")
    volunteer = await make_volunteer(session, school)
    child = await make_child(session, school, name="小明", priority=Priority.key)
    pairing = await make_pairing(session, volunteer, child, started_at=NOVEMBER_1)
    return Programme(
        district, township, school, district_head, township_head, school_head,
        volunteer, child, pairing,
    )  # fmt: skip


async def outbox_to(session: AsyncSession, person: Person) -> list[OutboxMessage]:
    chat = (await telegram_account(session, person.id)).external_id
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.channel == TELEGRAM, OutboxMessage.target == chat)
        .order_by(OutboxMessage.id)
    )
    return list(rows)
