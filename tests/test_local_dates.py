"""Every date a person reads is the site's local date (Asia/Shanghai), never the UTC one:
a must-visit raised at 07:00 Beijing time is due on the same day in every message; a
passed deadline reads 已逾期 N 天; the month's deadline reads 本月底前."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Concern, ConcernKind, Person
from domain.schedule import deadlines, ladder, reminders
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI
from tests.outbox_support import shown
from tests.volunteering import latin_words
from tests.workers_support import make_programme, outbox_to

UTC = dt.UTC


def local(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def test_the_due_day_is_the_local_day_and_a_month_is_due_by_its_last_day() -> None:
    raised = local(12, 2, 7)  # 07:00 in Beijing is 23:00 the day before in UTC
    due = raised + dt.timedelta(days=3)
    assert due.astimezone(UTC).date() == dt.date(2026, 12, 4)
    assert deadlines.due_day(due, SHANGHAI) == dt.date(2026, 12, 5)
    month_end = dt.datetime(2027, 1, 1, tzinfo=SHANGHAI)
    assert deadlines.due_day(month_end, SHANGHAI) == dt.date(2026, 12, 31)


def test_days_late_count_local_days_after_the_due_day() -> None:
    month_end = dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert deadlines.days_late(month_end, local(11, 30, 23), SHANGHAI) == 0
    assert deadlines.days_late(month_end, local(12, 1, 0), SHANGHAI) == 1
    assert deadlines.days_late(month_end, local(12, 4, 9), SHANGHAI) == 4
    due = local(12, 5, 7)
    assert deadlines.days_late(due, local(12, 5, 8), SHANGHAI) == 1  # hours late: a day
    assert deadlines.days_late(due, local(12, 7, 6), SHANGHAI) == 2


async def test_the_reminder_names_the_local_day_of_a_concern_raised_early_in_the_morning(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    raised = local(11, 10, 7)
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.mood,
            raised_by=p.school_head.id,
            raised_at=raised,
            due_at=raised + dt.timedelta(days=3),  # 13 November 07:00 local, 12th in UTC
        )
    )
    await session.flush()

    assert (
        await reminders.send_reminders(
            session, now=local(11, 12, 9), tz=SHANGHAI, text=Notices(), media_dir=tmp_path
        )
        == 1
    )
    person = await session.get_one(Person, p.volunteer.person_id)
    [message] = await outbox_to(session, person)
    text = shown(message)["text"]
    assert "11月13日" in text and "11月12日" not in text
    assert "本月底前" in text  # the month's items: one way of saying it
    assert not re.search(r"11月30日", text)
    assert latin_words(text) == []


async def test_an_escalation_reads_days_late_and_the_local_due_day(
    session: AsyncSession, tmp_path: Path
) -> None:
    p = await make_programme(session)
    raised = local(11, 10, 7)
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.mood,
            raised_by=p.school_head.id,
            raised_at=raised,
            due_at=raised + dt.timedelta(days=3),
        )
    )
    await session.flush()

    await ladder.climb(
        session, now=local(11, 15, 9), tz=SHANGHAI, text=Notices(), media_dir=tmp_path
    )
    [message] = await outbox_to(session, p.school_head)
    text = shown(message)["text"]
    assert "已逾期 2 天" in text and "11月13日" in text, text
    assert "11月12日" not in text
    assert latin_words(text) == []
