"""Keyboards. Main menus are large reply buttons; choices are inline buttons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from bot import texts
from bot.callbacks import (
    ActivityToggle,
    CheckInAct,
    CheckInConfirm,
    CheckInStart,
    CheckInStep,
    CheckInWhen,
    ChildOpen,
    ConcernChoice,
    ConcernSkipNote,
    ConcernStart,
    JoinAct,
    JoinStep,
    LanguageChoice,
    VisitAnswer,
)
from domain.checkins import MAX_DAYS_BACK, VISIT_ANSWERS, VisitQuestion
from domain.models import Activity

QUICK_DAYS_BACK = 2  # today, yesterday, the day before; the rest behind "earlier"


def main_menu(*, coordinator: bool, volunteer: bool) -> ReplyKeyboardMarkup:
    """A coordinator who is also a volunteer gets their children and check-in too."""
    labels = [*texts.COORDINATOR_MENU] if coordinator else []
    if volunteer:
        labels += [texts.MY_CHILDREN, texts.CHECK_IN]
    if not coordinator:
        labels.append(texts.HELP)
    builder = ReplyKeyboardBuilder()
    for label in labels:
        builder.button(text=str(label))
    builder.adjust(2)
    return builder.as_markup(resize_keyboard=True, is_persistent=True)


def coordinator_menu() -> ReplyKeyboardMarkup:
    return main_menu(coordinator=True, volunteer=False)


def language_choice() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="中文", callback_data=LanguageChoice(locale="zh"))
    builder.button(text="English", callback_data=LanguageChoice(locale="en"))
    return builder.as_markup()


def use_name(name: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Use “{name}”").format(name=name), callback_data=JoinStep(act=JoinAct.name)
    )
    return builder.as_markup()


def share_phone() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=str(texts.SHARE_PHONE), request_contact=True)],
            [KeyboardButton(text=str(texts.SKIP))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def consent() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ I agree"), callback_data=JoinStep(act=JoinAct.agree))
    builder.button(text=_("I do not agree"), callback_data=JoinStep(act=JoinAct.decline))
    builder.adjust(1)
    return builder.as_markup()


def children(choices: Iterable[tuple[int, str]], *, check_in: bool = False) -> InlineKeyboardMarkup:
    """One large button per child: opens the card, or starts a check-in."""
    builder = InlineKeyboardBuilder()
    for child_id, label in choices:
        data = CheckInStart(child_id=child_id) if check_in else ChildOpen(child_id=child_id)
        builder.button(text=label, callback_data=data)
    builder.adjust(1)
    return builder.as_markup()


def child_card(child_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=str(texts.CHECK_IN), callback_data=CheckInStart(child_id=child_id))
    builder.button(text=_("⚠️ Raise a concern"), callback_data=ConcernStart(child_id=child_id))
    builder.adjust(1)
    return builder.as_markup()


def activities(chosen: Sequence[Activity]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for activity, label in texts.ACTIVITIES.items():
        mark = "✅" if activity in chosen else "▫️"
        builder.button(text=f"{mark} {label}", callback_data=ActivityToggle(activity=activity))
    builder.button(text=_("Next ➡️"), callback_data=CheckInStep(act=CheckInAct.next))
    builder.adjust(*([2] * (len(texts.ACTIVITIES) // 2)), 1)
    return builder.as_markup()


def no_photos() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("No photos"), callback_data=CheckInStep(act=CheckInAct.no_photos))
    return builder.as_markup()


def visit_answers(question: VisitQuestion) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for answer in VISIT_ANSWERS[question]:
        builder.button(
            text=str(texts.VISIT_ANSWERS[answer]),
            callback_data=VisitAnswer(question=question, answer=answer),
        )
    builder.adjust(3)
    return builder.as_markup()


def summary(key: str, *, days_back: int, today: dt.date, earlier: bool) -> InlineKeyboardMarkup:
    """Confirm first; then when it happened (today unless changed); then cancel."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Confirm"), callback_data=CheckInConfirm(key=key))
    quick = range(QUICK_DAYS_BACK + 1)
    shown = range(QUICK_DAYS_BACK + 1, MAX_DAYS_BACK + 1) if earlier else quick
    for back in shown:
        label = day_label(back, today)
        builder.button(
            text=f"• {label}" if back == days_back else label,
            callback_data=CheckInWhen(days_back=back),
        )
    if not earlier:
        builder.button(text=_("Earlier…"), callback_data=CheckInStep(act=CheckInAct.earlier))
    builder.button(text=_("✖️ Cancel"), callback_data=CheckInStep(act=CheckInAct.cancel))
    rows = [1, QUICK_DAYS_BACK + 2] if not earlier else [1, 3, 2]
    builder.adjust(*rows, 1)
    return builder.as_markup()


def day_label(days_back: int, today: dt.date) -> str:
    if days_back == 0:
        return _("Today")
    if days_back == 1:
        return _("Yesterday")
    day = today - dt.timedelta(days=days_back)
    return _("{month}/{day}").format(month=day.month, day=day.day)


def concern_kinds() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for kind, label in texts.CONCERNS.items():
        builder.button(text=str(label), callback_data=ConcernChoice(kind=kind))
    builder.button(text=_("✖️ Cancel"), callback_data=CheckInStep(act=CheckInAct.cancel))
    builder.adjust(2, 2, 2, 1)
    return builder.as_markup()


def skip_note() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=str(texts.SKIP), callback_data=ConcernSkipNote())
    return builder.as_markup()
