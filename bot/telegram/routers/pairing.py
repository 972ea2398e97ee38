"""🤝 Pair: find a child by name, see who is paired, pair a volunteer of the child's site,
move the child to another volunteer, or end a pairing. Every press re-checks the scope."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import (
    ChildOpen,
    ChildView,
    LeaveStep,
    PairAct,
    PairStep,
    VolunteerList,
)
from bot.telegram.filters import When
from bot.telegram.keyboards import answer_or_edit, page_buttons
from bot.telegram.replies import tell_taken
from domain.archive import leaving, lookup
from domain.care import pairings
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Person, Priority, Region
from domain.people import scopes
from domain.people.identity import Identity
from domain.schedule import escalations
from domain.wording import formatting, news, texts
from domain.wording.labels import LEAVE_REASON

PAGE = 8


class PairSearch(StatesGroup):
    name = State()


async def start(message: Message, state: FSMContext, session: AsyncSession, me: Identity) -> None:
    await state.set_state(PairSearch.name)
    paths = [scope.path for scope in scopes.outermost(me.scopes)]
    uncovered = await lookup.search_children(session, scope_paths=paths)
    text = _("Type part of a child's name to find them.")
    if uncovered:
        text += "\n\n" + _("Key children still without a surrogate parent:")
    await message.answer(text, reply_markup=_child_buttons(uncovered))


async def search(message: Message, session: AsyncSession, me: Identity) -> None:
    needle = (message.text or "").strip()
    paths = [scope.path for scope in scopes.outermost(me.scopes)]
    hits = await lookup.search_children(session, scope_paths=paths, text=needle)
    if not hits:
        await message.answer(
            _(
                "No child in your area has “{text}” in their name. Try another part of the name."
            ).format(text=needle)
        )
        return
    await message.answer(_("Choose the child:"), reply_markup=_child_buttons(hits))


def _child_buttons(hits: list[lookup.ChildHit]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for hit in hits:
        mark = "⚠️ " if hit.key_without_surrogate else ""
        builder.button(
            text=f"{mark}{hit.name} · {hit.site_name} · {hit.birth_date_text}",
            callback_data=ChildOpen(child_id=hit.child_id, view=ChildView.pairing),
        )
    builder.adjust(1)
    return builder.as_markup()


async def show_child(
    query: CallbackQuery,
    callback_data: ChildOpen,
    session: AsyncSession,
    me: Identity,
    tz: ZoneInfo,
) -> None:
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    site = await session.get_one(Region, child.site_id)
    lines = [f"{child.name} · {site.name}"]
    if child.priority is Priority.key:
        lines[0] += " · " + _("key child")
    builder = InlineKeyboardBuilder()
    paired = await pairings.current(session, child.id)
    if not paired:
        lines.append(_("Not paired with anyone yet."))
    for pairing in paired:
        volunteer, _vscope = await scopes.volunteer(session, me.scopes, pairing.volunteer_id)
        person = await session.get_one(Person, volunteer.person_id)
        lines.append(
            _("• {name} ({kind}), since {day}").format(
                name=person.name,
                kind=texts.VOLUNTEER_KIND[volunteer.kind.value],
                day=formatting.day(pairing.started_at, tz),
            )
        )
        builder.button(
            text=_("🔁 Move from {name}").format(name=person.name),
            callback_data=VolunteerList(child_id=child.id, from_volunteer_id=volunteer.id),
        )
        builder.button(
            text=_("✖️ End with {name}").format(name=person.name),
            callback_data=PairStep(
                act=PairAct.end_ask, child_id=child.id, volunteer_id=volunteer.id
            ),
        )
    builder.button(text=_("➕ Pair a volunteer"), callback_data=VolunteerList(child_id=child.id))
    builder.button(
        text=_("📇 Child's card"), callback_data=ChildOpen(child_id=child.id, view=ChildView.card)
    )
    builder.button(text=_("🚪 Leaves the programme"), callback_data=LeaveStep(child_id=child.id))
    builder.adjust(2)
    await query.answer()
    await answer_or_edit(query, "\n".join(lines), builder.as_markup())


async def choose_volunteer(
    query: CallbackQuery,
    callback_data: VolunteerList,
    session: AsyncSession,
    me: Identity,
    tz: ZoneInfo,
) -> None:
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    if callback_data.escalation_id:
        outcome = await escalations.claim(session, callback_data.escalation_id, me)
        if not outcome.changed:
            await tell_taken(query, outcome, tz)
            return
    already = {p.volunteer_id for p in await pairings.current(session, child.id)}
    choices = [
        c
        for c in await pairings.candidates(session, child.site_id)
        if c.volunteer_id not in already
    ]
    if not choices:
        await query.answer(
            _("There is no other volunteer at this child's site yet. Invite one with ✉️ Invite."),
            show_alert=True,
        )
        return
    builder = InlineKeyboardBuilder()
    start_at = callback_data.page * PAGE
    for choice in choices[start_at : start_at + PAGE]:
        builder.button(
            text=_("{name} · {kind} · {load} children now").format(
                name=choice.name, kind=texts.VOLUNTEER_KIND[choice.kind.value], load=choice.load
            ),
            callback_data=PairStep(
                act=PairAct.ask,
                child_id=child.id,
                volunteer_id=choice.volunteer_id,
                from_volunteer_id=callback_data.from_volunteer_id,
                escalation_id=callback_data.escalation_id,
            ),
        )
    builder.adjust(1)
    page_buttons(
        builder,
        callback_data.page,
        len(choices),
        PAGE,
        lambda page: VolunteerList(**{**callback_data.model_dump(), "page": page}),
    )
    await query.answer()
    await answer_or_edit(
        query, _("Choose a volunteer for {child}:").format(child=child.name), builder.as_markup()
    )


async def _names(
    session: AsyncSession, me: Identity, step: PairStep
) -> tuple[str, str, str | None]:
    """The child's, the volunteer's and the previous volunteer's names, scope-checked."""
    child, _scope = await scopes.child(session, me.scopes, step.child_id)
    volunteer, _vscope = await scopes.volunteer(session, me.scopes, step.volunteer_id)
    person = await session.get_one(Person, volunteer.person_id)
    previous = None
    if step.from_volunteer_id:
        before, _bscope = await scopes.volunteer(session, me.scopes, step.from_volunteer_id)
        previous = (await session.get_one(Person, before.person_id)).name
    return child.name, person.name, previous


