"""What the Matrix bot answers, in the person's language (Chinese first).

The sender is looked up among the accounts on Matrix. A stranger gets the same polite
answer as on Telegram, unless they send an invitation's code (the link, or the code in
it): then they join in the same steps as on Telegram (name, phone, consent), each a
message, choices as numbers. Someone known answers the bot's messages with a number: the
action under it in the room's latest message with choices (`rooms.Rooms`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.matrix import checkin, concern, emergency
from bot.matrix.rooms import Rooms
from domain.care import caseload
from domain.care.checkins import PhotoRef
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.delivery.content import ActionKind
from domain.errors import DomainError
from domain.language import DEFAULT_LOCALE, catalogue, speaking
from domain.language import gettext as _
from domain.models import Channel, InvitationRole, Region
from domain.people import identity, invitations
from domain.people.identity import Identity
from domain.people.phones import valid_phone
from domain.ports import LadderQueue, PhotoQueue
from domain.schedule import escalations
from domain.wording import formatting, news, texts

MAX_NAME = 100
# the code of an invitation link (`…?start=<code>`), alone or inside the link
_CODE = re.compile(r"(?:\S*[?&]start=)?([A-Za-z0-9_-]{20,64})")


@dataclass(frozen=True)
class IncomingText:
    """A text message someone sent the bot; ids only in logs, never the body. `body` is
    None for a message the bot's device could not decrypt; `sender_name` their display
    name in the room."""

    room_id: str
    sender: str
    event_id: str
    body: str | None
    sender_name: str | None = None
    photo: PhotoRef | None = None  # an image they sent, staged (`domain.care.inbox`)


def invitation_code(text: str) -> str | None:
    """The invitation's code in a message: the link, or the code alone."""
    found = _CODE.fullmatch(text.strip())
    return None if found is None else found.group(1)


