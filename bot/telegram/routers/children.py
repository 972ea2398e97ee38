"""A child's card for a coordinator: the archive, who is paired, recent check-ins and their
photos, and the check-ins awaiting review with approve / question buttons."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, FSInputFile, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import (
    ChildOpen,
    ChildView,
    EmergencyStart,
    LetterSigned,
)
from bot.telegram.filters import When
from bot.telegram.routers import review as review_router
from domain.care import review as queue
from domain.care import timeline
from domain.care.timeline import Entry
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Child, Guardianship, Photo, Priority, ReviewStatus
from domain.people import audit, scopes
from domain.people.identity import Identity
from domain.wording import formatting, labels, texts
from guanai.settings import Settings

MAX_PHOTOS = 10
MAX_REVIEW = 5


async def card(
    query: CallbackQuery,
    callback_data: ChildOpen,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    shown = await timeline.card(session, callback_data.child_id, me, clock.now())
    child = shown.child
    lines = [f"📇 {child.name} · {shown.site_name}"]
    if child.priority is Priority.key:
        lines[0] += " · " + _("key child")
    lines += _archive(child)
    for paired in shown.paired:
        lines.append(
            _("Paired with {name} ({kind}) since {day}").format(
                name=paired.name,
                kind=texts.VOLUNTEER_KIND[paired.kind.value],
                day=formatting.day(paired.since, tz),
            )
        )
    if shown.recent:
        lines.append(_("Recent check-ins:"))
        lines += [f"• {_entry_line(entry, tz)}" for entry in shown.recent]
    else:
        lines.append(_("No check-ins yet."))
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🖼 Photos, voice, places"),
        callback_data=ChildOpen(child_id=child.id, view=ChildView.photos),
    )
    if shown.to_review:
        builder.button(
            text=_("🔍 To review ({count})").format(count=shown.to_review),
            callback_data=ChildOpen(child_id=child.id, view=ChildView.review),
        )
    builder.button(
        text=_("🚨 Emergency or must-visit"), callback_data=EmergencyStart(child_id=child.id)
    )
    if child.guardianship is Guardianship.entrusted:
        builder.button(
            text=_("📝 Entrusted guardian's letter signed"),
            callback_data=LetterSigned(child_id=child.id),
        )
    builder.button(
        text=_("🤝 Pairing"), callback_data=ChildOpen(child_id=child.id, view=ChildView.pairing)
    )
    builder.button(
        text=_("📍 Set the home's location"),
        callback_data=ChildOpen(child_id=child.id, view=ChildView.home),
    )
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer("\n".join(lines), reply_markup=builder.as_markup())


def _archive(child: Child) -> list[str]:
    """The contact card's lines, only those filled in."""
    lines = []
    facts = [
        _("born {date}").format(date=child.birth_date.isoformat()) if child.birth_date else "",
        " ".join(filter(None, [child.school, child.grade, child.class_name])),
    ]
    if any(facts):
        lines.append(" · ".join(filter(None, facts)))
    if child.address:
        lines.append(_("Home: {address}").format(address=child.address))
    if child.home_latitude is not None:
        lines.append(
            _("Home's location: set by a coordinator")
            if child.home_set_by is not None
            else _("Home's location: from the first home visit with a location")
        )
    for guardian in child.guardians:
        lines.append(
            _("Guardian: {name} ({relation}) {phone}").format(
                name=guardian.name,
                relation=formatting.relation(guardian.relation),
                phone=formatting.phone(guardian.phone),
            )
        )
    for parent in child.parents:
        lines.append(
            _("{relation}: works in {place} {phone}").format(
                relation=formatting.relation(parent.relation),
                place=parent.work_place or "—",
                phone=formatting.phone(parent.phone),
            )
        )
    for label, value in (
        (_("Study"), child.study),
        (_("Health"), child.health),
        (_("Personality"), child.personality),
        (_("Interests"), child.interests),
    ):
        if value:
            lines.append(labels.labelled(str(label), value))
    return lines


def _entry_line(entry: Entry, tz: ZoneInfo) -> str:
    checkin = entry.checkin
    activities = "、".join(str(labels.ACTIVITY[a.activity]) for a in checkin.activities)
    when = formatting.day(checkin.occurred_at, tz)
    line = labels.labelled(f"{when} {entry.volunteer_name}", activities)
    if checkin.voice_file_id:
        line += " · " + _("🎤 voice note")
    if checkin.latitude is not None:
        line += " · " + _("📍 location")
    if checkin.review is ReviewStatus.pending:
        line += " · " + _("to review")
    return line


