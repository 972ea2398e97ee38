"""审核: check-ins that deserve a second look, one queue per site.

A check-in goes before its site's coordinator for a reason: a photo like an earlier one or
one that could not be saved (`domain/care/photos.py`), a home visit without a photo, a place
far from the child's home, back-dated beyond the site's allowance, marked uncertain by the
volunteer, or another of the volunteer's visits found not to have happened on a phone check
(`domain/care/sample.py`). Nothing is refused: villages are large and phones imprecise, so
the coordinator approves, asks the volunteer (the answer is attached), or rejects — and a
rejected check-in stops counting in the care record and in what is due.

The check-in's own `review` column mirrors the queue (pending while an item is open) so the
child's card and the timeline read it as before.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery import outbox
from domain.delivery.addresses import address_of
from domain.delivery.content import Content
from domain.errors import BadReviewSetting, NotInChat, QuestionSettled, UnknownCheckIn
from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    Person,
    Region,
    ReviewItem,
    ReviewState,
    ReviewStatus,
    Volunteer,
)
from domain.people import audit, regions

# the reasons, as stored in `review_items.reason` (and `checkins.review_reason`)
SIMILAR_PHOTO = "similar_photo"
PHOTO_FAILED = "photo_failed"
BACKDATED = "backdated"
NO_PHOTO = "no_photo"
FAR_FROM_HOME = "far_from_home"
UNCERTAIN = "uncertain"
OTHER_VISIT_NOT_HAPPENED = "other_visit_not_happened"

DEFAULT_DISTANCE_M = 3000  # villages are large and phones imprecise
DEFAULT_DAYS_BACK = 2  # further back than this, a coordinator confirms the date
DEFAULT_SAMPLE_PERCENT = 4.0  # the reports phone 3–5 % of families
WAITING_TOO_LONG = dt.timedelta(days=7)  # then the item climbs like any overdue one

OPEN = (ReviewState.waiting, ReviewState.asked)
EARTH_RADIUS_M = 6_371_000.0


# rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine): plenty for a village's few kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class SiteRules:
    """A site's review settings, each the nearest one set up the region tree."""

    distance_m: int = DEFAULT_DISTANCE_M
    days_back: int = DEFAULT_DAYS_BACK
    sample_percent: float = DEFAULT_SAMPLE_PERCENT


@dataclass(frozen=True)
class Recording:
    """What a check-in brings that the review rules look at."""

    activities: frozenset[Activity]
    photos: int
    days_back: int
    uncertain: bool
    place: Point | None
    home: Point | None


def reasons_to_review(recording: Recording, rules: SiteRules) -> dict[str, dict[str, int]]:
    """Why a new check-in goes for review (reason → details), or nothing."""
    reasons: dict[str, dict[str, int]] = {}
    if Activity.home_visit in recording.activities and recording.photos == 0:
        reasons[NO_PHOTO] = {}
    if recording.days_back > rules.days_back:
        reasons[BACKDATED] = {"days_back": recording.days_back}
    if recording.uncertain:
        reasons[UNCERTAIN] = {}
    if recording.place is not None and recording.home is not None:
        metres = distance_m(recording.place, recording.home)
        if metres > rules.distance_m:
            reasons[FAR_FROM_HOME] = {"metres": round(metres), "allowed": rules.distance_m}
    return reasons


def takes_home_from(recording: Recording) -> bool:
    """The child's home is where their first home visit with a location was made."""
    return (
        recording.home is None
        and recording.place is not None
        and Activity.home_visit in recording.activities
    )


async def site_rules(session: AsyncSession, site_paths: Iterable[str]) -> dict[str, SiteRules]:
    """Per site path: the review settings nearest up the tree, else the defaults."""
    paths = set(site_paths)
    ids = {int(part) for path in paths for part in path.split("/") if part}
    rows = (
        await session.execute(
            select(
                Region.path,
                Region.review_distance_m,
                Region.review_days_back,
                Region.sample_percent,
            ).where(Region.id.in_(ids))
        )
    ).all()
    result = {}
    for path in paths:
        above = sorted(
            (row for row in rows if regions.within(path, row.path)), key=lambda r: -len(r.path)
        )
        result[path] = SiteRules(
            distance_m=int(_nearest(above, "review_distance_m", DEFAULT_DISTANCE_M)),
            days_back=int(_nearest(above, "review_days_back", DEFAULT_DAYS_BACK)),
            sample_percent=float(_nearest(above, "sample_percent", DEFAULT_SAMPLE_PERCENT)),
        )
    return result


def _nearest(above: Sequence[Any], column: str, default: float) -> float:
    return next(
        (getattr(row, column) for row in above if getattr(row, column) is not None), default
    )


# how far (metres), how many days back, what share (%): the bounds a site may set
SETTING_BOUNDS = {
    "review_distance_m": (100, 50_000),
    "review_days_back": (0, 7),
    "sample_percent": (0.0, 100.0),
}


