"""逾期: what is overdue in a scope, most urgent first.

Three sources, one list: last month's missing activities per pairing (from `due_items`,
so the list says exactly what the volunteer was asked for), must-visits past their
deadline, and escalations still open from earlier (older months, drop-outs,
emergencies). An item a coordinator marked handled (its escalation closed) drops out.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import pairings
from domain.delivery import outbox
from domain.delivery.addresses import address_of
from domain.delivery.content import Content
from domain.errors import NobodyToMessage, NotInChat, UnknownChild
from domain.models import (
    Activity,
    Child,
    Concern,
    ConcernKind,
    Escalation,
    EscalationKind,
    Pairing,
    PairingRole,
    Person,
    Priority,
    Region,
    Volunteer,
)
from domain.people import audit, scopes
from domain.people.identity import Identity
from domain.schedule import escalations
from domain.schedule.calendar import Month
from domain.schedule.due import Selection, due_items


class OverdueKind(enum.StrEnum):
    missed = "missed"  # monthly activities not done
    must_visit = "must_visit"  # 五必访 past its deadline
    escalation = "escalation"  # a drop-out or an emergency still open


# Emergencies first, then drop-outs, then must-visits, then missed monthly care.
_RANK = {
    EscalationKind.emergency: 0,
    EscalationKind.dropout: 1,
    EscalationKind.must_visit: 2,
    EscalationKind.missed_monthly: 3,
    EscalationKind.review_waiting: 4,
}
_ACTIVITIES = frozenset(a.value for a in Activity)


@dataclass(frozen=True)
class OverdueItem:
    kind: OverdueKind
    item_key: str
    child_id: int
    since: dt.datetime  # when it became overdue
    rank: int
    pairing_id: int | None = None
    month: Month | None = None
    activities: tuple[Activity, ...] = ()
    concern_id: int | None = None
    concern_kind: ConcernKind | None = None
    escalation_id: int | None = None
    escalation_kind: EscalationKind | None = None
    child_name: str = ""
    key_child: bool = False
    volunteer_id: int | None = None
    volunteer_name: str | None = None
    volunteer_person_id: int | None = None

    def sort_key(self) -> tuple[int, bool, dt.datetime, int]:
        """Most urgent first: by kind, key children before others, the oldest first."""
        return (self.rank, not self.key_child, self.since, self.child_id)


async def overdue(
    session: AsyncSession, *, scope_path: str, now: dt.datetime, tz: ZoneInfo
) -> list[OverdueItem]:
    items: dict[str, OverdueItem] = {}
    for item in await _missed_last_month(session, scope_path=scope_path, now=now, tz=tz):
        items[item.item_key] = item
    for item in await _late_must_visits(session, scope_path=scope_path, now=now):
        items[item.item_key] = item
    open_escalations = await session.scalars(
        select(Escalation)
        .join(Child, Child.id == Escalation.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(
            Region.path.startswith(scope_path),
            Escalation.closed_at.is_(None),
            # bullying or abuse: the levels above the site only (domain.care.emergencies)
            ~func.coalesce(
                (Escalation.details["incident"].astext == "bullying") & (Region.path == scope_path),
                False,
            ),
        )
    )
    for escalation in open_escalations:
        known = items.get(escalation.item_key)
        items[escalation.item_key] = (
            replace(known, escalation_id=escalation.id)
            if known is not None
            else from_escalation(escalation, tz)
        )
    handled = set(
        await session.scalars(
            select(Escalation.item_key).where(
                Escalation.item_key.in_(list(items)), Escalation.closed_at.is_not(None)
            )
        )
    )
    found = await _with_concern_kinds(
        session, [item for key, item in items.items() if key not in handled]
    )
    return sorted(await _named(session, found), key=OverdueItem.sort_key)


async def _with_concern_kinds(session: AsyncSession, items: list[OverdueItem]) -> list[OverdueItem]:
    """A must-visit known only by its escalation says the concern's own kind (情绪低落),
    not "other"."""
    wanted = {i.concern_id for i in items if i.concern_id and i.concern_kind is None}
    if not wanted:
        return items
    kinds: dict[int, ConcernKind] = {
        concern_id: kind
        for concern_id, kind in await session.execute(
            select(Concern.id, Concern.kind).where(Concern.id.in_(wanted))
        )
    }
    return [
        replace(item, concern_kind=kinds.get(item.concern_id))
        if item.concern_id in wanted
        else item
        for item in items
    ]


async def _missed_last_month(
    session: AsyncSession, *, scope_path: str, now: dt.datetime, tz: ZoneInfo
) -> list[OverdueItem]:
    month = Month.of(now, tz).previous()
    missing = await due_items(
        session, month=month, tz=tz, selection=Selection(scope_path=scope_path), only_missing=True
    )
    by_pairing: dict[int, list[Activity]] = defaultdict(list)
    children: dict[int, int] = {}
    for due in missing:
        if due.due_at <= now:
            by_pairing[due.pairing_id].append(due.activity)
            children[due.pairing_id] = due.child_id
    return [
        OverdueItem(
            kind=OverdueKind.missed,
            item_key=escalations.missed_month_key(pairing_id, month),
            child_id=children[pairing_id],
            since=month.end(tz),
            rank=_RANK[EscalationKind.missed_monthly],
            pairing_id=pairing_id,
            month=month,
            activities=tuple(activities),
        )
        for pairing_id, activities in by_pairing.items()
    ]


async def _late_must_visits(
    session: AsyncSession, *, scope_path: str, now: dt.datetime
) -> list[OverdueItem]:
    concerns = await session.scalars(
        select(Concern)
        .join(Child, Child.id == Concern.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(
            Region.path.startswith(scope_path),
            Concern.closed_at.is_(None),
            Concern.due_at < now,
        )
    )
    return [
        OverdueItem(
            kind=OverdueKind.must_visit,
            item_key=escalations.concern_key(concern.id),
            child_id=concern.child_id,
            since=concern.due_at,
            rank=_RANK[EscalationKind.must_visit],
            concern_id=concern.id,
            concern_kind=concern.kind,
        )
        for concern in concerns
    ]


def from_escalation(escalation: Escalation, tz: ZoneInfo) -> OverdueItem:
    """An open escalation the other sources do not cover: an older month (with what the
    ladder found missing in it), a drop-out..."""
    item = OverdueItem(
        kind=OverdueKind.escalation,
        item_key=escalation.item_key,
        child_id=escalation.child_id,
        since=escalation.opened_at,
        rank=_RANK[escalation.kind],
        escalation_id=escalation.id,
        escalation_kind=escalation.kind,
        pairing_id=escalation.pairing_id,
        concern_id=escalation.concern_id,
    )
    if escalation.kind is EscalationKind.missed_monthly and escalation.period_start is not None:
        month = Month(escalation.period_start.year, escalation.period_start.month)
        activities = tuple(
            Activity(a) for a in (escalation.details or {}).get("missing", []) if a in _ACTIVITIES
        )
        return replace(
            item, kind=OverdueKind.missed, since=month.end(tz), month=month, activities=activities
        )
    if escalation.kind is EscalationKind.must_visit:
        return replace(item, kind=OverdueKind.must_visit)
    return item


async def _named(session: AsyncSession, items: list[OverdueItem]) -> list[OverdueItem]:
    """Fill in the child's and volunteer's names: the pairing's volunteer, or for an item
    without a pairing, the child's current surrogate parent (else any paired volunteer)."""
    child_ids = {item.child_id for item in items}
    children = {
        child_id: (name, priority)
        for child_id, name, priority in await session.execute(
            select(Child.id, Child.name, Child.priority).where(Child.id.in_(child_ids))
        )
    }
    pairing_rows = await session.execute(
        select(Pairing.id, Pairing.child_id, Pairing.ended_at, Volunteer.id, Person.id, Person.name)
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .join(Person, Person.id == Volunteer.person_id)
        .where(
            (Pairing.id.in_({i.pairing_id for i in items if i.pairing_id}))
            | (Pairing.child_id.in_(child_ids) & Pairing.ended_at.is_(None))
        )
        .order_by((Pairing.role == PairingRole.surrogate).desc(), Pairing.started_at)
    )
    by_pairing: dict[int, tuple[int, int, str]] = {}
    current: dict[int, tuple[int, int, str]] = {}
    for pairing_id, child_id, ended_at, volunteer_id, person_id, name in pairing_rows:
        by_pairing[pairing_id] = (volunteer_id, person_id, name)
        if ended_at is None:
            current.setdefault(child_id, (volunteer_id, person_id, name))
    named = []
    for item in items:
        child_name, priority = children.get(item.child_id, ("", None))
        volunteer = by_pairing.get(item.pairing_id or 0) or current.get(item.child_id)
        named.append(
            replace(
                item,
                child_name=child_name,
                key_child=priority is Priority.key,
                volunteer_id=volunteer[0] if volunteer else None,
                volunteer_person_id=volunteer[1] if volunteer else None,
                volunteer_name=volunteer[2] if volunteer else None,
            )
        )
    return named


