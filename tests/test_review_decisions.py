"""Review decisions in the domain: a rejected visit reopens the must-visit it closed; an
answer after the coordinator decided is refused kindly; a new reason reopens an approved
check-in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import checkins, review
from domain.care.checkins import Draft
from domain.errors import QuestionSettled
from domain.models import Activity, CheckIn, Concern, ConcernKind, ReviewStatus
from tests.conftest import SHANGHAI
from tests.workers_support import make_programme

AT = dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI)


async def test_a_rejected_visit_reopens_the_must_visit_it_closed(session: AsyncSession) -> None:
    p = await make_programme(session)
    concern = Concern(
        child_id=p.child.id,
        kind=ConcernKind.mood,
        raised_by=p.school_head.id,
        raised_at=AT - dt.timedelta(days=1),
        due_at=AT + dt.timedelta(days=2),
    )
    session.add(concern)
    await session.flush()
    recorded = await checkins.record(
        session,
        volunteer_ids=[p.volunteer.id],
        draft=Draft(child_id=p.child.id, activities=frozenset({Activity.home_visit})),
        idempotency_key="k1",
        actor_id=p.school_head.id,
        now=AT,
    )
    await session.refresh(concern)
    assert concern.closed_by_checkin_id == recorded.checkin_id
    checkin = await session.get_one(CheckIn, recorded.checkin_id)
    assert checkin.review is ReviewStatus.pending  # a home visit without a photo

    await review.reject(session, checkin, p.child, by=p.school_head.id, at=AT, text_for=None)
    await session.refresh(concern)
    assert concern.closed_at is None and concern.closed_by_checkin_id is None
    assert checkin.review is ReviewStatus.rejected
    # a later reason does not bring a rejected check-in back
    await review.flag(session, checkin.id, review.SIMILAR_PHOTO, now=AT)
    assert checkin.review is ReviewStatus.rejected


async def test_an_answer_after_the_decision_is_refused_and_a_new_reason_reopens(
    session: AsyncSession,
) -> None:
    p = await make_programme(session)
    recorded = await checkins.record(
        session,
        volunteer_ids=[p.volunteer.id],
        draft=Draft(child_id=p.child.id, activities=frozenset({Activity.talk}), uncertain=True),
        idempotency_key="k2",
        actor_id=p.school_head.id,
        now=AT,
    )
    checkin = await session.get_one(CheckIn, recorded.checkin_id)
    await review.approve(session, checkin, by=p.school_head.id, at=AT)
    with pytest.raises(QuestionSettled):
        await review.answer(
            session,
            checkin.id,
            volunteer_ids=[p.volunteer.id],
            text="是那天",
            voice_file_id=None,
            at=AT,
        )
    assert checkin.review is ReviewStatus.approved
    assert await review.flag(session, checkin.id, review.SIMILAR_PHOTO, now=AT)
    assert checkin.review is ReviewStatus.pending
    assert not await review.flag(session, checkin.id, review.SIMILAR_PHOTO, now=AT)  # once
