"""Who the bot is on Telegram, and the link that opens it: what the command line and the
start-up checks ask of the Telegram front, in terms that need no aiogram."""

from __future__ import annotations

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.utils.deep_linking import create_deep_link

from bot.telegram.app import make_bot
from guanai.settings import Settings


class BotApiError(Exception):
    pass


class TokenUnknown(BotApiError):
    """Telegram does not know BOT_TOKEN; `status` is its answer, e.g. "401 Unauthorized"."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class BotApiUnreachable(BotApiError):
    pass


async def bot_username(settings: Settings, *, request_timeout: int | None = None) -> str | None:
    """The bot's username from getMe; `request_timeout` in seconds, else aiogram's. A
    missing, placeholder or malformed token is refused before asking."""
    bot = make_bot(settings)
    try:
        me = await bot.get_me(request_timeout=request_timeout)
    except TelegramUnauthorizedError as error:  # a token Telegram does not know
        raise TokenUnknown(f"401 {error.message}") from error
    except TelegramNotFound as error:  # one it cannot even parse
        raise TokenUnknown(f"404 {error.message}") from error
    except (TelegramNetworkError, TelegramAPIError, OSError, TimeoutError) as error:
        raise BotApiUnreachable(str(error)) from error
    finally:
        await bot.session.close()
    return me.username


def start_link(username: str, payload: str) -> str:
    """https://t.me/<username>?start=<payload>"""
    return create_deep_link(username, "start", payload)
