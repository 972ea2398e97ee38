"""The outbox: every outgoing message is a row, written in the transaction that decides it.

A row holds an address (a channel and a target in it: a Telegram chat, a Matrix room, a
group's robot), the content (`domain.delivery.content`, as JSON: what to say, never how
a front says it) and a dedupe key. Each channel's sender drains its own rows under its
own limits and renders them at send time. The life of a row:

    pending ──claim──▶ sending ──▶ sent        (the front took it: `sent_ref` is its id)
       ▲                  │  ├──▶ failed      (refused for good: 400, 403, too many tries)
       └──── defer ───────┘  └──▶ uncertain   (the request may have reached the front)

A sender claims a row only when its request is about to leave (`claim_next`: the pace
allows a request now), and commits the claim right before the request goes out, so
`sending` means "the request may be on its way". A `sending` row whose claim is older
than `CLAIM_TIMEOUT` belongs to a sender that died mid-send: it is marked `uncertain`
and reported (logged, counted in the sender's report, listed by `guanai outbox
uncertain`), never resent automatically, because resending could deliver it twice; the
operator resends or drops it (`resend`, `drop`). `CLAIM_TIMEOUT` is far above the
longest a live sender holds a claim (one request, at most a minute).

An address's messages go in order (by id): a row is claimed only when no other row of
its address is on its way and no earlier one waits, whether due or deferred after a try
(429, 5xx). Rows queued for a later time that were never tried do not hold it up.

The pace is shared by every sender process of a channel through `outbox_pace`, in the
database's clock: channel-wide (target `CHANNEL_WIDE`), the times of the last requests
(at most `round(rate)` in a window a little over a second) and when the next may go,
which a 429 pushes `retry_after` on (`pause`); and per target, when it may be written to
again (targets that name a group start with "-", as Telegram's do, and wait longer).

A file goes as a path relative to MEDIA_DIR (where jobs write rosters and charts), not
copied into the database: a path keeps rows small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.delivery.addresses import Address
from domain.delivery.content import Content
from domain.errors import DomainError
from domain.models import (
    Account,
    Channel,
    Coordinator,
    OutboxMessage,
    OutboxPace,
    OutboxStatus,
    Person,
    Region,
    Volunteer,
)
from domain.people import accounts

CLAIM_TIMEOUT = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8  # with `backoff`, about eight minutes of retries before giving up
FRONT = "front"  # the key of a row's front-only data in `content` (a robot's progress)
CHANNEL_WIDE = ""  # `outbox_pace.target` of a channel's own slot: no target is empty
# The channel-wide pace: at most `round(rate)` requests in any `WINDOW` seconds (a little
# over one, for the jitter between our clock and the front's count), and at least
# `GAP_SHARE` of the mean interval between two, so a late request is made up for by the
# next one without a burst.
WINDOW = 1.02
GAP_SHARE = 0.75
PACE_KEPT = dt.timedelta(minutes=1)  # a target's pace is forgotten this long after it frees


class NoSuchOutboxRow(DomainError):
    message = "There is no outbox message {id}; nothing was changed."


class NotUncertain(DomainError):
    message = "Outbox message {id} is not uncertain; nothing was changed."


def address(row: OutboxMessage) -> Address:
    return Address(row.channel, row.target)


def content(row: OutboxMessage) -> Content:
    return Content.from_json(row.content)


def front_data(row: OutboxMessage) -> dict[str, Any]:
    return dict(row.content.get(FRONT) or {})


async def set_front_data(session: AsyncSession, message_id: int, data: Mapping[str, Any]) -> None:
    """Keep what the front needs next time (how many of a message's parts went)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            content=OutboxMessage.content.op("||")(
                bindparam("front", {FRONT: dict(data)}, type_=JSONB)
            )
        )
    )


# Literals, not bound parameters, so the planner can match the partial index `ix_outbox_due`
# even when asyncpg reuses a generic plan.
_PENDING = literal(OutboxStatus.pending.value, literal_execute=True)
_SENDING = literal(OutboxStatus.sending.value, literal_execute=True)


