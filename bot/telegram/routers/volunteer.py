"""我的孩子: the children paired with me, what is due this month, and each child's card."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import keyboards
from bot.telegram.callbacks import MyChildOpen
from bot.telegram.filters import When
from domain.care import caseload
from domain.clock import Clock
from domain.models import Pairing
from domain.people.identity import Identity
from domain.wording import render, texts


async def my_children(
    message: Message, session: AsyncSession, me: Identity, clock: Clock, tz: ZoneInfo
) -> None:
    now = clock.now()
    summaries = await caseload.my_children(session, volunteer_ids=me.volunteer_ids, now=now, tz=tz)
    await message.answer(
        render.my_children(summaries, now=now, tz=tz),
        reply_markup=keyboards.children((s.child_id, s.name) for s in summaries)
        if summaries
        else None,
    )


async def my_pairing(
    query: CallbackQuery, session: AsyncSession, me: Identity, clock: Clock, child_id: int
) -> Pairing | None:
    """The presser's pairing with the child a button names; refused politely (and audited)
    when the child is not paired with them now."""
    pairing = await caseload.pairing_for(
        session,
        volunteer_ids=me.volunteer_ids,
        child_id=child_id,
        actor_id=me.person_id,
        at=clock.now(),
    )
    if pairing is None:
        await query.answer(_("This child is not paired with you."), show_alert=True)
    return pairing


async def open_card(
    query: CallbackQuery,
    callback_data: MyChildOpen,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    pairing = await my_pairing(query, session, me, clock, callback_data.child_id)
    if pairing is None:
        return
    now = clock.now()
    card = await caseload.card(session, pairing=pairing, actor_id=me.person_id, at=now)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            render.child_card(card, now=now, tz=tz),
            reply_markup=keyboards.child_card(card.child.id),
        )


def make_router() -> Router:
    router = Router(name="volunteer")
    router.message.filter(MagicData(F.me.is_volunteer))
    router.callback_query.filter(MagicData(F.me.is_volunteer))
    router.message.register(my_children, When(F.text == texts.MY_CHILDREN))
    router.callback_query.register(open_card, MyChildOpen.filter())
    return router
