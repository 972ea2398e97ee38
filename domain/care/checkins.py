"""打卡: recording what a volunteer did with a paired child, exactly once.

A check-in is written whole in one transaction (activities, photos, answers) or not at
all. Its `idempotency_key` comes from the conversation, so a redelivered update or a
second press of "confirm" finds the first check-in instead of writing another.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import caseload, review
from domain.errors import BadVisitAnswer, NoActivity, NotYourChild, TooFarBack
from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    Photo,
    Region,
)
from domain.people import audit

MAX_DAYS_BACK = 7  # "I visited yesterday": back-dating is allowed up to a week
REVIEW_DAYS_BACK = review.DEFAULT_DAYS_BACK  # further back, a coordinator confirms the date
BACKDATED = review.BACKDATED

# A visit or a talk is what a must-visit (五必访) asks for.
CLOSES_CONCERNS = frozenset({Activity.home_visit, Activity.talk})


class VisitQuestion(enum.StrEnum):
    """What a home visit asks (DOMAIN.md §6)."""

    meals = "meals"  # does the guardian cook on time?
    picky = "picky"  # is the child a picky eater?
    income = "income"  # does the household income cover the costs?
    calls = "calls"  # does the child call or video the parents often?
    homework = "homework"  # does the child do homework on their own?


# The one-tap answers of each question, as stored in `CheckIn.visit_answers`.
VISIT_ANSWERS: Mapping[VisitQuestion, tuple[str, ...]] = {
    VisitQuestion.meals: ("yes", "sometimes", "no"),
    VisitQuestion.picky: ("no", "little", "yes"),
    VisitQuestion.income: ("yes", "barely", "no"),
    VisitQuestion.calls: ("often", "sometimes", "rarely"),
    VisitQuestion.homework: ("alone", "reminded", "pushed"),
}


@dataclass(frozen=True)
class PhotoRef:
    """Telegram's ids of a photo (its largest size); the file is fetched by a job."""

    file_id: str
    file_unique_id: str
    file_size: int | None = None


@dataclass(frozen=True)
class Draft:
    """A check-in as the conversation collected it."""

    child_id: int
    activities: frozenset[Activity]
    photos: tuple[PhotoRef, ...] = ()
    note: str | None = None
    voice_file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    visit_answers: Mapping[str, str] | None = None
    days_back: int = 0
    uncertain: bool = False  # the volunteer is not sure of it (the day, the child)


@dataclass(frozen=True)
class Recorded:
    checkin_id: int
    pairing_id: int
    created: bool  # False when the key had been used: nothing new was written
    photo_ids: list[int]


def occurred_at(now: dt.datetime, days_back: int) -> dt.datetime:
    if not 0 <= days_back <= MAX_DAYS_BACK:
        raise TooFarBack(days=MAX_DAYS_BACK)
    return now - dt.timedelta(days=days_back)


def check_answers(answers: Mapping[str, str] | None) -> None:
    """Each answer one of its question's one-tap answers: a forged button is refused."""
    for question, answer in (answers or {}).items():
        if (
            question not in VisitQuestion.__members__
            or answer not in VISIT_ANSWERS[VisitQuestion(question)]
        ):
            raise BadVisitAnswer()


async def by_key(session: AsyncSession, key: str) -> CheckIn | None:
    return await session.scalar(select(CheckIn).where(CheckIn.idempotency_key == key))


async def record(
    session: AsyncSession,
    *,
    volunteer_ids: Sequence[int],
    draft: Draft,
    idempotency_key: str,
    actor_id: int,
    now: dt.datetime,
) -> Recorded:
    """Store a check-in once; it closes the child's open must-visits when it is a visit or
    a talk made after they were raised, and goes for review when a rule says so."""
    if not draft.activities:
        raise NoActivity()
    check_answers(draft.visit_answers)
    when = occurred_at(now, draft.days_back)
    pairing = await caseload.active_pairing(
        session, volunteer_ids=volunteer_ids, child_id=draft.child_id
    )
    if pairing is None:
        raise NotYourChild()
    checkin_id = await session.scalar(
        insert(CheckIn)
        .values(
            pairing_id=pairing.id,
            child_id=pairing.child_id,
            volunteer_id=pairing.volunteer_id,
            occurred_at=when,
            created_at=now,
            idempotency_key=idempotency_key,
            note=draft.note,
            voice_file_id=draft.voice_file_id,
            latitude=draft.latitude,
            longitude=draft.longitude,
            visit_answers=dict(draft.visit_answers) if draft.visit_answers else None,
            uncertain=draft.uncertain,
        )
        .on_conflict_do_nothing(index_elements=[CheckIn.idempotency_key])
        .returning(CheckIn.id)
    )
    if checkin_id is None:  # confirmed before: the first check-in stands
        existing = await by_key(session, idempotency_key)
        assert existing is not None
        return Recorded(
            checkin_id=existing.id, pairing_id=existing.pairing_id, created=False, photo_ids=[]
        )
    session.add_all(
        CheckInActivity(
            checkin_id=checkin_id, activity=activity, pairing_id=pairing.id, occurred_at=when
        )
        for activity in sorted(draft.activities)
    )
    photos = [
        Photo(
            checkin_id=checkin_id,
            file_id=ref.file_id,
            file_unique_id=ref.file_unique_id,
            file_size=ref.file_size,
        )
        for ref in {ref.file_unique_id: ref for ref in draft.photos}.values()  # once each
    ]
    session.add_all(photos)
    await session.flush()
    if draft.activities & CLOSES_CONCERNS:
        await session.execute(
            update(Concern)
            .where(
                Concern.child_id == pairing.child_id,
                Concern.closed_at.is_(None),
                Concern.raised_at <= when,
            )
            .values(closed_at=now, closed_by_checkin_id=checkin_id)
        )
    await _review_if_needed(
        session, checkin_id, pairing.child_id, draft, photos=len(photos), now=now
    )
    audit.record(
        session,
        at=now,
        action="checkin.create",
        actor_id=actor_id,
        subject_type="child",
        subject_id=pairing.child_id,
        details={"checkin_id": checkin_id, "photos": len(photos)},
    )
    return Recorded(
        checkin_id=checkin_id,
        pairing_id=pairing.id,
        created=True,
        photo_ids=[photo.id for photo in photos],
    )


async def _review_if_needed(
    session: AsyncSession,
    checkin_id: int,
    child_id: int,
    draft: Draft,
    *,
    photos: int,
    now: dt.datetime,
) -> None:
    """Queue the new check-in for each reason the review rules find; a first home visit
    with a location gives the child their home."""
    child = await session.get_one(Child, child_id)
    site_path = await session.scalar(select(Region.path).where(Region.id == child.site_id))
    assert site_path is not None
    rules = (await review.site_rules(session, [site_path]))[site_path]
    place = (
        review.Point(draft.latitude, draft.longitude)
        if draft.latitude is not None and draft.longitude is not None
        else None
    )
    home = (
        review.Point(child.home_latitude, child.home_longitude)
        if child.home_latitude is not None and child.home_longitude is not None
        else None
    )
    recording = review.Recording(
        activities=draft.activities,
        photos=photos,
        days_back=draft.days_back,
        uncertain=draft.uncertain,
        place=place,
        home=home,
    )
    if place is not None and review.takes_home_from(recording):
        await review.set_home(session, child, place, by=None, at=now)
    for reason, details in review.reasons_to_review(recording, rules).items():
        await review.flag(session, checkin_id, reason, now=now, details=details)