def _first_of_its_address(now: dt.datetime) -> ColumnElement[bool]:
    """No other row of the row's address is on its way, and no earlier one waits to go
    first (due, or deferred after a try); read off `ix_outbox_chat_unsettled`."""
    other = aliased(OutboxMessage, name="other")
    return not_(
        exists().where(
            other.channel == OutboxMessage.channel,
            other.target == OutboxMessage.target,
            other.status.in_([_PENDING, _SENDING]),
            other.id != OutboxMessage.id,
            or_(
                other.status == _SENDING,
                and_(
                    other.id < OutboxMessage.id,
                    or_(other.attempts > 0, other.not_before <= now),
                ),
            ),
        )
    )


def _cooling() -> ColumnElement[bool]:
    """The row's target was written to too recently (its own limit), by any sender."""
    return exists().where(
        OutboxPace.channel == OutboxMessage.channel,
        OutboxPace.target == OutboxMessage.target,
        OutboxPace.free_at > func.clock_timestamp(),
    )


def _due(now: dt.datetime, channel: str | None = None) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.status == _PENDING,
        OutboxMessage.not_before <= now,
        *([] if channel is None else [OutboxMessage.channel == channel]),
        _first_of_its_address(now),
    )


async def enqueue(
    session: AsyncSession,
    *,
    to: Address,
    content: Content,
    not_before: dt.datetime,
    dedupe_key: str | None = None,
    front: Mapping[str, Any] | None = None,
) -> OutboxMessage | None:
    """Queue a message; None when a message with this `dedupe_key` is already queued.
    `front` is what only the address's front reads, kept beside the content (`FRONT`)."""
    statement = (
        insert(OutboxMessage)
        .values(_row(to, content, not_before, dedupe_key, front=front))
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage)
    )
    return await session.scalar(statement)


async def enqueue_many(session: AsyncSession, messages: Sequence[Enqueued]) -> dict[str, int]:
    """Queue many messages in a few statements (a district's Monday is thousands of them);
    returns the new rows' ids by dedupe key, leaving out keys that were queued before."""
    queued: dict[str, int] = {}
    for start in range(0, len(messages), _MANY):
        rows = [
            _row(m.to, m.content, m.not_before, m.dedupe_key)
            for m in messages[start : start + _MANY]
        ]
        result = await session.execute(
            insert(OutboxMessage)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
            .returning(OutboxMessage.dedupe_key, OutboxMessage.id)
        )
        queued.update((key, id_) for key, id_ in result if key is not None)
    return queued


@dataclass(frozen=True)
class Enqueued:
    """One message for `enqueue_many`: `enqueue`'s arguments, the dedupe key required
    (it is what tells the new rows' ids apart)."""

    to: Address
    content: Content
    not_before: dt.datetime
    dedupe_key: str


_MANY = 1_000  # rows per statement: 7 parameters each, PostgreSQL allows 32767


def _row(
    to: Address,
    content: Content,
    not_before: dt.datetime,
    dedupe_key: str | None,
    *,
    front: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "channel": to.channel,
        "target": to.target,
        "content": content.to_json() | ({FRONT: dict(front)} if front else {}),
        "not_before": not_before,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.pending,
        "attempts": 0,
    }


