"""Recognition: the roster names last month's volunteers of the month (and the review queue);
`guanai commendation` writes each township's commendation list (表彰名单)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import review
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import Activity, Volunteer
from domain.reports import recognition, rosters
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from tests.cli_support import Guanai
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_pairing, make_person, make_volunteer
from tests.outbox_support import shown
from tests.workers_support import NOVEMBER_1, Programme, make_programme, outbox_to

NOVEMBER = Month(2026, 11)


async def seed_year(session: AsyncSession) -> tuple[Programme, Volunteer]:
    """小明's volunteer 李老师 does all of November's items; 周阿姨 does nothing and has a
    check-in waiting for review."""
    p = await make_programme(session)
    good = await session.get_one(Volunteer, p.volunteer.id)
    (await session.get_one(type(p.school_head), good.person_id)).name = "李老师"
    missing = await due.due_items(
        session,
        month=NOVEMBER,
        tz=SHANGHAI,
        selection=due.Selection(pairing_ids=[p.pairing.id]),
        only_missing=True,
    )
    await make_checkin(
        session,
        p.pairing,
        occurred_at=dt.datetime(2026, 11, 20, 16, tzinfo=SHANGHAI),
        activities=tuple({i.activity for i in missing} | {Activity.home_visit}),
    )
    idle = await make_volunteer(session, p.school, person=await make_person(session, name="周阿姨"))
    pairing = await make_pairing(
        session, idle, await make_child(session, p.school, name="小红"), started_at=NOVEMBER_1
    )
    doubtful = await make_checkin(
        session,
        pairing,
        occurred_at=dt.datetime(2026, 11, 25, 16, tzinfo=SHANGHAI),
        activities=(Activity.talk,),
    )
    await review.flag(session, doubtful.id, review.UNCERTAIN, now=doubtful.occurred_at)
    await session.flush()
    return p, idle


async def test_the_roster_names_last_months_volunteers_of_the_month(
    session: AsyncSession, tmp_path: Path
) -> None:
    p, _idle = await seed_year(session)
    best = await recognition.volunteers_of_the_month(
        session, month=NOVEMBER, tz=SHANGHAI, scope_path=p.school.path
    )
    assert best == {p.volunteer.id}

    monday = dt.datetime(2026, 12, 7, 8, tzinfo=SHANGHAI)
    await rosters.send_rosters(session, now=monday, tz=SHANGHAI, text=Notices(), media_dir=tmp_path)
    text, _workbook, _chart = await outbox_to(session, p.school_head)
    said = shown(text)["text"]
    assert "🌟 2026年11月优秀志愿者：李老师（中和小学）" in said
    assert "周阿姨（中和小学）" not in said
    assert "🔍 待审核：1 条" in said


async def test_the_commendation_list_is_written_per_township(
    guanai: Guanai, db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            p, _idle = await seed_year(uow.session)
            township = p.township.code
            await uow.commit()
    finally:
        await engine.dispose()
    guanai.env["DATABASE_URL"] = db_url
    out = tmp_path / "表彰名单.xlsx"
    result = await guanai(
        "commendation", "--scope", township, "--out", str(out), "--today", "2026-12-10"
    )
    assert result.code == 0, result.err
    [sheet] = load_workbook(out).worksheets
    assert sheet.title == "中和镇"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "中和镇优秀志愿者表彰名单（2026年9月至2026年11月）"
    assert rows[2] == (
        "序号",
        "姓名",
        "学校/村",
        "月度优秀次数",
        "家访次数",
        "打卡次数",
        "关爱儿童数",
        "五必访走访",
        "回访确认",
    )
    assert rows[3] == (1, "李老师", "中和小学", 1, 1, 1, 1, 0, 0)
    assert all("周阿姨" not in row for row in rows)  # no home visit: nothing to commend
    assert rows[5][0] == "制表人（签字）："
    result = await guanai("commendation", "--out", str(out), "--today", "2026-09-05")
    assert result.code == 1 and "还没有可表彰的" in result.out