@dataclass(frozen=True)
class Target:
    """The item an overdue button points at, checked against the presser's scope."""

    child_id: int
    item_key: str
    kind: EscalationKind
    volunteer_id: int | None  # whom to nudge, or to move the child from
    pairing_id: int | None = None
    concern_id: int | None = None
    period_start: dt.date | None = None


async def missed_target(
    session: AsyncSession, person: Identity, pairing_id: int, month: Month
) -> Target:
    pairing = await session.get(Pairing, pairing_id)
    if pairing is None:
        raise UnknownChild()
    await scopes.child(session, person.scopes, pairing.child_id)
    return Target(
        child_id=pairing.child_id,
        item_key=escalations.missed_month_key(pairing.id, month),
        kind=EscalationKind.missed_monthly,
        volunteer_id=await pairings.responsible(session, pairing.child_id, pairing.id),
        pairing_id=pairing.id,
        period_start=month.first_day(),
    )


async def concern_target(session: AsyncSession, person: Identity, concern_id: int) -> Target:
    concern = await session.get(Concern, concern_id)
    if concern is None:
        raise UnknownChild()
    await scopes.child(session, person.scopes, concern.child_id)
    return Target(
        child_id=concern.child_id,
        item_key=escalations.concern_key(concern.id),
        kind=EscalationKind.must_visit,
        volunteer_id=await pairings.responsible(session, concern.child_id, None),
        concern_id=concern.id,
    )