async def claim(
    session: AsyncSession,
    *,
    now: dt.datetime,
    limit: int,
    skip: Collection[Address] = (),
) -> list[OutboxMessage]:
    """Take up to `limit` due rows, oldest first, each the first of its address, leaving
    rows other senders hold and targets still cooling down.

    `skip` are further addresses the caller may not write to yet. Commit at once, right
    before sending: the claim is what stops a second sender taking the row. Takes no
    pace: a sender claims through `claim_next`.
    """
    candidates = await session.execute(
        select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.target)
        .where(
            _due(now),
            not_(_cooling()),
            not_(
                tuple_(OutboxMessage.channel, OutboxMessage.target).in_(
                    [(a.channel, a.target) for a in skip]
                )
            ),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit * 3)  # room for rows that turn out to be locked by another sender
        .with_for_update(of=OutboxMessage, skip_locked=True)
    )
    first_of_address: dict[tuple[str, str], int] = {}
    for message_id, channel, target in candidates:
        first_of_address.setdefault((channel, target), message_id)
    picked = list(first_of_address.values())[:limit]
    if not picked:
        return []
    rows = await session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(picked))
        .values(
            status=OutboxStatus.sending,
            claimed_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(rows, key=lambda row: (row.not_before, row.id))


@dataclass(frozen=True)
class Claim:
    """What `claim_next` found: a row to send now, or how long to wait before asking again
    (`wait` seconds), or nothing to send (neither)."""

    row: OutboxMessage | None = None
    wait: float | None = None


async def claim_next(
    session: AsyncSession,
    *,
    channel: str,
    now: dt.datetime,
    rate: float,
    private_interval: float,
    group_interval: float,
) -> Claim:
    """Claim the channel's next row if its shared pace allows a request now, taking the slot.

    The pace: at most `round(rate)` claims in any `WINDOW` seconds, and `GAP_SHARE /
    rate` seconds at least between two. A claim late for its slot (the process was
    busy) is made up by the next one, within the window. Per target, `private_interval`
    or `group_interval` (targets starting with "-") between two.

    One statement, written once (`_CLAIM`): at 29 a second the time a claim takes sets
    the sender's cadence. It locks the channel-wide slot, so a channel's senders claim
    one at a time, then claims the first row that may go (`claim`'s rules) and moves the
    pace on. Commit at once and send: a claimed row never waits for the pace. `wait`
    says when the next slot opens.
    """
    burst = max(round(rate), 1)
    params = {
        "channel": channel,
        "now": now,
        "burst": burst,
        "window": WINDOW,
        "gap": GAP_SHARE / rate,
        "private_interval": private_interval,
        "group_interval": group_interval,
    }
    found = (await session.execute(_CLAIM, params)).first()
    if found is None:  # no channel-wide slot yet (a new database): make it, then claim
        await session.execute(
            insert(OutboxPace)
            .values(
                channel=channel,
                target=CHANNEL_WIDE,
                free_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                recent=[],
            )
            .on_conflict_do_nothing(index_elements=[OutboxPace.channel, OutboxPace.target])
        )
        found = (await session.execute(_CLAIM, params)).one()
    db_now: dt.datetime = found.db_now
    if found.id is not None:
        row = OutboxMessage(
            id=found.id,
            channel=channel,
            target=found.target,
            content=found.content,
            dedupe_key=found.dedupe_key,
            status=OutboxStatus.sending,
            not_before=found.not_before,
            attempts=found.attempts,
            claimed_at=now,
        )
        next_opening = opens_at(found.next_free, found.next_recent, burst)
        return Claim(row=row, wait=max((next_opening - db_now).total_seconds(), 0.0))
    if found.opens_at > db_now:
        return Claim(wait=(found.opens_at - db_now).total_seconds())
    # Due rows whose targets cool down: ask again when the first of them frees.
    soonest = await session.scalar(
        select(func.min(OutboxPace.free_at)).where(
            OutboxPace.channel == channel,
            OutboxPace.target.in_(select(OutboxMessage.target).where(_due(now, channel))),
            OutboxPace.free_at > db_now,
        )
    )
    return Claim(wait=None if soonest is None else (soonest - db_now).total_seconds())


def opens_at(free_at: dt.datetime, recent: list[dt.datetime], burst: int) -> dt.datetime:
    """When the next claim may be made, given the channel-wide `free_at` and the times of
    the last claims (`recent`, oldest first): as `_CLAIM`'s `gate` reckons it."""
    if len(recent) < burst:
        return free_at
    return max(free_at, recent[-burst] + dt.timedelta(seconds=WINDOW))


# The rules of `claim` (first of its address, target not cooling) plus the pace, as one
# statement. Text, not built with the ORM: building and compiling that took 10 ms of
# Python a claim, a third of the 34 ms between two requests. `recent` holds the times of
# the last `burst` claims, oldest first.
_CLAIM = text(
    """
WITH slot AS (
    SELECT free_at, coalesce(recent, '{}') AS recent, clock_timestamp() AS db_now
    FROM outbox_pace WHERE channel = CAST(:channel AS varchar) AND target = ''
    FOR UPDATE
), gate AS (
    SELECT free_at, recent, db_now,
        CASE WHEN cardinality(recent) < CAST(:burst AS int) THEN free_at
            ELSE greatest(free_at, recent[cardinality(recent) + 1 - CAST(:burst AS int)]
                + make_interval(secs => CAST(:window AS float8)))
        END AS opens_at
    FROM slot
), pick AS (
    SELECT outbox.id FROM outbox
    WHERE (SELECT gate.opens_at <= gate.db_now FROM gate)
      AND outbox.status = 'pending'
      AND outbox.not_before <= CAST(:now AS timestamptz)
      AND outbox.channel = CAST(:channel AS varchar)
      AND NOT EXISTS (
          SELECT FROM outbox AS other
          WHERE other.channel = outbox.channel AND other.target = outbox.target
            AND other.status IN ('pending', 'sending')
            AND other.id <> outbox.id
            AND (other.status = 'sending'
                 OR other.id < outbox.id
                    AND (other.attempts > 0 OR other.not_before <= CAST(:now AS timestamptz))))
      AND NOT EXISTS (
          SELECT FROM outbox_pace AS pace
          WHERE pace.channel = outbox.channel AND pace.target = outbox.target
            AND pace.free_at > clock_timestamp())
    ORDER BY outbox.not_before, outbox.id
    LIMIT 1
    FOR UPDATE OF outbox SKIP LOCKED
), claimed AS (
    UPDATE outbox
    SET status = 'sending', claimed_at = CAST(:now AS timestamptz), attempts = outbox.attempts + 1
    FROM pick WHERE outbox.id = pick.id
    RETURNING outbox.id, outbox.target, outbox.content, outbox.dedupe_key,
        outbox.not_before, outbox.attempts
), paced AS (
    INSERT INTO outbox_pace (channel, target, free_at, recent)
    SELECT CAST(:channel AS varchar), '', gate.db_now + make_interval(secs => CAST(:gap AS float8)),
        (gate.recent || gate.db_now)[
            greatest(cardinality(gate.recent) + 2 - CAST(:burst AS int), 1):]
    FROM gate, claimed
    UNION ALL
    SELECT CAST(:channel AS varchar), claimed.target,
        gate.db_now + make_interval(secs => CASE WHEN claimed.target LIKE '-%'
        THEN CAST(:group_interval AS float8) ELSE CAST(:private_interval AS float8) END), NULL
    FROM gate, claimed
    ON CONFLICT (channel, target) DO UPDATE SET free_at = excluded.free_at, recent = excluded.recent
    RETURNING target, free_at, recent
)
SELECT gate.opens_at, gate.db_now,
    (SELECT paced.free_at FROM paced WHERE paced.target = '') AS next_free,
    (SELECT paced.recent FROM paced WHERE paced.target = '') AS next_recent,
    claimed.*
FROM gate LEFT JOIN claimed ON true
"""
)


async def pause(session: AsyncSession, *, channel: str, seconds: float) -> None:
    """The front said to wait (429): no sender of the channel writes to anyone for
    `seconds` from now."""
    statement = insert(OutboxPace).values(
        channel=channel,
        target=CHANNEL_WIDE,
        free_at=func.clock_timestamp() + dt.timedelta(seconds=seconds),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[OutboxPace.channel, OutboxPace.target],
            set_={"free_at": func.greatest(OutboxPace.free_at, statement.excluded.free_at)},
        )
    )


