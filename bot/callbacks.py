"""Typed callback data: buttons carry ids and enum actions, never meaning in strings."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from domain.archive_import import ImportKind


class LanguageChoice(CallbackData, prefix="lang"):
    locale: str


class EscalationAct(enum.StrEnum):
    take = "take"  # 我来处理: acknowledge, stop the climb
    reassign = "reassign"  # 改派
    resolve = "resolve"  # 已解决, with a note


class EscalationAction(CallbackData, prefix="esc"):
    escalation_id: int
    act: EscalationAct


class ImportWhat(CallbackData, prefix="imp"):
    kind: ImportKind


class ImportSite(CallbackData, prefix="impsite"):
    site_id: int