async def escalation_target(session: AsyncSession, person: Identity, escalation_id: int) -> Target:
    escalation = await scopes.escalation(session, person.scopes, escalation_id)
    return Target(
        child_id=escalation.child_id,
        item_key=escalation.item_key,
        kind=escalation.kind,
        volunteer_id=await pairings.responsible(
            session, escalation.child_id, escalation.pairing_id
        ),
        pairing_id=escalation.pairing_id,
        concern_id=escalation.concern_id,
        period_start=escalation.period_start,
    )


async def open_escalation(session: AsyncSession, target: Target, at: dt.datetime) -> Escalation:
    """The item's escalation (the same row the ladder opens), so handling it is recorded."""
    return await escalations.open_once(
        session,
        kind=target.kind,
        item_key=target.item_key,
        child_id=target.child_id,
        pairing_id=target.pairing_id,
        concern_id=target.concern_id,
        period_start=target.period_start,
        at=at,
    )


@dataclass(frozen=True)
class Due:
    """What a nudge names: the child, and what is due of them."""

    child_name: str
    month: Month | None = None
    activities: tuple[Activity, ...] = ()
    concern_kind: ConcernKind | None = None
    concern_due: dt.datetime | None = None


async def what_is_due(session: AsyncSession, target: Target, tz: ZoneInfo) -> Due:
    child = await session.get_one(Child, target.child_id)
    if target.kind is EscalationKind.missed_monthly and target.period_start is not None:
        month = Month(target.period_start.year, target.period_start.month)
        missing: tuple[Activity, ...] = ()
        if target.pairing_id is not None:
            missing = tuple(
                item.activity
                for item in await due_items(
                    session,
                    month=month,
                    tz=tz,
                    selection=Selection(pairing_ids=[target.pairing_id]),
                    only_missing=True,
                )
            )
        return Due(child.name, month=month, activities=missing)
    if target.concern_id is not None:
        concern = await session.get_one(Concern, target.concern_id)
        return Due(child.name, concern_kind=concern.kind, concern_due=concern.due_at)
    return Due(child.name)


async def nudge(
    session: AsyncSession,
    target: Target,
    *,
    text_for: Callable[[Person], str],
    actor: Identity,
    at: dt.datetime,
    tz: ZoneInfo | None = None,
) -> bool:
    """Queue a short reminder to the volunteer; once a (local) day per item (False if
    already sent).

    `text_for` renders it in the volunteer's language (texts live in the chat front).
    """
    if target.volunteer_id is None:
        raise NobodyToMessage()
    volunteer = await session.get_one(Volunteer, target.volunteer_id)
    to = await session.get_one(Person, volunteer.person_id)
    address = await address_of(session, to.id)
    if address is None:
        raise NotInChat()
    queued = await outbox.enqueue(
        session,
        to=address,
        content=Content.lines([text_for(to)]),
        not_before=at,
        dedupe_key=f"nudge:{target.item_key}:{(at.astimezone(tz) if tz else at).date()}",
    )
    if queued is not None:
        audit.record(
            session,
            at=at,
            action="overdue.nudge",
            actor_id=actor.person_id,
            subject_type="child",
            subject_id=target.child_id,
            details={"item_key": target.item_key, "to_person_id": to.id},
        )
    return queued is not None
