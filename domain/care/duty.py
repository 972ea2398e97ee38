"""值班: the duty rota of a site's children's home (留守儿童之家), one volunteer per weekday.

A site's coordinator sets it in chat; the weekly roster shows each volunteer their days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError
from domain.models import DutyRota, Person, Region, Volunteer
from domain.people import audit

WEEKDAYS = range(7)  # 0 is Monday


class NotOfThisSite(DomainError):
    message = "This volunteer does not work at this site (any more)."


@dataclass(frozen=True)
class OnDuty:
    weekday: int
    volunteer_id: int
    name: str


def days_in_week(monday: dt.date, rota: Iterable[tuple[int, int]]) -> dict[int, list[dt.date]]:
    """Each volunteer's duty dates in the week starting `monday`, from (weekday, volunteer)."""
    days: dict[int, list[dt.date]] = defaultdict(list)
    for weekday, volunteer_id in sorted(rota):
        days[volunteer_id].append(monday + dt.timedelta(days=weekday))
    return dict(days)


async def rota(session: AsyncSession, site_id: int) -> dict[int, OnDuty]:
    """The site's rota by weekday; a weekday nobody has is missing."""
    rows = await session.execute(
        select(DutyRota.weekday, DutyRota.volunteer_id, Person.name)
        .join(Volunteer, Volunteer.id == DutyRota.volunteer_id)
        .join(Person, Person.id == Volunteer.person_id)
        .where(DutyRota.site_id == site_id, Volunteer.removed_at.is_(None))
    )
    return {row.weekday: OnDuty(*row) for row in rows}


async def rota_within(session: AsyncSession, scope_path: str) -> list[tuple[int, int]]:
    """(weekday, volunteer) of every site under `scope_path`, for the roster."""
    rows = await session.execute(
        select(DutyRota.weekday, DutyRota.volunteer_id)
        .join(Region, Region.id == DutyRota.site_id)
        .join(Volunteer, Volunteer.id == DutyRota.volunteer_id)
        .where(Region.path.startswith(scope_path), Volunteer.removed_at.is_(None))
    )
    return [(row.weekday, row.volunteer_id) for row in rows]


async def set_duty(
    session: AsyncSession,
    *,
    site: Region,
    weekday: int,
    volunteer_id: int | None,
    actor_id: int,
    at: dt.datetime,
) -> None:
    """Put a volunteer of the site on duty on a weekday (None: nobody); audited."""
    if weekday not in WEEKDAYS:
        raise ValueError(weekday)
    if volunteer_id is None:
        await session.execute(
            delete(DutyRota).where(DutyRota.site_id == site.id, DutyRota.weekday == weekday)
        )
    else:
        volunteer = await session.get(Volunteer, volunteer_id)
        if volunteer is None or volunteer.site_id != site.id or volunteer.removed_at is not None:
            raise NotOfThisSite()
        await session.execute(
            insert(DutyRota)
            .values(
                site_id=site.id,
                weekday=weekday,
                volunteer_id=volunteer_id,
                set_by=actor_id,
                set_at=at,
            )
            .on_conflict_do_update(
                index_elements=[DutyRota.site_id, DutyRota.weekday],
                set_={"volunteer_id": volunteer_id, "set_by": actor_id, "set_at": at},
            )
        )
    audit.record(
        session,
        at=at,
        action="duty.set",
        actor_id=actor_id,
        subject_type="region",
        subject_id=site.id,
        details={"weekday": weekday, "volunteer_id": volunteer_id},
    )


def merged(*days: Mapping[int, list[dt.date]]) -> dict[int, list[dt.date]]:
    """Duty days from several sources (the rota, single shifts), each date once, in order."""
    together: dict[int, set[dt.date]] = defaultdict(set)
    for source in days:
        for volunteer_id, dates in source.items():
            together[volunteer_id].update(dates)
    return {volunteer_id: sorted(dates) for volunteer_id, dates in together.items()}
