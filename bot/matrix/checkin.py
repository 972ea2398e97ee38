"""A volunteer's check-in on Matrix, in as many messages as on Telegram: which child (when
there are several), what was done (the numbers of all that apply, in one reply), photos
(each an `m.image`, or 0 for none), the five home-visit questions as numbered answers,
then 1 to confirm. The conversation's data waits in the room's state (`rooms.Rooms`)
until it is confirmed, like aiogram's FSM data on Telegram.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.matrix.rooms import Rooms
from domain.care import caseload, checkins
from domain.care.checkins import VISIT_ANSWERS, Draft, PhotoRef, VisitQuestion
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.language import gettext as _
from domain.models import Activity
from domain.people.identity import Identity
from domain.ports import PhotoQueue
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.due import Selection
from domain.wording import render, texts

QUESTIONS = tuple(VisitQuestion)
ACTIVITIES = tuple(Activity)
STEPS = (
    "checkin-child",
    "checkin-activities",
    "checkin-photos",
    "checkin-question",
    "checkin-summary",
)


def choices(labels: Sequence[str]) -> str:
    """ "回复 1 甲 · 2 乙": the numbered list a message ends with."""
    listed = " · ".join(f"{n} {label}" for n, label in enumerate(labels, start=1))
    return _("Reply {choices}").format(choices=listed)


class CheckIns:
    def __init__(
        self, rooms: Rooms, clock: Clock, tz: ZoneInfo, photo_queue: PhotoQueue | None
    ) -> None:
        self._rooms = rooms
        self._clock = clock
        self._tz = tz
        self._photo_queue = photo_queue

    async def start(self, uow: UnitOfWork, room_id: str, me: Identity) -> Sequence[str]:
        children = await caseload.active_children(uow.session, volunteer_ids=me.volunteer_ids)
        if not children:
            await self._rooms.end(room_id)
            return [_("No children are paired with you yet.")]
        if len(children) == 1:
            child_id, name, _pairing = children[0]
            return await self._ask_activities(room_id, child_id, name)
        await self._rooms.carry_on(
            room_id, {"step": "checkin-child", "children": [c[0] for c in children]}
        )
        return [_("Whom did you see?") + "\n" + choices([name for _id, name, _p in children])]

    async def chosen_child(
        self, uow: UnitOfWork, room_id: str, me: Identity, text: str, offered: list[int]
    ) -> tuple[int, str] | str:
        """The child under the number the volunteer replied, if still paired with them;
        else what to answer (a forged or stale number changes nothing, and is audited)."""
        return await chosen_child(uow, room_id, me, text, offered, self._rooms, self._clock)

    async def answer(
        self,
        uow: UnitOfWork,
        room_id: str,
        me: Identity,
        text: str,
        photo: PhotoRef | None,
        talk: dict[str, Any],
    ) -> Sequence[str]:
        step = talk["step"]
        if photo is not None and step in ("checkin-photos", "checkin-question", "checkin-summary"):
            return await self._photo(room_id, talk, photo)
        if step == "checkin-child":
            return await self._child(uow, room_id, me, text, talk)
        if step == "checkin-activities":
            return await self._activities(room_id, text, talk)
        if step == "checkin-photos":
            if text == "0":
                return await self._after_photos(room_id, talk)
            return [
                _(
                    "Please send a photo, or reply 0 for none. Videos, stickers and other files "
                    "cannot be kept."
                )
            ]
        if step == "checkin-question":
            return await self._question(room_id, text, talk)
        return await self._summary_reply(uow, room_id, me, text, talk)

    async def _child(
        self, uow: UnitOfWork, room_id: str, me: Identity, text: str, talk: dict[str, Any]
    ) -> Sequence[str]:
        chosen = await self.chosen_child(uow, room_id, me, text, talk["children"])
        if isinstance(chosen, str):
            return [chosen]
        return await self._ask_activities(room_id, *chosen)

    async def _ask_activities(self, room_id: str, child_id: int, name: str) -> Sequence[str]:
        await self._rooms.carry_on(
            room_id,
            {
                "step": "checkin-activities",
                "key": uuid.uuid4().hex,
                "child_id": child_id,
                "child": name,
                "activities": [],
                "photos": [],
                "answers": {},
            },
        )
        return [
            _("What did you do with {child}? Reply the numbers of all that apply.").format(
                child=name
            )
            + "\n"
            + choices([str(texts.ACTIVITIES[a]) for a in ACTIVITIES])
        ]

    async def _activities(self, room_id: str, text: str, talk: dict[str, Any]) -> Sequence[str]:
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        if not numbers or not all(1 <= n <= len(ACTIVITIES) for n in numbers):
            return [_("This answer is not one of the choices.")]
        chosen = sorted({ACTIVITIES[n - 1].value for n in numbers})
        await self._rooms.carry_on(
            room_id, {**talk, "step": "checkin-photos", "activities": chosen}
        )
        return [_("Please send photos (one or several), or reply 0 if there are none.")]

    async def _photo(self, room_id: str, talk: dict[str, Any], photo: PhotoRef) -> Sequence[str]:
        photos = talk["photos"]
        if all(kept[1] != photo.file_unique_id for kept in photos):
            photos = [*photos, [photo.file_id, photo.file_unique_id, photo.file_size]]
        talk = {**talk, "photos": photos}
        if talk["step"] == "checkin-photos":
            return await self._after_photos(room_id, talk)
        await self._rooms.carry_on(room_id, talk)
        if talk["step"] == "checkin-summary":
            return [self._summary(talk)]
        return [
            _("📷 Photo added ({count} in all). Please answer the question above.").format(
                count=len(photos)
            )
        ]

    async def _after_photos(self, room_id: str, talk: dict[str, Any]) -> Sequence[str]:
        if Activity.home_visit.value in talk["activities"]:
            talk = {**talk, "step": "checkin-question"}
            await self._rooms.carry_on(room_id, talk)
            return [_question(talk)]
        return await self._show_summary(room_id, talk)

    async def _question(self, room_id: str, text: str, talk: dict[str, Any]) -> Sequence[str]:
        question = _next_question(talk)
        assert question is not None
        answers = VISIT_ANSWERS[question]
        if not text.isdigit() or not 1 <= int(text) <= len(answers):
            return [_("This answer is not one of the choices.")]
        talk = {**talk, "answers": {**talk["answers"], question.value: answers[int(text) - 1]}}
        if _next_question(talk) is not None:
            await self._rooms.carry_on(room_id, talk)
            return [_question(talk)]
        return await self._show_summary(room_id, talk)

    async def _show_summary(self, room_id: str, talk: dict[str, Any]) -> Sequence[str]:
        talk = {**talk, "step": "checkin-summary"}
        await self._rooms.carry_on(room_id, talk)
        return [self._summary(talk)]

    def _summary(self, talk: dict[str, Any]) -> str:
        lines = [
            f"👧 {talk['child']}",
            _("Did: {activities}").format(
                activities=render.activity_names(Activity(a) for a in talk["activities"])
            ),
            _("📷 Photos: {count}").format(count=len(talk["photos"])),
            *(
                f"• {texts.VISIT_QUESTIONS[VisitQuestion(q)]} {texts.VISIT_ANSWERS[a]}"
                for q, a in talk["answers"].items()
            ),
            "",
            choices([_("✅ Confirm"), _("🗑 Discard it")]),
        ]
        return "\n".join(lines)

    async def _summary_reply(
        self, uow: UnitOfWork, room_id: str, me: Identity, text: str, talk: dict[str, Any]
    ) -> Sequence[str]:
        if text == "2":
            await self._rooms.end(room_id)
            return [_("The check-in was discarded. Nothing was saved.")]
        if text != "1":
            return [_("This answer is not one of the choices.")]
        now = self._clock.now()
        recorded = await checkins.record(
            uow.session,
            volunteer_ids=me.volunteer_ids,
            draft=Draft(
                child_id=int(talk["child_id"]),
                activities=frozenset(Activity(a) for a in talk["activities"]),
                photos=tuple(PhotoRef(*photo) for photo in talk["photos"]),
                visit_answers=talk["answers"] or None,
            ),
            idempotency_key=str(talk["key"]),
            actor_id=me.person_id,
            now=now,
        )
        uow.after_commit(functools.partial(self._rooms.end, room_id))
        if self._photo_queue is not None:
            for photo_id in recorded.photo_ids:
                uow.after_commit(functools.partial(self._photo_queue.store_later, photo_id))
        still_due = await due.due_items(
            uow.session,
            month=Month.of(now, self._tz),
            tz=self._tz,
            selection=Selection(pairing_ids=[recorded.pairing_id]),
            only_missing=True,
        )
        return [_("✅ Saved. Thank you!") + "\n" + render.still_due(still_due, talk["child"])]


def _next_question(talk: dict[str, Any]) -> VisitQuestion | None:
    return next((q for q in QUESTIONS if q.value not in talk["answers"]), None)


def _question(talk: dict[str, Any]) -> str:
    question = _next_question(talk)
    assert question is not None
    asked = _("Home visit, question {number} of {total}:\n{question}").format(
        number=QUESTIONS.index(question) + 1,
        total=len(QUESTIONS),
        question=texts.VISIT_QUESTIONS[question],
    )
    return asked + "\n" + choices([str(texts.VISIT_ANSWERS[a]) for a in VISIT_ANSWERS[question]])


async def chosen_child(
    uow: UnitOfWork,
    room_id: str,
    me: Identity,
    text: str,
    offered: list[int],
    rooms: Rooms,
    clock: Clock,
) -> tuple[int, str] | str:
    """The child (id, name) under the number replied to a list of the volunteer's
    children, checked against their pairings now; else the answer to give."""
    if not text.isdigit() or not 1 <= int(text) <= len(offered):
        return _("This answer is not one of the choices.")
    pairing = await caseload.pairing_for(
        uow.session,
        volunteer_ids=me.volunteer_ids,
        child_id=int(offered[int(text) - 1]),
        actor_id=me.person_id,
        at=clock.now(),
    )
    if pairing is None:  # unpaired since the list was shown
        await rooms.end(room_id)
        return _("This child is not paired with you.")
    return pairing.child_id, await caseload.child_name(uow.session, pairing.child_id)
