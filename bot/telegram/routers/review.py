"""🔍 审核: the site's review queue for a coordinator — each check-in with its photos (and the
earlier photo it resembles), its place when far from home, why it is looked at and the
volunteer's answer — and 通过 / 询问 / 退回; the volunteer's side: 回答 a question."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, FSInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import outgoing
from bot.telegram.callbacks import ReviewAct, ReviewAction
from bot.telegram.filters import When
from bot.telegram.i18n import DEFAULT_LOCALE, LOCALES
from domain.care import review, timeline
from domain.care.review import Waiting
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.addresses import address_of
from domain.delivery.content import Action, ActionKind, Content
from domain.models import CheckIn, Child, Person, Photo, ReviewItem
from domain.people import audit
from domain.people.identity import Identity
from domain.wording import formatting, labels, texts
from guanai.settings import Settings

SHOWN = 5  # check-ins shown at a time, oldest first


class Answering(StatesGroup):
    answer = State()  # the volunteer answers a coordinator's question


def reasons(items: list[ReviewItem]) -> str:
    said = []
    for item in items:
        text = str(texts.REVIEW_REASON.get(item.reason, item.reason))
        if item.reason == review.FAR_FROM_HOME and item.details:
            text += _(" ({km:.1f} km)").format(km=item.details.get("metres", 0) / 1000)
        said.append(text)
    return "；".join(said)


def review_actions(checkin_id: int) -> list[Action]:
    """通过 / 询问 / 退回, in the reader's language."""
    return [
        Action(ActionKind.approve_checkin, _("✅ Approve"), checkin_id),
        Action(ActionKind.question_checkin, _("❓ Ask the volunteer"), checkin_id),
        Action(ActionKind.reject_checkin, _("↩️ Reject"), checkin_id),
    ]


def buttons(checkin_id: int) -> dict[str, object]:
    """The review actions as the Bot API's keyboard, for a reply sent at once."""
    row = [
        {"text": action.label, "callback_data": outgoing.callback_data(action)}
        for action in review_actions(checkin_id)
    ]
    return {"inline_keyboard": [row]}


def _line(checkin: CheckIn, child_name: str, volunteer_name: str, tz: ZoneInfo) -> str:
    activities = "、".join(str(labels.ACTIVITY[a.activity]) for a in checkin.activities)
    when = formatting.day(checkin.occurred_at, tz)
    return f"{child_name} · {volunteer_name} · {when} {activities}"


async def _send_photo(message: Message, photo: Photo, caption: str, settings: Settings) -> None:
    stored = settings.media_dir / photo.stored_path if photo.stored_path else None
    source = FSInputFile(stored) if stored and stored.is_file() else photo.file_id
    await message.answer_photo(source, caption=caption)


async def show(
    message: Message, session: AsyncSession, waiting: Waiting, settings: Settings, tz: ZoneInfo
) -> None:
    """One check-in of the queue: what there is to see, then why and the three buttons."""
    checkin = waiting.checkin
    await session.refresh(checkin, ["photos", "activities"])
    line = _line(checkin, waiting.child_name, waiting.volunteer_name, tz)
    for photo in checkin.photos:
        await _send_photo(message, photo, line, settings)
    for item in waiting.items:
        similar = (item.details or {}).get("similar_photo_id")
        if item.reason == review.SIMILAR_PHOTO and similar is not None:
            earlier = await session.get(Photo, similar)
            if earlier is not None:
                await _send_photo(message, earlier, _("The earlier photo it resembles"), settings)
    if checkin.voice_file_id:
        await message.answer_voice(checkin.voice_file_id, caption=line)
    if checkin.latitude is not None and checkin.longitude is not None:
        await message.answer_location(checkin.latitude, checkin.longitude)
    lines = [f"🔍 {line}", _("Why to review: {reason}").format(reason=reasons(waiting.items))]
    if checkin.note:
        lines.append(checkin.note)
    for item in waiting.items:
        if item.answer:
            lines.append(_("The volunteer answered: {answer}").format(answer=item.answer))
            break
        if item.answer_voice_file_id:
            await message.answer_voice(
                item.answer_voice_file_id, caption=_("The volunteer answered")
            )
            break
    await message.answer("\n".join(lines), reply_markup=buttons(checkin.id))  # type: ignore[arg-type]


async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    settings: Settings,
    tz: ZoneInfo,
) -> None:
    await state.clear()
    shown, total = await review.queue(session, [scope.path for scope in me.scopes], limit=SHOWN)
    audit.record(
        session,
        at=clock.now(),
        action="review.queue",
        actor_id=me.person_id,
        details={"checkins": [w.checkin.id for w in shown]},
    )
    if not shown:
        await message.answer(_("Nothing waits for review. Thank you!"))
        return
    await message.answer(
        _("{count} check-ins wait for review; the oldest first:").format(count=total)
    )
    for waiting in shown:
        await show(message, session, waiting, settings, tz)


def _in_locale(person: Person) -> str:
    return person.language if person.language in LOCALES else DEFAULT_LOCALE


