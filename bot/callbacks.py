"""Typed callback data: buttons carry ids and enum actions, never meaning in strings."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from domain.checkins import VisitQuestion
from domain.models import Activity, ConcernKind


class LanguageChoice(CallbackData, prefix="lang"):
    locale: str


class EscalationAct(enum.StrEnum):
    take = "take"  # 我来处理: acknowledge, stop the climb
    reassign = "reassign"  # 改派
    resolve = "resolve"  # 已解决, with a note


class EscalationAction(CallbackData, prefix="esc"):
    escalation_id: int
    act: EscalationAct


class JoinAct(enum.StrEnum):
    name = "name"  # use the name Telegram gave
    agree = "agree"
    decline = "decline"


class JoinStep(CallbackData, prefix="join"):
    act: JoinAct


class ChildOpen(CallbackData, prefix="child"):
    """Open a child's card; the child is checked against the presser's pairings."""

    child_id: int


class CheckInStart(CallbackData, prefix="ci"):
    child_id: int


class ActivityToggle(CallbackData, prefix="cia"):
    activity: Activity


class CheckInAct(enum.StrEnum):
    next = "next"  # activities chosen
    no_photos = "nophoto"
    earlier = "earlier"  # show more back-dating choices
    cancel = "cancel"


class CheckInStep(CallbackData, prefix="cis"):
    act: CheckInAct


class VisitAnswer(CallbackData, prefix="ciq"):
    question: VisitQuestion
    answer: str


class CheckInWhen(CallbackData, prefix="ciw"):
    days_back: int


class CheckInConfirm(CallbackData, prefix="cic"):
    """Carries the conversation's idempotency key, so a second press finds the first."""

    key: str


class ConcernStart(CallbackData, prefix="cn"):
    child_id: int


class ConcernChoice(CallbackData, prefix="cnk"):
    kind: ConcernKind


class ConcernSkipNote(CallbackData, prefix="cnn"):
    pass
