"""Exports as `.xlsx`: the scope's children with their archive, and a month's check-ins.

The children's sheet uses the column names the importer reads, so a coordinator can
export, correct the sheet and import it back. Texts are in the language spoken
(`domain.language.speaking`: the chat's or the command line's); activities are named as
everywhere else (`domain.wording.texts`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.archive.spreadsheets import write_xlsx
from domain.language import gettext
from domain.models import (
    Activity,
    CheckIn,
    Child,
    Person,
    Priority,
    Region,
    Volunteer,
)
from domain.people import audit, regions
from domain.schedule.calendar import Month
from domain.wording import formatting
from domain.wording.labels import GUARDIANSHIP, REVIEW, SEX
from domain.wording.texts import ACTIVITIES


def _phone(e164: str | None) -> str | None:
    """A stored number as people write it (138 1234 5678), as the chat shows it; None
    leaves the cell empty."""
    return formatting.phone(e164) or None


async def _scope(
    session: AsyncSession,
    scope_code: str,
    scope_paths: Sequence[str] | None,
    *,
    action: str,
    actor_id: int | None,
) -> Region:
    region = await regions.by_code(session, scope_code)
    regions.require_within(region, scope_paths)
    return region


async def children_xlsx(
    session: AsyncSession,
    *,
    scope_code: str,
    scope_paths: Sequence[str] | None,
    actor_id: int | None,
    at: dt.datetime,
) -> bytes:
    """Every child of the scope (who has not left) with the archive, one row each."""
    scope = await _scope(
        session, scope_code, scope_paths, action="export.children", actor_id=actor_id
    )
    rows = (
        await session.execute(
            select(Child, Region.name)
            .join(Region, Region.id == Child.site_id)
            .where(Region.path.startswith(scope.path), Child.left_at.is_(None))
            .options(selectinload(Child.guardians), selectinload(Child.parents))
            .order_by(Region.code, Child.grade, Child.class_name, Child.name, Child.id)
        )
    ).all()
    header = [
        gettext("Site"),
        gettext("ID"),
        gettext("Name"),
        gettext("Sex"),
        gettext("Birth date"),
        gettext("School"),
        gettext("Grade"),
        gettext("Class"),
        gettext("Home address"),
        gettext("Key child"),
        gettext("Guardianship"),
        gettext("Guardian"),
        gettext("Relation to child"),
        gettext("Guardian age"),
        gettext("Guardian phone"),
        gettext("Father's work place"),
        gettext("Father's phone"),
        gettext("Mother's work place"),
        gettext("Mother's phone"),
        gettext("Study"),
        gettext("Health"),
        gettext("Personality"),
        gettext("Interests"),
    ]
    lines: list[list[Any]] = []
    for child, site_name in rows:
        guardian = min(child.guardians, key=lambda g: g.id, default=None)
        parents = {p.relation: p for p in child.parents}
        father, mother = parents.get("father"), parents.get("mother")
        lines.append(
            [
                site_name,
                child.external_id,
                child.name,
                str(SEX[child.sex]) if child.sex else None,
                child.birth_date,
                child.school,
                child.grade,
                child.class_name,
                child.address,
                gettext("yes") if child.priority is Priority.key else gettext("no"),
                str(GUARDIANSHIP[child.guardianship]),
                guardian and guardian.name,
                guardian and guardian.relation,
                guardian and guardian.age,
                _phone(guardian.phone if guardian else None),
                father and father.work_place,
                _phone(father.phone if father else None),
                mother and mother.work_place,
                _phone(mother.phone if mother else None),
                child.study,
                child.health,
                child.personality,
                child.interests,
            ]
        )
    audit.record(
        session,
        at=at,
        action="export.children",
        actor_id=actor_id,
        subject_type="region",
        subject_id=scope.id,
        details={"children": len(lines)},
    )
    return write_xlsx(gettext("Children"), header, lines)


async def checkins_xlsx(
    session: AsyncSession,
    *,
    scope_code: str,
    month: Month,
    tz: ZoneInfo,
    scope_paths: Sequence[str] | None,
    actor_id: int | None,
    at: dt.datetime,
) -> bytes:
    """The month's check-ins in the scope: when, which child, who, what was done, review."""
    scope = await _scope(
        session, scope_code, scope_paths, action="export.checkins", actor_id=actor_id
    )
    start, end = month.start(tz), month.end(tz)
    rows = (
        await session.execute(
            select(CheckIn, Child, Region.name, Person.name)
            .join(Child, Child.id == CheckIn.child_id)
            .join(Region, Region.id == Child.site_id)
            .join(Volunteer, Volunteer.id == CheckIn.volunteer_id)
            .join(Person, Person.id == Volunteer.person_id)
            .where(
                Region.path.startswith(scope.path),
                CheckIn.occurred_at >= start,
                CheckIn.occurred_at < end,
            )
            .options(selectinload(CheckIn.activities))
            .order_by(CheckIn.occurred_at, CheckIn.id)
        )
    ).all()
    header = [
        gettext("Time"),
        gettext("Site"),
        gettext("Child"),
        gettext("ID"),
        gettext("Volunteer"),
        gettext("Activities"),
        gettext("Review"),
    ]
    lines = [
        [
            checkin.occurred_at.astimezone(tz).replace(tzinfo=None),
            site_name,
            child.name,
            child.external_id,
            volunteer_name,
            "、".join(str(ACTIVITIES[a.activity]) for a in sorted(checkin.activities, key=_order)),
            str(REVIEW[checkin.review]),
        ]
        for checkin, child, site_name, volunteer_name in rows
    ]
    audit.record(
        session,
        at=at,
        action="export.checkins",
        actor_id=actor_id,
        subject_type="region",
        subject_id=scope.id,
        details={"month": str(month), "checkins": len(lines)},
    )
    return write_xlsx(gettext("Check-ins"), header, lines)


def _order(row: Any) -> int:
    return list(Activity).index(row.activity)