async def decide(
    query: CallbackQuery,
    callback_data: ReviewAction,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    i18n: I18n,
) -> None:
    at = clock.now()
    if callback_data.act is ReviewAct.approve:
        await timeline.approve(session, callback_data.checkin_id, me, at)
        done = _("Approved.")
    elif callback_data.act is ReviewAct.question:

        def question(person: Person, checkin: CheckIn, child: Child) -> Content:
            with i18n.use_locale(_in_locale(person)):
                text = _(
                    "Hello {name}, {coordinator} has a question about your check-in for "
                    "{child} on {day}. Please tap “Answer” and tell them in a few words or a "
                    "voice note. Thank you!"
                ).format(
                    name=person.name,
                    coordinator=me.name,
                    child=child.name,
                    day=formatting.day(checkin.occurred_at, tz),
                )
                answer = Action(ActionKind.answer_question, _("✍️ Answer"), checkin.id)
            return Content.lines([text], actions=[[answer]])

        await timeline.question(session, callback_data.checkin_id, me, message_for=question, at=at)
        done = _("The volunteer has been asked.")
    else:
        items = await review.open_items(session, [callback_data.checkin_id])
        checkin_reasons = {
            checkin_id: reasons(found) for checkin_id, found in items.items() if found
        }

        def why(person: Person, checkin: CheckIn, child: Child) -> str:
            with i18n.use_locale(_in_locale(person)):
                return _(
                    "Hello {name}, {coordinator} looked at your check-in for {child} on {day} "
                    "and could not count it in the record ({reason}). If this is a "
                    "misunderstanding, please call them. Thank you for all you do!"
                ).format(
                    name=person.name,
                    coordinator=me.name,
                    child=child.name,
                    day=formatting.day(checkin.occurred_at, tz),
                    reason=checkin_reasons.get(checkin.id, "—"),
                )

        await timeline.reject(session, callback_data.checkin_id, me, text_for=why, at=at)
        done = _("Rejected: the check-in no longer counts, and the volunteer has been told.")
    await uow.commit()  # decided before we say so
    await query.answer(done)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(done)


async def answer_pressed(
    query: CallbackQuery, callback_data: ReviewAction, state: FSMContext
) -> None:
    await state.set_state(Answering.answer)
    await state.update_data(checkin_id=callback_data.checkin_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Please write your answer, or send a voice note."))


async def answered(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    await state.clear()  # answered, or settled already: either way the next text is not an answer
    at = clock.now()
    text = (message.text or message.caption or "").strip()[:1000] or None
    voice = message.voice.file_id if message.voice else None
    got = await review.answer(
        session,
        int(data["checkin_id"]),
        volunteer_ids=me.volunteer_ids,
        text=text,
        voice_file_id=voice,
        at=at,
    )
    coordinator = got.coordinator
    if coordinator is not None:
        await _tell_coordinator(session, coordinator, got, me, answer=text, at=at, tz=tz, i18n=i18n)
    await uow.commit()
    await message.answer(
        _("Thank you, your answer has been passed on to {coordinator}.").format(
            coordinator=coordinator.name if coordinator else _("the coordinator")
        )
    )


async def _tell_coordinator(
    session: AsyncSession,
    coordinator: Person,
    got: review.Answered,
    me: Identity,
    *,
    answer: str | None,
    at: dt.datetime,
    tz: ZoneInfo,
    i18n: I18n,
) -> None:
    address = await address_of(session, coordinator.id)
    if address is None:
        return  # no chat the bot can write to: the answer waits in their queue
    with i18n.use_locale(_in_locale(coordinator)):
        said = answer or _("a voice note (tap 🔍 Review to hear it)")
        text = _(
            "{volunteer} answered your question about the check-in for {child} on {day}: {answer}"
        ).format(
            volunteer=me.name,
            child=got.child.name,
            day=formatting.day(got.checkin.occurred_at, tz),
            answer=said,
        )
        actions = review_actions(got.checkin.id)
    await outbox.enqueue(
        session,
        to=address,
        content=Content.lines([text], actions=[actions]),
        not_before=at,
        dedupe_key=f"answer:{got.checkin.id}:{at.isoformat()}",
    )


async def answer_expected(message: Message) -> None:
    await message.answer(_("Please write your answer, or send a voice note."))


def make_router() -> Router:
    router = Router(name="review")
    coordinator = MagicData(F.me.is_coordinator)
    volunteer = MagicData(F.me.is_volunteer)
    router.message.register(start, coordinator, When(F.text == texts.REVIEW))
    router.callback_query.register(
        answer_pressed, volunteer, ReviewAction.filter(F.act == ReviewAct.answer)
    )
    router.callback_query.register(
        decide, coordinator, ReviewAction.filter(F.act != ReviewAct.answer)
    )
    router.message.register(
        answered,
        volunteer,
        StateFilter(Answering.answer),
        When(F.voice | (F.text & ~F.text.startswith("/"))),
    )
    router.message.register(
        answer_expected, volunteer, StateFilter(Answering.answer), When(F.photo)
    )
    return router
