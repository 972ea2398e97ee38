"""Leaving means forgetting: a child taken out of the programme, and their personal data
erased once the site's retention period has passed (PIPL: minors' data is kept no longer
than the purpose needs), or at once when a guardian withdraws consent.

What stays is anonymous: the child's row (site, sex, school, grade, class, key-child and
guardianship status, when and why they left), their pairings, check-ins and activities
with their dates, concerns and escalations by kind — the counts and history the reports
are made of. What goes is everything that names or reaches the child or their family:
`PERSONAL` lists it, table by table; the outbox's messages are searched for the child's
and guardians' names and the family's phone numbers, which are masked; stored photos are
deleted from MEDIA_DIR, with the files of documents already sent (rosters and records
may list the child).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
from sqlalchemy import (
    Integer,
    Text,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import pairings
from domain.errors import DomainError
from domain.models import (
    Account,
    AuditEntry,
    CheckIn,
    Child,
    Concern,
    Coordinator,
    Escalation,
    EscalationStep,
    Guardian,
    IncidentStep,
    LeaveReason,
    OutboxMessage,
    OutboxStatus,
    Pairing,
    Parent,
    Photo,
    Region,
    Volunteer,
)
from domain.people import regions

DEFAULT_RETENTION_DAYS = 365  # one year after leaving, unless the site sets its own

ERASED = "—"  # what stands where a name or a phone number was

# Erased in place (set to NULL, or `ERASED` for a name that may not be empty); guardians,
# parents and photos are deleted outright. tests/test_leaving.py searches every text and
# jsonb column of every table, so a new personal column without a line here fails it.
PERSONAL: dict[str, tuple[str, ...]] = {
    "children": (
        "name",
        "external_id",
        "birth_date",
        "address",
        "study",
        "health",
        "personality",
        "interests",
    ),
    "checkins": ("note", "voice_file_id", "latitude", "longitude", "visit_answers"),
    "concerns": ("note",),
    "escalations": ("resolution_note",),  # and its details' note and media (below)
    "incident_steps": ("note", "by_whom", "place"),
}
ESCALATION_DETAILS_ERASED = ("note", "media")  # an incident's words and Telegram file ids

CHUNK = 5_000  # children erased per set of statements


class ChildAlreadyLeft(DomainError):
    message = "Child {id} has already left the programme."


class ChildForgotten(DomainError):
    message = "Child {id}'s personal data has already been erased."


# --- leaving --------------------------------------------------------------------------


@dataclass(frozen=True)
class Left:
    """Children taken out together, and the pairings that ended with it."""

    child_ids: tuple[int, ...]
    ended: tuple[Pairing, ...]


async def take_out(
    session: AsyncSession,
    child_id: int,
    *,
    reason: LeaveReason,
    scope_path: str,
    actor_id: int | None,
    at: dt.datetime,
) -> Left:
    """Take one child out of the programme, as a coordinator decides."""
    child = await pairings.child_in_scope(session, child_id, scope_path)
    if child.forgotten_at is not None:
        raise ChildForgotten(id=child.id)
    if child.left_at is not None:
        raise ChildAlreadyLeft(id=child.id)
    return await take_out_many(session, [child.id], reason=reason, actor_id=actor_id, at=at)


async def take_out_many(
    session: AsyncSession,
    child_ids: Sequence[int],
    *,
    reason: LeaveReason,
    actor_id: int | None,
    at: dt.datetime,
) -> Left:
    """Mark the children as left for `reason`, end their pairings and close their open
    must-visits at `at` (the history stays); each is audited with the pairings that ended.
    Children already out are skipped."""
    leaving: list[int] = []
    ended: list[Pairing] = []
    for chunk in _chunks(child_ids):
        leaving += (
            await session.scalars(
                update(Child)
                .where(Child.id.in_(chunk), Child.left_at.is_(None))
                .values(left_at=at, left_reason=reason)
                .returning(Child.id)
            )
        ).all()
    for chunk in _chunks(leaving):
        ended += (
            await session.scalars(
                update(Pairing)
                .where(Pairing.child_id.in_(chunk), Pairing.ended_at.is_(None))
                .values(ended_at=at, ended_reason=f"left: {reason.value}")
                .returning(Pairing)
                .execution_options(synchronize_session=False)
            )
        ).all()
        # nobody is paired to visit any more: a must-visit would only climb the ladder
        await session.execute(
            update(Concern)
            .where(Concern.child_id.in_(chunk), Concern.closed_at.is_(None))
            .values(closed_at=at)
            .execution_options(synchronize_session=False)
        )
    by_child: dict[int, list[int]] = {}
    for pairing in ended:
        by_child.setdefault(pairing.child_id, []).append(pairing.id)
    await _audit(
        session,
        leaving,
        action="child.leave",
        actor_id=actor_id,
        at=at,
        details=lambda child_id: {
            "reason": reason.value,
            "pairing_ids": sorted(by_child.get(child_id, [])),
        },
    )
    return Left(tuple(leaving), tuple(ended))


# --- forgetting -----------------------------------------------------------------------


async def retention_days(session: AsyncSession, site_paths: Iterable[str]) -> dict[str, int]:
    return await regions.inherited(session, site_paths, "retention_days", DEFAULT_RETENTION_DAYS)


async def due_for_forgetting(session: AsyncSession, *, now: dt.datetime) -> list[int]:
    """Children whose site's retention period since they left has passed, not yet erased."""
    rows = (
        await session.execute(
            select(Child.id, Child.left_at, Region.path)
            .join(Region, Region.id == Child.site_id)
            .where(Child.left_at.is_not(None), Child.forgotten_at.is_(None))
            .order_by(Child.id)
        )
    ).all()
    keep = await retention_days(session, {row.path for row in rows})
    return [row.id for row in rows if row.left_at + dt.timedelta(days=keep[row.path]) <= now]


