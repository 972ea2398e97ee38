"""People told of what others did: a volunteer paired, moved or unpaired, a coordinator
whose invitation was used. Each message is an outbox row written in the same unit of
work as the change, in the recipient's own language, and sent by the sender."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import formatting, texts
from bot.i18n import DEFAULT_LOCALE, LOCALES
from bot.labels import activities
from domain import due, outbox
from domain.calendar import Month
from domain.deadlines import outside_quiet_hours
from domain.models import (
    Child,
    Invitation,
    InvitationRole,
    Pairing,
    Period,
    Person,
    Region,
    Volunteer,
)


def _locale(person: Person) -> str:
    return person.language if person.language in LOCALES else DEFAULT_LOCALE


async def _volunteer_person(session: AsyncSession, volunteer_id: int) -> Person:
    volunteer = await session.get_one(Volunteer, volunteer_id)
    return await session.get_one(Person, volunteer.person_id)


async def pairing_changed(
    session: AsyncSession, i18n: I18n, *, child_id: int, at: dt.datetime, tz: ZoneInfo
) -> int:
    """Tell the volunteers whose pairing with the child started or ended at `at`: the new
    one whose child it is and what is due this month, the old one that it has ended (and
    with whom the child is now). Returns how many messages were queued."""
    changed = list(
        await session.scalars(
            select(Pairing)
            .where(
                Pairing.child_id == child_id,
                or_(Pairing.started_at == at, Pairing.ended_at == at),
            )
            .order_by(Pairing.id)
        )
    )
    if not changed:
        return 0
    child = await session.get_one(Child, child_id)
    site = await session.get_one(Region, child.site_id)
    started = [p for p in changed if p.started_at == at and p.ended_at is None]
    ended = [p for p in changed if p.ended_at == at]
    newcomers = [await _volunteer_person(session, p.volunteer_id) for p in started]
    queued = 0
    for pairing, person in zip(started, newcomers, strict=True):
        missing = [
            item.activity
            for item in await due.due_items(
                session,
                month=Month.of(at, tz),
                tz=tz,
                selection=due.Selection(pairing_ids=[pairing.id]),
                only_missing=True,
            )
            if item.period is Period.month
        ]
        with i18n.use_locale(_locale(person)):
            lines = [
                _("🤝 {name}, from today you look after {child} ({site}).").format(
                    name=person.name, child=child.name, site=site.name
                )
            ]
            if missing:
                lines.append(
                    _("Still due this month: {activities}, {by}.").format(
                        activities=activities(missing), by=formatting.by_month_end()
                    )
                )
            lines.append(_("Tap 👧 My children to see the contact card."))
            queued += await _tell(
                session,
                person,
                "\n".join(lines),
                at=at,
                tz=tz,
                dedupe_key=f"pairing:{pairing.id}:start",
            )
    for pairing in ended:
        person = await _volunteer_person(session, pairing.volunteer_id)
        others = [n.name for n in newcomers if n.id != person.id]
        with i18n.use_locale(_locale(person)):
            if others:
                text = _(
                    "{child} is now looked after by {other}; your pairing has ended. "
                    "Thank you for your care!"
                ).format(child=child.name, other="、".join(others))
            else:
                text = _("Your pairing with {child} has ended. Thank you for your care!").format(
                    child=child.name
                )
        queued += await _tell(
            session, person, text, at=at, tz=tz, dedupe_key=f"pairing:{pairing.id}:end"
        )
    return queued


async def invitation_used(
    session: AsyncSession, i18n: I18n, *, person: Person, at: dt.datetime, tz: ZoneInfo
) -> int:
    """Tell whoever made the invitation that it has been used, and by whom."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.used_by == person.id, Invitation.used_at == at)
    )
    if invitation is None or invitation.created_by is None:
        return 0
    inviter = await session.get_one(Person, invitation.created_by)
    place = await session.get_one(Region, invitation.region_id)
    with i18n.use_locale(_locale(inviter)):
        if invitation.role is InvitationRole.volunteer and invitation.volunteer_kind is not None:
            who = str(texts.VOLUNTEER_KIND[invitation.volunteer_kind.value])
        else:
            who = _("coordinator")
        text = _("✅ {name} has joined {place} through your invitation, as {who}.").format(
            name=person.name, place=place.name, who=who
        )
        if invitation.role is InvitationRole.volunteer:
            text += "\n" + _("Pair them with children with 🤝 Pair.")
    return await _tell(
        session, inviter, text, at=at, tz=tz, dedupe_key=f"invitation:{invitation.id}:used"
    )


async def _tell(
    session: AsyncSession,
    person: Person,
    text: str,
    *,
    at: dt.datetime,
    tz: ZoneInfo,
    dedupe_key: str,
) -> int:
    if person.telegram_id is None:
        return 0
    queued = await outbox.enqueue(
        session,
        chat_id=person.telegram_id,
        method=outbox.Method.send_message,
        payload={"text": text},
        not_before=outside_quiet_hours(at, tz),
        dedupe_key=dedupe_key,
    )
    return 0 if queued is None else 1
