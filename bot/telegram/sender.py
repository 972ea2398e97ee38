"""The sender: drains the Telegram channel's outbox rows through the real aiogram Bot,
rendered at send time (`bot.telegram.outgoing`), under Telegram's limits.

Limits: at most `GLOBAL_RATE` requests a second overall (a sliding window, with a least
gap between two, so a request made late is made up without a burst); one a second per
private chat and one every three seconds per group (20 a minute). The pace lives in the
database (`domain.delivery.outbox.claim_next`), so every sender process keeps it together: two
workers at once send at 29 a second between them, not each. A row is claimed only when
the pace lets its request leave, and sent at once: a sender killed at any moment leaves
at most the rows whose requests were on their way as `sending` (later `uncertain`).
A chat's rows go one after another, in order; other chats fill the gaps.

Answers: 429 defers the row by `retry_after` (through `not_before`, so it survives a
restart; its chat's later rows wait behind it) and pauses every sender for as long:
Telegram does not say which limit was hit, and ours keeps the per-chat ones, so the
bot-wide one is the likely culprit. 403 fails the row and marks the account unreachable.
5xx and refused connections (the request never left) are retried with back-off. A
timeout or a connection broken mid-request is recorded as uncertain: Telegram may have
the message, so it is not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import outgoing
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.addresses import TELEGRAM
from domain.errors import DomainError
from domain.models import OutboxMessage
from domain.ports import DrainReport

log = logging.getLogger(__name__)

GLOBAL_RATE = 29.0  # requests a second: one under Telegram's 30 for network jitter
MAX_IN_FLIGHT = 16  # requests awaiting their answer at once (a slow Bot API)
PRIVATE_INTERVAL = 1.0  # seconds between two messages to one private chat
GROUP_INTERVAL = 3.0  # groups (negative chat ids): 20 a minute
DRAIN_BUDGET = 50.0  # seconds one drain may take; the next cron run carries on
IDLE_POLL = 0.5  # longest wait for a cooling chat, an answer, or another sender

Settle = Callable[[AsyncSession], Awaitable[None]]


class BotTokenRejected(DomainError):
    message = "Telegram rejected BOT_TOKEN: check it with @BotFather."


class Sender:
    """One per process; the pace it keeps is shared with every other sender."""

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
        self._rate = rate
        # a 429 stops this process at once; the others learn it from the database
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
                await outbox.forget_old_pace(uow.session)
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
            self._progress.clear()
            if self._paused_until > loop.time():
                wait = self._paused_until - loop.time()  # Telegram asked us to wait (429)
            elif len(in_flight) >= MAX_IN_FLIGHT:
                wait = IDLE_POLL  # until an answer comes in
            else:
                asked = loop.time()  # about when the database read its clock
                async with UnitOfWork(self._sessionmaker) as uow:
                    claim = await outbox.claim_next(
                        uow.session,
                        channel=TELEGRAM,
                        now=clock.now(),
                        rate=self._rate,
                        private_interval=PRIVATE_INTERVAL,
                        group_interval=GROUP_INTERVAL,
                    )
                    await uow.commit()
                if claim.row is not None:
                    # the claim is committed: the request leaves now, not after a queue
                    task = asyncio.create_task(self._deliver(claim.row, clock, report))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    # the next slot: no need to ask before it opens
                    await asyncio.sleep(
                        max(min(asked + (claim.wait or 0), deadline) - loop.time(), 0)
                    )
                    continue
                if claim.wait is None and not in_flight:
                    if self._progress.is_set():
                        continue  # an answer was recorded while we asked: ask again
                    return  # nothing this sender could send: the next drain looks again
                if claim.wait is not None and claim.wait < IDLE_POLL:
                    # the pace: the next slot is moments away; an answer does not bring it on
                    await asyncio.sleep(max(min(asked + claim.wait, deadline) - loop.time(), 0))
                    continue
                # A 429 pause, cooling chats, or our own answers that free a chat's next row.
                wait = IDLE_POLL if claim.wait is None else min(claim.wait, IDLE_POLL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(min(wait, deadline - loop.time()), 0.0)):
                    await self._progress.wait()

    async def _deliver(self, row: OutboxMessage, clock: Clock, report: DrainReport) -> None:
        try:
            settle = await self._attempt(row, clock, report)
            async with UnitOfWork(self._sessionmaker) as uow:
                await settle(uow.session)
                await uow.commit()
        except Exception:
            # The row stays `sending`; the next drains declare it uncertain.
            log.exception("could not record the result for outbox row %d", row.id)
        finally:
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
        message_id = getattr(message, "message_id", None)
        sent_ref = str(message_id) if message_id is not None else row.content.get("replaces")
        return _settle(outbox.mark_sent, row.id, sent_ref=sent_ref, at=clock.now())

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
            defer = _settle(outbox.defer, row.id, until=until, error=text)

            async def defer_and_pause(session: AsyncSession) -> None:
                await defer(session)
                await outbox.pause(session, channel=TELEGRAM, seconds=error.retry_after)

            return defer_and_pause
        if isinstance(error, TelegramForbiddenError):
            report.failed += 1
            log.info("chat %s blocked the bot", row.target)
            to = outbox.address(row)
            return _settle(outbox.mark_blocked, row.id, to=to, at=now, error=text)
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
        """The row's content as Telegram shows it (`bot.telegram.outgoing`)."""
        method, payload = outgoing.call(outbox.content(row))
        chat_id = int(row.target)
        if method == outgoing.SEND_MESSAGE:
            return SendMessage(chat_id=chat_id, **payload)
        if method == outgoing.EDIT_MESSAGE_TEXT:
            return EditMessageText(chat_id=chat_id, **payload)  # type: ignore[return-value]
        filename = payload.pop("filename")
        path = (self._media_dir / payload.pop("path")).resolve()
        if not path.is_relative_to(self._media_dir):
            raise ValueError("the path leaves MEDIA_DIR")
        data = await asyncio.to_thread(path.read_bytes)
        file = BufferedInputFile(data, filename=filename)
        if method == outgoing.SEND_PHOTO:
            return SendPhoto(chat_id=chat_id, photo=file, **payload)
        return SendDocument(chat_id=chat_id, document=file, **payload)


def _never_left(error: Exception) -> bool:
    """A network error from failing to connect: the request cannot have reached Telegram."""
    return isinstance(error, TelegramNetworkError) and isinstance(
        error.__cause__, ClientConnectorError
    )


def _settle(action: Callable[..., Awaitable[None]], message_id: int, **values: Any) -> Settle:
    async def settle(session: AsyncSession) -> None:
        await action(session, message_id, **values)

    return settle