@dataclass
class Forgotten:
    children: int = 0
    messages: int = 0  # outbox messages masked
    files: list[Path] = field(default_factory=list)  # to delete once committed, in MEDIA_DIR


async def forget_now(
    session: AsyncSession, child_id: int, *, scope_path: str, actor_id: int | None, at: dt.datetime
) -> tuple[Left, Forgotten]:
    """`guanai children forget`: a guardian withdrew consent. The child leaves (reason
    other) if still in the programme, and is erased at once."""
    child = await pairings.child_in_scope(session, child_id, scope_path)
    if child.forgotten_at is not None:
        raise ChildForgotten(id=child.id)
    left = await take_out_many(
        session, [child.id], reason=LeaveReason.other, actor_id=actor_id, at=at
    )
    return left, await forget(session, [child.id], actor_id=actor_id, at=at, why="consent")


async def forget(
    session: AsyncSession,
    child_ids: Sequence[int],
    *,
    actor_id: int | None,
    at: dt.datetime,
    why: str,
) -> Forgotten:
    """Erase the children's personal data in a few set-based statements per `CHUNK`; the
    files to delete are returned, for after the commit (`remove_files`)."""
    result = Forgotten()
    if not child_ids:
        return result
    needles: dict[str, set[int]] = {}
    told: dict[int, frozenset[str]] = {}
    for chunk in _chunks(child_ids):
        for needle, child_id in await _needles(session, chunk):
            needles.setdefault(needle, set()).add(child_id)
        told |= await _told(session, chunk)
        result.files += await _erase(session, chunk, at=at)
    result.children = len(child_ids)
    result.messages, sent_files = await _mask_outbox(session, needles, told)
    result.files += sent_files
    await _audit(
        session,
        child_ids,
        action="child.forget",
        actor_id=actor_id,
        at=at,
        details=lambda _child_id: {"why": why},
    )
    return result


def remove_files(media_dir: Path, files: Iterable[Path]) -> int:
    """Delete the erased children's files under MEDIA_DIR; returns how many were there."""
    root = media_dir.resolve()
    removed = 0
    for relative in files:
        path = (root / relative).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()
            removed += 1
    return removed


async def _needles(session: AsyncSession, child_ids: Sequence[int]) -> set[tuple[str, int]]:
    """What would name the children or reach their families in a message's text, each
    with its child."""
    found: set[tuple[str | None, int]] = set()
    found.update(
        (name, child_id)
        for name, child_id in await session.execute(
            select(Child.name, Child.id).where(Child.id.in_(child_ids))
        )
    )
    for name, phone, child_id in await session.execute(
        select(Guardian.name, Guardian.phone, Guardian.child_id).where(
            Guardian.child_id.in_(child_ids)
        )
    ):
        found |= {(name, child_id), (phone, child_id)}
    found.update(
        (phone, child_id)
        for phone, child_id in await session.execute(
            select(Parent.phone, Parent.child_id).where(Parent.child_id.in_(child_ids))
        )
    )
    # one character would mask half of every message; an erased name is no needle
    return {(n, c) for n, c in found if n and len(n) >= 2 and n != ERASED}


