"""The monthly care record, compiled from check-ins, the day before the site's deadline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notices import Notices
from bot.workbooks import MISSING_FILL
from domain import care_record
from domain.models import Activity, Concern, ConcernKind, Priority
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child
from tests.workers_support import make_programme, outbox_to


def at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def notices() -> Notices:
    return Notices()


async def send(session: AsyncSession, now: dt.datetime, notices: Notices, tmp_path: Path) -> int:
    return await care_record.send_care_records(
        session, now=now, tz=SHANGHAI, text=notices, media_dir=tmp_path
    )


async def test_the_site_gets_its_record_with_gaps_marked_and_the_township_a_summary(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    await make_checkin(
        session,
        p.pairing,
        occurred_at=at(5, 16),
        activities=(Activity.home_visit, Activity.talk),
        visit_answers={"meals": "按时做饭"},
    )
    await make_checkin(session, p.pairing, occurred_at=at(12, 16), activities=(Activity.talk,))
    await make_child(session, p.school, name="小芳", priority=Priority.key)  # nobody paired
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.grades,
            raised_by=p.school_head.id,
            raised_at=at(8),
            due_at=at(11),
            closed_at=at(10),
        )
    )
    await session.flush()

    assert await send(session, at(23), notices, tmp_path) == 0
    assert await send(session, at(24), notices, tmp_path) == 4  # site: 2, township: 2
    assert await send(session, at(24, 15), notices, tmp_path) == 0

    text, document = await outbox_to(session, p.school_head)
    assert "中和小学" in text.payload["text"] and "2" in text.payload["text"]
    sheet = load_workbook(tmp_path / document.payload["path"]).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {"小明", "小芳"}
    ming = {header[i]: cell for i, cell in enumerate(rows["小明"])}
    assert ming["谈心"].value == "11月5日、11月12日"
    assert ming["家访"].value == "11月5日" and ming["家访"].fill != MISSING_FILL
    assert ming["作业辅导"].value is None
    assert ming["作业辅导"].fill.start_color.rgb == MISSING_FILL.start_color.rgb
    assert ming["家访情况"].value == "meals: 按时做饭"
    assert ming["反映的问题及结果"].value == "成绩下降（已走访）"
    assert "作业辅导" in ming["缺少"].value
    fang = {header[i]: cell for i, cell in enumerate(rows["小芳"])}
    assert fang["代理家长"].value == "（没有代理家长）"

    summary_text, summary = await outbox_to(session, p.township_head)
    assert "中和镇" in summary_text.payload["text"]
    summary_sheet = load_workbook(tmp_path / summary.payload["path"]).active
    assert summary_sheet is not None
    assert list(summary_sheet.iter_rows(min_row=2, values_only=True)) == [
        ("中和小学", 2, 1, 0, 2, 1, 0)
    ]
    assert await outbox_to(session, p.district_head) == []


async def test_a_site_with_an_earlier_deadline_gets_it_earlier(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    p.school.record_due_day = 20
    await session.flush()

    assert await send(session, at(19), notices, tmp_path) == 2
    assert len(await outbox_to(session, p.school_head)) == 2
    assert await outbox_to(session, p.township_head) == []