def set_site_rules(region: Region, **settings: float | None) -> None:
    """Set a region's review settings (None keeps one); out of bounds is refused whole."""
    for name, value in settings.items():
        low, high = SETTING_BOUNDS[name]
        if value is not None and not low <= value <= high:
            raise BadReviewSetting(setting="--" + name.replace("_", "-"), low=low, high=high)
    for name, value in settings.items():
        if value is not None:
            setattr(region, name, value if name == "sample_percent" else int(value))


# putting a check-in in the queue ---------------------------------------------------------


async def flag(
    session: AsyncSession,
    checkin_id: int,
    reason: str,
    *,
    now: dt.datetime,
    details: Mapping[str, int | str] | None = None,
) -> bool:
    """Put a check-in in its site's queue for a reason, once; True when it was new."""
    checkin = await session.get_one(CheckIn, checkin_id)
    site_id = await session.scalar(select(Child.site_id).where(Child.id == checkin.child_id))
    item_id = await session.scalar(
        insert(ReviewItem)
        .values(
            checkin_id=checkin_id,
            site_id=site_id,
            reason=reason,
            details=dict(details or {}) or None,
            state=ReviewState.waiting,
            opened_at=now,
        )
        .on_conflict_do_nothing(index_elements=[ReviewItem.checkin_id, ReviewItem.reason])
        .returning(ReviewItem.id)
    )
    if checkin.review is not ReviewStatus.pending and checkin.review is not ReviewStatus.rejected:
        checkin.review = ReviewStatus.pending
        checkin.review_reason = reason
    audit.record(
        session,
        at=now,
        action="checkin.review",
        subject_type="checkin",
        subject_id=checkin_id,
        details={"reason": reason, **(details or {})},
    )
    return item_id is not None


# the coordinator's queue -----------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A check-in of the queue with every open reason."""

    checkin: CheckIn
    child_name: str
    volunteer_name: str
    items: list[ReviewItem]


async def queue(
    session: AsyncSession, site_paths: Sequence[str], *, limit: int = 5
) -> tuple[list[Waiting], int]:
    """The oldest check-ins waiting in the scopes' queues, and how many wait in all."""
    in_scope = ReviewItem.site_id.in_(
        select(Region.id).where(or_(*(Region.path.startswith(path) for path in site_paths)))
    )
    oldest = (
        select(
            ReviewItem.checkin_id,
            func.min(ReviewItem.opened_at).label("since"),
            func.count().over().label("total"),  # before the limit: all that wait
        )
        .where(ReviewItem.state.in_(OPEN), in_scope)
        .group_by(ReviewItem.checkin_id)
        .order_by(func.min(ReviewItem.opened_at), ReviewItem.checkin_id)
        .limit(limit)
    ).subquery()
    rows = (
        await session.execute(
            select(CheckIn, Child.name, Person.name, oldest.c.total)
            .join(oldest, oldest.c.checkin_id == CheckIn.id)
            .join(Child, Child.id == CheckIn.child_id)
            .join(Volunteer, Volunteer.id == CheckIn.volunteer_id)
            .join(Person, Person.id == Volunteer.person_id)
            .order_by(oldest.c.since, CheckIn.id)
        )
    ).all()
    items = await open_items(session, [row[0].id for row in rows])
    return [
        Waiting(
            checkin=checkin, child_name=child, volunteer_name=volunteer, items=items[checkin.id]
        )
        for checkin, child, volunteer, _total in rows
    ], rows[0].total if rows else 0


async def open_items(
    session: AsyncSession, checkin_ids: Sequence[int]
) -> dict[int, list[ReviewItem]]:
    found: dict[int, list[ReviewItem]] = {checkin_id: [] for checkin_id in checkin_ids}
    if not found:
        return found
    for item in await session.scalars(
        select(ReviewItem)
        .where(ReviewItem.checkin_id.in_(checkin_ids), ReviewItem.state.in_(OPEN))
        .order_by(ReviewItem.id)
    ):
        found[item.checkin_id].append(item)
    return found


