"""A front that only records what it would send: the proof that a new front is one
channel kind, one renderer and one sender, with no change in the core.

- the channel kind: `CHANNEL`, the first half of its addresses;
- the renderer: `render`, content as plain text (no buttons: the actions as words);
- the sender: `RecordingSender`, a `domain.ports.OutboxSender` that drains the rows of
  its channel under its own pace and records (target, text, file) instead of sending.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.content import Content, plain_text
from domain.ports import DrainReport

CHANNEL = "recorded"


def render(content: Content) -> str:
    return plain_text(content)


@dataclass(frozen=True)
class Recorded:
    target: str
    text: str
    file: bytes | None  # an attachment's bytes, read from MEDIA_DIR at send time


class RecordingSender:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, media_dir: Path) -> None:
        self._sessionmaker = sessionmaker
        self._media_dir = media_dir
        self.sent: list[Recorded] = []

    async def drain(self, clock: Clock) -> DrainReport:
        report = DrainReport()
        while True:
            async with UnitOfWork(self._sessionmaker) as uow:
                claim = await outbox.claim_next(
                    uow.session,
                    channel=CHANNEL,
                    now=clock.now(),
                    rate=1000.0,
                    private_interval=0.0,
                    group_interval=0.0,
                )
                await uow.commit()
            if claim.row is None:
                if claim.wait is None:
                    return report
                await asyncio.sleep(claim.wait)  # the pace: the next slot opens then
                continue
            content = outbox.content(claim.row)
            attachment = content.attachment
            data = None if attachment is None else (self._media_dir / attachment.path).read_bytes()
            self.sent.append(Recorded(claim.row.target, render(content), data))
            async with UnitOfWork(self._sessionmaker) as uow:
                await outbox.mark_sent(
                    uow.session, claim.row.id, sent_ref=str(len(self.sent)), at=clock.now()
                )
                await uow.commit()
            report.sent += 1