async def _send_voice_and_place(query: CallbackQuery, entry: Entry, tz: ZoneInfo) -> int:
    """The visit's voice note and where it was recorded, as Telegram shows them."""
    message = query.message
    if not isinstance(message, Message):
        return 0
    checkin, sent = entry.checkin, 0
    if checkin.voice_file_id:
        await message.answer_voice(checkin.voice_file_id, caption=_entry_line(entry, tz))
        sent += 1
    if checkin.latitude is not None and checkin.longitude is not None:
        await message.answer_location(checkin.latitude, checkin.longitude)
        sent += 1
    return sent


async def _send_photos(
    query: CallbackQuery, photos: list[Photo], caption: str, settings: Settings
) -> int:
    """Stored copies when the photo job kept one, else Telegram's own file id."""
    message = query.message
    if not isinstance(message, Message):
        return 0
    for photo in photos:
        stored = settings.media_dir / photo.stored_path if photo.stored_path else None
        source = FSInputFile(stored) if stored and stored.is_file() else photo.file_id
        await message.answer_photo(source, caption=caption)
    return len(photos)


async def photos(
    query: CallbackQuery,
    callback_data: ChildOpen,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    settings: Settings,
    tz: ZoneInfo,
) -> None:
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    sent = 0
    await query.answer()
    for entry in await timeline.entries(session, child.id, limit=MAX_PHOTOS):
        room = MAX_PHOTOS - sent
        if room <= 0:
            break
        sent += await _send_photos(
            query, entry.checkin.photos[:room], _entry_line(entry, tz), settings
        )
        sent += await _send_voice_and_place(query, entry, tz)
    audit.record(
        session,
        at=clock.now(),
        action="child.photos",
        actor_id=me.person_id,
        subject_type="child",
        subject_id=child.id,
        details={"count": sent},
    )
    if not sent and isinstance(query.message, Message):
        await query.message.answer(_("No photos, voice notes or places yet."))


async def review(
    query: CallbackQuery,
    callback_data: ChildOpen,
    session: AsyncSession,
    me: Identity,
    settings: Settings,
    tz: ZoneInfo,
) -> None:
    """The child's check-ins of the review queue, shown as the queue shows them."""
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    pending = await timeline.entries(session, child.id, limit=MAX_REVIEW, pending_review=True)
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    if not pending:
        await message.answer(_("Nothing to review for {child}.").format(child=child.name))
        return
    items = await queue.open_items(session, [entry.checkin.id for entry in pending])
    for entry in pending:
        waiting = queue.Waiting(
            entry.checkin, child.name, entry.volunteer_name, items[entry.checkin.id]
        )
        await review_router.show(message, session, waiting, settings, tz)


class HomePlace(StatesGroup):
    place = State()  # the coordinator sends the child's home location


async def home_asked(
    query: CallbackQuery,
    callback_data: ChildOpen,
    session: AsyncSession,
    me: Identity,
    state: FSMContext,
) -> None:
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    await state.set_state(HomePlace.place)
    await state.update_data(child_id=child.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _(
                "Please send the location of {child}'s home (📎 → Location). Check-ins far "
                "from it will be put in 🔍 Review."
            ).format(child=child.name)
        )


async def home_sent(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
) -> None:
    assert message.location is not None
    child, _scope = await scopes.child(
        session, me.scopes, int((await state.get_data())["child_id"])
    )
    place = queue.Point(message.location.latitude, message.location.longitude)
    await queue.set_home(session, child, place, by=me.person_id, at=clock.now())
    await uow.commit()
    await state.clear()
    await message.answer(_("Saved: the location of {child}'s home.").format(child=child.name))


async def home_expected(message: Message) -> None:
    await message.answer(_("Please send a location (📎 → Location), or /cancel."))


def make_router() -> Router:
    router = Router(name="children")
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.callback_query.register(card, ChildOpen.filter(F.view == ChildView.card))
    router.callback_query.register(photos, ChildOpen.filter(F.view == ChildView.photos))
    router.callback_query.register(review, ChildOpen.filter(F.view == ChildView.review))
    router.callback_query.register(home_asked, ChildOpen.filter(F.view == ChildView.home))
    coordinator = MagicData(F.me.is_coordinator)
    router.message.register(home_sent, coordinator, StateFilter(HomePlace.place), When(F.location))
    router.message.register(
        home_expected, coordinator, StateFilter(HomePlace.place), When(~F.text.startswith("/"))
    )
    return router
