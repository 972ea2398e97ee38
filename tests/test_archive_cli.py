"""`guanai import` and `guanai export` as an operator or a coordinator runs them."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import (
    Activity,
    AuditEntry,
    Channel,
    Child,
    Person,
    Region,
    RegionKind,
    ReviewStatus,
)
from domain.people import identity
from guanai.cli import main
from tests.archive_sheets import messy_sheet
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_pairing, make_site, make_volunteer

OTHER_COORDINATOR = 7002


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)


async def guanai(*argv: str) -> int:
    """The command in a thread: it runs its own event loop, as it does from a shell."""
    return await asyncio.to_thread(main, list(argv))


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Region]:
    """Township T1 with schools S1 and S2; a coordinator of S2 only."""
    async with UnitOfWork(sessionmaker) as uow:
        township = await make_site(uow.session, kind=RegionKind.township, code="T1", name="中和镇")
        s1 = await make_site(uow.session, parent=township, code="S1", name="中和小学")
        s2 = await make_site(uow.session, parent=township, code="S2", name="石桥小学")
        await identity.add_coordinator(
            uow.session,
            channel=Channel.telegram,
            external_id=str(OTHER_COORDINATOR),
            name="赵老师",
            scope_code="S2",
            at=dt.datetime(2026, 11, 1, tzinfo=SHANGHAI),
        )
        await uow.commit()
    return {"T1": township, "S1": s1, "S2": s2}


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_reports_bad_rows_then_applies_the_fixed_file_once(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seed(sessionmaker)
    sheet = tmp_path / "名单.xlsx"
    sheet.write_bytes(messy_sheet())

    assert await guanai("import", "children", str(sheet), "--site", "S1") == 1
    report = capsys.readouterr()
    assert "第 9 行「出生日期」" in report.err and "第 11 行「姓名」" in report.err
    assert "没有导入任何数据：有 3 行需要修改" in report.err
    assert await count(sessionmaker, Child) == 0
    fixes = tmp_path / "名单-待修改.xlsx"
    assert f"待修改的表格（附错误原因）已保存在 {fixes}" in report.err
    returned = load_workbook(fixes).active
    assert returned is not None and returned.cell(row=3, column=18).value == "错误原因"
    assert "性别" in returned.cell(row=10, column=18).value

    sheet.write_bytes(messy_sheet(fixed=True))
    assert await guanai("import", "children", str(sheet), "--site", "S1") == 0
    assert "新增 8 条，更新 0 条，0 条没有变化" in capsys.readouterr().out
    assert await guanai("import", "children", str(sheet), "--site", "S1") == 0
    assert "新增 0 条，更新 0 条，8 条没有变化" in capsys.readouterr().out
    assert await count(sessionmaker, Child) == 8


async def test_export_children_cell_by_cell(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sites = await seed(sessionmaker)
    sheet = tmp_path / "名单.xlsx"
    sheet.write_bytes(messy_sheet(fixed=True))
    assert await guanai("import", "children", str(sheet), "--site", "S1") == 0
    async with UnitOfWork(sessionmaker) as uow:
        await make_child(uow.session, sites["S2"], name="石桥的孩子")
        await uow.commit()
    out = tmp_path / "children.xlsx"

    assert await guanai("export", "children", "--scope", "S1", "--out", str(out)) == 0

    rows = list(load_workbook(out).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    header = rows[0]
    assert header[:5] == ("站点", "编号", "姓名", "性别", "出生日期")
    by_id = {row[1]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {f"S00{n}" for n in range(1, 9)}  # S2's child is not in S1's export
    first = by_id["S001"]
    assert first["姓名"] == "李小花" and first["性别"] == "女"
    assert first["出生日期"] == dt.datetime(2015, 3, 2)
    assert (first["是否重点"], first["监护类型"]) == ("是", "委托监护")
    assert (first["监护人"], first["与儿童关系"], first["监护人电话"]) == (
        "李奶奶",
        "祖母",
        "138 1234 5678",
    )
    assert (first["父亲务工地"], first["父亲电话"]) == ("广东东莞", "139 8765 4321")
    assert (first["母亲务工地"], first["母亲电话"]) == ("浙江宁波", "137 0000 1111")
    assert by_id["S004"]["监护人电话"] == "023 6712 3456"

    # what is exported imports back unchanged
    assert await guanai("import", "children", str(out), "--site", "S1") == 0
    assert "新增 0 条，更新 0 条，8 条没有变化" in capsys.readouterr().out


async def test_export_checkins_of_a_month(
    cli_env: None, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    sites = await seed(sessionmaker)
    in_month = dt.datetime(2026, 11, 3, 16, 30, tzinfo=SHANGHAI)
    async with UnitOfWork(sessionmaker) as uow:
        child = await make_child(uow.session, sites["S1"], name="李小花", external_id="S001")
        volunteer = await make_volunteer(uow.session, sites["S1"])
        pairing = await make_pairing(
            uow.session, volunteer, child, started_at=in_month - dt.timedelta(days=60)
        )
        await make_checkin(
            uow.session,
            pairing,
            occurred_at=in_month,
            activities=(Activity.talk, Activity.home_visit),
            review=ReviewStatus.pending,
        )
        await make_checkin(uow.session, pairing, occurred_at=in_month - dt.timedelta(days=10))
        await make_checkin(  # midnight in Shanghai on 1 December belongs to December
            uow.session, pairing, occurred_at=dt.datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI)
        )
        volunteer_name = (await uow.session.get_one(Person, volunteer.person_id)).name
        await uow.commit()
    out = tmp_path / "checkins.xlsx"

    argv = ("export", "checkins", "--scope", "T1", "--month", "2026-11", "--out", str(out))
    assert await guanai(*argv) == 0

    rows = list(load_workbook(out).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows == [
        ("时间", "站点", "儿童", "编号", "志愿者", "活动", "审核"),
        (
            dt.datetime(2026, 11, 3, 16, 30),
            "中和小学",
            "李小花",
            "S001",
            volunteer_name,
            "家访、谈心",
            "待审核",
        ),
    ]


async def test_a_coordinator_cannot_reach_outside_their_scope_and_it_is_audited(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sites = await seed(sessionmaker)
    sheet = tmp_path / "名单.xlsx"
    sheet.write_bytes(messy_sheet(fixed=True))
    out = tmp_path / "children.xlsx"
    as_other = ("--as", str(OTHER_COORDINATOR))

    assert await guanai("export", "children", "--scope", "S1", "--out", str(out), *as_other) == 1
    # said as it is, naming only what the operator typed
    assert capsys.readouterr().err.strip() == "错误：S1不在负责人 7002（--as）的管辖范围内。"
    assert await guanai("import", "children", str(sheet), "--site", "S1", *as_other) == 1
    assert await guanai("export", "children", "--scope", "T1", "--out", str(out), *as_other) == 1

    assert not out.exists()
    assert await count(sessionmaker, Child) == 0
    async with sessionmaker() as session:
        refusals = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.subject_id, AuditEntry.details).where(
                    AuditEntry.action == "scope.refused"
                )
            )
        ).all()
    assert refusals == [
        (
            "scope.refused",
            sites["S1"].id,
            {"via": "cli", "command": "export children", "as": OTHER_COORDINATOR},
        ),
        (
            "scope.refused",
            sites["S1"].id,
            {"via": "cli", "command": "import children", "as": OTHER_COORDINATOR},
        ),
        (
            "scope.refused",
            sites["T1"].id,
            {"via": "cli", "command": "export children", "as": OTHER_COORDINATOR},
        ),
    ]
    assert await guanai("import", "children", str(sheet), "--site", "S2", *as_other) == 0


async def test_bad_command_lines_are_one_clear_line(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seed(sessionmaker)

    assert await guanai("import", "children", str(tmp_path / "nope.xlsx"), "--site", "S1") == 1
    assert "nope.xlsx" in capsys.readouterr().err
    (tmp_path / "a.xlsx").write_bytes(messy_sheet(fixed=True))
    assert await guanai("import", "children", str(tmp_path / "a.xlsx"), "--site", "NOPE") == 1
    assert "没有代码为 NOPE 的站点或区域" in capsys.readouterr().err
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    assert await guanai("import", "children", str(tmp_path / "a.pdf"), "--site", "T1") == 1
    assert "T1 不是学校、村或社区" in capsys.readouterr().err
    assert await guanai("import", "children", str(tmp_path / "a.pdf"), "--site", "S1") == 1
    assert ".xlsx" in capsys.readouterr().err
