"""An emergency report on Matrix (🚨), in Telegram's steps: which child (of those the
person may report about), what happened (numbered), a few words or 0; the ladder is asked
to run at once, so every level hears of it now."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.matrix.checkin import choices
from bot.matrix.rooms import Rooms
from domain.care import emergencies
from domain.care.emergencies import Incident
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.language import gettext as _
from domain.people.identity import Identity
from domain.ports import LadderQueue
from domain.wording import labels

STEPS = ("sos-child", "sos-kind", "sos-note")
INCIDENTS = tuple(Incident)
MAX_LISTED = 40
MAX_NOTE = 1000


class Emergencies:
    def __init__(
        self, rooms: Rooms, clock: Clock, tz: ZoneInfo, ladder_queue: LadderQueue | None
    ) -> None:
        self._rooms = rooms
        self._clock = clock
        self._tz = tz
        self._ladder_queue = ladder_queue

    async def start(self, uow: UnitOfWork, room_id: str, me: Identity) -> Sequence[str]:
        children = await emergencies.children_to_report(
            uow.session,
            volunteer_ids=me.volunteer_ids,
            scope_paths=[scope.path for scope in me.scopes],
            limit=MAX_LISTED + 1,
        )
        if not children:
            await self._rooms.end(room_id)
            return [_("There is no child in your care to report about.")]
        if len(children) == 1:
            return await self._ask_kind(uow, room_id, me, children[0][0])
        await self._rooms.carry_on(
            room_id, {"step": "sos-child", "children": [c[0] for c in children[:MAX_LISTED]]}
        )
        return [_("🚨 About which child?") + "\n" + choices([n for _i, n in children[:MAX_LISTED]])]

    async def answer(
        self, uow: UnitOfWork, room_id: str, me: Identity, text: str, talk: dict[str, Any]
    ) -> Sequence[str]:
        step = talk["step"]
        if step == "sos-child":
            offered = talk["children"]
            if not text.isdigit() or not 1 <= int(text) <= len(offered):
                return [_("This answer is not one of the choices.")]
            return await self._ask_kind(uow, room_id, me, int(offered[int(text) - 1]))
        if step == "sos-kind":
            if not text.isdigit() or not 1 <= int(text) <= len(INCIDENTS):
                return [_("This answer is not one of the choices.")]
            await self._rooms.carry_on(
                room_id, {**talk, "step": "sos-note", "what": INCIDENTS[int(text) - 1].value}
            )
            return [_("A few words on what happened (type them), or reply 0 to send now.")]
        return await self._report(uow, room_id, me, None if text == "0" else text, talk)

    async def _ask_kind(
        self, uow: UnitOfWork, room_id: str, me: Identity, child_id: int
    ) -> Sequence[str]:
        reporter = await _reporter(uow, me, child_id)  # out of scope: a DomainError, said
        await self._rooms.carry_on(room_id, {"step": "sos-kind", "child_id": reporter.child.id})
        return [
            _("🚨 What has happened to {child}?").format(child=reporter.child.name)
            + "\n"
            + choices([_capitalised(labels.INCIDENT[i.value]) for i in INCIDENTS])
        ]

    async def _report(
        self, uow: UnitOfWork, room_id: str, me: Identity, note: str | None, talk: dict[str, Any]
    ) -> Sequence[str]:
        await self._rooms.end(room_id)
        reporter = await _reporter(uow, me, int(talk["child_id"]))
        incident = Incident(talk["what"])
        escalation = await emergencies.raise_incident(
            uow.session,
            child_id=reporter.child.id,
            incident=incident,
            note=(note or "")[:MAX_NOTE] or None,
            reporter_id=me.person_id,
            now=self._clock.now(),
            tz=self._tz,
        )
        if self._ladder_queue is not None:
            uow.after_commit(functools.partial(self._ladder_queue.climb_now, escalation.id))
        if incident in emergencies.SENSITIVE:
            told = _("The township and district care offices are being told now; only they see it.")
        else:
            told = _("The school's, township's and district's care offices are being told now.")
        return [
            _("🚨 Reported: {child} — {what}. {told}").format(
                child=reporter.child.name, what=labels.INCIDENT[incident.value], told=told
            )
        ]


async def _reporter(uow: UnitOfWork, me: Identity, child_id: int) -> emergencies.Reporter:
    return await emergencies.reporter_for(
        uow.session,
        person_id=me.person_id,
        volunteer_ids=me.volunteer_ids,
        scope_paths=[scope.path for scope in me.scopes],
        child_id=child_id,
    )


def _capitalised(label: object) -> str:
    text = str(label)
    return text[:1].upper() + text[1:]
