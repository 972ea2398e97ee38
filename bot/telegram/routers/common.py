"""Commands everyone has: /start, /help, /language, /cancel."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.telegram import keyboards
from bot.telegram.callbacks import CheckInAct, CheckInStep, LanguageChoice
from bot.telegram.filters import When
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Channel
from domain.people import accounts, identity
from domain.people.identity import Identity
from domain.wording import texts


async def start(message: Message, state: FSMContext, me: Identity | None, uow: UnitOfWork) -> None:
    await state.clear()
    if (
        me is not None
        and message.from_user is not None
        and await accounts.reachable_again(uow.session, Channel.telegram, str(message.from_user.id))
    ):
        await uow.commit()  # they unblocked the bot: messages to them are queued again
    if me is None:
        await message.answer(
            _(
                "Hello! This is 关爱 (guanai), the assistant for volunteers who care for "
                "left-behind children. It is only for invited volunteers and staff.\n\n"
                "To join, ask the care office (关工委) of your school or village for an "
                "invitation link, then open it."
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    await show_main_menu(message, me)


async def show_main_menu(message: Message, me: Identity) -> None:
    menu = keyboards.main_menu(coordinator=me.is_coordinator, volunteer=me.is_volunteer)
    if me.is_coordinator:
        scopes = "、".join(scope.name for scope in me.scopes)
        text = _("Hello, {name}. You coordinate: {scopes}.\nChoose from the menu below.").format(
            name=me.name, scopes=scopes
        )
    else:
        text = _(
            "Hello, {name}. Tap “My children” to see what is due this month, or “Check in” "
            "to record a visit."
        ).format(name=me.name)
    await message.answer(text, reply_markup=menu)


async def help_(message: Message, me: Identity | None) -> None:
    if me is None:
        await message.answer(
            _(
                "This bot helps invited volunteers and care offices look after "
                "left-behind children.\n\nTo join, open the invitation link your "
                "school's or village's care office gives you.\n/language — change language"
            )
        )
    elif me.is_coordinator:
        await message.answer(
            _(
                "As a coordinator you can:\n"
                "📊 Overview — children, volunteers and this month's care in your area\n"
                "⏰ Overdue — what is late, most urgent first\n"
                "📥 Import archives — send an Excel or CSV file of children or volunteers\n"
                "✉️ Invite — make an invitation link for a volunteer\n"
                "🤝 Pair — pair volunteers with children\n"
                "📤 Export — download the archives and records\n\n"
                "/start — main menu, /language — change language, /cancel — stop what you "
                "are doing"
            )
        )
    else:
        await message.answer(
            _(
                "👧 My children — the children paired with you and what is due this month; "
                "tap a child for the contact card or to raise a concern\n"
                "✅ Check in — record a visit, a talk or other care, with photos\n\n"
                "/start — main menu, /language — change language, /cancel — stop what you "
                "are doing"
            )
        )


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled. Nothing was saved."))


async def cancel_pressed(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Cancelled. Nothing was saved."))


async def language(message: Message) -> None:
    await message.answer(_("Choose a language:"), reply_markup=keyboards.language_choice())


async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageChoice,
    uow: UnitOfWork,
    me: Identity | None,
    i18n: I18n,
    clock: Clock,
) -> None:
    if callback_data.locale not in i18n.available_locales:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if me is not None:
        await identity.set_language(
            uow.session, person_id=me.person_id, language=callback_data.locale, at=clock.now()
        )
        await uow.commit()  # saved before we say so
    with i18n.use_locale(callback_data.locale):
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(_("Language set to English."))
            if me is not None:  # the menu's buttons in the new language, or taps go unheard
                await show_main_menu(query.message, me)


def make_router() -> Router:
    router = Router(name="common")
    router.message.register(start, CommandStart(deep_link=False))
    router.message.register(help_, Command("help"))
    router.message.register(help_, When(F.text == texts.HELP))
    router.message.register(cancel, Command("cancel"))
    router.message.register(language, Command("language"))
    router.callback_query.register(language_chosen, LanguageChoice.filter())
    router.callback_query.register(cancel_pressed, CheckInStep.filter(F.act == CheckInAct.cancel))
    return router
