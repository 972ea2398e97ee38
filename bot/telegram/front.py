"""The Telegram front as the jobs use it (`domain.ports.Front`): the outbox's sender and
the downloader of users' photos.

The Bot (and with it BOT_TOKEN) is made on first use, so jobs that only queue messages
run without a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guanai.settings import Settings

if TYPE_CHECKING:
    from bot.telegram.downloads import TelegramDownloader
    from bot.telegram.sender import Sender


class TelegramFront:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._sender: Sender | None = None

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            # the routers come with make_bot: only into a worker that sends or downloads
            from bot.telegram.app import make_bot
            from bot.telegram.sender import Sender

            self._sender = Sender(
                make_bot(self._settings), self._sessionmaker, media_dir=self._settings.media_dir
            )
        return self._sender

    @property
    def downloader(self) -> TelegramDownloader:
        """Users' files come through the sender's Bot."""
        from bot.telegram.downloads import TelegramDownloader

        return TelegramDownloader(self.sender.bot)

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.bot.session.close()