async def _told(session: AsyncSession, child_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Per child, the addresses (`channel:target`) a message naming them can have gone to:
    the volunteers, past and present, of their site; the coordinators of the site and every
    region above it; whoever was paired with them, raised a concern about them, or was
    reached by one of their escalations. A namesake's messages elsewhere are left alone."""
    children = (
        await session.execute(
            select(Child.id, Child.site_id, Region.path)
            .join(Region, Region.id == Child.site_id)
            .where(Child.id.in_(child_ids))
        )
    ).all()
    sites = {row.site_id: row.path for row in children}
    above = {int(part) for path in sites.values() for part in path.split("/") if part}
    chat = _address(Account.channel, Account.external_id)
    volunteers: dict[int, set[str]] = {}
    for site_id, chat_id in await session.execute(
        select(Volunteer.site_id, chat)
        .join(Account, Account.person_id == Volunteer.person_id)
        .where(Volunteer.site_id.in_(sites))
    ):
        volunteers.setdefault(site_id, set()).add(chat_id)
    coordinators: dict[int, set[str]] = {}
    for region_id, chat_id in await session.execute(
        select(Coordinator.region_id, chat)
        .join(Account, Account.person_id == Coordinator.person_id)
        .where(Coordinator.region_id.in_(above))
    ):
        coordinators.setdefault(region_id, set()).add(chat_id)
    of_site = {
        site_id: frozenset(
            volunteers.get(site_id, set()).union(
                *(coordinators.get(int(p), set()) for p in path.split("/") if p)
            )
        )
        for site_id, path in sites.items()
    }
    people = [
        select(Pairing.child_id, Volunteer.person_id)
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .where(Pairing.child_id.in_(child_ids)),
        select(Concern.child_id, Concern.raised_by).where(Concern.child_id.in_(child_ids)),
        select(Escalation.child_id, EscalationStep.recipient_id)
        .join(EscalationStep, EscalationStep.escalation_id == Escalation.id)
        .where(Escalation.child_id.in_(child_ids)),
        select(Escalation.child_id, IncidentStep.actor_id)
        .join(IncidentStep, IncidentStep.escalation_id == Escalation.id)
        .where(Escalation.child_id.in_(child_ids)),
    ]
    union = union_all(*people).subquery()
    extra: dict[int, set[str]] = {}
    for child_id, chat_id in await session.execute(
        select(union.c[0], chat).join(Account, Account.person_id == union.c[1])
    ):
        extra.setdefault(child_id, set()).add(chat_id)
    return {row.id: of_site[row.site_id] | frozenset(extra.get(row.id, ())) for row in children}


async def _erase(session: AsyncSession, child_ids: Sequence[int], *, at: dt.datetime) -> list[Path]:
    ids = literal(list(child_ids), ARRAY(Integer))
    of_children = CheckIn.child_id == func.any(ids)
    photos = (
        await session.scalars(
            delete(Photo)
            .where(Photo.checkin_id.in_(select(CheckIn.id).where(of_children)))
            .returning(Photo.stored_path)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await _null_out(session, CheckIn, of_children)
    await _null_out(session, Concern, Concern.child_id == func.any(ids))
    escalations = select(Escalation.id).where(Escalation.child_id == func.any(ids))
    await _null_out(session, IncidentStep, IncidentStep.escalation_id.in_(escalations))
    details: Any = Escalation.details
    for key in ESCALATION_DETAILS_ERASED:
        details = details.op("-")(key)
    await _run(
        update(Escalation)
        .where(Escalation.child_id == func.any(ids))
        .values({**_nulls("escalations"), "details": details}),
        session,
    )
    await _run(delete(Guardian).where(Guardian.child_id == func.any(ids)), session)
    await _run(delete(Parent).where(Parent.child_id == func.any(ids)), session)
    await _run(
        update(Child)
        .where(Child.id == func.any(ids))
        .values({**_nulls("children"), "name": ERASED, "forgotten_at": at}),
        session,
    )
    return [Path(path) for path in photos if path]


async def _null_out(session: AsyncSession, model: Any, where: Any) -> None:
    """Set the table's personal columns to NULL, in the rows that hold any."""
    table = model.__tablename__
    held = or_(*(getattr(model, column).is_not(None) for column in PERSONAL[table]))
    await _run(update(model).where(where, held).values(_nulls(table)), session)


async def _run(statement: Any, session: AsyncSession) -> None:
    # not fetching every row changed to bring the session in step: callers read anew
    await session.execute(statement.execution_options(synchronize_session=False))


def _nulls(table: str) -> dict[str, None]:
    return dict.fromkeys(PERSONAL[table])


async def _mask_outbox(
    session: AsyncSession, needles: dict[str, set[int]], told: dict[int, frozenset[str]]
) -> tuple[int, list[Path]]:
    """Mask the needles in the outbox messages to the chats told of their child (one pass,
    every needle at once), and hand back the files of documents already sent: a roster
    may list the child, and Telegram has its copy. Files of messages still to send stay
    until they are settled."""
    settled = (OutboxStatus.sent, OutboxStatus.failed)
    with_file = (OutboxMessage.status.in_(settled), OutboxMessage.content.has_key("attachment"))
    files = [
        Path(path)
        for path in await session.scalars(
            select(OutboxMessage.content["attachment"]["path"].astext).where(*with_file)
        )
    ]
    if files:
        await session.execute(
            update(OutboxMessage)
            .where(*with_file)
            .values(content=OutboxMessage.content.op("-")("attachment"))
            .execution_options(synchronize_session=False)
        )
    if not needles:
        return 0, files
    automaton = _automaton(needles)
    masked = 0
    after = 0
    while True:
        # read as JSON text: most messages name none of the children, and the automaton
        # says so in C; only those that do are decoded and masked
        page = (
            await session.execute(
                select(
                    OutboxMessage.id,
                    _address(OutboxMessage.channel, OutboxMessage.target),
                    cast(OutboxMessage.content, Text),
                )
                .where(OutboxMessage.id > after)
                .order_by(OutboxMessage.id)
                .limit(CHUNK)
            )
        ).all()
        if not page:
            return masked, files
        changed = []
        for message_id, chat_id, raw in page:
            to_chat = _to(chat_id, told)
            if any(to_chat(ids) for _end, (_length, ids) in automaton.iter(raw)):
                content = json.loads(raw)
                changed.append({"id": message_id, "content": _masked(content, automaton, to_chat)})
        if changed:
            await session.execute(
                update(OutboxMessage).execution_options(synchronize_session=False), changed
            )
            masked += len(changed)
        after = page[-1].id


Told = Callable[[frozenset[int]], bool]


def _address(channel: Any, target: Any) -> Any:
    """An address as one string, `channel:target`, alike for accounts and outbox rows."""
    return func.concat(channel, ":", target)


def _to(chat_id: str, told: dict[int, frozenset[str]]) -> Told:
    """Whether a chat was told of any of these children."""
    return lambda child_ids: any(chat_id in told.get(child, ()) for child in child_ids)


def _automaton(needles: dict[str, set[int]]) -> Any:
    """Every needle, and its form in JSON text where that differs (a quote, a backslash),
    so that a message's text finds it before it is decoded."""
    automaton = ahocorasick.Automaton()
    for needle, child_ids in needles.items():
        for form in {needle, json.dumps(needle, ensure_ascii=False)[1:-1]}:
            automaton.add_word(form, (len(form), frozenset(child_ids)))
    automaton.make_automaton()
    return automaton


def _masked(value: Any, automaton: Any, told: Told) -> Any:
    """`value` (a message's content) with every needle in its strings masked, where the
    chat was told of the needle's child."""
    if isinstance(value, str):
        spans = [
            (end - length + 1, end + 1)
            for end, (length, child_ids) in automaton.iter_long(value)
            if told(child_ids)
        ]
        if not spans:
            return value
        parts, start = [], 0
        for begin, end in spans:
            parts += [value[start:begin], ERASED]
            start = end
        return "".join([*parts, value[start:]])
    if isinstance(value, dict):
        return {key: _masked(item, automaton, told) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, automaton, told) for item in value]
    return value


async def _audit(
    session: AsyncSession,
    child_ids: Sequence[int],
    *,
    action: str,
    actor_id: int | None,
    at: dt.datetime,
    details: Any,
) -> None:
    """One audit entry per child, ids only, in one INSERT (thousands leave at once)."""
    if not child_ids:
        return
    await session.execute(
        insert(AuditEntry),
        [
            {
                "at": at,
                "action": action,
                "actor_id": actor_id,
                "subject_type": "child",
                "subject_id": child_id,
                "details": details(child_id),
            }
            for child_id in child_ids
        ],
    )


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
