"""打卡: child → what I did → photos → (home-visit questions) → summary → confirm.

At most one question per message and as few taps as possible: a child is skipped when
there is only one, photos move the conversation on by themselves (an album is one step),
and the summary takes the optional extras (a location, a voice or text note) and the
day it happened (today unless changed) before the one confirm. Nothing is stored until
confirm; the conversation's key makes a second confirm find the first check-in.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import keyboards
from bot.telegram.callbacks import (
    ActivityToggle,
    CheckInAct,
    CheckInConfirm,
    CheckInStart,
    CheckInStep,
    CheckInWhen,
    VisitAnswer,
)
from bot.telegram.filters import When
from bot.telegram.routers.common import show_main_menu
from bot.telegram.routers.volunteer import my_pairing
from domain.care import caseload, checkins
from domain.care.checkins import MAX_DAYS_BACK, VISIT_ANSWERS, Draft, PhotoRef, VisitQuestion
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Activity
from domain.people.identity import Identity
from domain.ports import PhotoQueue
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.due import Selection
from domain.wording import labels, render, texts

QUESTIONS = list(VisitQuestion)
MAX_NOTE = 2000


class CheckIn(StatesGroup):
    activities = State()
    photos = State()
    questions = State()
    summary = State()


# ---------------------------------------------------------------- starting


async def from_menu(
    message: Message, state: FSMContext, session: AsyncSession, me: Identity
) -> None:
    children = await caseload.active_children(session, volunteer_ids=me.volunteer_ids)
    if len(children) == 1:  # a new conversation replaces any earlier one
        child_id, name, _pairing = children[0]
        await _ask_activities(message, state, child_id=child_id, child_name=name)
        return
    await state.clear()
    if not children:
        await message.answer(_("No children are paired with you yet."))
    else:
        await message.answer(
            _("Whom did you see?"),
            reply_markup=keyboards.children(
                ((child_id, name) for child_id, name, _ in children), check_in=True
            ),
        )


async def child_chosen(
    query: CallbackQuery,
    callback_data: CheckInStart,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
) -> None:
    pairing = await my_pairing(query, session, me, clock, callback_data.child_id)
    if pairing is None:
        return
    await query.answer()
    if isinstance(query.message, Message):
        name = await caseload.child_name(session, pairing.child_id)
        await _ask_activities(query.message, state, child_id=pairing.child_id, child_name=name)


async def _ask_activities(
    message: Message, state: FSMContext, *, child_id: int, child_name: str
) -> None:
    await state.set_state(CheckIn.activities)
    await state.set_data(
        {
            "key": uuid.uuid4().hex,
            "child_id": child_id,
            "child": child_name,
            "activities": [],
            "photos": [],
            "days_back": 0,
        }
    )
    await message.answer(
        _("What did you do with {child}? Tap all that apply, then “Next”.").format(
            child=child_name
        ),
        reply_markup=keyboards.activities([]),
    )


# ---------------------------------------------------------------- what I did


async def activity_toggled(
    query: CallbackQuery, callback_data: ActivityToggle, state: FSMContext
) -> None:
    data = await state.get_data()
    chosen = [Activity(a) for a in data["activities"]]
    if callback_data.activity in chosen:
        chosen.remove(callback_data.activity)
    else:
        chosen.append(callback_data.activity)
    data["activities"] = [a.value for a in chosen]
    await state.set_data(data)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=keyboards.activities(chosen))


async def activities_done(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    if not data["activities"]:
        await query.answer(_("Please tap at least one thing you did."), show_alert=True)
        return
    await query.answer()
    await state.set_state(CheckIn.photos)
    if isinstance(query.message, Message):
        done = render.activity_names(Activity(a) for a in data["activities"])
        await query.message.edit_text(labels.labelled(data["child"], done))
        await query.message.answer(
            _("Please send a photo or several (an album is fine), or tap “No photos”."),
            reply_markup=keyboards.no_photos(),
        )


async def activities_expected(message: Message) -> None:
    await message.answer(_("Please tap what you did in the message above, then “Next”."))


# ---------------------------------------------------------------- photos


def _photo_of(message: Message) -> PhotoRef | None:
    """The largest size of a photo, or a document that is an image."""
    if message.photo:
        largest = message.photo[-1]
        return PhotoRef(largest.file_id, largest.file_unique_id, largest.file_size)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return PhotoRef(document.file_id, document.file_unique_id, document.file_size)
    return None


async def _add_photo(message: Message, state: FSMContext) -> tuple[dict[str, Any], bool, bool]:
    """Keep the photo unless it is already in (the same picture sent twice counts once:
    Telegram gives it the same `file_unique_id`); True when it belongs to the album whose
    first photo was answered, and True when it was new."""
    ref = _photo_of(message)
    assert ref is not None  # the filter let only photos through
    data = await state.get_data()
    group = message.media_group_id
    same_album = group is not None and group == data.get("album")
    new = all(photo[1] != ref.file_unique_id for photo in data["photos"])
    if new:
        data["photos"] = [*data["photos"], [ref.file_id, ref.file_unique_id, ref.file_size]]
    data["album"] = group
    await state.set_data(data)
    return data, same_album, new


async def photo_sent(message: Message, state: FSMContext, clock: Clock, tz: ZoneInfo) -> None:
    data, _same_album, _new = await _add_photo(message, state)
    await _after_photos(message, state, data, _today(clock, tz))


async def no_photos(query: CallbackQuery, state: FSMContext, clock: Clock, tz: ZoneInfo) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _after_photos(query.message, state, await state.get_data(), _today(clock, tz))


async def _after_photos(
    message: Message, state: FSMContext, data: dict[str, Any], today: dt.date
) -> None:
    if Activity.home_visit.value in data["activities"]:
        await state.set_state(CheckIn.questions)
        await _ask_question(message, data)
    else:
        await _show_summary(message, state, data, today)


async def photo_expected(message: Message) -> None:
    await message.answer(
        _(
            "Please send a photo, or tap “No photos”. Videos, stickers and other files "
            "cannot be kept."
        ),
        reply_markup=keyboards.no_photos(),
    )


async def more_photo(
    message: Message,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
    tz: ZoneInfo,
    raw_state: str | None,
) -> None:
    """A photo after the photo step is kept: the rest of an album quietly, others answered."""
    data, same_album, new = await _add_photo(message, state)
    today = _today(clock, tz)
    if not new:
        if not same_album:
            await message.answer(
                _("📷 This photo is already added ({count} in all).").format(
                    count=len(data["photos"])
                )
            )
        return
    if raw_state == CheckIn.summary.state:
        if same_album:
            await _edit_summary(bot, message.chat.id, data, today)
        else:
            await _show_summary(message, state, data, today)
    elif not same_album:
        await message.answer(
            _("📷 Photo added ({count} in all). Please answer the question above.").format(
                count=len(data["photos"])
            )
        )


# ---------------------------------------------------------------- home-visit questions


def _next_question(data: dict[str, Any]) -> VisitQuestion | None:
    answered = data.get("answers") or {}
    return next((q for q in QUESTIONS if q.value not in answered), None)


def _question_text(question: VisitQuestion) -> str:
    return _("Home visit, question {number} of {total}:\n{question}").format(
        number=QUESTIONS.index(question) + 1,
        total=len(QUESTIONS),
        question=texts.VISIT_QUESTIONS[question],
    )


async def _ask_question(message: Message, data: dict[str, Any]) -> None:
    question = _next_question(data)
    assert question is not None
    await message.answer(_question_text(question), reply_markup=keyboards.visit_answers(question))


async def question_answered(
    query: CallbackQuery,
    callback_data: VisitAnswer,
    state: FSMContext,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    data = await state.get_data()
    question = callback_data.question
    if question != _next_question(data) or callback_data.answer not in VISIT_ANSWERS[question]:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    data["answers"] = {**(data.get("answers") or {}), question.value: callback_data.answer}
    await state.set_data(data)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    # The one message turns into the next question, then into the summary that lists the
    # answers: one call to Telegram per answer, and a chat that stays short.
    if (following := _next_question(data)) is not None:
        await query.message.edit_text(
            _question_text(following), reply_markup=keyboards.visit_answers(following)
        )
    else:
        await _show_summary(query.message, state, data, _today(clock, tz), edit=True)


async def answer_expected(message: Message) -> None:
    await message.answer(_("Please answer with one of the buttons above."))


# ---------------------------------------------------------------- summary, extras, day


def _today(clock: Clock, tz: ZoneInfo) -> dt.date:
    return clock.now().astimezone(tz).date()


def _summary_text(data: dict[str, Any], today: dt.date) -> str:
    lines = [
        _("Please check, then tap “Confirm”:"),
        f"👧 {data['child']}",
        _("Did: {activities}").format(
            activities=render.activity_names(Activity(a) for a in data["activities"])
        ),
        _("📷 Photos: {count}").format(count=len(data["photos"])),
    ]
    lines += [
        f"• {texts.VISIT_QUESTIONS[VisitQuestion(question)]} {texts.VISIT_ANSWERS[answer]}"
        for question, answer in (data.get("answers") or {}).items()
    ]
    if data.get("note"):
        lines.append(_("📝 Note: {note}").format(note=data["note"]))
    if data.get("voice"):
        lines.append(_("🎤 Voice note added"))
    if data.get("latitude") is not None:
        lines.append(_("📍 Location added"))
    if data.get("unsure"):
        lines.append(_("🤔 Marked “not sure”: the coordinator will take a look"))
    lines.append(_("📅 When: {day}").format(day=keyboards.day_label(data["days_back"], today)))
    lines.append("")
    lines.append(
        _(
            "You may still send more photos, your location, a voice note or a short text "
            "note. Tap a day below if it was not today."
        )
    )
    return "\n".join(lines)


async def _show_summary(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    today: dt.date,
    *,
    edit: bool = False,
) -> None:
    """The summary below `message`, or in its place with `edit` (the bot's own message)."""
    text = _summary_text(data, today)
    keyboard = keyboards.summary(
        data["key"],
        days_back=data["days_back"],
        today=today,
        earlier=False,
        unsure=bool(data.get("unsure")),
    )
    if edit:
        await message.edit_text(text, reply_markup=keyboard)
        summary_id = message.message_id
    else:
        summary_id = (await message.answer(text, reply_markup=keyboard)).message_id
    await state.set_state(CheckIn.summary)
    await state.set_data({**data, "summary_id": summary_id})


async def _edit_summary(
    bot: Bot, chat_id: int, data: dict[str, Any], today: dt.date, *, earlier: bool = False
) -> None:
    await bot.edit_message_text(
        text=_summary_text(data, today),
        chat_id=chat_id,
        message_id=data["summary_id"],
        reply_markup=keyboards.summary(
            data["key"],
            days_back=data["days_back"],
            today=today,
            earlier=earlier,
            unsure=bool(data.get("unsure")),
        ),
    )


async def extra_sent(message: Message, state: FSMContext, clock: Clock, tz: ZoneInfo) -> None:
    """A text note, a voice note or a location, added to the summary shown again below."""
    data = await state.get_data()
    dropped = 0
    if message.location is not None:
        data["latitude"] = message.location.latitude
        data["longitude"] = message.location.longitude
    elif message.voice is not None:
        data["voice"] = message.voice.file_id
    else:
        note = "\n".join(filter(None, [data.get("note"), (message.text or "").strip()]))
        data["note"] = note[:MAX_NOTE]
        dropped = max(len(note) - MAX_NOTE, 0)
    await state.set_data(data)
    if dropped:  # said, never cut without a word
        await message.answer(
            _(
                "A check-in's notes hold at most {limit} characters in all: the last {dropped} "
                "characters of this note were not kept."
            ).format(limit=MAX_NOTE, dropped=dropped)
        )
    await _show_summary(message, state, data, _today(clock, tz))


async def extra_expected(message: Message) -> None:
    await message.answer(
        _(
            "Here you can send photos, your location, a voice note or a text note. Videos, "
            "stickers and other files cannot be kept. Tap “Confirm” above when you are done."
        )
    )


async def day_chosen(
    query: CallbackQuery,
    callback_data: CheckInWhen,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    if not 0 <= callback_data.days_back <= MAX_DAYS_BACK:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    data = await state.get_data()
    await query.answer()
    if data["days_back"] != callback_data.days_back and isinstance(query.message, Message):
        data["days_back"] = callback_data.days_back
        await state.set_data(data)
        await _edit_summary(
            bot,
            query.message.chat.id,
            {**data, "summary_id": query.message.message_id},
            _today(clock, tz),
        )


async def earlier_days(
    query: CallbackQuery, state: FSMContext, bot: Bot, clock: Clock, tz: ZoneInfo
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        data = await state.get_data()
        await _edit_summary(
            bot,
            query.message.chat.id,
            {**data, "summary_id": query.message.message_id},
            _today(clock, tz),
            earlier=True,
        )


async def unsure_toggled(
    query: CallbackQuery, state: FSMContext, bot: Bot, clock: Clock, tz: ZoneInfo
) -> None:
    """The volunteer is not sure of it (the day, what was done): it counts and goes to 审核."""
    data = await state.get_data()
    data["unsure"] = not data.get("unsure")
    await state.set_data(data)
    await query.answer()
    if isinstance(query.message, Message):
        await _edit_summary(
            bot,
            query.message.chat.id,
            {**data, "summary_id": query.message.message_id},
            _today(clock, tz),
        )


# ---------------------------------------------------------------- confirm


def _draft(data: dict[str, Any]) -> Draft:
    return Draft(
        child_id=int(data["child_id"]),
        activities=frozenset(Activity(a) for a in data["activities"]),
        photos=tuple(PhotoRef(*photo) for photo in data["photos"]),
        note=data.get("note"),
        voice_file_id=data.get("voice"),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        visit_answers=data.get("answers"),
        days_back=int(data["days_back"]),
        uncertain=bool(data.get("unsure")),
    )


async def confirmed(
    query: CallbackQuery,
    callback_data: CheckInConfirm,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    photo_queue: PhotoQueue,
    raw_state: str | None,
) -> None:
    """Store the check-in once. A second press (or a redelivered one) finds the first."""
    data = await state.get_data() if raw_state == CheckIn.summary.state else {}
    if data.get("key") != callback_data.key:
        existing = await checkins.by_key(session, callback_data.key)
        if existing is not None and existing.volunteer_id in me.volunteer_ids:
            await query.answer(_("Already saved. Thank you!"))
        else:
            await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    now = clock.now()
    recorded = await checkins.record(
        session,
        volunteer_ids=me.volunteer_ids,
        draft=_draft(data),
        idempotency_key=callback_data.key,
        actor_id=me.person_id,
        now=now,
    )
    uow.after_commit(state.clear)  # kept if the commit fails, so confirm can be pressed again
    for photo_id in recorded.photo_ids:
        uow.after_commit(functools.partial(photo_queue.store_later, photo_id))
    still_due = await due.due_items(
        session,
        month=Month.of(now, tz),
        tz=tz,
        selection=Selection(pairing_ids=[recorded.pairing_id]),
        only_missing=True,
    )
    await uow.commit()  # "saved" only once it is: a commit that fails is "try again"
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(
            _("✅ Saved. Thank you!") + "\n" + render.still_due(still_due, data["child"])
        )


# ---------------------------------------------------------------- interrupted

IN_CHECK_IN = StateFilter(CheckIn.activities, CheckIn.photos, CheckIn.questions, CheckIn.summary)


async def interrupted(message: Message, state: FSMContext) -> None:
    """A command or a menu tap in the middle of a check-in: nothing is dropped unasked."""
    data = await state.get_data()
    await message.answer(
        _(
            "Your check-in for {child} is not finished yet ({photos} photos so far). "
            "Continue it, or discard it?"
        ).format(child=data.get("child", ""), photos=len(data.get("photos") or [])),
        reply_markup=keyboards.resume_or_discard(),
    )


async def resumed(
    query: CallbackQuery,
    state: FSMContext,
    clock: Clock,
    tz: ZoneInfo,
    raw_state: str | None,
) -> None:
    """The step the check-in was at, asked again below."""
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    await message.edit_reply_markup(reply_markup=None)
    data = await state.get_data()
    if raw_state == CheckIn.activities.state:
        await message.answer(
            _("What did you do with {child}? Tap all that apply, then “Next”.").format(
                child=data["child"]
            ),
            reply_markup=keyboards.activities([Activity(a) for a in data["activities"]]),
        )
    elif raw_state == CheckIn.photos.state:
        await message.answer(
            _("Please send a photo or several (an album is fine), or tap “No photos”."),
            reply_markup=keyboards.no_photos(),
        )
    elif raw_state == CheckIn.questions.state:
        await _ask_question(message, data)
    else:
        await _show_summary(message, state, data, _today(clock, tz))


async def discarded(query: CallbackQuery, state: FSMContext, me: Identity) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("The check-in was discarded. Nothing was saved."))
        await show_main_menu(query.message, me)


async def no_longer_valid(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


def make_guard_router() -> Router:
    """Before every other router: a command or a menu tap that would start something else
    during a check-in asks whether to continue or discard it, instead of silently dropping
    its photos and answers (/cancel discards as asked; /help and /language keep it)."""
    router = Router(name="checkin-guard")
    router.message.filter(MagicData(F.me.is_volunteer))
    router.callback_query.filter(MagicData(F.me.is_volunteer))
    menu = (texts.MY_CHILDREN, texts.CHECK_IN, *texts.COORDINATOR_MENU)
    router.message.register(
        interrupted,
        IN_CHECK_IN,
        When(
            (F.text.startswith("/") & ~F.text.regexp(r"^/(cancel|help|language)\b"))
            | F.text.in_(menu)
        ),
    )
    router.callback_query.register(
        resumed, IN_CHECK_IN, CheckInStep.filter(F.act == CheckInAct.resume)
    )
    router.callback_query.register(
        discarded, IN_CHECK_IN, CheckInStep.filter(F.act == CheckInAct.discard)
    )
    router.callback_query.register(
        no_longer_valid, CheckInStep.filter(F.act.in_({CheckInAct.resume, CheckInAct.discard}))
    )
    return router


def make_router() -> Router:
    router = Router(name="checkin")
    router.message.filter(MagicData(F.me.is_volunteer))
    router.callback_query.filter(MagicData(F.me.is_volunteer))
    photo = When(F.photo | F.document.mime_type.startswith("image/"))

    router.message.register(from_menu, When(F.text == texts.CHECK_IN))
    router.callback_query.register(child_chosen, CheckInStart.filter())
    router.callback_query.register(confirmed, CheckInConfirm.filter())

    router.callback_query.register(
        activity_toggled, StateFilter(CheckIn.activities), ActivityToggle.filter()
    )
    router.callback_query.register(
        activities_done,
        StateFilter(CheckIn.activities),
        CheckInStep.filter(F.act == CheckInAct.next),
    )
    router.message.register(activities_expected, StateFilter(CheckIn.activities))

    router.message.register(photo_sent, StateFilter(CheckIn.photos), photo)
    router.callback_query.register(
        no_photos, StateFilter(CheckIn.photos), CheckInStep.filter(F.act == CheckInAct.no_photos)
    )
    router.message.register(photo_expected, StateFilter(CheckIn.photos))

    router.message.register(more_photo, StateFilter(CheckIn.questions, CheckIn.summary), photo)
    router.callback_query.register(
        question_answered, StateFilter(CheckIn.questions), VisitAnswer.filter()
    )
    router.message.register(answer_expected, StateFilter(CheckIn.questions))

    router.message.register(
        extra_sent,
        StateFilter(CheckIn.summary),
        When(F.location | F.voice | (F.text & ~F.text.startswith("/"))),
    )
    router.callback_query.register(day_chosen, StateFilter(CheckIn.summary), CheckInWhen.filter())
    router.callback_query.register(
        earlier_days, StateFilter(CheckIn.summary), CheckInStep.filter(F.act == CheckInAct.earlier)
    )
    router.callback_query.register(
        unsure_toggled, StateFilter(CheckIn.summary), CheckInStep.filter(F.act == CheckInAct.unsure)
    )
    router.message.register(extra_expected, StateFilter(CheckIn.summary))
    return router
