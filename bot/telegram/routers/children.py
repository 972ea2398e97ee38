"""A child's card for a coordinator: the archive, who is paired, recent check-ins and their
photos, and the check-ins awaiting review with approve / question buttons."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.types import CallbackQuery, FSInputFile, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import (
    ChildOpen,
    ChildView,
    EmergencyStart,
    LetterSigned,
    ReviewAct,
    ReviewAction,
)
from bot.telegram.i18n import DEFAULT_LOCALE, LOCALES
from domain.care import timeline
from domain.care.timeline import Entry
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import CheckIn, Child, Guardianship, Person, Photo, Priority, ReviewStatus
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
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    pending = await timeline.entries(session, child.id, limit=MAX_REVIEW, pending_review=True)
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    if not pending:
        await message.answer(_("Nothing to review for {child}.").format(child=child.name))
        return
    for entry in pending:
        checkin = entry.checkin
        line = _entry_line(entry, tz)
        await _send_photos(query, checkin.photos, line, settings)
        reason = texts.REVIEW_REASON.get(checkin.review_reason or "")
        text = _("{line}\nWhy to review: {reason}").format(
            line=line, reason=reason or checkin.review_reason or "—"
        )
        if checkin.note:
            text += "\n" + checkin.note
        await message.answer(text, reply_markup=_review_buttons(checkin))


def _review_buttons(checkin: CheckIn) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Approve"),
        callback_data=ReviewAction(checkin_id=checkin.id, act=ReviewAct.approve),
    )
    builder.button(
        text=_("❓ Ask the volunteer"),
        callback_data=ReviewAction(checkin_id=checkin.id, act=ReviewAct.question),
    )
    return builder.as_markup()


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
    if callback_data.act is ReviewAct.approve:
        await timeline.approve(session, callback_data.checkin_id, me, clock.now())
        done = _("Approved.")
    else:

        def text_for(person: Person, checkin: CheckIn, child: Child) -> str:
            locale = person.language if person.language in LOCALES else DEFAULT_LOCALE
            with i18n.use_locale(locale):
                return _(
                    "Hello {name}, {coordinator} has a question about your check-in for "
                    "{child} on {day}. Please give them a call or send the photos again. "
                    "Thank you!"
                ).format(
                    name=person.name,
                    coordinator=me.name,
                    child=child.name,
                    day=formatting.day(checkin.occurred_at, tz),
                )

        await timeline.question(
            session, callback_data.checkin_id, me, text_for=text_for, at=clock.now()
        )
        done = _("The volunteer has been asked.")
    await uow.commit()  # decided before we say so
    await query.answer(done)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(done)


def make_router() -> Router:
    router = Router(name="children")
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.callback_query.register(card, ChildOpen.filter(F.view == ChildView.card))
    router.callback_query.register(photos, ChildOpen.filter(F.view == ChildView.photos))
    router.callback_query.register(review, ChildOpen.filter(F.view == ChildView.review))
    router.callback_query.register(decide, ReviewAction.filter())
    return router
