"""What periodic jobs use: built once per worker (or per `guanai jobs run`), closed with it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.ports import Front, NoticeText, OutboxSender
from domain.wording.notices import Notices  # loaded before the worker freezes its objects
from guanai.settings import Settings

if TYPE_CHECKING:
    from domain.care.photos import Downloader  # the imaging libraries load with workers.jobs

#: Makes the chat front the jobs send through (`guanai.wiring` hands over Telegram's).
FrontFactory = Callable[[Settings, async_sessionmaker[AsyncSession]], Front]
#: Makes the sender of a further channel (a group robot, Matrix): it drains that
#: channel's outbox rows, rendering them its own way, beside the chat front's sender.
SenderFactory = Callable[[Settings, async_sessionmaker[AsyncSession]], OutboxSender]


class Deps:
    """Settings, the database, the clock, and the chat front for jobs that send, download
    or render (its sender, and with it BOT_TOKEN, is made on first use, so jobs that only
    queue messages run without a token)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        front: Front,
        channels: Sequence[OutboxSender] = (),
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.front = front
        self.channels = tuple(channels)
        # the notices the jobs queue, built in the core whatever the channel
        self.texts: NoticeText = Notices()
        # Photos are downloaded and decoded one at a time in a process (workers.jobs).
        self.photo_slot = asyncio.Semaphore(1)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    @property
    def sender(self) -> OutboxSender:
        return self.front.sender

    @property
    def senders(self) -> tuple[OutboxSender, ...]:
        """Every channel's sender: the chat front's, then the further channels'."""
        return (self.front.sender, *self.channels)

    @property
    def downloader(self) -> Downloader:
        """The front's, and the photos a front staged when they arrived (Matrix's)."""
        from domain.care.inbox import StagedOr

        return StagedOr(self.settings.media_dir, self.front.downloader)

    async def close(self) -> None:
        await self.front.close()
        for channel in self.channels:  # a sender holding connections (the robots') closes
            closing = getattr(channel, "close", None)
            if closing is not None:
                await closing()


def freeze_loaded_modules() -> None:
    """Take every object alive now out of the cycle collector's sight; what the jobs
    render with (the notices; aiogram, with the front that `guanai.wiring` hands over) is
    loaded by then. aiogram alone is ~170 MB of objects; without this each
    full collection walks them all, and reading a district's 110,000 due items took 4 s
    instead of 1.3 s."""
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def open_deps(
    settings: Settings,
    clock: Clock,
    front: FrontFactory,
    channels: Sequence[SenderFactory] = (),
) -> AsyncIterator[Deps]:
    freeze_loaded_modules()
    engine = make_engine(settings.database_url, pool_size=5)
    sessionmaker = make_sessionmaker(engine)
    senders = [channel(settings, sessionmaker) for channel in channels]
    deps = Deps(settings, sessionmaker, clock, front(settings, sessionmaker), senders)
    try:
        yield deps
    finally:
        await deps.close()
        await engine.dispose()
