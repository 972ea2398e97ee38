"""People told of what others did: a volunteer paired, moved or unpaired, a coordinator
whose invitation was used, every reader of an escalation that someone took or resolved.
Each message (or edit) is an outbox row written in the same unit of work as the change,
in the recipient's own language, and sent by the sender under its limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import language
from domain.care.concerns import Raised
from domain.delivery import outbox, robots
from domain.delivery.addresses import Address, address_of
from domain.delivery.content import Content
from domain.delivery.messaging import reader_at
from domain.language import gettext as _
from domain.models import (
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
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import outside_quiet_hours
from domain.wording import formatting, labels, texts
from domain.wording.labels import activities


async def _volunteer_person(session: AsyncSession, volunteer_id: int) -> Person:
    volunteer = await session.get_one(Volunteer, volunteer_id)
    return await session.get_one(Person, volunteer.person_id)


async def pairing_changed(
    session: AsyncSession, *, child_id: int, at: dt.datetime, tz: ZoneInfo
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
        with language.speaking(person.language):
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
        with language.speaking(person.language):
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
    session: AsyncSession, *, person: Person, at: dt.datetime, tz: ZoneInfo
) -> int:
    """Tell whoever made the invitation that it has been used, and by whom."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.used_by == person.id, Invitation.used_at == at)
    )
    if invitation is None or invitation.created_by is None:
        return 0
    inviter = await session.get_one(Person, invitation.created_by)
    place = await session.get_one(Region, invitation.region_id)
    with language.speaking(inviter.language):
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
    address = await address_of(session, person.id)
    if address is None:
        return 0
    queued = await outbox.enqueue(
        session,
        to=address,
        content=Content.lines([text]),
        not_before=outside_quiet_hours(at, tz),
        dedupe_key=dedupe_key,
    )
    return 0 if queued is None else 1


async def escalation_settled(
    session: AsyncSession,
    *,
    escalation_id: int,
    by: str | None,
    closed: bool,
    at: dt.datetime,
    tz: ZoneInfo,
    except_at: Address | None = None,
    except_ref: str | None = None,
) -> int:
    """Every copy of an escalation message, at every level, says who took it or that it is
    resolved, and loses its actions: a copy not sent yet is rewritten in the outbox; a
    sent one is replaced through a row of its own (so the sender's limits hold).
    `except_at` is the presser's address, whose copy the handler has already changed; with
    `except_ref`, only that message of it (an emergency sent again has several).
    `by` None: nobody closed it; the ladder did, since what was due is recorded now."""
    escalation = await session.get_one(Escalation, escalation_id)
    child = await session.get_one(Child, escalation.child_id)
    copies = list(
        await session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.id.in_(
                        select(EscalationStep.outbox_id).where(
                            EscalationStep.escalation_id == escalation_id
                        )
                    ),
                    OutboxMessage.dedupe_key.like(f"robot:%:escalation:{escalation_id}:%"),
                ),
                not_(OutboxMessage.content.has_key("replaces")),
            )
            .order_by(OutboxMessage.id)
        )
    )
    queued = 0
    state = "closed" if closed else "taken"
    for copy in copies:
        at_address = outbox.address(copy)
        if (
            at_address == except_at
            and not closed
            and (except_ref is None or copy.sent_ref == except_ref)
        ):
            continue
        group = at_address.channel == robots.CHANNEL
        reader = None if group else await reader_at(session, at_address)
        if group:
            speaks: str | None = robots.ROBOT_LANGUAGE
        else:
            speaks = reader.language if reader else None
        with language.speaking(speaks):
            if closed and by is None:
                line = _("✅ {child}: settled, what was due has been recorded ({when}).")
            elif closed:
                line = _("✅ {child}: resolved by {name} ({when}).")
            else:
                line = _("✋ {child}: {name} is handling it (since {when}).")
            line = line.format(child=child.name, name=by, when=formatting.when(at, tz))
        if copy.status is OutboxStatus.pending:
            settled = _settled(outbox.content(copy), line, escalation_id)
            copy.content = settled.to_json()
            queued += 1
            continue
        if group and copy.status is OutboxStatus.sent:  # a robot cannot edit: a line more
            if await outbox.enqueue(
                session,
                to=at_address,
                content=Content.lines([line]),
                not_before=at,
                dedupe_key=f"escalation-edit:{escalation_id}:{copy.id}:{state}",
                front={"files": [], "mention": False},
            ):
                queued += 1
            continue
        if copy.status is not OutboxStatus.sent or copy.sent_ref is None:
            continue
        latest = await session.scalar(
            select(OutboxMessage.content)
            .where(
                OutboxMessage.channel == copy.channel,
                OutboxMessage.target == copy.target,
                OutboxMessage.content["replaces"].astext == copy.sent_ref,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        shown = outbox.content(copy) if latest is None else Content.from_json(latest)
        edited = _settled(shown, line, escalation_id).replacing(copy.sent_ref)
        if await outbox.enqueue(
            session,
            to=at_address,
            content=edited,
            not_before=at,
            dedupe_key=f"escalation-edit:{escalation_id}:{copy.id}:{state}",
        ):
            queued += 1
    return queued


def _settled(content: Content, line: str, escalation_id: int) -> Content:
    """The message with the line added, without the actions on that escalation (a digest
    keeps the others')."""
    return content.followed_by(line).without_actions_on(escalation_id)


async def must_visit_raised(
    session: AsyncSession,
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
        address = await address_of(session, person.id)
        if address is None:
            continue
        with language.speaking(person.language):
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
            to=address,
            content=Content.lines([text]),
            not_before=at,
            dedupe_key=f"concern:{concern.id}:volunteer:{person.id}",
        ):
            queued += 1
    return queued
