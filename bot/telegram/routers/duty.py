"""🗓 值班表: a site's coordinator puts a volunteer on duty at the children's home for each
weekday; the weekly roster shows it. Every press re-checks the scope."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import DutyDay, DutySet, DutySite
from bot.telegram.filters import When
from bot.telegram.keyboards import answer_or_edit, page_buttons
from domain.care import duty, pairings
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import Region
from domain.people import regions, scopes
from domain.people.identity import Identity
from domain.wording import texts

PAGE = 8


async def start(message: Message, session: AsyncSession, me: Identity) -> None:
    sites = await _my_sites(session, me)
    if not sites:
        await message.answer(_("There is no school, village or community in your area yet."))
    elif len(sites) == 1:
        text, markup = await _rota(session, sites[0])
        await message.answer(text, reply_markup=markup)
    else:
        await message.answer(_("Whose duty rota?"), reply_markup=_site_buttons(sites, 0))


async def show(
    query: CallbackQuery, callback_data: DutySite, session: AsyncSession, me: Identity
) -> None:
    await query.answer()
    if not callback_data.site_id:
        sites = await _my_sites(session, me)
        markup = _site_buttons(sites, callback_data.page)
        await answer_or_edit(query, _("Whose duty rota?"), markup)
        return
    site = await scopes.region(session, me.scopes, callback_data.site_id)
    await answer_or_edit(query, *await _rota(session, site))


async def choose(
    query: CallbackQuery, callback_data: DutyDay, session: AsyncSession, me: Identity
) -> None:
    site = await scopes.region(session, me.scopes, callback_data.site_id)
    weekday = callback_data.weekday % 7
    builder = InlineKeyboardBuilder()
    for candidate in sorted(await pairings.candidates(session, site.id), key=_by_name):
        builder.button(
            text=candidate.name,
            callback_data=DutySet(
                site_id=site.id, weekday=weekday, volunteer_id=candidate.volunteer_id
            ),
        )
    builder.button(text=_("Nobody"), callback_data=DutySet(site_id=site.id, weekday=weekday))
    builder.button(text=_("‹ Back"), callback_data=DutySite(site_id=site.id))
    builder.adjust(2)
    await query.answer()
    await answer_or_edit(
        query,
        _("Who is on duty at the children's home of {site} on {weekday}?").format(
            site=site.name, weekday=texts.WEEKDAYS[weekday]
        ),
        builder.as_markup(),
    )


async def set_duty(
    query: CallbackQuery,
    callback_data: DutySet,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
) -> None:
    site = await scopes.region(session, me.scopes, callback_data.site_id)
    await duty.set_duty(
        session,
        site=site,
        weekday=callback_data.weekday % 7,
        volunteer_id=callback_data.volunteer_id or None,
        actor_id=me.person_id,
        at=clock.now(),
    )
    await uow.commit()  # saved before we say so
    await query.answer(_("Saved."))
    await answer_or_edit(query, *await _rota(session, site))


def _by_name(candidate: pairings.Candidate) -> str:
    return candidate.name


async def _my_sites(session: AsyncSession, me: Identity) -> list[Region]:
    return await regions.sites_within(session, [s.path for s in scopes.outermost(me.scopes)])


def _site_buttons(sites: list[Region], page: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    page = max(page, 0)
    for site in sites[page * PAGE : (page + 1) * PAGE]:
        builder.button(text=site.name, callback_data=DutySite(site_id=site.id))
    builder.adjust(1)
    page_buttons(builder, page, len(sites), PAGE, lambda p: DutySite(page=p))
    return builder.as_markup()


async def _rota(session: AsyncSession, site: Region) -> tuple[str, InlineKeyboardMarkup]:
    """The week's rota as text, and a button per weekday to change it."""
    on_duty = await duty.rota(session, site.id)
    nobody = _("nobody yet")
    lines = [_("🗓 Duty rota of the children's home, {site}:").format(site=site.name)]
    buttons = []
    for weekday in duty.WEEKDAYS:
        name = on_duty[weekday].name if weekday in on_duty else nobody
        label = _("{weekday}: {name}").format(weekday=texts.WEEKDAYS[weekday], name=name)
        lines.append(label)
        buttons.append(
            InlineKeyboardButton(
                text=label, callback_data=DutyDay(site_id=site.id, weekday=weekday).pack()
            )
        )
    lines.append(_("Tap a day to change who is on duty."))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def make_router() -> Router:
    router = Router(name="duty")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.DUTY))
    router.callback_query.register(show, DutySite.filter())
    router.callback_query.register(choose, DutyDay.filter())
    router.callback_query.register(set_duty, DutySet.filter())
    return router
