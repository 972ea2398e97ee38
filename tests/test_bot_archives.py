"""导入档案 and 导出 in the chat, end to end through the fake Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.archive.archive_import import FIX_FILL
from domain.db import UnitOfWork
from domain.models import AuditEntry, Channel, Child, ProcessedUpdate, Region, RegionKind
from domain.people import identity
from tests.archive_sheets import GOOD_ROWS, messy_sheet, xlsx
from tests.conftest import RunningBot
from tests.factories import make_checkin, make_child, make_pairing, make_site, make_volunteer
from tests.fakes import FakeUser

SCHOOL_COORDINATOR = 9101  # S1
TOWNSHIP_COORDINATOR = 9102  # T1: S1 and S2
OTHER_COORDINATOR = 9103  # S2
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def seed(sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime) -> dict[str, int]:
    async with UnitOfWork(sessionmaker) as uow:
        township = await make_site(uow.session, kind=RegionKind.township, code="T1", name="中和镇")
        s1 = await make_site(uow.session, parent=township, code="S1", name="中和小学")
        s2 = await make_site(uow.session, parent=township, code="S2", name="石桥小学")
        for telegram_id, name, scope in (
            (SCHOOL_COORDINATOR, "王老师", "S1"),
            (TOWNSHIP_COORDINATOR, "钱主任", "T1"),
            (OTHER_COORDINATOR, "赵老师", "S2"),
        ):
            await identity.add_coordinator(
                uow.session,
                channel=Channel.telegram,
                external_id=str(telegram_id),
                name=name,
                scope_code=scope,
                at=at,
            )
        await uow.commit()
        return {"T1": township.id, "S1": s1.id, "S2": s2.id}


async def children_at(running_bot: RunningBot, site_id: int) -> int:
    async with running_bot.sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).select_from(Child).where(Child.site_id == site_id)
        )
    return int(found or 0)


async def committed(running_bot: RunningBot, update_id: int) -> None:
    """Wait until the update's transaction is committed: the reply goes out just before."""
    async with asyncio.timeout(5):
        while True:
            async with running_bot.sessionmaker() as session:
                if await session.get(ProcessedUpdate, update_id) is not None:
                    return
            await asyncio.sleep(0.01)


def send_sheet(user: FakeUser, data: bytes, file_name: str = "名单.xlsx", **kw: int) -> int:
    return user.send_document(data, file_name=file_name, mime_type=XLSX, **kw)


async def test_a_coordinator_imports_a_sheet_from_the_menu_and_again_changes_nothing(
    running_bot: RunningBot,
) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)

    coordinator.send_text("📥 导入档案")
    question = await coordinator.next_message()
    assert question.button_texts() == ["👧 儿童档案", "🙋 志愿者名单"]
    coordinator.press(question.callback_data("儿童档案"))
    assert "用“文件”（📎）发送" in ((await coordinator.next_message()).text or "")
    update_id = send_sheet(coordinator, messy_sheet(fixed=True))

    report = await coordinator.next_message()
    assert report.text == "已导入中和小学：新增 8 条，更新 0 条，0 条没有变化。"
    await committed(running_bot, update_id)
    assert await children_at(running_bot, sites["S1"]) == 8

    send_sheet(coordinator, messy_sheet(fixed=True))  # no menu: the bot asks what it holds
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))
    again = await coordinator.next_message()
    assert again.text == "已导入中和小学：新增 0 条，更新 0 条，8 条没有变化。"


async def test_bad_rows_are_listed_and_nothing_is_stored(running_bot: RunningBot) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)
    coordinator.send_text("📥 导入档案")
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))
    await coordinator.next_message()

    send_sheet(coordinator, messy_sheet())

    report = (await coordinator.next_message()).text or ""
    assert report.splitlines() == [
        "这次没有导入任何数据：有 3 行需要修改。",
        "第 9 行「出生日期」：2015-13-40 不是日期，请写成 2015-03-02 这样。",
        "第 10 行「性别」：未知：请填“男”或“女”。",
        "第 10 行「监护人电话」：12345 不是有效的中国手机或座机号码（座机要带区号）。",
        "第 11 行「姓名」：这一项必须填写。",
        "表格附在下面：要改的格子标成红色，最后一列写着错误原因。",
    ]
    attachment = await coordinator.next_message()
    assert attachment.file is not None and attachment.file.file_name == "名单-待修改.xlsx"
    assert attachment.text == "请改好红色的格子，再把这个文件发回来。"
    assert await children_at(running_bot, sites["S1"]) == 0


