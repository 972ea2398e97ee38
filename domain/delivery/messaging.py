"""Who a message goes to, where, and a built message on its way into the outbox.

Services decide what to say and to whom; the message is built in the recipient's
language (`Outgoing`: content, and the bytes of a file until it is stored) and queued in
the same transaction as the rows that decided it. A front renders it at send time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import ARRAY, Integer, any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery import outbox
from domain.delivery.addresses import Address, belongs_to, of_account, preferred
from domain.delivery.content import Attachment, AttachmentKind, Content
from domain.models import Account, OutboxMessage, Person


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    name: str
    language: str | None
    address: Address | None  # None: the person has no chat the bot can write to
    unreachable: bool  # blocked the bot (403) or never started it

    @property
    def reachable(self) -> bool:
        return self.address is not None and not self.unreachable


@dataclass(frozen=True)
class File:
    """A file made for a message (a workbook, a chart), stored under MEDIA_DIR when queued."""

    kind: AttachmentKind
    name: str  # as the reader sees it
    data: bytes
    extension: str  # ".xlsx", ".png": the stored file's name ends so


@dataclass(frozen=True)
class Outgoing:
    content: Content
    file: File | None = None


async def reader_at(session: AsyncSession, address: Address) -> Person | None:
    """The person an address belongs to, if any (a group's address belongs to nobody)."""
    return await session.scalar(
        select(Person).join(Account, Account.person_id == Person.id).where(belongs_to(address))
    )


async def recipients(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, Recipient]:
    wanted = set(person_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Person, Account)
        .outerjoin(Account, Account.person_id == Person.id)
        # an array, not an IN list: a district's 1st asks for thousands of people
        .where(Person.id == any_(literal(sorted(wanted), ARRAY(Integer))))
    )
    people: dict[int, Person] = {}
    accounts: dict[int, list[Account]] = {}
    for person, account in rows:
        people[person.id] = person
        accounts.setdefault(person.id, []).extend([account] if account else [])
    return {
        person.id: _recipient(person, preferred(accounts[person.id])) for person in people.values()
    }


def _recipient(person: Person, account: Account | None) -> Recipient:
    return Recipient(
        person_id=person.id,
        name=person.name,
        language=person.language,
        address=None if account is None else of_account(account),
        unreachable=account is None or account.unreachable_at is not None,
    )


async def queue(
    session: AsyncSession,
    *,
    to: Recipient,
    message: Outgoing,
    not_before: dt.datetime,
    dedupe_key: str,
    media_dir: Path,
) -> OutboxMessage | None:
    """Queue one message, its file written first (`store`). None when the key was queued
    before."""
    return await outbox.enqueue(
        session,
        to=_address(to),
        content=_stored(message, dedupe_key, media_dir),
        not_before=not_before,
        dedupe_key=dedupe_key,
    )


async def queue_many(
    session: AsyncSession,
    messages: Sequence[tuple[Recipient, Outgoing, dt.datetime, str]],
    *,
    media_dir: Path,
) -> dict[str, int]:
    """`queue` for many messages, (to, message, not_before, dedupe_key) each, in a few
    statements; returns the new outbox rows' ids by dedupe key (keys queued before left
    out)."""
    return await outbox.enqueue_many(
        session,
        [
            outbox.Enqueued(
                to=_address(to),
                content=_stored(message, dedupe_key, media_dir),
                not_before=not_before,
                dedupe_key=dedupe_key,
            )
            for to, message, not_before, dedupe_key in messages
        ],
    )


def _address(to: Recipient) -> Address:
    assert to.address is not None, "only reachable recipients are queued"
    return to.address


def _stored(message: Outgoing, dedupe_key: str, media_dir: Path) -> Content:
    """The message's content, its file (if any) written under MEDIA_DIR and attached."""
    if message.file is None:
        return message.content
    return replace(message.content, attachment=store(message.file, dedupe_key, media_dir))


def store(file: File, dedupe_key: str, media_dir: Path) -> Attachment:
    """Write a message's file under MEDIA_DIR, named by its dedupe key, so a rerun
    overwrites rather than piles up."""
    relative = Path("outbox") / (dedupe_key.replace(":", "/") + file.extension)
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(file.data)
    return Attachment(file.kind, relative.as_posix(), file.name)
