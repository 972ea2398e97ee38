"""A check-in left in the review queue for over a week climbs the ladder like any overdue
item, and the climb stops once the coordinator has decided."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.wording.notices import Notices
from domain.care import review
from domain.models import Escalation, EscalationKind
from domain.schedule import ladder
from tests.conftest import SHANGHAI
from tests.factories import make_checkin
from tests.workers_support import make_programme, outbox_to


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


async def test_a_checkin_waiting_over_a_week_escalates_until_decided(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    checkin = await make_checkin(session, p.pairing, occurred_at=at(10))
    await review.flag(session, checkin.id, review.NO_PHOTO, now=at(10))

    async def climb(now: dt.datetime) -> ladder.LadderReport:
        return await ladder.climb(session, now=now, tz=SHANGHAI, text=Notices(), media_dir=tmp_path)

    assert (await climb(at(17, 9))).opened == 0  # a week less an hour
    report = await climb(at(17, 11))
    assert (report.opened, report.messages) == (1, 1)
    [message] = await outbox_to(session, p.school_head)
    assert "小明" in message.payload["text"] and "审核" in message.payload["text"]
    assert await outbox_to(session, p.township_head) == []
    assert (await climb(at(17, 12))).opened == 0  # once

    await review.approve(session, checkin, by=p.school_head.id, at=at(18))
    assert (await climb(at(18, 11))).closed == 1
    escalation = await session.scalar(
        select(Escalation).where(Escalation.kind == EscalationKind.review_waiting)
    )
    assert escalation is not None and escalation.resolution == "done"
    assert (await climb(at(21, 11))).steps == 0  # the township is never told
