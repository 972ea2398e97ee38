"""Who a message goes to, and a rendered message on its way into the outbox.

Services decide what to say and to whom; the texts are rendered by the chat front
(`bot/notices.py`) in the recipient's language and handed back as `Outgoing`, which the
service queues in the same transaction as the rows that decided it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, Integer, and_, any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery import outbox
from domain.models import Account, Channel, OutboxMessage, Person


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    name: str
    language: str | None
    chat_id: int | None
    unreachable: bool  # blocked the bot (403) or never started it

    @property
    def reachable(self) -> bool:
        return self.chat_id is not None and not self.unreachable


@dataclass(frozen=True)
class Outgoing:
    """A rendered message; a document or photo carries its bytes until it is queued."""

    method: outbox.Method
    payload: dict[str, Any]
    content: bytes | None = None
    extension: str = field(default="")  # ".xlsx", ".png": the stored file's name ends so


async def recipients(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, Recipient]:
    wanted = set(person_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            Person.id,
            Person.name,
            Person.language,
            Account.external_id,
            Account.unreachable_at,
            Account.person_id,
        )
        .outerjoin(
            Account, and_(Account.person_id == Person.id, Account.channel == Channel.telegram)
        )
        # an array, not an IN list: a district's 1st asks for thousands of people
        .where(Person.id == any_(literal(sorted(wanted), ARRAY(Integer))))
    )
    return {
        person_id: Recipient(
            person_id=person_id,
            name=name,
            language=language,
            # the outbox sends on Telegram today, where a user's id is their chat's
            chat_id=int(external_id) if has_account else None,
            unreachable=has_account is None or unreachable_at is not None,
        )
        for person_id, name, language, external_id, unreachable_at, has_account in rows
    }


async def queue(
    session: AsyncSession,
    *,
    to: Recipient,
    message: Outgoing,
    not_before: dt.datetime,
    dedupe_key: str,
    media_dir: Path,
) -> OutboxMessage | None:
    """Queue one message; a file is written under MEDIA_DIR first, named by the dedupe key
    so a rerun overwrites rather than piles up. None when the key was queued before."""
    return await outbox.enqueue(
        session,
        chat_id=_chat_of(to),
        method=message.method,
        payload=_payload(message, dedupe_key, media_dir),
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
                chat_id=_chat_of(to),
                method=message.method,
                payload=_payload(message, dedupe_key, media_dir),
                not_before=not_before,
                dedupe_key=dedupe_key,
            )
            for to, message, not_before, dedupe_key in messages
        ],
    )


def _chat_of(to: Recipient) -> int:
    assert to.chat_id is not None, "only reachable recipients are queued"
    return to.chat_id


def _payload(message: Outgoing, dedupe_key: str, media_dir: Path) -> dict[str, Any]:
    payload = dict(message.payload)
    if message.content is not None:
        relative = Path("outbox") / (dedupe_key.replace(":", "/") + message.extension)
        target = media_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(message.content)
        payload["path"] = relative.as_posix()
    return payload
