"""A channel's sender, whatever the front: claim the channel's next row under its pace,
hand its address and content to the front's `Deliver`, record what happened.

One request at a time, which suits a group robot's webhook or a Matrix homeserver; the
Telegram front has its own sender (`bot/telegram/sender.py`), which keeps up to 16
requests in flight to reach 29 a second. What a `Deliver` says, and what follows:

- returns the front's id of the message (or None): sent;
- raises `Deferred`: not taken, but will be later (rate limit, server error, no
  connection); retried after `retry_after`, and a rate limit pauses the whole channel;
- raises `Refused`: refused for good (a bad request): failed; `Blocked`: the person cannot
  be reached there any more, marked unreachable;
- raises anything else: the request may have arrived: uncertain, never resent by itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.addresses import Address
from domain.delivery.content import Content
from domain.models import OutboxMessage
from domain.ports import DrainReport

log = logging.getLogger(__name__)

DRAIN_BUDGET = 50.0  # seconds one drain may take; the next cron run carries on

#: What a front does with one message: send it, return its id of it (`sent_ref`). The
#: third argument is the row's key, the same on every try: a front whose server dedupes
#: by one (a Matrix transaction id) sends the row once however often it is tried.
Deliver = Callable[[Address, Content, str], Awaitable[str | None]]


def row_key(row: OutboxMessage) -> str:
    return f"guanai.outbox.{row.id}"


class Deferred(Exception):
    def __init__(self, reason: str, *, retry_after: float | None = None, limited: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after  # None: back off by the row's attempts
        self.limited = limited  # the channel's rate limit: every sender of it waits


class Refused(Exception):
    """The front refused the message for good."""


class Blocked(Refused):
    """The person blocked the bot or left the room: unreachable there."""


class PacedSender:
    """Drains one channel's rows, one request at a time, under the channel's pace
    (`rate` requests a second at most, `interval` seconds between two to one target,
    `group_interval` to a group's)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        channel: str,
        deliver: Deliver,
        *,
        rate: float,
        interval: float = 0.0,
        group_interval: float | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.channel = channel
        self._deliver = deliver
        self._rate = rate
        self._interval = interval
        self._group_interval = interval if group_interval is None else group_interval
        self._draining = asyncio.Lock()

    async def drain(self, clock: Clock, *, budget: float = DRAIN_BUDGET) -> DrainReport:
        """Send what is due until nothing is or `budget` seconds have passed; a drain
        already running in this process makes a second one return at once."""
        report = DrainReport()
        if self._draining.locked():
            return report
        async with self._draining:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + budget
            while loop.time() < deadline:
                async with UnitOfWork(self._sessionmaker) as uow:
                    claim = await outbox.claim_next(
                        uow.session,
                        channel=self.channel,
                        now=clock.now(),
                        rate=self._rate,
                        private_interval=self._interval,
                        group_interval=self._group_interval,
                    )
                    await uow.commit()
                if claim.row is not None:
                    await self._send(claim.row, clock, report)
                elif claim.wait is None:
                    break
                else:  # the pace, a paused channel or a cooling target: its next slot
                    await asyncio.sleep(min(claim.wait, max(deadline - loop.time(), 0.0)))
        return report

    async def _send(self, row: OutboxMessage, clock: Clock, report: DrainReport) -> None:
        to = outbox.address(row)
        async with UnitOfWork(self._sessionmaker) as uow:
            try:
                sent_ref = await self._deliver(to, outbox.content(row), row_key(row))
            except Deferred as error:
                await self._defer(uow.session, row, error, clock.now(), report)
            except Blocked as error:
                report.failed += 1
                await outbox.mark_blocked(
                    uow.session, row.id, to=to, at=clock.now(), error=str(error)
                )
            except Refused as error:
                report.failed += 1
                log.warning("outbox row %d refused: %s", row.id, error)
                await outbox.mark_failed(uow.session, row.id, error=str(error))
            except Exception as error:
                report.uncertain += 1
                log.warning("outbox row %d may or may not have arrived: %s", row.id, error)
                await outbox.mark_uncertain(
                    uow.session, row.id, error=f"{type(error).__name__}: {error}"
                )
            else:
                report.sent += 1
                await outbox.mark_sent(uow.session, row.id, sent_ref=sent_ref, at=clock.now())
            await uow.commit()

    async def _defer(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        error: Deferred,
        now: dt.datetime,
        report: DrainReport,
    ) -> None:
        if error.retry_after is None and row.attempts >= outbox.MAX_ATTEMPTS:
            report.failed += 1
            await outbox.mark_failed(session, row.id, error=str(error))
            return
        report.deferred += 1
        wait = (
            outbox.backoff(row.attempts)
            if error.retry_after is None
            else dt.timedelta(seconds=error.retry_after)
        )
        await outbox.defer(session, row.id, until=now + wait, error=str(error))
        if error.limited:
            report.rate_limited += 1
            await outbox.pause(session, channel=self.channel, seconds=wait.total_seconds())
