"""Typed callback data: buttons carry ids and enum actions, never meaning in strings."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LanguageChoice(CallbackData, prefix="lang"):
    locale: str
