"""The weekly roster: made once per ISO week, per coordinator and per volunteer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notices import Notices
from domain import rosters
from domain.models import Activity, DutyShift, OutboxMessage, Person, Roster
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_pairing, make_site, make_volunteer
from tests.workers_support import NOVEMBER_1, make_programme, outbox_to

MONDAY = dt.datetime(2026, 11, 16, 8, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def make_rosters(
    session: AsyncSession, now: dt.datetime, notices: Notices, tmp_path: Path
) -> int:
    return await rosters.send_rosters(
        session, now=now, tz=SHANGHAI, text=notices, media_dir=tmp_path
    )


async def test_each_coordinator_gets_message_workbook_and_chart_once_a_week(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await make_checkin(
        session,
        p.pairing,
        occurred_at=dt.datetime(2026, 11, 11, 16, tzinfo=SHANGHAI),
        activities=(Activity.home_visit, Activity.talk),
    )
    session.add(
        DutyShift(site_id=p.school.id, day=dt.date(2026, 11, 18), volunteer_id=p.volunteer.id)
    )
    other_school = await make_site(session, parent=p.township, name="新村小学")
    idle = await make_volunteer(session, other_school, person=None)
    await make_pairing(
        session, idle, await make_child(session, other_school, name="小刚"), started_at=NOVEMBER_1
    )
    await session.flush()
    idle_person = await session.get_one(Person, idle.person_id)

    queued = await make_rosters(session, MONDAY, notices, tmp_path)

    assert queued == 3 * 3 + 2  # three coordinators × (message, workbook, chart) + two volunteers
    assert await make_rosters(session, MONDAY + dt.timedelta(hours=3), notices, tmp_path) == 0
    assert await session.scalar(select(func.count()).select_from(Roster)) == 3

    text, workbook, chart = await outbox_to(session, p.township_head)
    assert (text.method, workbook.method, chart.method) == (
        "sendMessage",
        "sendDocument",
        "sendPhoto",
    )
    assert "中和镇" in text.payload["text"] and "小刚" not in text.payload["text"]
    assert idle_person.name in text.payload["text"]  # no record for 30 days
    assert (tmp_path / chart.payload["path"]).read_bytes().startswith(b"\x89PNG")

    sheet = load_workbook(tmp_path / workbook.payload["path"]).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("学校/村", "志愿者", "结对孩子", "上周做了")
    by_name = {row[1]: row for row in rows[1:]}
    volunteer_person = await session.get_one(Person, p.volunteer.person_id)
    mine = by_name[volunteer_person.name]
    assert mine[0] == "中和小学" and mine[2] == "小明"
    assert "家访" in mine[3] and "11月11日" in mine[3]
    assert "作业辅导" in mine[4]  # still due this month
    assert mine[6] == "11月18日"  # on duty on Wednesday
    assert mine[7] is None  # active
    assert by_name[idle_person.name][7] == "是"  # inactive for 30 days
    completion = load_workbook(tmp_path / workbook.payload["path"]).worksheets[1]
    shares = {row[0]: row for row in completion.iter_rows(min_row=2, values_only=True)}
    assert set(shares) == {"中和小学", "新村小学"}  # the township's chart is per site
    assert shares["新村小学"][2] == 0 and shares["中和小学"][2] == 2

    [week] = await outbox_to(session, volunteer_person)
    assert "小明" in week.payload["text"] and "11月18日" in week.payload["text"]


async def test_the_district_chart_is_per_township(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)

    await make_rosters(session, MONDAY, notices, tmp_path)

    workbook = (await outbox_to(session, p.district_head))[1]
    completion = load_workbook(tmp_path / workbook.payload["path"]).worksheets[1]
    assert [row[0] for row in completion.iter_rows(min_row=2, values_only=True)] == ["中和镇"]


async def test_a_roster_asked_for_at_night_waits_for_the_morning(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    await make_programme(session)

    await make_rosters(session, MONDAY.replace(hour=23), notices, tmp_path)

    not_before = set(await session.scalars(select(OutboxMessage.not_before)))
    assert not_before == {dt.datetime(2026, 11, 17, 8, tzinfo=SHANGHAI)}
