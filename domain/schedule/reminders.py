"""Gentle reminders before things fall due: one digest per volunteer, at most one a day.

A volunteer is reminded on their site's reminder day (default the 20th) of the month's
open items, and the day before a must-visit deadline of one of their children. The
digest lists everything still open for them, never one message per item; it is keyed by
the person and the local day it arrives, so a second run that day queues nothing; and
one decided at night waits in the outbox until 08:00.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery.messaging import Outgoing, Recipient, queue, recipients
from domain.models import (
    Activity,
    Child,
    Concern,
    ConcernKind,
    Pairing,
    Period,
    Region,
    Volunteer,
)
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import due_day, outside_quiet_hours, site_days

log = logging.getLogger(__name__)

_CHUNK = 5_000


@dataclass(frozen=True)
class OpenItem:
    activity: Activity
    last_day: dt.date  # the last day of its period, local time
    this_month: bool = False  # due by the end of this month (a monthly item)


@dataclass(frozen=True)
class ChildReminder:
    child_name: str
    items: tuple[OpenItem, ...]


@dataclass(frozen=True)
class ConcernReminder:
    child_name: str
    kind: ConcernKind
    due_at: dt.datetime
    due_day: dt.date  # the local day the visit is due by


@dataclass(frozen=True)
class ReminderDigest:
    children: tuple[ChildReminder, ...]
    concerns: tuple[ConcernReminder, ...]


class ReminderText(Protocol):
    def reminder(self, to: Recipient, digest: ReminderDigest) -> Outgoing: ...


def reminder_key(person_id: int, day: dt.date) -> str:
    return f"reminder:{person_id}:{day.isoformat()}"


def open_item(item: due.DueItem, tz: ZoneInfo) -> OpenItem:
    """A missing item as the volunteer reads it: by the last local day of its period."""
    return OpenItem(item.activity, due_day(item.due_at, tz), this_month=item.period is Period.month)


def digest_of(
    children: Iterable[tuple[str, Iterable[OpenItem]]], concerns: Iterable[ConcernReminder]
) -> ReminderDigest | None:
    """One person's digest: each child with something open (the soonest first), and the
    open must-visits (a child's concern once, however many pairings lead to it), the
    nearest deadline first; None when nothing is open."""
    reminders = tuple(
        ChildReminder(name, tuple(sorted(items, key=lambda i: (i.last_day, i.activity))))
        for name, items in children
    )
    reminders = tuple(r for r in reminders if r.items)
    visits = tuple(sorted(set(concerns), key=lambda c: c.due_at))
    if not reminders and not visits:
        return None
    return ReminderDigest(reminders, visits)


async def _volunteers_to_remind(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str | None
) -> set[int]:
    """People with a reminder today: at a site whose reminder day it is, or paired with a
    child whose must-visit deadline falls tomorrow."""
    today = now.astimezone(tz).date()
    active = select(Volunteer.person_id, Volunteer.site_id).where(Volunteer.removed_at.is_(None))
    if scope_path is not None:
        active = active.join(Region, Region.id == Volunteer.site_id).where(
            Region.path.startswith(scope_path)
        )
    volunteers = (await session.execute(active)).all()
    days = await site_days(session, {v.site_id for v in volunteers})
    people = {v.person_id for v in volunteers if days[v.site_id].reminder_day == today.day}

    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tz)
    concern_children = select(Concern.child_id).where(
        Concern.closed_at.is_(None),
        Concern.due_at >= tomorrow,
        Concern.due_at < tomorrow + dt.timedelta(days=1),
    )
    paired = await session.scalars(
        select(Volunteer.person_id)
        .join(Pairing, Pairing.volunteer_id == Volunteer.id)
        .where(
            Pairing.child_id.in_(concern_children),
            Pairing.ended_at.is_(None),
            Volunteer.removed_at.is_(None),
        )
    )
    in_scope = {v.person_id for v in volunteers}
    return people | (set(paired) & in_scope)


async def digests(
    session: AsyncSession, *, person_ids: Sequence[int], now: dt.datetime, tz: ZoneInfo
) -> dict[int, ReminderDigest]:
    """Everything still open for each person: the month's missing items and open concerns
    of the children they are paired with now. People with nothing open get no digest."""
    month = Month.of(now, tz)
    pairings = (
        await session.execute(
            select(Pairing.id, Pairing.child_id, Volunteer.person_id, Child.name)
            .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
            .join(Child, Child.id == Pairing.child_id)
            .where(
                Volunteer.person_id.in_(person_ids),
                Volunteer.removed_at.is_(None),
                Pairing.ended_at.is_(None),
                Child.left_at.is_(None),
            )
            .order_by(Volunteer.person_id, Child.name, Pairing.id)
        )
    ).all()
    owner = {p.id: p for p in pairings}
    items: dict[int, list[OpenItem]] = defaultdict(list)
    ids = list(owner)
    for start in range(0, len(ids), _CHUNK):
        for item in await due.due_items(
            session,
            month=month,
            tz=tz,
            selection=due.Selection(pairing_ids=ids[start : start + _CHUNK]),
            only_missing=True,
        ):
            items[item.pairing_id].append(open_item(item, tz))

    child_ids = sorted({p.child_id for p in pairings})
    concerns_of: dict[int, list[Concern]] = defaultdict(list)
    for start in range(0, len(child_ids), _CHUNK):
        for concern in await due.open_concerns(
            session, child_ids=child_ids[start : start + _CHUNK]
        ):
            concerns_of[concern.child_id].append(concern)

    children: dict[int, list[tuple[str, list[OpenItem]]]] = defaultdict(list)
    concerns: dict[int, list[ConcernReminder]] = defaultdict(list)
    for pairing in pairings:
        children[pairing.person_id].append((pairing.name, items[pairing.id]))
        concerns[pairing.person_id] += [
            ConcernReminder(pairing.name, c.kind, c.due_at, due_day(c.due_at, tz))
            for c in concerns_of[pairing.child_id]
        ]
    found = {
        person_id: digest_of(children[person_id], concerns[person_id]) for person_id in children
    }
    return {person_id: digest for person_id, digest in found.items() if digest is not None}


async def send_reminders(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: ReminderText,
    media_dir: Path,
    scope_path: str | None = None,
) -> int:
    """Queue today's reminders; returns how many were queued (0 on a second run)."""
    people = await recipients(
        session, await _volunteers_to_remind(session, now=now, tz=tz, scope_path=scope_path)
    )
    reachable = sorted(p for p, r in people.items() if r.reachable)
    not_before = outside_quiet_hours(now, tz)
    arrives = not_before.astimezone(tz).date()
    queued = 0
    for person_id, digest in sorted(
        (await digests(session, person_ids=reachable, now=now, tz=tz)).items()
    ):
        to = people[person_id]
        if await queue(
            session,
            to=to,
            message=text.reminder(to, digest),
            not_before=not_before,
            dedupe_key=reminder_key(person_id, arrives),
            media_dir=media_dir,
        ):
            queued += 1
    log.info("reminders at %s: %d queued for %s", now.isoformat(), queued, arrives)
    return queued
