"""A must-visit concern (五必访) on Matrix, in Telegram's steps: which child (when there are
several), what worries the volunteer (numbered), a note or 0 for none; the care office is
told, and a visit is due, as when it is raised on Telegram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.matrix.checkin import choices, chosen_child
from bot.matrix.rooms import Rooms
from domain.care import caseload, concerns
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.language import gettext as _
from domain.models import ConcernKind
from domain.people.identity import Identity
from domain.wording import formatting, notices, texts

STEPS = ("concern-child", "concern-kind", "concern-note")
KINDS = tuple(texts.CONCERNS)
MAX_NOTE = 1000


class Concerns:
    def __init__(self, rooms: Rooms, clock: Clock, tz: ZoneInfo) -> None:
        self._rooms = rooms
        self._clock = clock
        self._tz = tz

    async def start(self, uow: UnitOfWork, room_id: str, me: Identity) -> Sequence[str]:
        children = await caseload.active_children(uow.session, volunteer_ids=me.volunteer_ids)
        if not children:
            await self._rooms.end(room_id)
            return [_("No children are paired with you yet.")]
        if len(children) == 1:
            child_id, name, _pairing = children[0]
            return await self._ask_kind(room_id, child_id, name)
        await self._rooms.carry_on(
            room_id, {"step": "concern-child", "children": [c[0] for c in children]}
        )
        return [_("Whom is it about?") + "\n" + choices([name for _id, name, _p in children])]

    async def answer(
        self, uow: UnitOfWork, room_id: str, me: Identity, text: str, talk: dict[str, Any]
    ) -> Sequence[str]:
        if talk["step"] == "concern-child":
            chosen = await chosen_child(
                uow, room_id, me, text, talk["children"], self._rooms, self._clock
            )
            if isinstance(chosen, str):
                return [chosen]
            return await self._ask_kind(room_id, *chosen)
        if talk["step"] == "concern-kind":
            if not text.isdigit() or not 1 <= int(text) <= len(KINDS):
                return [_("This answer is not one of the choices.")]
            kind = KINDS[int(text) - 1]
            await self._rooms.carry_on(
                room_id, {**talk, "step": "concern-note", "kind": kind.value}
            )
            return [_("Add a short note if you like (type it), or reply 0 to skip.")]
        return await self._raise(uow, room_id, me, None if text == "0" else text, talk)

    async def _ask_kind(self, room_id: str, child_id: int, name: str) -> Sequence[str]:
        await self._rooms.carry_on(
            room_id, {"step": "concern-kind", "child_id": child_id, "child": name}
        )
        return [
            _("What worries you about {child}?").format(child=name)
            + "\n"
            + choices([str(texts.CONCERNS[kind]) for kind in KINDS])
        ]

    async def _raise(
        self, uow: UnitOfWork, room_id: str, me: Identity, note: str | None, talk: dict[str, Any]
    ) -> Sequence[str]:
        session = uow.session
        now = self._clock.now()
        await self._rooms.end(room_id)
        pairing = await caseload.active_pairing(
            session, volunteer_ids=me.volunteer_ids, child_id=int(talk["child_id"])
        )
        if pairing is None:  # unpaired while the volunteer was typing
            return [_("This child is not paired with you.")]
        raised = await concerns.raise_concern(
            session,
            child_id=pairing.child_id,
            kind=ConcernKind(talk["kind"]),
            note=(note or "")[:MAX_NOTE] or None,
            raised_by=me.person_id,
            now=now,
        )
        await notices.concern_raised(
            session, raised, raised_by=me.name, site=raised.site.name, now=now, tz=self._tz
        )
        return [
            _(
                "Noted: {child} — {kind}. A visit is due by {day}; the care office has been "
                "told. A check-in with a home visit or a talk closes it."
            ).format(
                child=raised.child.name,
                kind=texts.CONCERNS[raised.concern.kind],
                day=formatting.day(raised.concern.due_at, self._tz),
            )
        ]
