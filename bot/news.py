"""People told of what others did: a volunteer paired, moved or unpaired, a coordinator
whose invitation was used, every reader of an escalation that someone took or resolved.
Each message (or edit) is an outbox row written in the same unit of work as the change,
in the recipient's own language, and sent by the sender under its limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import formatting, labels, texts
from bot.labels import activities
from bot.telegram.callbacks import EscalationAction
from bot.telegram.i18n import DEFAULT_LOCALE, LOCALES
from domain.care.concerns import Raised
from domain.delivery import outbox
from domain.models import (
    Channel,
    Child,
    Escalation,
    EscalationStep,
    Invitation,
    InvitationRole,
    OutboxMessage,
    OutboxStatus,
    Pairing,
    Period,
    Person,
    Region,
    Volunteer,
)
from domain.people import accounts
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import outside_quiet_hours


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
    chat = await accounts.address(session, person.id, Channel.telegram)
    if chat is None:
        return 0
    queued = await outbox.enqueue(
        session,
        chat_id=int(chat),
        method=outbox.Method.send_message,
        payload={"text": text},
        not_before=outside_quiet_hours(at, tz),
        dedupe_key=dedupe_key,
    )
    return 0 if queued is None else 1


async def escalation_settled(
    session: AsyncSession,
    i18n: I18n,
    *,
    escalation_id: int,
    by: str | None,
    closed: bool,
    at: dt.datetime,
    tz: ZoneInfo,
    except_chat: int | None = None,
    except_message: int | None = None,
) -> int:
    """Every copy of an escalation message, at every level, says who took it or that it is
    resolved, and loses its buttons: a copy not sent yet is rewritten in the outbox; a
    sent one is edited through an `editMessageText` row (so the sender's limits hold).
    `except_chat` is the presser's chat, whose copy the handler has already changed; with
    `except_message`, only that message of it (an emergency sent again has several).
    `by` None: nobody closed it; the ladder did, since what was due is recorded now."""
    escalation = await session.get_one(Escalation, escalation_id)
    child = await session.get_one(Child, escalation.child_id)
    copies = list(
        await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(
                    select(EscalationStep.outbox_id).where(
                        EscalationStep.escalation_id == escalation_id
                    )
                ),
                OutboxMessage.method == outbox.Method.send_message.value,
            )
            .order_by(OutboxMessage.id)
        )
    )
    queued = 0
    state = "closed" if closed else "taken"
    for copy in copies:
        if (
            copy.chat_id == except_chat
            and not closed
            and (except_message is None or copy.telegram_message_id == except_message)
        ):
            continue
        reader = await accounts.person_on(session, Channel.telegram, str(copy.chat_id))
        with i18n.use_locale(_locale(reader) if reader else DEFAULT_LOCALE):
            if closed and by is None:
                line = _("✅ {child}: settled, what was due has been recorded ({when}).")
            elif closed:
                line = _("✅ {child}: resolved by {name} ({when}).")
            else:
                line = _("✋ {child}: {name} is handling it (since {when}).")
            line = line.format(child=child.name, name=by, when=formatting.when(at, tz))
        if copy.status is OutboxStatus.pending:
            copy.payload = _settled_payload(copy.payload, line, escalation_id)
            queued += 1
            continue
        if copy.status is not OutboxStatus.sent or copy.telegram_message_id is None:
            continue
        latest = await session.scalar(
            select(OutboxMessage.payload)
            .where(
                OutboxMessage.chat_id == copy.chat_id,
                OutboxMessage.method == outbox.Method.edit_message_text.value,
                OutboxMessage.payload["message_id"].as_integer() == copy.telegram_message_id,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        edited = _settled_payload(latest or copy.payload, line, escalation_id)
        edited["message_id"] = copy.telegram_message_id
        if await outbox.enqueue(
            session,
            chat_id=copy.chat_id,
            method=outbox.Method.edit_message_text,
            payload=edited,
            not_before=at,
            dedupe_key=f"escalation-edit:{escalation_id}:{copy.id}:{state}",
        ):
            queued += 1
    return queued


def _settled_payload(payload: dict[str, Any], line: str, escalation_id: int) -> dict[str, Any]:
    """The message's text with the line added, without the buttons of that escalation (a
    digest keeps the others')."""
    rows = [
        row
        for row in (payload.get("reply_markup") or {}).get("inline_keyboard", [])
        if not any(_for_escalation(button, escalation_id) for button in row)
    ]
    result: dict[str, Any] = {"text": f"{payload['text']}\n\n{line}"}
    if rows:
        result["reply_markup"] = {"inline_keyboard": rows}
    return result


def _for_escalation(button: dict[str, Any], escalation_id: int) -> bool:
    data = button.get("callback_data")
    if not isinstance(data, str) or not data.startswith(EscalationAction.__prefix__ + ":"):
        return False
    try:
        return EscalationAction.unpack(data).escalation_id == escalation_id
    except (TypeError, ValueError):
        return False


async def must_visit_raised(
    session: AsyncSession,
    i18n: I18n,
    *,
    raised: Raised,
    raised_by: str,
    to: Sequence[Person],
    at: dt.datetime,
    tz: ZoneInfo,
) -> int:
    """The paired volunteers of a child a teacher or coordinator raised a must-visit for
    (五必访) are told at once, with the deadline."""
    concern = raised.concern
    queued = 0
    for person in to:
        chat = await accounts.address(session, person.id, Channel.telegram)
        if chat is None:
            continue
        with i18n.use_locale(_locale(person)):
            text = _(
                "❗ {name} asks you to visit {child} ({kind}) by {day}. "
                "A check-in with a home visit or a talk closes it."
            ).format(
                name=raised_by,
                child=raised.child.name,
                kind=labels.CONCERN[concern.kind],
                day=formatting.day(concern.due_at, tz),
            )
            if concern.note:
                text += "\n" + _("Note: {note}").format(note=concern.note)
        if await outbox.enqueue(
            session,
            chat_id=int(chat),
            method=outbox.Method.send_message,
            payload={"text": text},
            not_before=at,
            dedupe_key=f"concern:{concern.id}:volunteer:{person.id}",
        ):
            queued += 1
    return queued