async def ask(
    query: CallbackQuery, callback_data: PairStep, session: AsyncSession, me: Identity
) -> None:
    child, volunteer, previous = await _names(session, me, callback_data)
    if callback_data.act is PairAct.end_ask:
        text = _("End the pairing of {volunteer} with {child}? The history is kept.")
        confirm = PairAct.end
    elif previous:
        text = _("Move {child} from {previous} to {volunteer}?")
        confirm = PairAct.confirm
    else:
        text = _("Pair {volunteer} with {child}?")
        confirm = PairAct.confirm
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Yes"), callback_data=PairStep(**{**callback_data.model_dump(), "act": confirm})
    )
    builder.button(
        text=_("✖️ No"),
        callback_data=ChildOpen(child_id=callback_data.child_id, view=ChildView.pairing),
    )
    await query.answer()
    await answer_or_edit(
        query,
        text.format(child=child, volunteer=volunteer, previous=previous),
        builder.as_markup(),
    )


async def confirm(
    query: CallbackQuery,
    callback_data: PairStep,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    child_name, volunteer_name, _previous = await _names(session, me, callback_data)
    _child, scope = await scopes.child(session, me.scopes, callback_data.child_id)
    at = clock.now()
    if callback_data.act is PairAct.end:
        await pairings.unpair(
            session,
            volunteer_id=callback_data.volunteer_id,
            child_id=callback_data.child_id,
            scope_path=scope.path,
            actor_id=me.person_id,
            at=at,
        )
        done = _("The pairing of {volunteer} with {child} has ended.")
    elif callback_data.escalation_id:
        outcome = await escalations.reassign(
            session,
            callback_data.escalation_id,
            me,
            to_volunteer_id=callback_data.volunteer_id,
            at=at,
        )
        if not outcome.changed:
            await tell_taken(query, outcome, tz)
            return
        done = _("Done: {child} is now with {volunteer}, and the escalation is closed.")
        await news.escalation_settled(
            session,
            escalation_id=callback_data.escalation_id,
            by=me.name,
            closed=True,
            at=at,
            tz=tz,
        )
    else:
        await pairings.move_or_pair(
            session,
            child_id=callback_data.child_id,
            from_volunteer_id=callback_data.from_volunteer_id or None,
            to_volunteer_id=callback_data.volunteer_id,
            scope_path=scope.path,
            actor_id=me.person_id,
            at=at,
        )
        done = _("Done: {volunteer} is now paired with {child}.")
    await news.pairing_changed(session, child_id=callback_data.child_id, at=at, tz=tz)
    await uow.commit()  # paired before we say so
    await query.answer()
    await answer_or_edit(query, done.format(child=child_name, volunteer=volunteer_name))


async def leave(
    query: CallbackQuery,
    callback_data: LeaveStep,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    """A child leaves the programme: why (finished school, moved away, parents came home),
    then a confirmation; their pairings end and their volunteers are told."""
    child, scope = await scopes.child(session, me.scopes, callback_data.child_id)
    builder = InlineKeyboardBuilder()
    back = ChildOpen(child_id=child.id, view=ChildView.pairing)
    if callback_data.reason is None:
        for reason, label in LEAVE_REASON.items():
            builder.button(
                text=str(label), callback_data=LeaveStep(child_id=child.id, reason=reason)
            )
        builder.button(text=_("✖️ No"), callback_data=back)
        builder.adjust(1)
        text = _("Why does {child} leave the programme?").format(child=child.name)
    elif not callback_data.confirmed:
        builder.button(
            text=_("✅ Yes"),
            callback_data=LeaveStep(child_id=child.id, reason=callback_data.reason, confirmed=True),
        )
        builder.button(text=_("✖️ No"), callback_data=back)
        text = _(
            "Take {child} out of the programme ({reason})? Their pairings end and the "
            "volunteers are told; their personal data is erased after the retention period."
        ).format(child=child.name, reason=LEAVE_REASON[callback_data.reason])
    else:
        at = clock.now()
        await leaving.take_out(
            session,
            child.id,
            reason=callback_data.reason,
            scope_path=scope.path,
            actor_id=me.person_id,
            at=at,
        )
        await news.pairing_changed(session, child_id=child.id, at=at, tz=tz)
        await uow.commit()  # out before we say so
        await query.answer()
        await answer_or_edit(
            query, _("Done: {child} has left the programme.").format(child=child.name)
        )
        return
    await query.answer()
    await answer_or_edit(query, text, builder.as_markup())


def make_router() -> Router:
    router = Router(name="pairing")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.PAIR))
    router.message.register(
        search,
        StateFilter(PairSearch.name),
        When(F.text & ~F.text.startswith("/") & ~F.text.in_(texts.COORDINATOR_MENU)),
    )
    router.callback_query.register(show_child, ChildOpen.filter(F.view == ChildView.pairing))
    router.callback_query.register(choose_volunteer, VolunteerList.filter())
    router.callback_query.register(ask, PairStep.filter(F.act.in_({PairAct.ask, PairAct.end_ask})))
    router.callback_query.register(
        confirm, PairStep.filter(F.act.in_({PairAct.confirm, PairAct.end}))
    )
    router.callback_query.register(leave, LeaveStep.filter())
    return router
