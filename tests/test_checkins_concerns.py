"""Check-ins are stored once and close must-visits; concerns get the site's deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import checkins, concerns
from domain.care.checkins import Draft, PhotoRef
from domain.clock import FixedClock
from domain.errors import BadVisitAnswer, NoActivity, NotYourChild, TooFarBack
from domain.models import (
    Activity,
    Channel,
    CheckIn,
    CheckInActivity,
    Child,
    ConcernKind,
    Pairing,
    Photo,
    Region,
    RegionKind,
    ReviewStatus,
    Volunteer,
)
from domain.people import identity
from tests.factories import make_child, make_pairing, make_person, make_site, make_volunteer


async def _paired(
    session: AsyncSession, at: dt.datetime, **site: object
) -> tuple[Region, Region, Volunteer, Child, Pairing]:
    township = await make_site(session, kind=RegionKind.township, **site)
    school = await make_site(session, parent=township)
    volunteer = await make_volunteer(session, school)
    child = await make_child(session, school)
    pairing = await make_pairing(session, volunteer, child, started_at=at - dt.timedelta(days=30))
    return township, school, volunteer, child, pairing


async def test_a_checkin_is_recorded_once_per_key(session: AsyncSession, clock: FixedClock) -> None:
    _, _, volunteer, child, pairing = await _paired(session, clock.now())
    draft = Draft(
        child_id=child.id,
        activities=frozenset({Activity.home_visit, Activity.tutoring}),
        photos=(PhotoRef("f1", "u1", 10), PhotoRef("f2", "u2", 20)),
        visit_answers={"meals": "yes"},
        days_back=1,
    )

    first = await checkins.record(
        session,
        volunteer_ids=[volunteer.id],
        draft=draft,
        idempotency_key="k1",
        actor_id=volunteer.person_id,
        now=clock.now(),
    )
    again = await checkins.record(
        session,
        volunteer_ids=[volunteer.id],
        draft=draft,
        idempotency_key="k1",
        actor_id=volunteer.person_id,
        now=clock.now(),
    )

    assert first.created and not again.created
    assert again.checkin_id == first.checkin_id and again.photo_ids == []
    assert len(first.photo_ids) == 2 and first.pairing_id == pairing.id
    assert await session.scalar(select(func.count()).select_from(CheckIn)) == 1
    assert await session.scalar(select(func.count()).select_from(Photo)) == 2
    times = set(await session.scalars(select(CheckInActivity.occurred_at)))
    assert times == {clock.now() - dt.timedelta(days=1)}


@pytest.mark.parametrize(
    ("days_back", "review"),
    [(0, ReviewStatus.none), (2, ReviewStatus.none), (3, ReviewStatus.pending)],
)
async def test_backdating_beyond_two_days_asks_for_review(
    session: AsyncSession, clock: FixedClock, days_back: int, review: ReviewStatus
) -> None:
    _, _, volunteer, child, _ = await _paired(session, clock.now())
    recorded = await checkins.record(
        session,
        volunteer_ids=[volunteer.id],
        draft=Draft(child_id=child.id, activities=frozenset({Activity.talk}), days_back=days_back),
        idempotency_key=f"k{days_back}",
        actor_id=volunteer.person_id,
        now=clock.now(),
    )
    checkin = await session.get_one(CheckIn, recorded.checkin_id)
    assert checkin.review is review


async def test_bad_checkins_are_refused(session: AsyncSession, clock: FixedClock) -> None:
    _, school, volunteer, child, _ = await _paired(session, clock.now())
    stranger_child = await make_child(session, school)
    talk = frozenset({Activity.talk})
    bad = [
        (Draft(child_id=child.id, activities=frozenset()), NoActivity),
        (Draft(child_id=child.id, activities=talk, days_back=8), TooFarBack),
        (Draft(child_id=child.id, activities=talk, days_back=-1), TooFarBack),
        (Draft(child_id=child.id, activities=talk, visit_answers={"meals": "x"}), BadVisitAnswer),
        (Draft(child_id=child.id, activities=talk, visit_answers={"x": "yes"}), BadVisitAnswer),
        (Draft(child_id=stranger_child.id, activities=talk), NotYourChild),
    ]
    for n, (draft, error) in enumerate(bad):
        with pytest.raises(error):
            await checkins.record(
                session,
                volunteer_ids=[volunteer.id],
                draft=draft,
                idempotency_key=f"bad{n}",
                actor_id=volunteer.person_id,
                now=clock.now(),
            )
    assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0


async def test_a_visit_or_talk_after_a_concern_closes_it(
    session: AsyncSession, clock: FixedClock
) -> None:
    _, _, volunteer, child, _ = await _paired(session, clock.now())
    raised = await concerns.raise_concern(
        session,
        child_id=child.id,
        kind=ConcernKind.mood,
        note=None,
        raised_by=volunteer.person_id,
        now=clock.now(),
    )

    async def check_in(key: str, activity: Activity, days_back: int = 0) -> int:
        recorded = await checkins.record(
            session,
            volunteer_ids=[volunteer.id],
            draft=Draft(child_id=child.id, activities=frozenset({activity}), days_back=days_back),
            idempotency_key=key,
            actor_id=volunteer.person_id,
            now=clock.now(),
        )
        return recorded.checkin_id

    await check_in("meal", Activity.family_meal)
    await check_in("before", Activity.home_visit, days_back=1)  # before the concern was raised
    await session.refresh(raised.concern)
    assert raised.concern.closed_at is None
    visit = await check_in("visit", Activity.talk)
    await session.refresh(raised.concern)
    assert raised.concern.closed_by_checkin_id == visit and raised.concern.closed_at == clock.now()


async def test_a_concern_gets_the_nearest_deadline_and_the_nearest_coordinators(
    session: AsyncSession, clock: FixedClock
) -> None:
    township, school, volunteer, child, _ = await _paired(session, clock.now(), must_visit_days=2)
    at = clock.now()
    await identity.add_coordinator(
        session,
        channel=Channel.telegram,
        external_id="5001",
        name="镇",
        scope_code=township.code,
        at=at,
    )

    raised = await concerns.raise_concern(
        session,
        child_id=child.id,
        kind=ConcernKind.health,
        note="发烧",
        raised_by=volunteer.person_id,
        now=at,
    )
    assert raised.concern.due_at == at + dt.timedelta(days=2)
    assert [r.address.target for r in raised.recipients] == ["5001"]  # the school has none

    await identity.add_coordinator(
        session,
        channel=Channel.telegram,
        external_id="5002",
        name="校",
        scope_code=school.code,
        at=at,
    )
    school.must_visit_days = 1
    raised = await concerns.raise_concern(
        session,
        child_id=child.id,
        kind=ConcernKind.quarrel,
        note=None,
        raised_by=volunteer.person_id,
        now=at,
    )
    assert raised.concern.due_at == at + dt.timedelta(days=1)
    assert [r.address.target for r in raised.recipients] == ["5002"]


async def test_without_any_setting_a_must_visit_is_due_in_three_days(
    session: AsyncSession, clock: FixedClock
) -> None:
    _, _, _, child, _ = await _paired(session, clock.now())
    raiser = await make_person(session)
    raised = await concerns.raise_concern(
        session,
        child_id=child.id,
        kind=ConcernKind.grades,
        note=None,
        raised_by=raiser.id,
        now=clock.now(),
    )
    assert raised.concern.due_at - clock.now() == dt.timedelta(
        days=concerns.DEFAULT_MUST_VISIT_DAYS
    )
    assert raised.recipients == []
