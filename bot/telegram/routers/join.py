"""Joining through an invitation link: name, optional phone, consent, then the menu.

One question per message, nothing to type unless the volunteer wants to. Nothing is
stored until consent: the answers wait in the conversation state (cleared after an
hour), and declining drops them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import keyboards
from bot.telegram.callbacks import JoinAct, JoinStep
from bot.telegram.filters import When
from bot.telegram.routers.common import show_main_menu
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Channel, InvitationRole, Region
from domain.people import identity, invitations
from domain.people.identity import Identity
from domain.people.phones import valid_phone
from domain.wording import news, texts

MAX_NAME = 100


class Join(StatesGroup):
    name = State()
    phone = State()
    consent = State()


async def open_link(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity | None,
    clock: Clock,
) -> None:
    """`/start <token>`: check the link first, so a bad one changes nothing."""
    await state.clear()
    token = command.args or ""
    invitation = await invitations.check(session, token, at=clock.now())
    site = await session.get_one(Region, invitation.region_id)
    if me is not None and message.from_user is not None:
        # Someone already registered (and consented) joins the new site at once.
        await invitations.accept(
            session,
            token=token,
            channel=Channel.telegram,
            external_id=str(message.from_user.id),
            name=me.name,
            phone=None,
            language=None,
            at=clock.now(),
        )
        await uow.commit()  # joined before we say so
        await message.answer(_("You have joined {site}.").format(site=site.name))
        await _show_menu(message, session, message.from_user.id)
        return
    suggested = message.from_user.full_name if message.from_user else ""
    await state.set_state(Join.name)
    # The hour-long conversation keeps only the token's hash, as the database does.
    await state.update_data(token_hash=invitations.hash_of(token), suggested=suggested[:MAX_NAME])
    welcome = (
        _("Welcome! {site} invites you to join as a volunteer.")
        if invitation.role is InvitationRole.volunteer
        else _("Welcome! {site} invites you to join as a coordinator.")
    )
    await message.answer(welcome.format(site=site.name), reply_markup=ReplyKeyboardRemove())
    await message.answer(
        _("What is your name? Tap the button, or type your name."),
        reply_markup=keyboards.use_name(suggested[:MAX_NAME]) if suggested.strip() else None,
    )


async def name_typed(message: Message, state: FSMContext) -> None:
    name = (message.text or "").strip()
    if not name or len(name) > MAX_NAME:
        await message.answer(_("Please type your name (at most 100 characters)."))
        return
    await _ask_phone(message, state, name)


async def name_accepted(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _ask_phone(query.message, state, str(data.get("suggested") or ""))


async def _ask_phone(message: Message, state: FSMContext, name: str) -> None:
    await state.update_data(name=name)
    await state.set_state(Join.phone)
    await message.answer(
        _(
            "Thank you, {name}. Would you share your phone number, so the care office can "
            "reach you? Tap a button below."
        ).format(name=name),
        reply_markup=keyboards.share_phone(),
    )


async def contact_shared(message: Message, state: FSMContext) -> None:
    contact = message.contact
    assert contact is not None
    if message.from_user is None or contact.user_id != message.from_user.id:
        await message.answer(_("Please share your own number with the button below."))
        return
    await _ask_consent(message, state, phone=contact.phone_number)


async def phone_typed(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if text == str(texts.SKIP):
        await _ask_consent(message, state, phone=None)
        return
    phone = valid_phone(text)
    if phone is None:
        await message.answer(
            _("Please tap “Share my phone number” or “Skip” below."),
            reply_markup=keyboards.share_phone(),
        )
        return
    await _ask_consent(message, state, phone=phone)


async def _ask_consent(message: Message, state: FSMContext, *, phone: str | None) -> None:
    await state.update_data(phone=phone)
    await state.set_state(Join.consent)
    await message.answer(_("Almost done."), reply_markup=ReplyKeyboardRemove())
    await message.answer(
        _(
            "About children's information\n\n"
            "guanai keeps what the care programme needs: each child's archive (name, "
            "school and class, family contacts) and the visits you record, with your "
            "photos and notes. You see only the children paired with you; your care office "
            "and the offices above it see the children of their area. Every look at a "
            "child's record is logged. Photos are kept without their location data.\n\n"
            "Please keep what you see private. Do you agree?"
        ),
        reply_markup=keyboards.consent(),
    )


async def consent_given(
    query: CallbackQuery,
    callback_data: JoinStep,
    state: FSMContext,
    session: AsyncSession,
    uow: UnitOfWork,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    data = await state.get_data()
    await state.clear()  # whatever happens next, this conversation is over
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    await message.edit_reply_markup(reply_markup=None)
    if callback_data.act is JoinAct.decline:
        await message.answer(
            _(
                "Nothing was stored. If you change your mind, open the invitation link again "
                "while it is valid."
            )
        )
        return
    at = clock.now()
    person = await invitations.accept(
        session,
        # a conversation begun before the hash was kept still has the token itself
        token=data.get("token_hash") or invitations.hash_of(str(data["token"])),
        hashed=True,
        channel=Channel.telegram,
        external_id=str(query.from_user.id),
        name=str(data["name"]),
        phone=data.get("phone"),
        language=None,
        at=at,
    )
    await news.invitation_used(session, person=person, at=at, tz=tz)
    await uow.commit()  # joined before we say so
    await message.answer(_("Welcome aboard! Thank you for caring for the children."))
    await _show_menu(message, session, query.from_user.id)


async def _show_menu(message: Message, session: AsyncSession, user_id: int) -> None:
    me = await identity.identify(session, Channel.telegram, str(user_id))
    assert me is not None  # accepting gave them a role
    await show_main_menu(message, me)


async def name_expected(message: Message) -> None:
    await message.answer(_("Please type your name, or tap the button above."))


async def consent_expected(message: Message) -> None:
    await message.answer(_("Please tap “I agree” or “I do not agree” above."))


def make_router() -> Router:
    router = Router(name="join")
    router.message.register(open_link, CommandStart(deep_link=True))
    router.message.register(name_typed, StateFilter(Join.name), When(F.text))
    router.message.register(name_expected, StateFilter(Join.name))
    router.callback_query.register(
        name_accepted, StateFilter(Join.name), JoinStep.filter(F.act == JoinAct.name)
    )
    router.message.register(contact_shared, StateFilter(Join.phone), When(F.contact))
    router.message.register(phone_typed, StateFilter(Join.phone))
    router.callback_query.register(
        consent_given,
        StateFilter(Join.consent),
        JoinStep.filter(F.act.in_({JoinAct.agree, JoinAct.decline})),
    )
    router.message.register(consent_expected, StateFilter(Join.consent))
    return router
