"""Fetching users' files from Telegram, in the terms `domain.care.photos` understands."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiohttp import ClientError

from domain.care.photos import DownloadFailed, PhotoTooBig


class TelegramDownloader:
    """getFile, then the file's URL. Only "file is too big" is final; anything else may pass."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self._bot.get_file(file_id)
            if file.file_path is None:
                raise DownloadFailed("getFile gave no file_path")
            stream = await self._bot.download_file(file.file_path)
        except TelegramBadRequest as error:
            if "file is too big" in error.message.lower():
                raise PhotoTooBig() from error
            raise DownloadFailed(error.message) from error
        except (TelegramAPIError, ClientError, TimeoutError) as error:
            raise DownloadFailed(str(error) or type(error).__name__) from error
        assert stream is not None  # download_file returns the stream when given no destination
        return stream.read()
