"""The outbox: every outgoing message is a row, written in the transaction that decides it.

A sender drains it under Telegram's limits. The life of a row:

    pending ──claim──▶ sending ──▶ sent        (Telegram answered with a message id)
       ▲                  │  ├──▶ failed      (refused for good: 400, 403, too many tries)
       └──── defer ───────┘  └──▶ uncertain   (the request may have reached Telegram)

A claim is committed moments (a fraction of a second) before the HTTP request goes
out, so `sending` means "the request may be on its way". A `sending` row whose claim
is older than `CLAIM_TIMEOUT` belongs to a sender that died mid-send: it is marked
`uncertain` and reported (logged, and counted in the sender's report), never resent
automatically, because resending could deliver it twice. `CLAIM_TIMEOUT` is far above
the longest a live sender holds a claim (one HTTP request, at most a minute).

Payloads are JSON. `sendMessage`: `text`, optional `parse_mode` and `reply_markup` (the
Bot API's JSON). `sendDocument` / `sendPhoto`: either `path` (relative to MEDIA_DIR,
where jobs write rosters and charts) or `file_id` (a file Telegram already has), and
optional `filename`, `caption`, `parse_mode`, `reply_markup`. Files are not copied into
the database: a path keeps rows small.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import BigInteger, and_, any_, exists, func, literal, not_, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Coordinator, OutboxMessage, OutboxStatus, Person, Region, Volunteer

CLAIM_TIMEOUT = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8  # with `backoff`, about eight minutes of retries before giving up


class Method(enum.StrEnum):
    send_message = "sendMessage"
    send_document = "sendDocument"
    send_photo = "sendPhoto"
    edit_message_text = "editMessageText"  # an earlier message of the chat, by its `message_id`


_COMMON = frozenset({"parse_mode", "reply_markup"})
_FIELDS = {
    Method.send_message: _COMMON | {"text"},
    Method.send_document: _COMMON | {"path", "file_id", "filename", "caption"},
    Method.send_photo: _COMMON | {"path", "file_id", "filename", "caption"},
    Method.edit_message_text: _COMMON | {"message_id", "text"},
}

# Literals, not bound parameters, so the planner can match the partial index `ix_outbox_due`
# even when asyncpg reuses a generic plan.
_PENDING = literal(OutboxStatus.pending.value, literal_execute=True)
_SENDING = literal(OutboxStatus.sending.value, literal_execute=True)


def check_payload(method: Method, payload: Mapping[str, Any]) -> None:
    """Refuse a payload the sender could not send; a caller's mistake, so a ValueError."""
    unknown = set(payload) - _FIELDS[method]
    if unknown:
        raise ValueError(f"{method} does not take {sorted(unknown)}")
    if method in (Method.send_message, Method.edit_message_text):
        if not isinstance(payload.get("text"), str) or not payload["text"]:
            raise ValueError(f"{method} needs a text")
        if method is Method.edit_message_text and not isinstance(payload.get("message_id"), int):
            raise ValueError("editMessageText needs the message_id of the message to edit")
        return
    if ("path" in payload) == ("file_id" in payload):
        raise ValueError(f"{method} needs exactly one of path and file_id")
    if "path" in payload:
        path = PurePosixPath(payload["path"])
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError("a path is relative to MEDIA_DIR and stays inside it")


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    method: Method,
    payload: Mapping[str, Any],
    not_before: dt.datetime,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a message; None when a message with this `dedupe_key` is already queued."""
    check_payload(method, payload)
    statement = (
        insert(OutboxMessage)
        .values(
            chat_id=chat_id,
            method=method.value,
            payload=dict(payload),
            not_before=not_before,
            dedupe_key=dedupe_key,
            status=OutboxStatus.pending,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage)
    )
    return await session.scalar(statement)


async def claim(
    session: AsyncSession,
    *,
    now: dt.datetime,
    limit: int,
    skip_chats: Collection[int] = (),
) -> list[OutboxMessage]:
    """Take up to `limit` due rows, oldest first, at most one per chat, leaving rows other
    senders hold.

    `skip_chats` are chats the caller may not write to yet (per-chat limits); one row per
    chat keeps a chat's messages in order. Commit at once, right before sending: the claim
    is what stops a second sender taking the row.
    """
    candidates = await session.execute(
        select(OutboxMessage.id, OutboxMessage.chat_id)
        .where(
            OutboxMessage.status == _PENDING,
            OutboxMessage.not_before <= now,
            not_(OutboxMessage.chat_id == any_(literal(list(skip_chats), ARRAY(BigInteger)))),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit * 3)  # room for a few chats with several rows due
        .with_for_update(skip_locked=True)
    )
    first_of_chat: dict[int, int] = {}
    for message_id, chat_id in candidates:
        first_of_chat.setdefault(chat_id, message_id)
    picked = list(first_of_chat.values())[:limit]
    if not picked:
        return []
    rows = await session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id == any_(literal(picked, ARRAY(BigInteger))))
        .values(
            status=OutboxStatus.sending,
            claimed_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(rows, key=lambda row: (row.not_before, row.id))


async def has_due(session: AsyncSession, *, now: dt.datetime) -> bool:
    """Whether any row could be sent now, whoever holds it."""
    query = select(
        exists().where(OutboxMessage.status == _PENDING, OutboxMessage.not_before <= now)
    )
    return bool(await session.scalar(query))


async def _finish(session: AsyncSession, message_id: int, **values: Any) -> bool:
    """Record the result of a claimed row; False if the row is no longer ours to settle."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == _SENDING)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_sent(
    session: AsyncSession, message_id: int, *, telegram_message_id: int, at: dt.datetime
) -> None:
    """Telegram took it. Also settles a row already declared uncertain: now we know."""
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_([OutboxStatus.sending, OutboxStatus.uncertain]),
        )
        .values(
            status=OutboxStatus.sent,
            sent_at=at,
            telegram_message_id=telegram_message_id,
            error=None,
        )
    )