async def forget_old_pace(session: AsyncSession) -> None:
    """Drop the pace of targets that freed a while ago; the channel-wide slots stay."""
    await session.execute(
        delete(OutboxPace).where(
            OutboxPace.target != CHANNEL_WIDE,
            OutboxPace.free_at < func.clock_timestamp() - PACE_KEPT,
        )
    )


async def has_due(session: AsyncSession, *, now: dt.datetime, channel: str | None = None) -> bool:
    """Whether any row (of the channel) could be sent now (pace aside), whoever holds it."""
    query = select(exists().where(_due(now, channel)))
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
    session: AsyncSession, message_id: int, *, sent_ref: str | None, at: dt.datetime
) -> None:
    """The front took it (`sent_ref`: its id of the message, to edit it later). Also
    settles a row already declared uncertain: now we know."""
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_([OutboxStatus.sending, OutboxStatus.uncertain]),
        )
        .values(
            status=OutboxStatus.sent,
            sent_at=at,
            sent_ref=sent_ref,
            error=None,
        )
    )


async def mark_uncertain(session: AsyncSession, message_id: int, *, error: str) -> None:
    """The request may have reached the front (e.g. it timed out): never resent on its own."""
    await _finish(session, message_id, status=OutboxStatus.uncertain, error=error[:255])


