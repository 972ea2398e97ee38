"""The one place where failures become replies: a rule's refusal in the user's words,
anything else a short apology, and a log line with ids only."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ErrorEvent, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.i18n import locale_for
from domain.clock import Clock
from domain.errors import DomainError, OutOfScope
from domain.people import audit
from domain.people.identity import Identity
from guanai.outages import Outage, describe, is_outage

log = logging.getLogger(__name__)

# Updates refused while Redis or PostgreSQL is away: a line when the first is, one when an
# update is handled again (bot.telegram.middlewares), not one per update
OUTAGE = Outage(log, "bot")


async def reply_to_error(
    event: ErrorEvent,
    i18n: I18n,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    me: Identity | None = None,
) -> None:
    update = event.update
    user = update.event.from_user if hasattr(update.event, "from_user") else None
    if isinstance(event.exception, OutOfScope):
        await audit.record_refusal(
            sessionmaker,
            event.exception,
            at=clock.now(),
            actor_id=me.person_id if me else None,
            actor_telegram_id=user.id if user else None,
            details={"via": "chat"},
        )
        log.info(
            "scope refused: %s %s to person %s",
            event.exception.subject_type,
            event.exception.subject_id,
            me.person_id if me else None,
        )
    with i18n.use_locale(locale_for(me, user)):
        if isinstance(event.exception, DomainError):
            text = i18n.gettext(event.exception.message).format(**event.exception.params)
        elif is_outage(event.exception):
            # Redis or PostgreSQL gone mid-update: the transaction rolled back, so the
            # user can simply send it again once the server is back
            OUTAGE.failed(event.exception)
            log.debug("update %s not handled: %s", update.update_id, describe(event.exception))
            text = i18n.gettext(
                "The service is unavailable for a moment. Please try again in a minute."
            )
        else:
            log.exception("update %s failed", update.update_id, exc_info=event.exception)
            text = i18n.gettext("Sorry, something went wrong. Please try again in a moment.")
    query = update.callback_query
    if query is not None:
        try:
            await query.answer(text, show_alert=True)
            return
        except TelegramBadRequest:  # the handler had answered it before failing
            if isinstance(query.message, Message):
                await query.message.answer(text)
    elif isinstance(update.event, Message):
        await update.event.answer(text)


def make_router() -> Router:
    router = Router(name="errors")
    router.errors.register(reply_to_error)
    return router
