"""What a process checks before it starts, and what `guanai health` checks while it runs.

Each check raises a `DomainError` whose message is one line that says what is wrong and
what to do; the CLI prints it and exits non-zero, never with a traceback. `diagnose` turns
an unexpected failure of an operator command (PostgreSQL down, a database never migrated,
Redis down) into the same kind of line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from domain.db import make_engine
from domain.errors import DomainError
from guanai.settings import Settings

#: Bot API calls made by a check give up after this long.
BOT_API_TIMEOUT = 10
#: While waiting at start, a server that does not answer is tried again this often.
RETRY_SECONDS = 3.0

log = logging.getLogger(__name__)


class DatabaseUnavailable(DomainError):
    message = "cannot reach PostgreSQL at {url}: is it running, and is DATABASE_URL right?"


class DatabaseNotMigrated(DomainError):
    message = "the database at {url} is not migrated: run `guanai migrate` first."


class DatabaseBehind(DomainError):
    message = (
        "the database at {url} is at revision {current}, not {head}: run `guanai migrate` first."
    )


class DatabaseAhead(DomainError):
    message = (
        "the database at {url} is at revision {current}, which this guanai does not know: "
        "run the newer guanai that migrated it."
    )


class RedisUnavailable(DomainError):
    message = "cannot reach Redis at {url}: is it running, and is REDIS_URL right?"


class TokenRefused(DomainError):
    message = (
        "Telegram refused BOT_TOKEN ({status}): copy the token again from @BotFather "
        "into .env or the environment."
    )


class BotApiUnavailable(DomainError):
    message = (
        "cannot reach the Telegram Bot API at {url}: check the network, or BOT_API_URL "
        "if you run your own Bot API server."
    )


class MediaDirNotWritable(DomainError):
    message = (
        "MEDIA_DIR {path} is not a folder this process can write to: create it, give the "
        "user running guanai write access, or set MEDIA_DIR to another folder."
    )


class OutboxStuck(DomainError):
    message = (
        "the oldest unsent message has waited {minutes} minutes (the limit is {limit}): "
        "is `guanai worker` running?"
    )


class MatrixUnavailable(DomainError):
    message = (
        "cannot reach the Matrix homeserver at {url}: is it running, and is "
        "MATRIX_HOMESERVER right?"
    )


#: Unavailable now, perhaps not in a moment: worth waiting for at start.
TRANSIENT = (DatabaseUnavailable, RedisUnavailable, BotApiUnavailable, MatrixUnavailable)


async def wait_until_ready(
    settings: Settings, check: Callable[[Settings], Awaitable[object]]
) -> None:
    """Run `check` until it passes; a server that does not answer yet is tried again for
    up to STARTUP_WAIT_SECONDS, then its one line is the process's last word."""
    deadline = time.monotonic() + settings.startup_wait_seconds
    while True:
        try:
            await check(settings)
            return
        except TRANSIENT as error:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("%s Trying again for up to %.0f s.", error, left)
            await asyncio.sleep(min(RETRY_SECONDS, left))


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def check_database(settings: Settings) -> None:
    """PostgreSQL answers; a server without the database passes (`migrate` creates it)."""
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, OperationalError, DBAPIError) as error:
        if "does not exist" in str(error):
            return  # the server answers; `migrate` creates the database
        raise DatabaseUnavailable(url=safe_url(settings.database_url)) from error
    finally:
        await engine.dispose()


def _compare_with_head(url: str, current: str) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from guanai.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(""))
    head = script.get_current_head()
    if current == head:
        return
    try:
        script.get_revision(current)
    except CommandError:
        raise DatabaseAhead(url=url, current=current) from None
    raise DatabaseBehind(url=url, current=current, head=head)


async def database_revision(settings: Settings) -> str:
    """The database's Alembic revision, after checking that PostgreSQL answers and that the
    database exists and is migrated to this code's head."""
    url = safe_url(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            current = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except ProgrammingError as error:  # no alembic_version table: never migrated
        raise DatabaseNotMigrated(url=url) from error
    except (OSError, OperationalError, DBAPIError) as error:
        if "does not exist" in str(error):  # no such database
            raise DatabaseNotMigrated(url=url) from error
        raise DatabaseUnavailable(url=url) from error
    finally:
        await engine.dispose()
    if current is None:
        raise DatabaseNotMigrated(url=url)
    await asyncio.to_thread(_compare_with_head, url, str(current))
    return str(current)


async def check_redis(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await redis.ping()
    except (OSError, RedisError) as error:
        raise RedisUnavailable(url=safe_url(settings.redis_url)) from error
    finally:
        await redis.aclose()


async def check_bot_api(settings: Settings) -> str:
    """Telegram knows the token (getMe); returns the bot's username."""
    from bot.telegram.botapi import BotApiUnreachable, TokenUnknown, bot_username

    try:
        return await bot_username(settings, request_timeout=BOT_API_TIMEOUT) or ""
    except TokenUnknown as error:
        raise TokenRefused(status=error.status) from error
    except BotApiUnreachable as error:
        raise BotApiUnavailable(url=settings.bot_api_url) from error


async def check_matrix_homeserver(settings: Settings) -> None:
    """The homeserver answers the client API (its versions), before the bot logs in."""
    import aiohttp

    url = settings.require_matrix().homeserver
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BOT_API_TIMEOUT)) as http,
            http.get(f"{url}/_matrix/client/versions") as response,
        ):
            if response.status != 200:
                raise MatrixUnavailable(url=url)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise MatrixUnavailable(url=url) from error