async def mark_uncertain(session: AsyncSession, message_id: int, *, error: str) -> None:
    """The request may have reached Telegram (e.g. it timed out): never resent on its own."""
    await _finish(session, message_id, status=OutboxStatus.uncertain, error=error[:255])


async def mark_failed(session: AsyncSession, message_id: int, *, error: str) -> None:
    await _finish(session, message_id, status=OutboxStatus.failed, error=error[:255])


async def defer(session: AsyncSession, message_id: int, *, until: dt.datetime, error: str) -> None:
    """Telegram did not take it but will later (429, 5xx, no connection): back to pending."""
    await _finish(
        session,
        message_id,
        status=OutboxStatus.pending,
        not_before=until,
        claimed_at=None,
        error=error[:255],
    )


async def release(session: AsyncSession, message_id: int) -> None:
    """Put a claimed row back as it was: the attempt failed for a reason not the row's."""
    await _finish(
        session,
        message_id,
        status=OutboxStatus.pending,
        claimed_at=None,
        attempts=OutboxMessage.attempts - 1,
    )


def backoff(attempts: int) -> dt.timedelta:
    """Wait before retry number `attempts`: 2, 4, 8 … seconds, at most five minutes."""
    return dt.timedelta(seconds=min(2**attempts, 300))


async def mark_blocked(
    session: AsyncSession, message_id: int, *, chat_id: int, at: dt.datetime, error: str
) -> None:
    """403: the person blocked the bot. Fail the row and remember since when they are
    unreachable, so their coordinator hears of it in the next digest."""
    await mark_failed(session, message_id, error=error)
    await session.execute(
        update(Person)
        .where(Person.telegram_id == chat_id, Person.unreachable_at.is_(None))
        .values(unreachable_at=at)
    )


async def expire_claims(session: AsyncSession, *, now: dt.datetime) -> list[int]:
    """Declare uncertain the rows whose sender died mid-send; returns their ids."""
    rows = await session.scalars(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == _SENDING,
            OutboxMessage.claimed_at < now - CLAIM_TIMEOUT,
        )
        .values(
            status=OutboxStatus.uncertain,
            error="the sender stopped before Telegram answered; not resent",
        )
        .returning(OutboxMessage.id)
    )
    return sorted(rows)


@dataclass(frozen=True)
class Unreachable:
    person_id: int
    name: str
    since: dt.datetime


async def unreachable_since(
    session: AsyncSession, *, region_path: str, since: dt.datetime
) -> list[Unreachable]:
    """Volunteers and coordinators within a scope who blocked the bot since `since`."""
    within = Region.path.startswith(region_path, autoescape=True)
    volunteer = and_(
        Volunteer.person_id == Person.id,
        Volunteer.removed_at.is_(None),
        Volunteer.site_id == Region.id,
    )
    coordinator = and_(
        Coordinator.person_id == Person.id,
        Coordinator.removed_at.is_(None),
        Coordinator.region_id == Region.id,
    )
    in_scope = or_(
        exists().where(volunteer, within),
        exists().where(coordinator, within),
    )
    rows = await session.execute(
        select(Person.id, Person.name, Person.unreachable_at)
        .where(Person.unreachable_at >= since, in_scope)
        .order_by(Person.unreachable_at, Person.id)
    )
    return [Unreachable(person_id=i, name=n, since=s) for i, n, s in rows if s is not None]


async def count_by_status(session: AsyncSession) -> dict[OutboxStatus, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: int(count) for status, count in rows.all()}
