"""五必访: a concern about a child makes a visit due within the site's deadline.

The deadline is data: the nearest region up the tree with `must_visit_days` set, else
the programme default. The site's coordinators (or, if the site has none, the nearest
region above that has some) are the ones to tell; the chat front words the message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery.addresses import Address, of_account, preferred
from domain.models import Account, Child, Concern, ConcernKind, Coordinator, Person, Region
from domain.people import audit

DEFAULT_MUST_VISIT_DAYS = 3  # the reports' "within a short deadline"


def _ancestor_ids(region: Region) -> list[int]:
    return [int(part) for part in region.path.split("/") if part]


def visit_due(raised_at: dt.datetime, days: int) -> dt.datetime:
    """五必访: the paired volunteer visits within the site's days of the concern."""
    return raised_at + dt.timedelta(days=days)


async def must_visit_days(session: AsyncSession, site: Region) -> int:
    days = await session.scalar(
        select(Region.must_visit_days)
        .where(Region.id.in_(_ancestor_ids(site)), Region.must_visit_days.is_not(None))
        .order_by(func.length(Region.path).desc())
        .limit(1)
    )
    return DEFAULT_MUST_VISIT_DAYS if days is None else int(days)


@dataclass(frozen=True)
class Recipient:
    person_id: int
    address: Address
    language: str | None


async def coordinators_to_tell(session: AsyncSession, site: Region) -> list[Recipient]:
    """The coordinators of the nearest region, from the site up, that has any."""
    rows = await session.execute(
        select(Person.id, Account, Person.language, Region.path)
        .join(Coordinator, Coordinator.person_id == Person.id)
        .join(Region, Region.id == Coordinator.region_id)
        .join(Account, Account.person_id == Person.id)
        .where(Region.id.in_(_ancestor_ids(site)), Coordinator.removed_at.is_(None))
        .order_by(func.length(Region.path).desc(), Person.id)
    )
    found = rows.all()
    if not found:
        return []
    nearest = found[0].path
    held: dict[int, list[Account]] = {}
    for row in found:
        if row.path == nearest:
            held.setdefault(row.id, []).append(row.Account)
    language = {row.id: row.language for row in found}
    return [
        Recipient(person_id=person_id, address=of_account(account), language=language[person_id])
        for person_id, accounts in held.items()
        if (account := preferred(accounts)) is not None
    ]


@dataclass(frozen=True)
class Raised:
    concern: Concern
    child: Child
    site: Region
    recipients: list[Recipient]


async def raise_concern(
    session: AsyncSession,
    *,
    child_id: int,
    kind: ConcernKind,
    note: str | None,
    raised_by: int,
    now: dt.datetime,
) -> Raised:
    """Open a must-visit; the caller has checked the child is in the raiser's scope."""
    child = await session.get_one(Child, child_id)
    site = await session.get_one(Region, child.site_id)
    concern = Concern(
        child_id=child.id,
        kind=kind,
        note=note,
        raised_by=raised_by,
        raised_at=now,
        due_at=visit_due(now, await must_visit_days(session, site)),
    )
    session.add(concern)
    await session.flush()
    audit.record(
        session,
        at=now,
        action="concern.raise",
        actor_id=raised_by,
        subject_type="child",
        subject_id=child.id,
        details={"concern_id": concern.id, "kind": kind.value},
    )
    return Raised(
        concern=concern,
        child=child,
        site=site,
        recipients=await coordinators_to_tell(session, site),
    )
