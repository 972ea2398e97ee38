"""The monthly care record, compiled from check-ins, the day before the site's deadline."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.delivery.messaging import Outgoing, Recipient
from domain.models import Activity, Concern, ConcernKind, Guardian, Guardianship, Priority, Sex
from domain.reports import care_record
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from domain.wording.workbooks import MISSING_FILL
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_photo
from tests.outbox_support import shown
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
    assert "中和小学" in shown(text)["text"] and "2" in shown(text)["text"]
    sheet = load_workbook(tmp_path / shown(document)["path"]).active
    assert sheet is not None
    header = [cell.value for cell in sheet[3]]
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=4, max_row=5)}
    assert set(rows) == {"小明", "小芳"}
    ming = {header[i]: cell for i, cell in enumerate(rows["小明"])}
    assert ming["谈心"].value == "11月5日\n11月12日"
    assert ming["家访"].value == "11月5日" and ming["家访"].fill != MISSING_FILL
    assert ming["作业辅导"].value is None
    assert ming["作业辅导"].fill.start_color.rgb == MISSING_FILL.start_color.rgb
    assert ming["家访情况 / 发现的问题"].value.splitlines() == [
        "监护人按时做饭吗？按时做饭",
        "11月8日：成绩下降",
    ]
    assert ming["采取的措施"].value == "成绩下降（11月10日已走访）"
    assert "作业辅导" in ming["备注"].value
    fang = {header[i]: cell for i, cell in enumerate(rows["小芳"])}
    assert fang["代理家长"].value == "（没有代理家长）"

    summary_text, summary = await outbox_to(session, p.township_head)
    assert "中和镇" in shown(summary_text)["text"]
    summary_sheet = load_workbook(tmp_path / shown(summary)["path"]).active
    assert summary_sheet is not None
    assert list(summary_sheet.iter_rows(min_row=4, values_only=True)) == [
        ("中和小学", 2, 1, 0, 2, 1, 0, 0, "—"),
        ("合计", 2, 1, 0, 2, 1, 0, 0, "—"),
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


def print_setup(sheet: Any) -> tuple[Any, ...]:
    return (
        sheet.page_setup.paperSize,
        sheet.page_setup.orientation,
        sheet.page_setup.fitToWidth,
        sheet.sheet_properties.pageSetUpPr.fitToPage,
        sheet.print_title_rows,
    )


async def test_a_real_month_makes_a_record_a_township_files(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    """Check-ins that are not home visits store their answers as JSON null: the record was
    a TypeError. It is a form now: title, who and when, Chinese answers, notes, photos."""
    p = await make_programme(session)
    p.child.sex, p.child.grade, p.child.class_name = Sex.male, "三年级", "2班"
    talk = await make_checkin(
        session, p.pairing, occurred_at=at(3, 16), activities=(Activity.talk,), visit_answers=None
    )
    visit = await make_checkin(
        session,
        p.pairing,
        occurred_at=at(9, 16),
        activities=(Activity.home_visit, Activity.family_meal),
        visit_answers={"meals": "yes", "calls": "sometimes", "homework": "pushed"},
        note="奶奶腿脚不好，孩子自己做早饭",
    )
    for checkin in (talk, visit, visit):
        await make_photo(session, checkin=checkin)
    session.add(
        Concern(
            child_id=p.child.id,
            kind=ConcernKind.grades,
            raised_by=p.school_head.id,
            raised_at=at(15),
            due_at=at(18),
        )
    )
    await session.flush()

    assert await send(session, at(24), notices, tmp_path) == 4

    _, document = await outbox_to(session, p.school_head)
    assert shown(document)["filename"].startswith("中和小学")
    sheet = load_workbook(tmp_path / shown(document)["path"]).active
    assert sheet is not None
    assert sheet["A1"].value == "中和小学关爱留守儿童记录表（2026年11月）"
    assert sheet["A2"].value == (
        "学校：中和小学　　乡镇：中和镇　　填表人：王校长　　填表日期：2026年11月24日"
    )
    header = [cell.value for cell in sheet[3]]
    assert header == [
        "序号", "姓名", "性别", "年级班级", "代理家长",
        "谈心", "检查作业", "作业辅导", "家访", "亲情晚餐", "亲情电话", "给父母打电话",
        "家访情况 / 发现的问题", "采取的措施", "备注",
    ]  # fmt: skip
    row = {header[i]: cell for i, cell in enumerate(sheet[4])}
    assert [row[k].value for k in ("序号", "姓名", "性别", "年级班级")] == [
        1,
        "小明",
        "男",
        "三年级 2班",
    ]
    assert (row["谈心"].value, row["家访"].value, row["亲情晚餐"].value) == (
        "11月3日",
        "11月9日",
        "11月9日",
    )
    found = row["家访情况 / 发现的问题"].value
    assert found.splitlines() == [
        "监护人按时做饭吗？是；孩子常和爸妈打电话或视频吗？有时；孩子能自己完成作业吗？要人督促",
        "11月9日：奶奶腿脚不好，孩子自己做早饭",
        "11月15日：成绩下降",
    ]
    assert "calls" not in found and "sometimes" not in found
    assert row["采取的措施"].value == "成绩下降（未处理）"
    assert "照片 3 张" in row["备注"].value
    assert row["姓名"].border.left.style == "thin" and sheet["A3"].border.bottom.style == "thin"
    foot = [c.value for line in sheet.iter_rows(min_row=6) for c in line if c.value]
    assert "学校负责人（签字）：" in foot and "审核人（签字）：" in foot
    assert print_setup(sheet) == (9, "landscape", 1, True, "$3:$3")  # 9: A4
    assert sheet.page_setup.fitToHeight == 0

    _, summary = await outbox_to(session, p.township_head)
    township = load_workbook(tmp_path / shown(summary)["path"]).active
    assert township is not None
    assert township["A1"].value == "中和镇关爱留守儿童记录汇总表（2026年11月）"
    assert print_setup(township)[2:] == (1, True, "$3:$3")
    assert township.page_setup.fitToHeight == 1  # one page


async def test_the_semester_letter_is_not_missing_before_the_semesters_last_month(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    december = Month(2026, 12)
    [record] = await care_record.compile_records(
        session, month=december, tz=SHANGHAI, scope_path=p.school.path
    )
    assert Activity.parent_letter not in record.rows[0].missing
    assert Activity.home_visit in record.rows[0].missing
    [february] = await care_record.compile_records(
        session, month=Month(2027, 2), tz=SHANGHAI, scope_path=p.school.path
    )
    assert Activity.parent_letter in february.rows[0].missing


class Failing(Notices):
    def care_record(self, to: Recipient, record: care_record.SiteRecord) -> list[Outgoing]:
        raise ValueError("the workbook could not be built")


async def test_a_record_that_cannot_be_made_tells_the_operator_and_the_coordinator(
    session: AsyncSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = await make_programme(session)

    with caplog.at_level(logging.ERROR, logger="domain.reports.care_record"):
        queued = await care_record.send_care_records(
            session, now=at(24), tz=SHANGHAI, text=Failing(), media_dir=tmp_path
        )

    assert queued == 3  # the school's failure notice; the township's summary and workbook
    [failed] = await outbox_to(session, p.school_head)
    assert shown(failed)["text"].startswith("⚠️ 中和小学 2026年11月的关爱留守儿童记录表没能生成")
    assert f"care record of region {p.school.id} for 2026-11 could not be made" in caplog.text
    assert "小明" not in caplog.text
    assert len(await outbox_to(session, p.township_head)) == 2


async def test_a_query_that_fails_leaves_the_run_able_to_tell_the_coordinators(
    session: AsyncSession, notices: Notices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = await make_programme(session)
    compile_records = care_record.compile_records

    async def broken(session: AsyncSession, **kwargs: Any) -> list[care_record.SiteRecord]:
        if kwargs["scope_path"] == p.township.path:
            await session.execute(text("SELECT 1 / 0"))
        return await compile_records(session, **kwargs)

    monkeypatch.setattr(care_record, "compile_records", broken)

    assert await send(session, at(24), notices, tmp_path) == 3

    [failed] = await outbox_to(session, p.township_head)
    assert shown(failed)["text"].startswith("⚠️ 中和镇 2026年11月的关爱留守儿童记录表没能生成")
    assert len(await outbox_to(session, p.school_head)) == 2  # its own record, made alone


async def test_the_record_counts_and_names_entrusted_guardians_letters_not_signed(
    session: AsyncSession, notices: Notices, tmp_path: Path
) -> None:
    p = await make_programme(session)
    unsigned = await make_child(session, p.school, name="小兰", guardianship=Guardianship.entrusted)
    signed = await make_child(session, p.school, name="小军", guardianship=Guardianship.entrusted)
    session.add_all(
        [
            Guardian(child_id=unsigned.id, name="王大伯", entrusted=True),
            Guardian(
                child_id=signed.id, name="李桂兰", entrusted=True, letter_signed_on=at(2).date()
            ),
        ]
    )
    await session.flush()

    await send(session, at(24), notices, tmp_path)

    text, _document = await outbox_to(session, p.school_head)
    assert "委托监护责任确认书未签：1（小兰）" in shown(text)["text"]
    summary_text, _summary = await outbox_to(session, p.township_head)
    assert "委托监护责任确认书未签：1" in shown(summary_text)["text"]
