"""Webhook mode: Telegram posts each update to the bot, which answers only once it is handled.

aiogram's `SimpleRequestHandler` with `handle_in_background=False`: the update runs through
the dispatcher, its unit of work commits (its `update_id` with it, see `bot.telegram.middlewares`),
and only then does Telegram get its 200. A process that dies before that answer leaves the
update with Telegram, which posts it again; one that had committed recognises the repeat
by its `update_id`. A request without Telegram's secret token gets 401 and touches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import DomainError

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
HEALTH_TIMEOUT = 3.0  # seconds the database and Redis get to answer a health check

Health = Callable[[], Awaitable[bool]]


class WebhookRefused(DomainError):
    message = "Telegram refused the webhook {url}: {reason}"


class WebhookAddressInUse(DomainError):
    message = "cannot listen on {host}:{port} for the webhook: {reason}. Set WEBHOOK_HOST/PORT."


def database_and_redis(engine: AsyncEngine, redis: Redis) -> Health:
    """True when the database and Redis both answer, within HEALTH_TIMEOUT."""

    async def answer() -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                await redis.ping()
        except (OSError, TimeoutError, SQLAlchemyError, RedisError):
            return False
        return True

    return answer


def make_webhook_app(
    dp: Dispatcher, bot: Bot, *, path: str, secret_token: str, health: Health
) -> web.Application:
    """Updates are POSTed to `path`; `GET /health` answers 200 while the database and
    Redis answer, 503 otherwise."""
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token=secret_token).register(
        app, path=path
    )
    setup_application(app, dp, bot=bot)

    async def healthy(request: web.Request) -> web.Response:
        ok = await health()
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    app.router.add_get(HEALTH_PATH, healthy)
    return app


@contextlib.asynccontextmanager
async def webhook_served(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Serve `app` on host:port (0: any free port, which is yielded). On the way out the
    server stops taking requests and lets those being handled finish."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            raise WebhookAddressInUse(host=host, port=port, reason=error.strerror) from None
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def set_webhook(bot: Bot, dp: Dispatcher, url: str, secret_token: str) -> None:
    """Tell Telegram where to post updates, and the secret to send with them. Updates that
    waited while the bot was down are kept."""
    try:
        await bot.set_webhook(
            url,
            secret_token=secret_token,
            allowed_updates=dp.resolve_used_update_types(),
            drop_pending_updates=False,
        )
    except TelegramBadRequest as error:
        raise WebhookRefused(url=url, reason=error.message) from None
    log.info("webhook set; Telegram posts updates to the bot")
