"""The buttons on escalation messages: 我来处理 (take), 改派 (reassign), 已解决 (resolve).

Each press is checked against the presser's scope; once someone has taken an escalation,
anyone else pressing is told who and when, and nothing changes.
"""

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

from bot.telegram.callbacks import EscalationAct, EscalationAction, IncidentPage, VolunteerList
from bot.telegram.filters import When
from bot.telegram.replies import tell_taken
from bot.telegram.routers.pairing import choose_volunteer
from domain.care import emergencies, pairings
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery.addresses import TELEGRAM, Address
from domain.people.identity import Identity
from domain.schedule import escalations
from domain.wording import news, texts


class ResolveNote(StatesGroup):
    note = State()


def buttons_after_taking(escalation_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Reassign"),
        callback_data=EscalationAction(escalation_id=escalation_id, act=EscalationAct.reassign),
    )
    builder.button(
        text=_("Resolved"),
        callback_data=EscalationAction(escalation_id=escalation_id, act=EscalationAct.resolve),
    )
    return builder.as_markup()


async def take(
    query: CallbackQuery,
    callback_data: EscalationAction,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    at = clock.now()
    outcome = await escalations.take(uow.session, callback_data.escalation_id, me, at)
    if not outcome.changed:
        await tell_taken(query, outcome, tz)
        return
    await news.escalation_settled(
        uow.session,
        escalation_id=callback_data.escalation_id,
        by=me.name,
        closed=False,
        at=at,
        tz=tz,
        except_at=Address(TELEGRAM, str(query.from_user.id)),
        except_ref=str(query.message.message_id) if query.message else None,
    )
    await uow.commit()  # "yours" only once it is
    await query.answer(_("It is yours now; it will not be sent further up."), show_alert=True)
    if isinstance(query.message, Message):
        if emergencies.incident_of(outcome.escalation) is not None:
            # an incident is followed on its page, and closed with an outcome
            markup = InlineKeyboardBuilder()
            markup.button(
                text=_("📋 Its page"),
                callback_data=IncidentPage(escalation_id=callback_data.escalation_id),
            )
            markup.button(
                text=_("Resolved"),
                callback_data=EscalationAction(
                    escalation_id=callback_data.escalation_id, act=EscalationAct.resolve
                ),
            )
            await query.message.edit_reply_markup(reply_markup=markup.as_markup())
            return
        await query.message.edit_reply_markup(
            reply_markup=buttons_after_taking(callback_data.escalation_id)
        )


async def reassign(
    query: CallbackQuery,
    callback_data: EscalationAction,
    session: AsyncSession,
    me: Identity,
    tz: ZoneInfo,
) -> None:
    outcome = await escalations.claim(session, callback_data.escalation_id, me)
    if not outcome.changed:
        await tell_taken(query, outcome, tz)
        return
    escalation = outcome.escalation
    from_volunteer = await pairings.responsible(session, escalation.child_id, escalation.pairing_id)
    await choose_volunteer(
        query,
        VolunteerList(
            child_id=escalation.child_id,
            from_volunteer_id=from_volunteer or 0,
            escalation_id=escalation.id,
        ),
        session,
        me,
        tz,
    )


async def resolve(
    query: CallbackQuery,
    callback_data: EscalationAction,
    session: AsyncSession,
    me: Identity,
    state: FSMContext,
    tz: ZoneInfo,
) -> None:
    outcome = await escalations.claim(session, callback_data.escalation_id, me)
    if not outcome.changed:
        await tell_taken(query, outcome, tz)
        return
    await state.set_state(ResolveNote.note)
    await state.update_data(escalation_id=callback_data.escalation_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("In a few words, how was it resolved? (/cancel to stop)"))


async def note_written(
    message: Message,
    uow: UnitOfWork,
    me: Identity,
    state: FSMContext,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    escalation_id = int((await state.get_data())["escalation_id"])
    at = clock.now()
    outcome = await escalations.resolve(
        uow.session, escalation_id, me, at, note=(message.text or "").strip()
    )
    if outcome.taken_by is not None:
        await state.clear()
        await message.answer(_("Nothing was changed: someone else handled it meanwhile."))
        return
    await news.escalation_settled(
        uow.session,
        escalation_id=escalation_id,
        by=me.name,
        closed=True,
        at=at,
        tz=tz,
    )
    uow.after_commit(state.clear)  # kept if the commit fails: the note can be sent again
    await uow.commit()  # "closed" only once it is
    await message.answer(_("Closed. Thank you for looking after this child."))


def make_router() -> Router:
    router = Router(name="escalations")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.callback_query.register(take, EscalationAction.filter(F.act == EscalationAct.take))
    router.callback_query.register(
        reassign, EscalationAction.filter(F.act == EscalationAct.reassign)
    )
    router.callback_query.register(resolve, EscalationAction.filter(F.act == EscalationAct.resolve))
    router.message.register(
        note_written,
        StateFilter(ResolveNote.note),
        When(F.text & ~F.text.startswith("/") & ~F.text.in_(texts.COORDINATOR_MENU)),
    )
    return router
