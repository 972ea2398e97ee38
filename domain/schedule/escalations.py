"""Escalations: something overdue, climbing volunteer → site → township → district.

An escalation is opened once per item (its `item_key` is unique), so the ladder and the
coordinators' buttons always talk about the same row. Steps are written by the ladder
(workers); acknowledging, reassigning or resolving stops the climb.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import pairings
from domain.models import Escalation, EscalationKind, EscalationStep, Person
from domain.people import audit, scopes
from domain.people.identity import Identity
from domain.schedule.calendar import Month


def missed_month_key(pairing_id: int, month: Month) -> str:
    """One item per pairing and month: all of the month's missing activities together."""
    return f"missed:{pairing_id}:{month}"


def concern_key(concern_id: int) -> str:
    return f"concern:{concern_id}"


async def open_once(
    session: AsyncSession,
    *,
    kind: EscalationKind,
    item_key: str,
    child_id: int,
    at: dt.datetime,
    pairing_id: int | None = None,
    concern_id: int | None = None,
    period_start: dt.date | None = None,
    details: dict[str, Any] | None = None,
) -> Escalation:
    """The escalation of an item, opened now if it was not already (safe to call twice)."""
    await session.execute(
        insert(Escalation)
        .values(
            kind=kind,
            item_key=item_key,
            child_id=child_id,
            pairing_id=pairing_id,
            concern_id=concern_id,
            period_start=period_start,
            details=details,
            opened_at=at,
        )
        .on_conflict_do_nothing(index_elements=[Escalation.item_key])
    )
    escalation = await session.scalar(select(Escalation).where(Escalation.item_key == item_key))
    assert escalation is not None
    return escalation


@dataclass(frozen=True)
class TakenBy:
    """Who already handled an escalation and when: what a late press is told."""

    name: str | None  # None when it closed by itself (the visit was recorded)
    at: dt.datetime


@dataclass(frozen=True)
class Outcome:
    escalation: Escalation
    taken_by: TakenBy | None = None  # set when someone else had it: nothing changed

    @property
    def changed(self) -> bool:
        return self.taken_by is None


def handled_before(
    *,
    acknowledged_by: int | None,
    acknowledged_at: dt.datetime | None,
    closed_at: dt.datetime | None,
    person_id: int,
) -> tuple[int | None, dt.datetime] | None:
    """Who had an escalation before this person pressed, and since when: another who took
    it, or (closed) whoever closed it, None when it closed by itself. None when the
    person may act on it: nobody has it, or they took it themselves."""
    if acknowledged_by is not None and acknowledged_by != person_id:
        assert acknowledged_at is not None
        return acknowledged_by, acknowledged_at
    if closed_at is not None:
        return acknowledged_by, closed_at
    return None


async def _taken_by_other(
    session: AsyncSession, escalation: Escalation, person: Identity
) -> TakenBy | None:
    before = handled_before(
        acknowledged_by=escalation.acknowledged_by,
        acknowledged_at=escalation.acknowledged_at,
        closed_at=escalation.closed_at,
        person_id=person.person_id,
    )
    if before is None:
        return None
    holder_id, since = before
    holder = await session.get(Person, holder_id) if holder_id is not None else None
    return TakenBy(name=holder.name if holder else None, at=since)


async def claim(session: AsyncSession, escalation_id: int, person: Identity) -> Outcome:
    """The escalation, locked, if this person may act on it; else who already has it."""
    escalation = await scopes.escalation(session, person.scopes, escalation_id, lock=True)
    if (escalation.details or {}).get("incident") == "bullying":  # 受欺凌或侵害: sensitive
        from domain.care import emergencies

        await emergencies.escalation_for(
            session,
            escalation.id,
            viewer_id=person.person_id,
            volunteer_ids=person.volunteer_ids,
            scope_paths=[s.path for s in person.scopes],
        )
    return Outcome(escalation, await _taken_by_other(session, escalation, person))


async def _acknowledge(
    session: AsyncSession, escalation: Escalation, person: Identity, at: dt.datetime
) -> None:
    if escalation.acknowledged_by is None:
        escalation.acknowledged_by = person.person_id
        escalation.acknowledged_at = at
    await session.execute(
        update(EscalationStep)
        .where(
            EscalationStep.escalation_id == escalation.id,
            EscalationStep.recipient_id == person.person_id,
            EscalationStep.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=at)
    )


def _audit(
    session: AsyncSession,
    escalation: Escalation,
    person: Identity,
    action: str,
    at: dt.datetime,
    **details: Any,
) -> None:
    audit.record(
        session,
        at=at,
        action=f"escalation.{action}",
        actor_id=person.person_id,
        subject_type="escalation",
        subject_id=escalation.id,
        details={"child_id": escalation.child_id, **details},
    )


async def take(
    session: AsyncSession, escalation_id: int, person: Identity, at: dt.datetime
) -> Outcome:
    """我来处理: the presser takes it; the ladder stops climbing once it is acknowledged."""
    outcome = await claim(session, escalation_id, person)
    if outcome.changed and outcome.escalation.acknowledged_by is None:
        await _acknowledge(session, outcome.escalation, person, at)
        _audit(session, outcome.escalation, person, "take", at)
    return outcome


async def resolve(
    session: AsyncSession,
    escalation_id: int,
    person: Identity,
    at: dt.datetime,
    note: str | None,
    resolution: str = "resolved",
) -> Outcome:
    """已解决: closed with the presser's note (taking it first if nobody had)."""
    outcome = await claim(session, escalation_id, person)
    if outcome.changed:
        escalation = outcome.escalation
        await _acknowledge(session, escalation, person, at)
        escalation.closed_at = at
        escalation.resolution = resolution
        escalation.resolution_note = note
        _audit(session, escalation, person, resolution, at)
    return outcome


async def reassign(
    session: AsyncSession,
    escalation_id: int,
    person: Identity,
    *,
    to_volunteer_id: int,
    at: dt.datetime,
) -> Outcome:
    """改派: the child moves to another volunteer (the old pairing ends), and it closes."""
    outcome = await claim(session, escalation_id, person)
    if not outcome.changed:
        return outcome
    escalation = outcome.escalation
    _child, scope = await scopes.child(session, person.scopes, escalation.child_id)
    from_volunteer_id = await pairings.responsible(
        session, escalation.child_id, escalation.pairing_id
    )
    pairing = await pairings.move_or_pair(
        session,
        child_id=escalation.child_id,
        from_volunteer_id=from_volunteer_id,
        to_volunteer_id=to_volunteer_id,
        scope_path=scope.path,
        actor_id=person.person_id,
        at=at,
    )
    await _acknowledge(session, escalation, person, at)
    escalation.closed_at = at
    escalation.resolution = "reassigned"
    _audit(session, escalation, person, "reassign", at, pairing_id=pairing.id)
    return outcome
