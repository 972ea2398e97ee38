"""`guanai health`, compose's health check: the database (reachable, migrated to head),
Redis, the Bot API and the outbox's age, one line each; exit 0 only when all pass."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from guanai.cli import main
from tests.conftest import REDIS_URL, create_database, drop_database, fresh_name
from tests.fakes import FakeTelegram
from tests.test_startup_errors import SETTINGS, TOKEN, closed_port


@pytest.fixture
def healthy_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_API_URL", fake_telegram.base_url)
    return monkeypatch


async def health(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    status = await asyncio.wait_for(asyncio.to_thread(main, ["health", *args]), timeout=60)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out.strip().splitlines()


async def queue_message(engine: AsyncEngine, *, waited: dt.timedelta) -> None:
    due = dt.datetime.now(dt.UTC) - waited
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbox (channel, target, content, status, not_before, attempts,"
                " created_at) VALUES ('telegram', '1001', '{\"blocks\": [[\"hi\"]]}',"
                " 'pending', :due, 0, :due)"
            ),
            {"due": due},
        )


async def test_all_well(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = await health(capsys)

    assert status == 0
    assert len(lines) == 4
    assert "guanai_test_bot" in lines[2]


async def test_a_database_not_migrated(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fresh_name("empty")
    healthy_env.setenv("DATABASE_URL", await create_database(name))
    try:
        status, lines = await health(capsys)
    finally:
        await drop_database(name)

    assert status == 1
    assert "guanai migrate" in lines[0]
    assert len(lines) == 4  # Redis and Telegram still reported; the outbox not checked


async def test_a_database_behind_the_code(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '490f4e335514'"))

    status, lines = await health(capsys)

    assert status == 1
    assert "490f4e335514" in lines[0] and "guanai migrate" in lines[0]


async def test_redis_unreachable(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy_env.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")

    status, lines = await health(capsys)

    assert status == 1
    assert "REDIS_URL" in lines[1]


async def test_a_token_telegram_refuses(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy_env.setenv("BOT_TOKEN", "4242:REVOKED")
    async with FakeTelegram(token=TOKEN) as refusing:
        healthy_env.setenv("BOT_API_URL", refusing.base_url)
        status, lines = await health(capsys)

    assert status == 1
    assert "401" in lines[2]


async def test_a_message_waiting_too_long(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: AsyncEngine
) -> None:
    await queue_message(engine, waited=dt.timedelta(minutes=20))

    status, lines = await health(capsys)

    assert status == 1
    assert "20" in lines[3] and "guanai worker" in lines[3]


async def test_the_outbox_age_limit_is_a_setting_and_an_option(
    healthy_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: AsyncEngine
) -> None:
    await queue_message(engine, waited=dt.timedelta(minutes=5))
    await queue_message(engine, waited=dt.timedelta(minutes=-30))  # not due yet

    assert (await health(capsys))[0] == 0  # 15 minutes by default
    assert (await health(capsys, "--outbox-minutes", "3"))[0] == 1
    healthy_env.setenv("HEALTH_OUTBOX_MINUTES", "4")
    assert (await health(capsys))[0] == 1
