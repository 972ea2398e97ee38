"""The sender: drains the outbox through the real aiogram Bot, under Telegram's limits.

Limits: at most `GLOBAL_RATE` requests a second overall, evenly spaced by an aiolimiter
bucket of one (a bucket that holds more lets bursts through, and bursts followed a
second later by more bursts are what a sliding one-second count, Telegram's and the
fake's, refuses); one a second per private chat and one every three seconds per group
(20 a minute). Per-chat limits are kept by not claiming rows of a chat that is still
cooling down, so a chat's messages go out one after another, in order, while other
chats fill the gaps. A few rows (`PREFETCH`) are claimed ahead of the bucket so a slow
commit does not leave a gap in the pace; so a claimed row waits at most a fraction of a
second before its request goes out.

Answers: 429 defers the row by `retry_after` (through `not_before`, so it survives a
restart) and pauses the whole sender for as long: Telegram does not say which limit was
hit, and ours keeps the per-chat ones, so the bot-wide one is the likely culprit. 403
fails the row and marks the person unreachable. 5xx and refused connections (the request
never left) are retried with back-off. A timeout or a connection broken mid-request is
recorded as uncertain: Telegram may have the message, so it is not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import BufferedInputFile, Message
from aiohttp import ClientConnectorError
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import outbox
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.errors import DomainError
from domain.models import OutboxMessage

log = logging.getLogger(__name__)

GLOBAL_RATE = 29.0  # requests a second: one under Telegram's 30 for network jitter
PREFETCH = 4  # rows claimed ahead of the bucket: at 29 a second, 0.14 s of sending
PRIVATE_INTERVAL = 1.0  # seconds between two messages to one private chat
GROUP_INTERVAL = 3.0  # groups (negative chat ids): 20 a minute
DRAIN_BUDGET = 50.0  # seconds one drain may take; the next cron run carries on
IDLE_POLL = 0.5  # longest wait for a cooling chat or another sender's lock

Settle = Callable[[AsyncSession], Awaitable[None]]


class BotTokenRejected(DomainError):
    message = "Telegram rejected BOT_TOKEN: check it with @BotFather."


@dataclasses.dataclass
class DrainReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    rate_limited: int = 0


class Sender:
    """One per process: it owns the rate limits, so every drain in the process shares it."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        media_dir: Path,
        rate: float = GLOBAL_RATE,
    ) -> None:
        self.bot = bot
        self._sessionmaker = sessionmaker
        self._media_dir = media_dir.resolve()
        self._limiter = AsyncLimiter(1, 1 / rate)
        self._queued = 0  # claimed rows waiting for the bucket
        self._free_at: dict[int, float] = {}  # chat → loop time it may be written to again
        self._paused_until = 0.0
        self._progress = asyncio.Event()
        self._draining = asyncio.Lock()
        self._fatal: DomainError | None = None

    async def drain(self, clock: Clock, *, budget: float = DRAIN_BUDGET) -> DrainReport:
        """Send what is due until nothing is, or `budget` seconds have passed.

        A drain already running in this process makes a second one return at once.
        Rows in flight when the drain ends (or is cancelled) are awaited and settled.
        """
        report = DrainReport()
        if self._draining.locked():
            return report
        async with self._draining:
            async with UnitOfWork(self._sessionmaker) as uow:
                expired = await outbox.expire_claims(uow.session, now=clock.now())
                await uow.commit()
            if expired:
                log.warning("outbox rows %s were left mid-send: marked uncertain", expired)
                report.uncertain += len(expired)
            in_flight: set[asyncio.Task[None]] = set()
            try:
                await self._pump(clock, report, in_flight, budget)
            finally:
                if in_flight:
                    await asyncio.wait(in_flight)
            if self._fatal is not None:
                fatal, self._fatal = self._fatal, None
                raise fatal
        return report

    async def _pump(
        self,
        clock: Clock,
        report: DrainReport,
        in_flight: set[asyncio.Task[None]],
        budget: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        while loop.time() < deadline and self._fatal is None:
            paused = self._paused_until > loop.time()  # Telegram asked us to wait (429)
            if self._queued >= PREFETCH:
                wake = math.inf  # wait for the rows ahead of the bucket to move on
            else:
                if not paused:
                    rows = await self._claim(clock.now(), PREFETCH - self._queued)
                    for row in rows:
                        self._queued += 1
                        task = asyncio.create_task(self._deliver(row, clock, report))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    if rows:
                        continue
                async with UnitOfWork(self._sessionmaker) as uow:
                    if not await outbox.has_due(uow.session, now=clock.now()):
                        return  # what is in flight is settled by `drain`
                # Due rows wait for the pause to end, a cooling chat or another sender.
                wake = (
                    self._paused_until if paused else min(self._free_at.values(), default=math.inf)
                )
            delay = min(wake, deadline, loop.time() + IDLE_POLL) - loop.time()
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(delay, 0.0)):
                    await self._progress.wait()

    async def _claim(self, now: dt.datetime, limit: int) -> list[OutboxMessage]:
        """Claim what may go out now: one row per chat that is not cooling down."""
        loop_now = asyncio.get_running_loop().time()
        for chat in [chat for chat, free in self._free_at.items() if free <= loop_now]:
            del self._free_at[chat]
        async with UnitOfWork(self._sessionmaker) as uow:
            rows = await outbox.claim(uow.session, now=now, limit=limit, skip_chats=self._free_at)
            await uow.commit()
        for row in rows:
            self._free_at[row.chat_id] = math.inf  # busy until its answer is in
        return rows

    async def _deliver(self, row: OutboxMessage, clock: Clock, report: DrainReport) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._limiter.acquire()
        finally:
            self._queued -= 1
            self._progress.set()
        started = loop.time()
        try:
            if self._paused_until > started:  # a 429 came in while this row queued: not now
                settle = _settle(outbox.release, row.id)
            else:
                settle = await self._attempt(row, clock, report)
            async with UnitOfWork(self._sessionmaker) as uow:
                await settle(uow.session)
                await uow.commit()
        except Exception:
            # The row stays `sending`; the next drains declare it uncertain.
            log.exception("could not record the result for outbox row %d", row.id)
        finally:
            interval = GROUP_INTERVAL if row.chat_id < 0 else PRIVATE_INTERVAL
            self._free_at[row.chat_id] = started + interval
            self._progress.set()

    async def _attempt(self, row: OutboxMessage, clock: Clock, report: DrainReport) -> Settle:
        """Send one claimed row; return how to record what happened."""
        try:
            method = await self._method(row)
        except (OSError, ValueError) as error:  # nothing left the process
            report.failed += 1
            log.error("outbox row %d cannot be sent: %s", row.id, error)
            return _settle(outbox.mark_failed, row.id, error=str(error))
        try:
            message = await self.bot(method)
        except Exception as error:
            return self._on_error(row, error, clock.now(), report)
        report.sent += 1
        # an edit answers with the message (or True): it keeps the id it was given
        message_id = getattr(message, "message_id", None) or row.payload.get("message_id")
        return _settle(outbox.mark_sent, row.id, telegram_message_id=message_id, at=clock.now())

    def _on_error(
        self, row: OutboxMessage, error: Exception, now: dt.datetime, report: DrainReport
    ) -> Settle:
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, TelegramRetryAfter):
            report.rate_limited += 1
            report.deferred += 1
            loop_now = asyncio.get_running_loop().time()
            self._paused_until = max(self._paused_until, loop_now + error.retry_after)
            until = now + dt.timedelta(seconds=error.retry_after)
            return _settle(outbox.defer, row.id, until=until, error=text)
        if isinstance(error, TelegramForbiddenError):
            report.failed += 1
            log.info("chat %d blocked the bot", row.chat_id)
            return _settle(outbox.mark_blocked, row.id, chat_id=row.chat_id, at=now, error=text)
        if isinstance(error, TelegramUnauthorizedError):
            self._fatal = BotTokenRejected()
            return _settle(outbox.release, row.id)
        if isinstance(error, TelegramServerError) or _never_left(error):
            if row.attempts >= outbox.MAX_ATTEMPTS:
                report.failed += 1
                return _settle(outbox.mark_failed, row.id, error=text)
            report.deferred += 1
            until = now + outbox.backoff(row.attempts)
            return _settle(outbox.defer, row.id, until=until, error=text)
        refused = isinstance(error, TelegramEntityTooLarge) or (
            isinstance(error, TelegramAPIError) and not isinstance(error, TelegramNetworkError)
        )
        if refused:
            report.failed += 1  # Telegram answered and refused: 400, 404, 413 …
            log.warning("outbox row %d refused: %s", row.id, text)
            return _settle(outbox.mark_failed, row.id, error=text)
        # A timeout, a broken connection or anything unforeseen: it may have been delivered.
        report.uncertain += 1
        log.warning("outbox row %d may or may not have been delivered: %s", row.id, text)
        return _settle(outbox.mark_uncertain, row.id, error=text)

    async def _method(self, row: OutboxMessage) -> TelegramMethod[Message]:
        method = outbox.Method(row.method)
        payload = dict(row.payload)
        outbox.check_payload(method, payload)
        if method is outbox.Method.send_message:
            return SendMessage(chat_id=row.chat_id, **payload)
        if method is outbox.Method.edit_message_text:
            return EditMessageText(chat_id=row.chat_id, **payload)  # type: ignore[return-value]
        filename = payload.pop("filename", None)
        file: Any = payload.pop("file_id", None)
        if file is None:
            path = (self._media_dir / payload.pop("path")).resolve()
            if not path.is_relative_to(self._media_dir):
                raise ValueError("the path leaves MEDIA_DIR")
            data = await asyncio.to_thread(path.read_bytes)
            file = BufferedInputFile(data, filename=filename or path.name)
        if method is outbox.Method.send_photo:
            return SendPhoto(chat_id=row.chat_id, photo=file, **payload)
        return SendDocument(chat_id=row.chat_id, document=file, **payload)


def _never_left(error: Exception) -> bool:
    """A network error from failing to connect: the request cannot have reached Telegram."""
    return isinstance(error, TelegramNetworkError) and isinstance(
        error.__cause__, ClientConnectorError
    )


def _settle(action: Callable[..., Awaitable[None]], message_id: int, **values: Any) -> Settle:
    async def settle(session: AsyncSession) -> None:
        await action(session, message_id, **values)

    return settle
