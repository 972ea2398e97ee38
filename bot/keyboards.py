"""Keyboards. Main menus are large reply buttons; choices are inline buttons."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from bot import texts
from bot.callbacks import LanguageChoice


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
