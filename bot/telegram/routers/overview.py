"""📊 Overview: one short message of a scope's figures, with buttons to drill down."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import OverviewOf
from bot.telegram.filters import When
from bot.telegram.keyboards import answer_or_edit, page_buttons
from domain.clock import Clock
from domain.delivery import robots
from domain.models import Region
from domain.people import audit, regions, scopes
from domain.people.identity import Identity
from domain.reports import overview
from domain.schedule.calendar import Month
from domain.wording import formatting, texts

PAGE = 10


async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    await state.clear()
    for scope in scopes.outermost(me.scopes):
        region = await regions.by_code(session, scope.code)
        text, markup = await _render(session, region, me, clock, tz, page=0)
        await message.answer(text, reply_markup=markup)


async def drill(
    query: CallbackQuery,
    callback_data: OverviewOf,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    region = await scopes.region(session, me.scopes, callback_data.region_id)
    text, markup = await _render(session, region, me, clock, tz, page=callback_data.page)
    await query.answer()
    await answer_or_edit(query, text, markup)


async def _render(
    session: AsyncSession,
    region: Region,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    *,
    page: int,
) -> tuple[str, InlineKeyboardMarkup]:
    now = clock.now()
    month = Month.of(now, tz)
    figures = await overview.overview(session, scope_path=region.path, month=month, tz=tz, now=now)
    audit.record(
        session,
        at=now,
        action="overview.view",
        actor_id=me.person_id,
        subject_type="region",
        subject_id=region.id,
    )
    six_ones = (
        _("Six ones this month: nothing to count (no child is paired)")
        if figures.six_ones_percent is None
        else _("Six ones this month: {done}/{required} ({percent}%)").format(
            done=figures.six_ones_done,
            required=figures.six_ones_required,
            percent=figures.six_ones_percent,
        )
    )
    text = _(
        "📊 {place} · {month}\n"
        "Children: {children} (key children: {key}, without a surrogate parent: {uncovered})\n"
        "Volunteers: {volunteers} (no check-in for 30 days: {inactive})\n"
        "{six_ones}\n"
        "Open must-visits: {must_visits} · open escalations: {escalations}"
    ).format(
        place=region.name,
        month=formatting.month(month),
        children=figures.children,
        key=figures.key_children,
        uncovered=figures.key_without_surrogate,
        volunteers=figures.volunteers,
        inactive=figures.inactive_volunteers,
        six_ones=six_ones,
        must_visits=figures.open_must_visits,
        escalations=figures.open_escalations,
    )
    text += "\n" + _(
        "Unsupervised (无人监护): {unsupervised} · entrusted without the signed letter: {missing}"
    ).format(unsupervised=figures.unsupervised, missing=figures.letters_missing)
    text += "\n" + _("To review: {count} (waiting over a week: {late})").format(
        count=figures.to_review, late=figures.to_review_late
    )
    if figures.letters_missing:
        missing = await overview.letters_missing(
            session, scope_path=region.path, limit=LETTERS_LISTED
        )
        text += "\n" + _("Letter missing: {children}").format(
            children="、".join(f"{child}（{site}）" for child, site in missing)
            + ("…" if figures.letters_missing > len(missing) else "")
        )
    broken = await robots.broken_robots(session, region.path)
    if broken:
        text += "\n" + _("⚠️ Group robots refused by their platform: {robots}").format(
            robots="、".join(
                f"{place.name} {robot.kind.value} {robot.id}" for robot, place in broken
            )
        )
    below = await overview.sub_regions(session, region)
    builder = InlineKeyboardBuilder()
    for sub in below[page * PAGE : (page + 1) * PAGE]:
        builder.button(text=f"{sub.name} ›", callback_data=OverviewOf(region_id=sub.id))
    builder.adjust(2)
    page_buttons(builder, page, len(below), PAGE, lambda p: OverviewOf(region_id=region.id, page=p))
    if region.parent_id is not None and scopes.holding(me.scopes, _parent_path(region)):
        back = OverviewOf(region_id=region.parent_id)
        builder.row(InlineKeyboardButton(text=_("‹ Back"), callback_data=back.pack()))
    return text, builder.as_markup()


LETTERS_LISTED = 10  # children named for a missing entrusted-guardian letter; all are counted


def _parent_path(region: Region) -> str:
    """ "1/4/17/" → "1/4/": the region tree's path says who the parent is."""
    return region.path[: region.path.rstrip("/").rfind("/") + 1]


def make_router() -> Router:
    router = Router(name="overview")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.OVERVIEW))
    router.callback_query.register(drill, OverviewOf.filter())
    return router
