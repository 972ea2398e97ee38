"""Hostile spreadsheets: a sheet that unpacks to millions of rows is refused in moments,
by the command line and by the bot, and nobody waits while the bot reads a large one."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.archive import archive_import
from domain.archive.archive_import import NoHeader
from domain.archive.spreadsheets import SheetLimits, SheetTooLarge, read_rows
from domain.models import Child
from tests.archive_sheets import long_sheet
from tests.conftest import RunningBot
from tests.test_archive_cli import cli_env, count, guanai  # noqa: F401  (cli_env: a fixture)
from tests.test_archive_cli import seed as seed_cli
from tests.test_bot_archives import SCHOOL_COORDINATOR, children_at, committed, send_sheet
from tests.test_bot_archives import seed as seed_bot

BOMB_ROWS = 2_000_000
TOO_LARGE = "表格太大，无法一次导入"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = long_sheet(BOMB_ROWS, distinct=False)
    assert len(data) < 1024 * 1024  # two million rows in well under a megabyte
    return data


def test_rows_beyond_the_limit_are_refused_and_the_limit_itself_is_read() -> None:
    limits = SheetLimits(max_rows=101)  # the header row counts
    assert len(read_rows(long_sheet(100), "a.xlsx", limits=limits)) == 101
    with pytest.raises(SheetTooLarge):
        read_rows(long_sheet(101), "a.xlsx", limits=limits)
    with pytest.raises(SheetTooLarge):
        read_rows(long_sheet(10), "a.xlsx", limits=SheetLimits(max_bytes=1000))
    csv = ("姓名,性别\n" + "孩子,女\n" * 101).encode()
    with pytest.raises(SheetTooLarge):
        read_rows(csv, "a.csv", limits=limits)


def test_the_header_is_checked_before_the_rest_is_read() -> None:
    seen: list[int] = []

    def no_header(head: list[Any]) -> None:
        seen.append(len(head))
        raise NoHeader(rows=10, columns="姓名")

    with pytest.raises(NoHeader):
        read_rows(long_sheet(5000, header=("甲", "乙")), "a.xlsx", check_head=no_header)
    assert seen == [10]


def test_a_bomb_is_refused_in_moments(bomb: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(SheetTooLarge):
        read_rows(bomb, "名单.xlsx")
    assert time.monotonic() - started < 5  # today's main reads it whole: minutes


async def test_the_command_line_refuses_a_bomb_in_one_line(
    cli_env: None,  # noqa: F811
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bomb: bytes,
) -> None:
    await seed_cli(sessionmaker)
    sheet = tmp_path / "名单.xlsx"
    sheet.write_bytes(bomb)

    code = await asyncio.wait_for(guanai("import", "children", str(sheet), "--site", "S1"), 30)

    assert code == 1
    err = capsys.readouterr().err
    assert TOO_LARGE in err and "20000" in err and len(err.strip().splitlines()) == 1
    assert await count(sessionmaker, Child) == 0


async def test_the_bot_refuses_a_bomb_and_answers_others_meanwhile(
    running_bot: RunningBot, bomb: bytes
) -> None:
    sites = await seed_bot(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)
    send_sheet(coordinator, bomb)
    coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))

    assert TOO_LARGE in ((await coordinator.next_message(timeout=30)).text or "")
    assert await children_at(running_bot, sites["S1"]) == 0


async def test_another_user_is_answered_while_the_bot_reads_a_large_sheet(
    running_bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sheet is held open until the other user has had the answer to /start: read on
    the event loop, as it was, the answer could not come until the sheet was read."""
    sites = await seed_bot(running_bot.sessionmaker, running_bot.clock.now())
    reading, answered = threading.Event(), threading.Event()
    read_while_others_were_answered: list[bool] = []
    read = archive_import.read_rows

    def held_open(*args: Any, **kwargs: Any) -> Any:
        reading.set()
        read_while_others_were_answered.append(answered.wait(timeout=15))
        return read(*args, **kwargs)

    monkeypatch.setattr(archive_import, "read_rows", held_open)
    coordinator = running_bot.fake.user(SCHOOL_COORDINATOR)
    stranger = running_bot.fake.user(5151)
    send_sheet(coordinator, long_sheet(3000))
    update_id = coordinator.press((await coordinator.next_message()).callback_data("儿童档案"))
    assert await asyncio.to_thread(reading.wait, 30)
    stranger.send_text("/start")
    try:
        assert "邀请链接" in ((await stranger.next_message(timeout=10)).text or "")
    finally:
        answered.set()

    report = await coordinator.next_message(timeout=30)
    assert read_while_others_were_answered == [True]
    assert "新增 3000 条" in (report.text or "")
    await committed(running_bot, update_id)
    assert await children_at(running_bot, sites["S1"]) == 3000
