"""Keyboards. Main menus are large reply buttons; choices are inline buttons.

Inline keyboards are built as plain markup rather than with aiogram's builders: the
builders deep-copy every button, which showed up as a tenth of the bot's time per
update in bench/checkins.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.telegram.callbacks import (
    ActivityToggle,
    CheckInAct,
    CheckInConfirm,
    CheckInStart,
    CheckInStep,
    CheckInWhen,
    ConcernChoice,
    ConcernSkipNote,
    ConcernStart,
    EmergencyStart,
    ImportSite,
    ImportWhat,
    JoinAct,
    JoinStep,
    LanguageChoice,
    MyChildOpen,
    VisitAnswer,
)
from domain.archive.archive_import import ImportKind
from domain.care.checkins import MAX_DAYS_BACK, VISIT_ANSWERS, VisitQuestion
from domain.models import Activity, Region
from domain.wording import texts

QUICK_DAYS_BACK = 2  # today, yesterday, the day before; the rest behind "earlier"

Button = tuple[object, CallbackData]  # the text: a string or a lazy msgid


def _button(text: object, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=str(text), callback_data=data.pack())


def _rows(*rows: Sequence[Button]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(text, data) for text, data in row] for row in rows if row]
    )


def _chunks(buttons: Sequence[Button], width: int) -> list[Sequence[Button]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def main_menu(*, coordinator: bool, volunteer: bool) -> ReplyKeyboardMarkup:
    """A coordinator who is also a volunteer gets their children and check-in too."""
    labels = [*texts.COORDINATOR_MENU] if coordinator else []
    if volunteer:
        labels += [texts.MY_CHILDREN, texts.CHECK_IN]
    if not coordinator:
        labels.append(texts.HELP)
    buttons = [KeyboardButton(text=str(label)) for label in labels]
    return ReplyKeyboardMarkup(
        keyboard=[buttons[i : i + 2] for i in range(0, len(buttons), 2)],
        resize_keyboard=True,
        is_persistent=True,
    )


def language_choice() -> InlineKeyboardMarkup:
    return _rows([("中文", LanguageChoice(locale="zh")), ("English", LanguageChoice(locale="en"))])


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


def use_name(name: str) -> InlineKeyboardMarkup:
    return _rows([(_("Use “{name}”").format(name=name), JoinStep(act=JoinAct.name))])


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
    return _rows(
        [(_("✅ I agree"), JoinStep(act=JoinAct.agree))],
        [(_("I do not agree"), JoinStep(act=JoinAct.decline))],
    )


def children(choices: Iterable[tuple[int, str]], *, check_in: bool = False) -> InlineKeyboardMarkup:
    """One large button per child: opens the card, or starts a check-in."""
    return _rows(
        *(
            [
                (
                    label,
                    CheckInStart(child_id=child_id) if check_in else MyChildOpen(child_id=child_id),
                )
            ]
            for child_id, label in choices
        )
    )


def child_card(child_id: int) -> InlineKeyboardMarkup:
    return _rows(
        [(texts.CHECK_IN, CheckInStart(child_id=child_id))],
        [(_("⚠️ Raise a concern"), ConcernStart(child_id=child_id))],
        [(_("🚨 Emergency or drop-out"), EmergencyStart(child_id=child_id))],
    )


def activities(chosen: Sequence[Activity]) -> InlineKeyboardMarkup:
    toggles: list[Button] = [
        (f"{'✅' if activity in chosen else '▫️'} {label}", ActivityToggle(activity=activity))
        for activity, label in texts.ACTIVITIES.items()
    ]
    return _rows(*_chunks(toggles, 2), [(_("Next ➡️"), CheckInStep(act=CheckInAct.next))])


def resume_or_discard() -> InlineKeyboardMarkup:
    return _rows(
        [
            (_("▶️ Continue the check-in"), CheckInStep(act=CheckInAct.resume)),
            (_("🗑 Discard it"), CheckInStep(act=CheckInAct.discard)),
        ]
    )


def no_photos() -> InlineKeyboardMarkup:
    return _rows([(_("No photos"), CheckInStep(act=CheckInAct.no_photos))])


def visit_answers(question: VisitQuestion) -> InlineKeyboardMarkup:
    return _rows(
        [
            (texts.VISIT_ANSWERS[answer], VisitAnswer(question=question, answer=answer))
            for answer in VISIT_ANSWERS[question]
        ]
    )


def summary(
    key: str, *, days_back: int, today: dt.date, earlier: bool, unsure: bool = False
) -> InlineKeyboardMarkup:
    """Confirm first; then when it happened (today unless changed); "not sure"; cancel."""
    quick = range(QUICK_DAYS_BACK + 1)
    shown = range(QUICK_DAYS_BACK + 1, MAX_DAYS_BACK + 1) if earlier else quick
    days: list[Button] = [
        (
            f"• {day_label(back, today)}" if back == days_back else day_label(back, today),
            CheckInWhen(days_back=back),
        )
        for back in shown
    ]
    if not earlier:
        days.append((_("Earlier…"), CheckInStep(act=CheckInAct.earlier)))
    return _rows(
        [(_("✅ Confirm"), CheckInConfirm(key=key))],
        *_chunks(days, 4 if not earlier else 3),
        [
            (
                _("• 🤔 Not sure of it") if unsure else _("🤔 Not sure of it"),
                CheckInStep(act=CheckInAct.unsure),
            ),
            (_("✖️ Cancel"), CheckInStep(act=CheckInAct.cancel)),
        ],
    )


def day_label(days_back: int, today: dt.date) -> str:
    if days_back == 0:
        return _("Today")
    if days_back == 1:
        return _("Yesterday")
    day = today - dt.timedelta(days=days_back)
    return _("{month}/{day}").format(month=day.month, day=day.day)


def concern_kinds() -> InlineKeyboardMarkup:
    kinds: list[Button] = [
        (label, ConcernChoice(kind=kind)) for kind, label in texts.CONCERNS.items()
    ]
    return _rows(*_chunks(kinds, 2), [(_("✖️ Cancel"), CheckInStep(act=CheckInAct.cancel))])


def skip_note() -> InlineKeyboardMarkup:
    return _rows([(texts.SKIP, ConcernSkipNote())])
