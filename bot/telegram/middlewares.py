"""The update-level middleware: one unit of work per update, and who is speaking.

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
from sqlalchemy import Select, Table, bindparam, literal_column, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import errors
from domain.db import UnitOfWork
from domain.models import Channel, ProcessedUpdate
from domain.people import identity

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _first_time_and_sender() -> Select[Any]:
    """One statement, one round trip, for what every update needs before its handler:
    the update id recorded (its `update_id` is null if it was already), and the sender's
    `identity.IDENTITY` row (nulls for a stranger). On the table, not the mapped class: the
    ORM's bulk insert path cost a twentieth of the bot's time per update."""
    processed = cast(Table, ProcessedUpdate.__table__)
    first = (
        insert(processed)
        .values(update_id=bindparam("update_id"))
        .on_conflict_do_nothing()
        .returning(processed.c.update_id)
        .cte("first_time")
    )
    sender = identity.IDENTITY.subquery("sender")
    one = select(literal_column("1").label("one")).subquery("one")
    return select(first.c.update_id, *sender.c).select_from(
        one.outerjoin(first, true()).outerjoin(sender, true())
    )


# Built once: it runs on every update (bench/checkins.py).
_FIRST_TIME_AND_SENDER = _first_time_and_sender()


class UnitOfWorkMiddleware(BaseMiddleware):
    """Opens the update's transaction, skips an update Telegram delivered before, and
    loads who is speaking.

    The update id is written in the same transaction as the handler's effects, so a
    redelivered update that was handled is skipped, and one whose handling failed is
    handled again. The sender's roles go into `me` (None for strangers), and the timezone
    of their site into `tz` (`default_tz` for strangers): handlers tell days and months in
    it.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], default_tz: ZoneInfo
    ) -> None:
        self._sessionmaker = sessionmaker
        self._default_tz = default_tz

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        async with UnitOfWork(self._sessionmaker) as uow:
            row = (
                await uow.session.execute(
                    _FIRST_TIME_AND_SENDER,
                    {
                        "update_id": event.update_id,
                        "channel": Channel.telegram,
                        "external_id": str(user.id) if user else None,
                    },
                )
            ).one()
            if row.update_id is None:
                return None
            me = await identity.from_row(uow.session, row)
            data["uow"] = uow
            data["session"] = uow.session
            data["me"] = me
            data["tz"] = identity.timezone_of(me, default=self._default_tz)
            result = await handler(event, data)
            await uow.commit()
            errors.OUTAGE.over()
            return result