async def mark_failed(session: AsyncSession, message_id: int, *, error: str) -> None:
    await _finish(session, message_id, status=OutboxStatus.failed, error=error[:255])


async def defer(session: AsyncSession, message_id: int, *, until: dt.datetime, error: str) -> None:
    """The front did not take it but will later (429, 5xx, no connection): back to pending."""
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
    session: AsyncSession, message_id: int, *, to: Address, at: dt.datetime, error: str
) -> None:
    """403: the person blocked the bot. Fail the row and remember since when their account
    is unreachable, so their coordinator hears of it in the next digest."""
    await mark_failed(session, message_id, error=error)
    if to.channel in {channel.value for channel in Channel}:  # a person's chat, not a group's
        await accounts.mark_unreachable(session, Channel(to.channel), to.target, at=at)


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
            error="the sender stopped before the front answered; not resent",
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
    """Volunteers and coordinators within a scope who blocked the bot since `since` (on the
    channel the outbox sends on)."""
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
        select(Person.id, Person.name, Account.unreachable_at)
        .join(Account, Account.person_id == Person.id)
        .where(Account.channel == Channel.telegram, Account.unreachable_at >= since, in_scope)
        .order_by(Account.unreachable_at, Person.id)
    )
    return [Unreachable(person_id=i, name=n, since=s) for i, n, s in rows if s is not None]


async def count_by_status(session: AsyncSession) -> dict[OutboxStatus, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: int(count) for status, count in rows.all()}


@dataclass(frozen=True)
class UncertainMessage:
    """A message that may or may not have arrived; ids only, never its text."""

    id: int
    to: Address
    kind: str  # message, picture, document or edit, and its dedupe key's first word
    at: dt.datetime  # when its request went out


def kind_of(content: Content) -> str:
    if content.replaces is not None:
        return "edit"
    if content.attachment is not None:
        return content.attachment.kind.value
    return "message"


async def uncertain(session: AsyncSession) -> list[UncertainMessage]:
    rows = await session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.target,
            OutboxMessage.content,
            OutboxMessage.dedupe_key,
            func.coalesce(OutboxMessage.claimed_at, OutboxMessage.created_at),
        )
        .where(OutboxMessage.status == OutboxStatus.uncertain)
        .order_by(OutboxMessage.id)
    )
    found = []
    for id_, channel, target, data, key, at in rows:
        kind = kind_of(Content.from_json(data))
        found.append(
            UncertainMessage(
                id=id_,
                to=Address(channel, target),
                kind=f"{kind} {key.partition(':')[0]}" if key else kind,
                at=at,
            )
        )
    return found


async def _uncertain_ids(session: AsyncSession, ids: Sequence[int]) -> list[int]:
    """The rows, locked; refuses the lot if one is missing or not uncertain."""
    result = await session.execute(
        select(OutboxMessage.id, OutboxMessage.status)
        .where(OutboxMessage.id.in_(ids))
        .with_for_update()
    )
    found = {message_id: status for message_id, status in result}
    for message_id in ids:
        if message_id not in found:
            raise NoSuchOutboxRow(id=message_id)
        if found[message_id] is not OutboxStatus.uncertain:
            raise NotUncertain(id=message_id)
    return sorted(set(ids))


async def resend(session: AsyncSession, ids: Sequence[int], *, now: dt.datetime) -> list[int]:
    """The operator's word: these uncertain messages did not arrive; send them again."""
    chosen = await _uncertain_ids(session, ids)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen))
        .values(status=OutboxStatus.pending, not_before=now, claimed_at=None, error=None)
    )
    return chosen


async def drop(session: AsyncSession, ids: Sequence[int]) -> list[int]:
    """The operator's word: never send these uncertain messages (they arrived, or no
    longer matter)."""
    chosen = await _uncertain_ids(session, ids)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen))
        .values(status=OutboxStatus.failed, error="dropped by the operator")
    )
    return chosen
