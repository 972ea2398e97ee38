"""A front that only records what it would send: the proof that a new front is one
channel kind, one renderer and one sender, with no change in the core.

- the channel kind: `CHANNEL`, the first half of its addresses;
- the renderer: `render`, content as plain text (no buttons: the actions as words);
- the sender: a `domain.delivery.sending.PacedSender` whose delivery records (target,
  text, file) instead of sending, or fails as a test tells it to (`fail_next`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.delivery.addresses import Address
from domain.delivery.content import Content, plain_text
from domain.delivery.sending import PacedSender

CHANNEL = "recorded"


def render(content: Content) -> str:
    return plain_text(content)


@dataclass(frozen=True)
class Recorded:
    target: str
    text: str
    file: bytes | None  # an attachment's bytes, read from MEDIA_DIR at send time


class RecordingFront:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, media_dir: Path) -> None:
        self._media_dir = media_dir
        self.sent: list[Recorded] = []
        self._failures: list[Exception] = []
        self.sender = PacedSender(sessionmaker, CHANNEL, self.deliver, rate=1000.0)

    def fail_next(self, *errors: Exception) -> None:
        """The next deliveries raise these, in turn, instead of recording."""
        self._failures.extend(errors)

    async def deliver(self, to: Address, content: Content, key: str) -> str:
        if self._failures:
            raise self._failures.pop(0)
        attachment = content.attachment
        data = None if attachment is None else (self._media_dir / attachment.path).read_bytes()
        self.sent.append(Recorded(to.target, render(content), data))
        return str(len(self.sent))
