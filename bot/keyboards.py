"""Keyboards. Main menus are large reply buttons; choices are inline buttons."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from bot import texts
from bot.callbacks import ImportSite, ImportWhat, LanguageChoice
from domain.archive_import import ImportKind
from domain.models import Region


def coordinator_menu() -> ReplyKeyboardMarkup:
    builder = ReplyKeyboardBuilder()
    for label in texts.COORDINATOR_MENU:
        builder.button(text=str(label))
    builder.adjust(2)
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


def language_choice() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="中文", callback_data=LanguageChoice(locale="zh"))
    builder.button(text="English", callback_data=LanguageChoice(locale="en"))
    return builder.as_markup()


def import_kinds() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("👧 Children's archives"), callback_data=ImportWhat(kind=ImportKind.children)
    )
    builder.button(text=_("🙋 Volunteers"), callback_data=ImportWhat(kind=ImportKind.volunteers))
    builder.adjust(1)
    return builder.as_markup()


def import_sites(sites: list[Region]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for site in sites:
        builder.button(text=site.name, callback_data=ImportSite(site_id=site.id))
    builder.adjust(1)
    return builder.as_markup()


def page_buttons(
    builder: InlineKeyboardBuilder,
    page: int,
    total: int,
    per_page: int,
    make: Callable[[int], CallbackData],
) -> None:
    """A row of ◀ / ▶ under a list that runs over more than one page."""
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text="◀", callback_data=make(page - 1).pack()))
    if (page + 1) * per_page < total:
        row.append(InlineKeyboardButton(text="▶", callback_data=make(page + 1).pack()))
    if row:
        builder.row(*row)


async def answer_or_edit(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the pressed message's text (lists, pages), or send anew when it had media."""
    message = query.message
    if not isinstance(message, Message):
        return
    if message.text is None:
        await message.answer(text, reply_markup=markup)
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:  # pressing a page twice changes nothing
            raise