async def waiting_per_site(
    session: AsyncSession, site_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """How many check-ins wait in each site's queue."""
    query = (
        select(ReviewItem.site_id, func.count(func.distinct(ReviewItem.checkin_id)))
        .where(ReviewItem.state.in_(OPEN))
        .group_by(ReviewItem.site_id)
    )
    if site_ids is not None:
        query = query.where(ReviewItem.site_id.in_(list(site_ids)))
    return {site_id: count for site_id, count in await session.execute(query)}


# deciding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    checkin: CheckIn
    child: Child
    volunteer: Person


async def _decide(
    session: AsyncSession,
    checkin: CheckIn,
    *,
    state: ReviewState,
    status: ReviewStatus,
    by: int,
    at: dt.datetime,
) -> None:
    values: dict[str, object] = {"state": state}
    if state is ReviewState.asked:
        values["asked_at"] = at
    else:
        values |= {"decided_by": by, "decided_at": at}
    await session.execute(
        update(ReviewItem)
        .where(ReviewItem.checkin_id == checkin.id, ReviewItem.state.in_(OPEN))
        .values(**values)
    )
    checkin.review = status
    checkin.reviewed_by = by
    audit.record(
        session,
        at=at,
        action=f"checkin.{status.value}",
        actor_id=by,
        subject_type="checkin",
        subject_id=checkin.id,
        details={"child_id": checkin.child_id, "reason": checkin.review_reason},
    )


async def _volunteer_of(session: AsyncSession, checkin: CheckIn) -> Person:
    volunteer = await session.get_one(Volunteer, checkin.volunteer_id)
    return await session.get_one(Person, volunteer.person_id)


async def approve(session: AsyncSession, checkin: CheckIn, *, by: int, at: dt.datetime) -> None:
    """The coordinator looked and the check-in stands."""
    await _decide(
        session, checkin, state=ReviewState.approved, status=ReviewStatus.approved, by=by, at=at
    )


TextFor = Callable[[Person, CheckIn, Child], str]
MessageFor = Callable[[Person, CheckIn, Child], Content]


async def ask(
    session: AsyncSession,
    checkin: CheckIn,
    child: Child,
    *,
    by: int,
    at: dt.datetime,
    message_for: MessageFor,
) -> None:
    """The coordinator asks the volunteer; the question goes through the outbox, rendered
    by the front in the volunteer's language (with the front's button to answer)."""
    to = await _volunteer_of(session, checkin)
    address = await address_of(session, to.id)
    if address is None:
        raise NotInChat()
    await _decide(
        session, checkin, state=ReviewState.asked, status=ReviewStatus.questioned, by=by, at=at
    )
    await outbox.enqueue(
        session,
        to=address,
        content=message_for(to, checkin, child),
        not_before=at,
        dedupe_key=f"question:{checkin.id}:{at.isoformat()}",
    )


async def reject(
    session: AsyncSession,
    checkin: CheckIn,
    child: Child,
    *,
    by: int,
    at: dt.datetime,
    text_for: TextFor | None,
) -> None:
    """The check-in no longer counts; the volunteer is told why (when `text_for` is given)."""
    await _decide(
        session, checkin, state=ReviewState.rejected, status=ReviewStatus.rejected, by=by, at=at
    )
    await void(session, checkin)
    if text_for is None:
        return
    to = await _volunteer_of(session, checkin)
    address = await address_of(session, to.id)
    if address is not None:
        await outbox.enqueue(
            session,
            to=address,
            content=Content.lines([text_for(to, checkin, child)]),
            not_before=at,
            dedupe_key=f"rejected:{checkin.id}",
        )


async def void(session: AsyncSession, checkin: CheckIn) -> None:
    """The check-in stops counting: its activities are no longer done, and the must-visits
    it closed are open again."""
    await session.execute(
        update(CheckInActivity)
        .where(CheckInActivity.checkin_id == checkin.id)
        .values(counted=False)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Concern)
        .where(Concern.closed_by_checkin_id == checkin.id)
        .values(closed_at=None, closed_by_checkin_id=None)
    )


@dataclass(frozen=True)
class Answered:
    checkin: CheckIn
    child: Child
    coordinator: Person | None


async def answer(
    session: AsyncSession,
    checkin_id: int,
    *,
    volunteer_ids: Sequence[int],
    text: str | None,
    voice_file_id: str | None,
    at: dt.datetime,
) -> Answered:
    """The volunteer answers the coordinator's question; the answer is kept with the item
    and the check-in waits for the coordinator again."""
    checkin = await session.get(CheckIn, checkin_id, with_for_update=True)
    if checkin is None or checkin.volunteer_id not in volunteer_ids:
        raise UnknownCheckIn()
    answered = await session.scalars(
        update(ReviewItem)
        .where(ReviewItem.checkin_id == checkin.id, ReviewItem.state == ReviewState.asked)
        .values(
            state=ReviewState.waiting,
            answer=text,
            answer_voice_file_id=voice_file_id,
            answered_at=at,
        )
        .returning(ReviewItem.id)
    )
    if not answered.all():
        raise QuestionSettled()
    checkin.review = ReviewStatus.pending
    coordinator = (
        await session.get(Person, checkin.reviewed_by) if checkin.reviewed_by is not None else None
    )
    audit.record(
        session,
        at=at,
        action="checkin.answer",
        subject_type="checkin",
        subject_id=checkin.id,
        details={"child_id": checkin.child_id, "voice": voice_file_id is not None},
    )
    return Answered(
        checkin=checkin,
        child=await session.get_one(Child, checkin.child_id),
        coordinator=coordinator,
    )


async def set_home(
    session: AsyncSession, child: Child, place: Point, *, by: int | None, at: dt.datetime
) -> None:
    """The child's home, from a coordinator (or, with `by` None, from a home visit)."""
    child.home_latitude, child.home_longitude = place.latitude, place.longitude
    child.home_set_by = by
    audit.record(
        session,
        at=at,
        action="child.home",
        actor_id=by,
        subject_type="child",
        subject_id=child.id,
    )
