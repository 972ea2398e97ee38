"""Last in line: whatever no other router took still gets a kind answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from domain.people.identity import Identity


async def anything_else(message: Message, me: Identity | None) -> None:
    if me is None:
        await message.answer(
            _(
                "This bot is only for invited volunteers and staff. Ask your school's or "
                "village's care office for an invitation link."
            )
        )
    else:
        await message.answer(_("I did not understand that. Send /start for the menu."))


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


def make_router() -> Router:
    router = Router(name="fallback")
    router.message.register(anything_else)
    router.callback_query.register(stale_button)
    return router
