"""Update-level middlewares: one unit of work per update, and who is speaking.

The update is the unit of work: it commits when the handler returns and rolls back
when it raises. Services never commit; a handler that tells the user something was
saved commits first (`await uow.commit()`), so the reply never runs ahead of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import errors
from domain.db import UnitOfWork
from domain.models import Channel, ProcessedUpdate
from domain.people import identity

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


# Built once: it runs on every update. On the table, not the mapped class: the ORM's bulk
# insert path cost a twentieth of the bot's time per update (bench/checkins.py).
_PROCESSED = cast(Table, ProcessedUpdate.__table__)
_FIRST_TIME = (
    insert(_PROCESSED)
    .values(update_id=bindparam("update_id"))
    .on_conflict_do_nothing()
    .returning(_PROCESSED.c.update_id)
)


class UnitOfWorkMiddleware(BaseMiddleware):
    """Opens the update's transaction and skips an update Telegram delivered before.

    The update id is written in the same transaction as the handler's effects, so a
    redelivered update that was handled is skipped, and one whose handling failed is
    handled again.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        async with UnitOfWork(self._sessionmaker) as uow:
            first_time = await uow.session.scalar(_FIRST_TIME, {"update_id": event.update_id})
            if first_time is None:
                return None
            data["uow"] = uow
            data["session"] = uow.session
            result = await handler(event, data)
            await uow.commit()
            errors.OUTAGE.over()
            return result


class IdentityMiddleware(BaseMiddleware):
    """Loads the sender's roles once per update into `me` (None for strangers), and the
    timezone of their site into `tz` (`default` for strangers): handlers tell days and
    months in it."""

    def __init__(self, default_tz: ZoneInfo) -> None:
        self._default_tz = default_tz

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        me = await identity.identify(session, Channel.telegram, str(user.id)) if user else None
        data["me"] = me
        data["tz"] = identity.timezone_of(me, default=self._default_tz)
        return await handler(event, data)