def check_media_dir(settings: Settings) -> None:
    """MEDIA_DIR exists (made if need be) and takes a file."""
    path = settings.media_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".guanai-write-check-"):
            pass
    except OSError as error:
        raise MediaDirNotWritable(path=str(path)) from error


def check_cjk_font() -> None:
    """A font that draws Chinese, for the charts (raises `MissingCjkFont`)."""
    from domain.wording.charts import cjk_font

    cjk_font()


async def oldest_pending_minutes(settings: Settings, now: dt.datetime) -> float:
    """How long the oldest due, unsent outbox row has waited, in minutes (0 when none)."""
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            oldest = await connection.scalar(
                text("SELECT min(not_before) FROM outbox WHERE status = 'pending'")
            )
    finally:
        await engine.dispose()
    if oldest is None or oldest >= now:
        return 0.0
    waited: dt.timedelta = now - oldest
    return waited.total_seconds() / 60


async def diagnose(settings: Settings, error: BaseException) -> DomainError | None:
    """Why an operator command failed, when the cause is PostgreSQL or Redis rather than
    the command: unreachable, or a database not migrated to this code's head."""
    if not isinstance(error, OSError | DBAPIError | RedisError):
        return None
    try:
        await database_revision(settings)
        if isinstance(error, OSError | RedisError):
            await check_redis(settings)
    except DomainError as found:
        return found
    return None


def _(msgid: str) -> str:
    """Marks a message id for the catalogue; the CLI translates it."""
    return msgid


@dataclass(frozen=True)
class HealthLine:
    """One check of `guanai health`: `check` and `message` are message ids."""

    check: str
    ok: bool
    message: str
    params: dict[str, Any] = field(default_factory=dict)


async def _check(check: str, probe: Awaitable[HealthLine]) -> HealthLine:
    try:
        return await probe
    except DomainError as problem:
        return HealthLine(check, False, problem.message, problem.params)


async def health(settings: Settings, now: dt.datetime, outbox_minutes: float) -> list[HealthLine]:
    """The database (reachable, migrated to head), Redis, the Bot API (getMe, when a token
    is set), the Matrix homeserver (when one is set) and the outbox (no due message waiting
    longer than `outbox_minutes`)."""

    async def database() -> HealthLine:
        revision = await database_revision(settings)
        return HealthLine(
            _("Database"), True, _("ok, at revision {revision}"), {"revision": revision}
        )

    async def redis() -> HealthLine:
        await check_redis(settings)
        return HealthLine(_("Redis"), True, _("ok"))

    async def telegram() -> HealthLine:
        if settings.bot_token is None:
            return HealthLine(_("Telegram"), True, _("not checked: BOT_TOKEN is not set"))
        username = await check_bot_api(settings)
        return HealthLine(
            _("Telegram"), True, _("ok, the bot is @{username}"), {"username": username}
        )

    async def outbox() -> HealthLine:
        minutes = int(await oldest_pending_minutes(settings, now))
        if minutes > outbox_minutes:
            raise OutboxStuck(minutes=minutes, limit=f"{outbox_minutes:g}")
        return HealthLine(
            _("Outbox"),
            True,
            _("ok, the oldest due message has waited {minutes} minutes"),
            {"minutes": minutes},
        )

    async def matrix() -> HealthLine:
        await check_matrix_homeserver(settings)
        return HealthLine(_("Matrix"), True, _("ok, the homeserver answers"))

    lines = [await _check(_("Database"), database())]
    lines.append(await _check(_("Redis"), redis()))
    lines.append(await _check(_("Telegram"), telegram()))
    if settings.matrix_homeserver:
        lines.append(await _check(_("Matrix"), matrix()))
    if lines[0].ok:
        lines.append(await _check(_("Outbox"), outbox()))
    else:
        lines.append(HealthLine(_("Outbox"), False, _("not checked: the database is not ready")))
    return lines