async def test_thousands_of_bad_rows_give_the_first_50_a_count_and_the_sheet_back(
    running_bot: RunningBot,
) -> None:
    await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)
    rows = [list(row) for row in GOOD_ROWS * 400]
    for n, row in enumerate(rows):
        row[1] = f"孩子{n}"
        row[3] = "2015-02-30"  # every date is impossible
        row[15] = "隔代监护"
        row[16] = f"X{n:04d}"

    send_sheet(coordinator, xlsx(rows), file_name="三年级名单.csv.xlsx")
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))

    lines = []
    while True:
        reply = await coordinator.next_message(timeout=30)  # 2,000 rows marked in red
        if reply.file is not None:
            break
        assert reply.text is not None and len(reply.text) <= 4096
        lines += reply.text.splitlines()
    assert lines[0] == "这次没有导入任何数据：有 2000 行需要修改。"
    assert lines[1].startswith("第 4 行「出生日期」") and lines[50].startswith("第 53 行")
    assert lines[51] == "……还有 1950 处问题，共 2000 处。"
    assert len(lines) == 53
    assert reply.file.file_name == "三年级名单.csv-待修改.xlsx"
    sheet = load_workbook(io.BytesIO(reply.file.data)).active
    assert sheet is not None
    assert sheet.cell(row=3, column=18).value == "错误原因"
    assert [sheet.cell(row=r, column=2).value for r in (4, 2003)] == ["孩子0", "孩子1999"]
    assert all(sheet.cell(row=r, column=18).value for r in range(4, 2004))
    assert sheet.cell(row=4, column=4).comment is not None
    assert sheet.cell(row=2003, column=4).fill.start_color.rgb == FIX_FILL


async def test_files_that_cannot_be_imported_get_a_clear_answer(running_bot: RunningBot) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)
    coordinator.send_text("📥 导入档案")
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))
    await coordinator.next_message()

    coordinator.send_document(b"%PDF-1.4", file_name="名单.pdf", mime_type="application/pdf")
    assert "无法读取这种文件" in ((await coordinator.next_message()).text or "")
    send_sheet(coordinator, b"\xd0\xcf\x11\xe0", file_name="名单.xls")
    assert "另存为 .xlsx" in ((await coordinator.next_message()).text or "")
    send_sheet(coordinator, messy_sheet(fixed=True), file_size=25 * 1024 * 1024)
    assert "超过 20 MB" in ((await coordinator.next_message()).text or "")
    send_sheet(coordinator, xlsx([], header=(), title=None))
    assert "表格是空的" in ((await coordinator.next_message()).text or "")
    send_sheet(coordinator, xlsx([("a", "b")], header=("甲", "乙")))
    assert "没有找到表头" in ((await coordinator.next_message()).text or "")
    coordinator.send_photo(b"a photo of the list")
    assert "这是一张照片" in ((await coordinator.next_message()).text or "")

    assert await children_at(running_bot, sites["S1"]) == 0


async def test_a_township_coordinator_chooses_the_site(running_bot: RunningBot) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(TOWNSHIP_COORDINATOR)

    send_sheet(coordinator, messy_sheet(fixed=True))
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))
    question = await coordinator.next_message()
    assert question.text == "这个文件是哪个站点的？"
    assert question.button_texts() == ["中和小学", "石桥小学"]
    update_id = coordinator.press(question.callback_data("石桥小学"))

    assert (await coordinator.next_message()).text == (
        "已导入石桥小学：新增 8 条，更新 0 条，0 条没有变化。"
    )
    await committed(running_bot, update_id)
    assert await children_at(running_bot, sites["S2"]) == 8
    assert await children_at(running_bot, sites["S1"]) == 0


async def test_a_forged_site_button_is_refused_and_audited(running_bot: RunningBot) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(OTHER_COORDINATOR)  # S2 only
    send_sheet(coordinator, messy_sheet(fixed=True))
    question = await coordinator.next_message()

    update_id = coordinator.press(f"impsite:{sites['S1']}", question)

    answer = await running_bot.fake.wait_callback_answer(update_id)
    assert answer.params.get("text") == "您负责的范围内没有这个站点或区域。"  # nothing of S1
    assert await children_at(running_bot, sites["S1"]) == 0
    async with running_bot.sessionmaker() as session:
        refusal = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "scope.refused")
        )
    assert refusal is not None
    assert (refusal.actor_telegram_id, refusal.subject_id) == (OTHER_COORDINATOR, sites["S1"])
    assert refusal.details == {"via": "chat"}


async def test_export_sends_the_childrens_sheet_of_the_scope(running_bot: RunningBot) -> None:
    sites = await seed(running_bot.sessionmaker, running_bot.clock.now())
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        s1 = await uow.session.get_one(Region, sites["S1"])
        s2 = await uow.session.get_one(Region, sites["S2"])
        flower = await make_child(uow.session, s1, name="李小花", external_id="S001")
        await make_child(uow.session, s2, name="石桥的孩子")
        pairing = await make_pairing(uow.session, await make_volunteer(uow.session, s1), flower)
        await make_checkin(uow.session, pairing, occurred_at=running_bot.clock.now())
        await uow.commit()
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)

    coordinator.send_text("📤 导出")

    document = await coordinator.next_message()
    assert document.text == "中和小学的儿童档案"
    assert document.file is not None and document.file.file_name == "children-S1.xlsx"
    sheet = load_workbook(io.BytesIO(document.file.data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [("中和小学", "S001", "李小花")]

    checkins = await coordinator.next_message()
    assert checkins.text == "中和小学2026年11月的打卡记录"
    assert checkins.file is not None and checkins.file.file_name == "checkins-S1-2026-11.xlsx"
    sheet = load_workbook(io.BytesIO(checkins.file.data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and "李小花" in rows[1]