class Conversation:
    def __init__(
        self,
        rooms: Rooms,
        clock: Clock,
        tz: ZoneInfo,
        photo_queue: PhotoQueue | None = None,
        ladder_queue: LadderQueue | None = None,
    ) -> None:
        self._rooms = rooms
        self._clock = clock
        self._tz = tz
        self._checkins = checkin.CheckIns(rooms, clock, tz, photo_queue)
        self._concerns = concern.Concerns(rooms, clock, tz)
        self._emergencies = emergency.Emergencies(rooms, clock, tz, ladder_queue)

    async def answer(self, uow: UnitOfWork, message: IncomingText) -> Sequence[str]:
        session = uow.session
        me = await identity.identify(session, Channel.matrix, message.sender)
        with speaking(me.language if me else None):
            if message.body is None:
                return [
                    _(
                        "I could not read that message: it was encrypted before I could take "
                        "part. Please send it again."
                    )
                ]
            try:
                async with session.begin_nested():  # a rule said no: nothing it did stays
                    return await self._answer(uow, message, message.body.strip(), me)
            except DomainError as error:
                await self._rooms.end(message.room_id)
                return [_(error.message).format(**error.params)]

    async def _answer(
        self, uow: UnitOfWork, message: IncomingText, text: str, me: Identity | None
    ) -> Sequence[str]:
        session = uow.session
        room_id = message.room_id
        talk = await self._rooms.conversation(room_id)
        if talk.get("step") in _JOIN_STEPS:
            return await _JOIN_STEPS[talk["step"]](self, session, message, text, talk)
        if me is not None and talk.get("step") == "resolve-note" and text:
            return await self._resolved(uow, room_id, me, int(talk["escalation_id"]), text)
        if me is not None and me.is_volunteer:
            if talk.get("step") in checkin.STEPS:
                return await self._checkins.answer(uow, room_id, me, text, message.photo, talk)
            if talk.get("step") in concern.STEPS:
                return await self._concerns.answer(uow, room_id, me, text, talk)
            if talk.get("step") in emergency.STEPS:
                return await self._emergencies.answer(uow, room_id, me, text, talk)
            if talk.get("step") == "menu" and text in ("1", "2", "3", "4"):
                if text == "4":
                    return await self._emergencies.start(uow, room_id, me)
                if text == "2":
                    return await self._checkins.start(uow, room_id, me)
                if text == "3":
                    return await self._concerns.start(uow, room_id, me)
                await self._rooms.end(room_id)
                return [await self._my_children(session, me)]
        if message.photo is not None:
            return [_("Photos are kept with a check-in: reply 2 in the menu to start one.")]
        code = invitation_code(text)
        if code is not None:
            return await self._open_link(session, message, code, me)
        if me is None:
            return [
                _(
                    "This bot is only for invited volunteers and staff. Ask your school's or "
                    "village's care office for an invitation link."
                )
            ]
        if text.isdigit():
            return await self._choose(uow, message, int(text), me)
        if me.is_volunteer:
            await self._rooms.carry_on(room_id, {"step": "menu"})
            return [
                _("Hello, {name}.").format(name=me.name)
                + "\n"
                + checkin.choices(
                    [
                        str(texts.MY_CHILDREN),
                        str(texts.CHECK_IN),
                        _("⚠️ Raise a concern"),
                        _("🚨 Emergency or drop-out"),
                    ]
                )
            ]
        return [_("Hello, {name}. Reply with a number to what I send you.").format(name=me.name)]

    async def _my_children(self, session: AsyncSession, me: Identity) -> str:
        children = await caseload.active_children(session, volunteer_ids=me.volunteer_ids)
        if not children:
            return _("No children are paired with you yet.")
        return "\n".join(f"👧 {name}" for _id, name, _pairing in children)

    # Joining --------------------------------------------------------------------------

    async def _open_link(
        self, session: AsyncSession, message: IncomingText, code: str, me: Identity | None
    ) -> Sequence[str]:
        """Check the code first, so a bad one changes nothing."""
        at = self._clock.now()
        invitation = await invitations.check(session, code, at=at)
        site = await session.get_one(Region, invitation.region_id)
        if me is not None:  # someone already registered joins the new site at once
            await invitations.accept(
                session,
                token=code,
                channel=Channel.matrix,
                external_id=message.sender,
                name=me.name,
                phone=None,
                language=None,
                at=at,
            )
            return [_("You have joined {site}.").format(site=site.name)]
        suggested = (message.sender_name or "").strip()[:MAX_NAME]
        await self._rooms.carry_on(
            message.room_id,
            {"step": "name", "token_hash": invitations.hash_of(code), "suggested": suggested},
        )
        welcome = (
            _("Welcome! {site} invites you to join as a volunteer.")
            if invitation.role is InvitationRole.volunteer
            else _("Welcome! {site} invites you to join as a coordinator.")
        )
        ask = (
            _("What is your name? Reply 1 to use “{name}”, or type your name.").format(
                name=suggested
            )
            if suggested
            else _("What is your name? Please type it.")
        )
        return [welcome.format(site=site.name), ask]

    async def _name(
        self,
        session: AsyncSession,
        message: IncomingText,
        text: str,
        talk: dict[str, str | None],
    ) -> Sequence[str]:
        name = str(talk.get("suggested") or "") if text == "1" else text
        if not name or len(name) > MAX_NAME:
            return [_("Please type your name (at most 100 characters).")]
        await self._rooms.carry_on(message.room_id, {**talk, "step": "phone", "name": name})
        return [
            _(
                "Thank you, {name}. Would you share your phone number, so the care office can "
                "reach you? Type it, or reply 0 to skip."
            ).format(name=name)
        ]

    async def _phone(
        self,
        session: AsyncSession,
        message: IncomingText,
        text: str,
        talk: dict[str, str | None],
    ) -> Sequence[str]:
        phone = None if text == "0" else valid_phone(text)
        if text != "0" and phone is None:
            return [_("Please type your phone number, or reply 0 to skip.")]
        await self._rooms.carry_on(message.room_id, {**talk, "step": "consent", "phone": phone})
        return [
            _(
                "About children's information\n\n"
                "guanai keeps what the care programme needs: each child's archive (name, "
                "school and class, family contacts) and the visits you record, with your "
                "photos and notes. You see only the children paired with you; your care office "
                "and the offices above it see the children of their area. Every look at a "
                "child's record is logged. Photos are kept without their location data.\n\n"
                "Please keep what you see private. Do you agree?"
            )
            + "\n\n"
            + _("Reply {choices}").format(choices=f"1 {_('✅ I agree')} · 2 {_('I do not agree')}")
        ]

    async def _consent(
        self,
        session: AsyncSession,
        message: IncomingText,
        text: str,
        talk: dict[str, str | None],
    ) -> Sequence[str]:
        if text not in ("1", "2"):
            return [_("Please reply 1 (I agree) or 2 (I do not agree).")]
        await self._rooms.end(message.room_id)  # whatever happens next, it is over
        if text == "2":
            return [
                _(
                    "Nothing was stored. If you change your mind, open the invitation link "
                    "again while it is valid."
                )
            ]
        at = self._clock.now()
        person = await invitations.accept(
            session,
            token=str(talk["token_hash"]),
            hashed=True,
            channel=Channel.matrix,
            external_id=message.sender,
            name=str(talk["name"]),
            phone=talk.get("phone"),
            language=None,
            at=at,
        )
        await news.invitation_used(session, person=person, at=at, tz=self._tz)
        return [_("Welcome aboard! Thank you for caring for the children.")]

    # Choices --------------------------------------------------------------------------

    async def _choose(
        self, uow: UnitOfWork, message: IncomingText, number: int, me: Identity
    ) -> Sequence[str]:
        """A number answers the room's latest message with choices; one it did not offer
        (or a choice of someone else's, forged) changes nothing."""
        offered = await self._rooms.offered(message.room_id)
        if not 1 <= number <= len(offered):
            return [_("There is no choice {number} here.").format(number=number)]
        kind, subject = offered[number - 1]
        if kind is ActionKind.take_escalation:
            return await self._take(uow, message.room_id, subject, me)
        if kind is ActionKind.resolve_escalation:
            outcome = await escalations.claim(uow.session, subject, me)
            if not outcome.changed:
                return [self._taken_already(outcome)]
            await self._rooms.carry_on(
                message.room_id, {"step": "resolve-note", "escalation_id": subject}
            )
            return [_("In a few words, how was it resolved?")]
        return [_("This can be done on Telegram for now, not yet here.")]

    def _taken_already(self, outcome: escalations.Outcome) -> str:
        taken = outcome.taken_by
        assert taken is not None
        when = formatting.when(taken.at, self._tz)
        if taken.name is None:
            return _("This was already closed on {when}.").format(when=when)
        return _("Already handled by {name} on {when}.").format(name=taken.name, when=when)

    async def _take(
        self, uow: UnitOfWork, room_id: str, escalation_id: int, me: Identity
    ) -> Sequence[str]:
        at = self._clock.now()
        outcome = await escalations.take(uow.session, escalation_id, me, at)
        if not outcome.changed:
            return [self._taken_already(outcome)]
        # every copy says who took it, this one too: Matrix edits a message in place
        await news.escalation_settled(
            uow.session, escalation_id=escalation_id, by=me.name, closed=False, at=at, tz=self._tz
        )
        # what Telegram's buttons turn into once it is taken: reassign or resolve
        then = [(ActionKind.reassign_escalation, escalation_id)]
        then.append((ActionKind.resolve_escalation, escalation_id))
        uow.after_commit(
            functools.partial(self._rooms.offer, room_id, f"taken:{escalation_id}", then)
        )
        return [
            _("It is yours now; it will not be sent further up.")
            + "\n"
            + checkin.choices([_("Reassign"), _("Resolved")])
        ]

    async def _resolved(
        self, uow: UnitOfWork, room_id: str, me: Identity, escalation_id: int, note: str
    ) -> Sequence[str]:
        at = self._clock.now()
        await self._rooms.end(room_id)
        outcome = await escalations.resolve(uow.session, escalation_id, me, at, note=note)
        if outcome.taken_by is not None:
            return [_("Nothing was changed: someone else handled it meanwhile.")]
        await news.escalation_settled(
            uow.session, escalation_id=escalation_id, by=me.name, closed=True, at=at, tz=self._tz
        )
        return [_("Closed. Thank you for looking after this child.")]


_JOIN_STEPS = {
    "name": Conversation._name,
    "phone": Conversation._phone,
    "consent": Conversation._consent,
}


def stranger_answer() -> str:
    return catalogue(DEFAULT_LOCALE).gettext(
        "This bot is only for invited volunteers and staff. Ask your school's or "
        "village's care office for an invitation link."
    )
