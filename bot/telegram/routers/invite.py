"""✉️ Invite: make a join link for a volunteer of a site, or a coordinator of a place below;
list pending and used invitations; revoke a pending one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import MagicData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import InviteFor, InviteList, InviteMake, InvitePlace, InviteRevoke
from bot.telegram.filters import When
from bot.telegram.keyboards import answer_or_edit, page_buttons
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.errors import NotBelowScope
from domain.models import InvitationRole, Region, VolunteerKind
from domain.people import invitations, regions, scopes
from domain.people.identity import Identity
from domain.wording import formatting, texts

PAGE = 8


def _kind_label(kind: InviteFor) -> str:
    if kind is InviteFor.coordinator:
        return _("Coordinator of a place below mine")
    return str(texts.VOLUNTEER_KIND[kind.value])


async def start(message: Message, state: FSMContext) -> None:
    await state.clear()
    builder = InlineKeyboardBuilder()
    for kind in InviteFor:
        builder.button(text=_kind_label(kind), callback_data=InvitePlace(kind=kind))
    builder.button(text=_("📋 Invitations made"), callback_data=InviteList())
    builder.adjust(1)
    await message.answer(_("Whom do you want to invite?"), reply_markup=builder.as_markup())


async def choose_place(
    query: CallbackQuery,
    callback_data: InvitePlace,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    """Walk down the region tree of one's scope to the place to invite for."""
    kind = callback_data.kind
    region_id = callback_data.region_id
    if not region_id:
        roots = [await regions.by_code(session, s.code) for s in scopes.outermost(me.scopes)]
        if len(roots) == 1 and not (roots[0].kind.is_site and kind is not InviteFor.coordinator):
            region_id = roots[0].id  # one region above the sites: start inside it
    if region_id:
        parent = await scopes.region(session, me.scopes, region_id)
        places = [r for r in await _below(session, parent) if scopes.holding(me.scopes, r.path)]
    else:
        places = roots
    if kind is not InviteFor.coordinator and len(places) == 1 and places[0].kind.is_site:
        await query.answer()
        await _make(query, kind, places[0], uow, me, clock, tz)
        return
    builder = InlineKeyboardBuilder()
    start_at = callback_data.page * PAGE
    for place in places[start_at : start_at + PAGE]:
        inside_scope = any(s.region_id == place.id for s in me.scopes)
        can_invite = place.kind.is_site if kind is not InviteFor.coordinator else not inside_scope
        if can_invite:
            builder.button(text=place.name, callback_data=InviteMake(kind=kind, region_id=place.id))
        if not place.kind.is_site:
            builder.button(
                text=f"{place.name} ›", callback_data=InvitePlace(kind=kind, region_id=place.id)
            )
    builder.adjust(1)
    page_buttons(
        builder,
        callback_data.page,
        len(places),
        PAGE,
        lambda page: InvitePlace(kind=kind, region_id=region_id, page=page),
    )
    if not list(builder.buttons):
        await query.answer(_("There is no place below yours."), show_alert=True)
        return
    await query.answer()
    await answer_or_edit(query, _("Choose the place:"), builder.as_markup())


async def _below(session: AsyncSession, region: Region) -> list[Region]:
    result = await session.scalars(
        select(Region).where(Region.parent_id == region.id).order_by(Region.name, Region.id)
    )
    return list(result)


async def make(
    query: CallbackQuery,
    callback_data: InviteMake,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    region = await scopes.region(uow.session, me.scopes, callback_data.region_id)
    await query.answer()
    await _make(query, callback_data.kind, region, uow, me, clock, tz)


async def _make(
    query: CallbackQuery,
    kind: InviteFor,
    region: Region,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    bot = query.bot
    assert bot is not None
    if kind is InviteFor.coordinator:
        if any(s.region_id == region.id for s in me.scopes):
            raise NotBelowScope()
        role, volunteer_kind = InvitationRole.coordinator, None
    else:
        role, volunteer_kind = InvitationRole.volunteer, VolunteerKind(kind.value)
    made = await invitations.create(
        uow.session,
        region=region,
        role=role,
        volunteer_kind=volunteer_kind,
        created_by=me.person_id,
        at=clock.now(),
    )
    await uow.commit()  # a link that works once it is shown
    link = await invitation_link(bot, made.token)
    text = _(
        "Invitation for: {who}, {place}\n"
        "Forward this link to the person; it works once, until {until}:\n{link}"
    ).format(
        who=_kind_label(kind),
        place=region.name,
        until=formatting.day(made.invitation.expires_at, tz),
        link=link,
    )
    if isinstance(query.message, Message):
        await query.message.answer(text)


async def invitation_link(bot: Bot, token: str) -> str:
    me = await bot.me()
    return f"https://t.me/{me.username}?start={token}"


async def show_list(
    query: CallbackQuery,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    await query.answer()
    await answer_or_edit(query, *await _listing(session, me, clock, tz))


async def _listing(
    session: AsyncSession, me: Identity, clock: Clock, tz: ZoneInfo
) -> tuple[str, InlineKeyboardMarkup]:
    lines: list[str] = []
    builder = InlineKeyboardBuilder()
    for scope in scopes.outermost(me.scopes):
        pending, used = await invitations.of_scope(session, scope_path=scope.path, at=clock.now())
        for listed in pending:
            invitation = listed.invitation
            lines.append(
                _("#{id} {who} · {place} · until {until}").format(
                    id=invitation.id,
                    who=_invitation_kind(invitation.role, invitation.volunteer_kind),
                    place=listed.region_name,
                    until=formatting.day(invitation.expires_at, tz),
                )
            )
            builder.button(
                text=_("Revoke #{id}").format(id=invitation.id),
                callback_data=InviteRevoke(invitation_id=invitation.id),
            )
        for listed in used:
            assert listed.invitation.used_at is not None
            lines.append(
                _("✅ {name} joined {place} on {day}").format(
                    name=listed.used_by_name or "—",
                    place=listed.region_name,
                    day=formatting.day(listed.invitation.used_at, tz),
                )
            )
    builder.adjust(2)
    text = _("Invitations:\n{lines}").format(lines="\n".join(lines)) if lines else None
    return text or _("No invitations yet."), builder.as_markup()


def _invitation_kind(role: InvitationRole, kind: VolunteerKind | None) -> str:
    if role is InvitationRole.coordinator or kind is None:
        return _("coordinator")
    return str(texts.VOLUNTEER_KIND[kind.value])


async def revoke(
    query: CallbackQuery,
    callback_data: InviteRevoke,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    scope = await scopes.invitation(session, me.scopes, callback_data.invitation_id)
    await invitations.revoke(
        session,
        invitation_id=callback_data.invitation_id,
        scope_path=scope.path,
        actor_id=me.person_id,
        at=clock.now(),
    )
    await uow.commit()  # revoked before we say so
    await query.answer(_("Invitation #{id} revoked.").format(id=callback_data.invitation_id))
    await answer_or_edit(query, *await _listing(session, me, clock, tz))


def make_router() -> Router:
    router = Router(name="invite")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.INVITE))
    router.callback_query.register(choose_place, InvitePlace.filter())
    router.callback_query.register(make, InviteMake.filter())
    router.callback_query.register(show_list, InviteList.filter())
    router.callback_query.register(revoke, InviteRevoke.filter())
    return router
