"""Replies shared by several routers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from domain.schedule.escalations import Outcome
from domain.wording import formatting


async def tell_taken(query: CallbackQuery, outcome: Outcome, tz: ZoneInfo) -> None:
    """A late press: say who already handled it and when; nothing was changed."""
    taken = outcome.taken_by
    assert taken is not None
    when = formatting.when(taken.at, tz)
    if taken.name is None:
        text = _("This was already closed on {when}.").format(when=when)
    else:
        text = _("Already handled by {name} on {when}.").format(name=taken.name, when=when)
    await query.answer(text, show_alert=True)


async def note_that_fits(message: Message, limit: int) -> str:
    """The words of `message` up to `limit` characters; a longer note is cut, and said so."""
    words = (message.text or "").strip()
    if len(words) > limit:
        await message.answer(
            _("A note holds at most {limit} characters: the last {dropped} were not kept.").format(
                limit=limit, dropped=len(words) - limit
            )
        )
    return words[:limit]
