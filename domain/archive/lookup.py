"""Finding a child or a volunteer from what a person types: part of a name, an id, a phone.

Searches stay inside a scope. The command line accepts a volunteer's id, Telegram id or
phone number and a child's id or exact name; anything that matches more than one is
refused with the candidates listed, so nobody pairs the wrong child.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement, Exists

from domain.errors import (
    AmbiguousChild,
    AmbiguousVolunteer,
    ChildOutOfScope,
    NotAVolunteerRef,
    UnknownChild,
    VolunteerOutOfScope,
)
from domain.models import Account, Child, Pairing, PairingRole, Person, Priority, Region, Volunteer

PHONE_REGION = "CN"
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers; a longer number is a phone or Telegram id


@dataclass(frozen=True)
class ChildHit:
    child_id: int
    name: str
    site_name: str
    birth_date_text: str
    key_without_surrogate: bool


def _has_surrogate() -> Exists:
    return exists(
        select(Pairing.id).where(
            Pairing.child_id == Child.id,
            Pairing.ended_at.is_(None),
            Pairing.role == PairingRole.surrogate,
        )
    )


async def search_children(
    session: AsyncSession, *, scope_paths: Sequence[str], text: str = "", limit: int = 10
) -> list[ChildHit]:
    """Children whose name contains `text`, key children without a surrogate parent first.

    With no text, only those key children are listed: they are the ones to pair first.
    """
    uncovered = (Child.priority == Priority.key) & ~_has_surrogate()
    query = (
        select(Child.id, Child.name, Region.name, Child.birth_date, uncovered.label("uncovered"))
        .join(Region, Region.id == Child.site_id)
        .where(
            or_(*(Region.path.startswith(path) for path in scope_paths)),
            Child.left_at.is_(None),
        )
        .order_by(uncovered.desc(), Child.name, Child.id)
        .limit(limit)
    )
    needle = text.strip()
    query = (
        query.where(Child.name.icontains(needle, autoescape=True))
        if needle
        else query.where(uncovered)
    )
    rows = await session.execute(query)
    return [
        ChildHit(
            child_id=child_id,
            name=name,
            site_name=site_name,
            birth_date_text=birth_date.isoformat() if birth_date else "—",
            key_without_surrogate=bool(flag),
        )
        for child_id, name, site_name, birth_date, flag in rows
    ]


async def child_by_ref(session: AsyncSession, ref: str, *, scope_path: str) -> Child:
    """A child by id or exact name; a name shared by several children in scope is refused."""
    if ref.isdigit():
        child = await session.get(Child, int(ref)) if int(ref) <= MAX_ID else None
        if child is None:
            raise UnknownChild()
        return child
    rows = (
        await session.execute(
            select(Child, Region.name, Region.path)
            .join(Region, Region.id == Child.site_id)
            .where(Child.name == ref.strip())
            .order_by(Child.id)
        )
    ).all()
    inside = [row for row in rows if row[2].startswith(scope_path)]
    if not inside:
        if rows:
            raise ChildOutOfScope(rows[0][0].id)
        raise UnknownChild()
    if len(inside) > 1:
        candidates = "; ".join(
            f"{child.id} ({site}, {child.birth_date.isoformat() if child.birth_date else '—'})"
            for child, site, _path in inside
        )
        raise AmbiguousChild(name=ref, candidates=candidates)
    return inside[0][0]


def phone_forms(text: str) -> list[str] | None:
    """The ways a Chinese phone number may be stored, or None if `text` is not one."""
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return [e164, e164.lstrip("+"), str(number.national_number)]


async def volunteer_by_ref(session: AsyncSession, ref: str, *, scope_path: str) -> Volunteer:
    """A volunteer by volunteer id, account (a Telegram id) or phone; one person at two sites
    is refused."""
    ref = ref.strip()
    forms = phone_forms(ref)
    account = str(int(ref)) if ref.isdigit() else ref
    conditions: list[ColumnElement[bool]] = [
        Person.id.in_(select(Account.person_id).where(Account.external_id == account))
    ]
    if forms is not None:
        conditions.append(Person.phone.in_(forms))
    if ref.isdigit() and int(ref) <= MAX_ID:
        conditions.append(Volunteer.id == int(ref))
    rows = (
        await session.execute(
            select(Volunteer, Region.name, Region.path)
            .join(Person, Person.id == Volunteer.person_id)
            .join(Region, Region.id == Volunteer.site_id)
            .where(or_(*conditions), Volunteer.removed_at.is_(None))
            .order_by(Volunteer.id)
        )
    ).all()
    inside = [row for row in rows if row[2].startswith(scope_path)]
    if not inside:
        if rows:
            raise VolunteerOutOfScope(rows[0][0].id)
        raise NotAVolunteerRef(ref=ref)
    if len(inside) > 1:
        candidates = "; ".join(f"{volunteer.id} ({site})" for volunteer, site, _path in inside)
        raise AmbiguousVolunteer(ref=ref, candidates=candidates)
    return inside[0][0]
