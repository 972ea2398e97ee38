"""What periodic jobs use: built once per worker (or per `guanai jobs run`), closed with it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from guanai.settings import Settings

if TYPE_CHECKING:
    from workers.sender import Sender


class Deps:
    """Settings, the database and the clock; the Bot only for jobs that send.

    The sender (and with it the Bot and BOT_TOKEN) is made on first use, so jobs that only
    queue messages run without a token, and `guanai jobs` does not wait for aiogram to load.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self._sender: Sender | None = None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker)

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            from bot.app import make_bot
            from workers.sender import Sender

            self._sender = Sender(
                make_bot(self.settings), self.sessionmaker, media_dir=self.settings.media_dir
            )
        return self._sender

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.bot.session.close()


@contextlib.asynccontextmanager
async def open_deps(settings: Settings, clock: Clock) -> AsyncIterator[Deps]:
    engine = make_engine(settings.database_url, pool_size=5)
    deps = Deps(settings, make_sessionmaker(engine), clock)
    try:
        yield deps
    finally:
        await deps.close()
        await engine.dispose()
