"""Messages to other people that a chat action causes, worded in each reader's language
and queued in the outbox within the update's transaction (sent once it commits)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import render, texts
from bot.i18n import DEFAULT_LOCALE, LOCALES
from domain import outbox
from domain.concerns import Raised


async def concern_raised(
    session: AsyncSession,
    raised: Raised,
    *,
    raised_by: str,
    site: str,
    i18n: I18n,
    now: dt.datetime,
    tz: ZoneInfo,
) -> None:
    """Tell the site's coordinators about a must-visit, once each."""
    concern = raised.concern
    for recipient in raised.recipients:
        locale = recipient.language if recipient.language in LOCALES else DEFAULT_LOCALE
        with i18n.use_locale(locale):
            text = _(
                "⚠️ Must visit (五必访): {child}, {site} — {kind}.\n"
                "Raised by {volunteer}. A visit is due by {day}."
            ).format(
                child=raised.child.name,
                site=site,
                kind=texts.CONCERNS[concern.kind],
                volunteer=raised_by,
                day=render.day(concern.due_at, tz),
            )
            if concern.note:
                text += "\n" + _("Note: {note}").format(note=concern.note)
        await outbox.enqueue(
            session,
            chat_id=recipient.telegram_id,
            method=outbox.Method.send_message,
            payload={"text": text},
            not_before=now,
            dedupe_key=f"concern:{concern.id}:{recipient.person_id}",
        )
