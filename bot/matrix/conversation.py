"""What the Matrix bot answers, in the person's language (Chinese first).

Until a person can be known by their Matrix id (accounts per channel), everyone who
writes is a stranger and gets the same polite answer as a stranger on Telegram: the bot
is for invited volunteers and staff, and how to get an invitation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.language import DEFAULT_LOCALE, catalogue


@dataclass(frozen=True)
class IncomingText:
    """A text message someone sent the bot; ids only in logs, never the body. `body` is
    None for a message the bot's device could not decrypt."""

    room_id: str
    sender: str
    event_id: str
    body: str | None


async def answer(session: AsyncSession, message: IncomingText) -> Sequence[str]:
    zh = catalogue(DEFAULT_LOCALE)
    if message.body is None:
        return [
            zh.gettext(
                "I could not read that message: it was encrypted before I could take part. "
                "Please send it again."
            )
        ]
    return [
        zh.gettext(
            "This bot is only for invited volunteers and staff. Ask your school's or "
            "village's care office for an invitation link."
        )
    ]
