"""⏰ Overdue: what is late in one's scope, most urgent first, five to a page; from each
item, message the volunteer, move the child to another volunteer, or mark it handled."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import (
    OverdueAct,
    OverdueAction,
    OverduePage,
    OverdueRef,
    VolunteerList,
)
from bot.telegram.filters import When
from bot.telegram.i18n import DEFAULT_LOCALE, LOCALES
from bot.telegram.keyboards import answer_or_edit, page_buttons
from bot.telegram.replies import tell_taken
from bot.telegram.routers.pairing import choose_volunteer
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import EscalationKind, Person
from domain.people import audit, scopes
from domain.people.identity import Identity
from domain.schedule import escalations, overdue
from domain.schedule.calendar import Month
from domain.schedule.overdue import Due, OverdueItem, OverdueKind, Target
from domain.wording import formatting, labels, news, texts

PAGE = 5


async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    await state.clear()
    text, markup = await _render(session, me, clock, tz, page=0)
    await message.answer(text, reply_markup=markup)


async def turn_page(
    query: CallbackQuery,
    callback_data: OverduePage,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    text, markup = await _render(session, me, clock, tz, page=callback_data.page)
    await query.answer()
    await answer_or_edit(query, text, markup)


async def _items(
    session: AsyncSession, me: Identity, clock: Clock, tz: ZoneInfo
) -> list[OverdueItem]:
    found: list[OverdueItem] = []
    for scope in scopes.outermost(me.scopes):
        found += await overdue.overdue(session, scope_path=scope.path, now=clock.now(), tz=tz)
    return sorted(found, key=OverdueItem.sort_key)


async def _render(
    session: AsyncSession, me: Identity, clock: Clock, tz: ZoneInfo, *, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    items = await _items(session, me, clock, tz)
    if not items:
        return _("Nothing is overdue in your area. Thank you all!"), None
    pages = (len(items) + PAGE - 1) // PAGE
    page = min(page, pages - 1)
    shown = items[page * PAGE : (page + 1) * PAGE]
    audit.record(
        session,
        at=clock.now(),
        action="overdue.view",
        actor_id=me.person_id,
        details={"child_ids": sorted({item.child_id for item in shown})},
    )
    lines = [
        _("⏰ Overdue: {count} (page {page}/{pages})").format(
            count=len(items), page=page + 1, pages=pages
        )
    ]
    builder = InlineKeyboardBuilder()
    for number, item in enumerate(shown, start=page * PAGE + 1):
        lines.append(f"{number}. {_line(item, clock, tz)}")
        ref_kind, ref, month = _ref(item)
        builder.row(
            *(
                InlineKeyboardButton(
                    text=label.format(number=number),
                    callback_data=OverdueAction(
                        act=act, ref_kind=ref_kind, ref=ref, month=month
                    ).pack(),
                )
                for label, act in (
                    (_("✉️ Remind {number}"), OverdueAct.nudge),
                    (_("🔁 Reassign {number}"), OverdueAct.reassign),
                    (_("✅ Handled {number}"), OverdueAct.handled),
                )
            )
        )
    page_buttons(builder, page, len(items), PAGE, lambda p: OverduePage(page=p))
    return "\n".join(lines), builder.as_markup()


def _line(item: OverdueItem, clock: Clock, tz: ZoneInfo) -> str:
    child = ("⚠️ " if item.key_child else "") + item.child_name
    volunteer = item.volunteer_name or _("nobody paired")
    late = formatting.days_late(item.since, clock.now(), tz)
    if item.kind is OverdueKind.missed and item.month is not None:
        what = _("{month}: {activities} not recorded").format(
            month=formatting.month(item.month),
            activities="、".join(str(labels.ACTIVITY[a]) for a in item.activities)
            or _("monthly care"),
        )
    elif item.kind is OverdueKind.must_visit:
        concern = labels.CONCERN[item.concern_kind] if item.concern_kind else None
        what = _("must-visit ({concern})").format(concern=concern or _("other worry"))
    elif item.escalation_kind is EscalationKind.dropout:
        what = _("absent from school")
    elif item.escalation_kind is EscalationKind.review_waiting:
        what = _("check-in waiting for review")
    else:
        what = _("emergency")
    return _("{child} · {volunteer} — {what}, {late}").format(
        child=child, volunteer=volunteer, what=what, late=formatting.late(late)
    )


def _ref(item: OverdueItem) -> tuple[OverdueRef, int, int]:
    if item.kind is OverdueKind.missed and item.pairing_id and item.month:
        return OverdueRef.pairing, item.pairing_id, item.month.year * 100 + item.month.month
    if item.kind is OverdueKind.must_visit and item.concern_id:
        return OverdueRef.concern, item.concern_id, 0
    assert item.escalation_id is not None
    return OverdueRef.escalation, item.escalation_id, 0


async def _target(session: AsyncSession, me: Identity, data: OverdueAction) -> Target:
    if data.ref_kind is OverdueRef.pairing:
        month = Month(data.month // 100, data.month % 100)
        return await overdue.missed_target(session, me, data.ref, month)
    if data.ref_kind is OverdueRef.concern:
        return await overdue.concern_target(session, me, data.ref)
    return await overdue.escalation_target(session, me, data.ref)


async def act(
    query: CallbackQuery,
    callback_data: OverdueAction,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    i18n: I18n,
) -> None:
    if callback_data.ref_kind is OverdueRef.pairing and not 1 <= callback_data.month % 100 <= 12:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    target = await _target(session, me, callback_data)
    at = clock.now()
    if callback_data.act is OverdueAct.nudge:
        due = await overdue.what_is_due(session, target, tz)
        sent = await overdue.nudge(
            session,
            target,
            text_for=lambda person: _nudge_text(i18n, person, due, me, tz),
            actor=me,
            at=at,
            tz=tz,
        )
        await uow.commit()  # queued before we say so
        await query.answer(
            _("Sent to the volunteer.") if sent else _("Already sent today."), show_alert=True
        )
        return
    escalation = await overdue.open_escalation(session, target, at)
    if callback_data.act is OverdueAct.reassign:
        await choose_volunteer(
            query,
            VolunteerList(
                child_id=target.child_id,
                from_volunteer_id=target.volunteer_id or 0,
                escalation_id=escalation.id,
            ),
            session,
            me,
            tz,
        )
        return
    outcome = await escalations.resolve(
        session, escalation.id, me, at, note=None, resolution="handled"
    )
    if not outcome.changed:
        await tell_taken(query, outcome, tz)
        return
    await news.escalation_settled(
        session, escalation_id=escalation.id, by=me.name, closed=True, at=at, tz=tz
    )
    await uow.commit()  # handled before we say so
    await query.answer(_("Marked as handled."))
    text, markup = await _render(session, me, clock, tz, page=0)
    await answer_or_edit(query, text, markup)


def _nudge_text(i18n: I18n, person: Person, due: Due, me: Identity, tz: ZoneInfo) -> str:
    """The reminder in the volunteer's own language: which child, and what is due."""
    locale = person.language if person.language in LOCALES else DEFAULT_LOCALE
    with i18n.use_locale(locale):
        if due.month is not None:
            what = _("{child}: {activities} of {month} not recorded yet").format(
                child=due.child_name,
                month=formatting.month(due.month),
                activities="、".join(str(labels.ACTIVITY[a]) for a in due.activities)
                or _("monthly care"),
            )
        elif due.concern_kind is not None and due.concern_due is not None:
            what = _("{child} needs a must-visit ({concern}), due by {day}").format(
                child=due.child_name,
                concern=labels.CONCERN[due.concern_kind],
                day=formatting.day(due.concern_due, tz),
            )
        else:
            what = _("{child} needs your attention").format(child=due.child_name)
        return _(
            "Hello {name}, a gentle reminder from {coordinator}: {what}. "
            "When it is done, please record it here. Thank you!"
        ).format(name=person.name, coordinator=me.name, what=what)


def make_router() -> Router:
    router = Router(name="overdue")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.OVERDUE))
    router.callback_query.register(turn_page, OverduePage.filter())
    router.callback_query.register(act, OverdueAction.filter())
    return router
