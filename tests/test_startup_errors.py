"""What an operator gets wrong gets one line that says what to do, and a non-zero exit:
never a traceback. `guanai.cli.main` runs in-process, in a thread of its own (it runs its
own event loop) while the fake Bot API answers on the test's loop; only the SIGTERM test
needs a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from matplotlib import font_manager

from domain.wording import charts
from guanai.cli import main
from guanai.settings import (
    EXAMPLE_BOT_TOKEN,
    MalformedToken,
    MissingSetting,
    PlaceholderToken,
    Settings,
)
from tests.conftest import REDIS_URL, create_database, database_url, drop_database, fresh_name
from tests.fakes import FakeTelegram
from tests.test_charts import stale_font_cache

TOKEN = "4242:TEST-TOKEN"
SERVING = [["run"], ["bot"], ["worker"]]
SETTINGS = tuple(str(field.validation_alias) for field in Settings.model_fields.values())


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An operator's shell in an empty folder: no .env, none of guanai's variables."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    return monkeypatch


async def guanai(
    capsys: pytest.CaptureFixture[str], args: list[str], **env: str
) -> tuple[int, str]:
    """Run `guanai ARGS` in-process with these variables; its exit status and stderr,
    checked to be one line and no traceback."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        status = await asyncio.wait_for(asyncio.to_thread(main, args), timeout=60)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return status, err


@pytest.fixture
async def refusing_telegram() -> AsyncIterator[FakeTelegram]:
    """A Bot API that knows only TOKEN, as Telegram knows only the tokens it issued."""
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database that exists but was never migrated."""
    name = fresh_name("empty")
    url = await create_database(name)
    yield url
    await drop_database(name)


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No packaged font, no system font, and a font cache that knows none."""
    monkeypatch.setattr(charts, "packaged_font_file", lambda: None)
    monkeypatch.setattr(charts, "SYSTEM_FONT_DIRS", (tmp_path,))
    monkeypatch.setattr(font_manager, "fontManager", stale_font_cache())
    charts.cjk_font.cache_clear()
    yield
    charts.cjk_font.cache_clear()


# ---------------------------------------------------------------- the token


@pytest.mark.parametrize("args", SERVING)
async def test_no_token(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    status, err = await guanai(capsys, args)

    assert status == 1
    assert "BOT_TOKEN" in err and "@BotFather" in err


@pytest.mark.parametrize("args", SERVING)
async def test_the_examples_placeholder_token(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    refusing_telegram: FakeTelegram,
    args: list[str],
) -> None:
    status, err = await guanai(
        capsys, args, BOT_TOKEN=EXAMPLE_BOT_TOKEN, BOT_API_URL=refusing_telegram.base_url
    )

    assert status == 1
    assert "BOT_TOKEN" in err and "@BotFather" in err
    assert refusing_telegram.calls == []  # known without asking Telegram


def test_the_token_is_checked_for_its_shape() -> None:
    for token, refusal in (
        ("", MissingSetting),
        (EXAMPLE_BOT_TOKEN, PlaceholderToken),
        ("not-a-token", MalformedToken),
        ("4242:has a space", MalformedToken),
    ):
        with pytest.raises(refusal):
            Settings(BOT_TOKEN=token).require_bot_token()
    assert Settings(BOT_TOKEN=f" {TOKEN}\n").require_bot_token() == TOKEN


@pytest.mark.parametrize("args", SERVING)
async def test_a_token_telegram_refuses(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    refusing_telegram: FakeTelegram,
    db_url: str,
    args: list[str],
) -> None:
    status, err = await guanai(
        capsys,
        args,
        BOT_TOKEN="4242:REVOKED",
        BOT_API_URL=refusing_telegram.base_url,
        DATABASE_URL=db_url,
    )

    assert status == 1
    assert "BOT_TOKEN" in err and "401" in err
    assert [call.method for call in refusing_telegram.calls] == ["getMe"]


@pytest.mark.parametrize("args", SERVING)
async def test_the_bot_api_unreachable(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    args: list[str],
) -> None:
    status, err = await guanai(
        capsys,
        args,
        BOT_TOKEN=TOKEN,
        BOT_API_URL=f"http://127.0.0.1:{closed_port()}",
        DATABASE_URL=db_url,
    )

    assert status == 1
    assert "BOT_API_URL" in err


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["bot"],
        ["worker"],
        ["worker", "--queue", "escalations"],
        ["migrate"],
        ["site", "add", "--code", "XS", "--name", "秀山区", "--kind", "district"],
    ],
)
async def test_postgresql_unreachable(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_telegram: FakeTelegram,
    args: list[str],
) -> None:
    status, err = await guanai(
        capsys,
        args,
        BOT_TOKEN=TOKEN,
        BOT_API_URL=fake_telegram.base_url,
        DATABASE_URL=database_url("guanai").replace(":5432/", f":{closed_port()}/"),
    )

    assert status == 1
    assert "DATABASE_URL" in err


@pytest.mark.parametrize(
    "args",
    [
        ["site", "add", "--code", "XS", "--name", "秀山区", "--kind", "district"],
        ["admin", "add", "--telegram-id", "1001", "--name", "王老师", "--scope", "XS"],
        ["invite", "--site", "XS", "--bot-username", "guanai_bot"],
        ["export", "children", "--scope", "XS", "--out", "children.xlsx"],
    ],
)
async def test_an_operator_command_before_guanai_migrate(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    empty_database: str,
    args: list[str],
) -> None:
    status, err = await guanai(capsys, args, DATABASE_URL=empty_database)

    assert status == 1
    assert "guanai migrate" in err


async def test_an_operator_command_on_a_database_never_created(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = await guanai(
        capsys,
        ["site", "add", "--code", "XS", "--name", "秀山区", "--kind", "district"],
        DATABASE_URL=database_url(fresh_name("never")),
    )

    assert status == 1
    assert "guanai migrate" in err


# ---------------------------------------------------------------- Redis


@pytest.mark.parametrize(
    "args", [["run"], ["bot"], ["worker"], ["worker", "--queue", "escalations"]]
)
async def test_redis_unreachable(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_telegram: FakeTelegram,
    db_url: str,
    args: list[str],
) -> None:
    status, err = await guanai(
        capsys,
        args,
        BOT_TOKEN=TOKEN,
        BOT_API_URL=fake_telegram.base_url,
        DATABASE_URL=db_url,
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
    )

    assert status == 1
    assert "REDIS_URL" in err


# ---------------------------------------------------------------- the machine


@pytest.mark.parametrize("args", [["run"], ["worker"]])
async def test_no_cjk_font_where_charts_are_drawn(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_telegram: FakeTelegram,
    no_cjk_font: None,
    args: list[str],
) -> None:
    status, err = await guanai(capsys, args, BOT_TOKEN=TOKEN, BOT_API_URL=fake_telegram.base_url)

    assert status == 1
    assert "noto-cjk-sans-otc" in err
    assert fake_telegram.calls == []  # found out before anything was asked of anyone


@pytest.mark.parametrize("args", [["run"], ["worker"], ["worker", "--queue", "escalations"]])
async def test_a_media_dir_that_is_not_writable(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_telegram: FakeTelegram,
    tmp_path: Path,
    args: list[str],
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    status, err = await guanai(
        capsys,
        args,
        BOT_TOKEN=TOKEN,
        BOT_API_URL=fake_telegram.base_url,
        MEDIA_DIR=str(tmp_path / "a-file" / "media"),
    )

    assert status == 1
    assert "MEDIA_DIR" in err


async def test_a_setting_that_is_not_valid(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = await guanai(capsys, ["migrate"], PHOTO_MAX_ATTEMPTS="many")

    assert status == 1
    assert "PHOTO_MAX_ATTEMPTS" in err


# ---------------------------------------------------------------- stopping


async def test_sigterm_ends_cleanly_logged_as_info(
    db_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in SETTINGS},
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "MEDIA_DIR": str(tmp_path / "media"),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guanai.cli",
        "worker",
        "--queue",
        "escalations",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    assert worker.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while "Starting worker" not in "".join(lines):  # arq's line once it polls
            line = (await worker.stderr.readline()).decode()
            assert line, "".join(lines)
            lines.append(line)

    worker.send_signal(signal.SIGTERM)
    rest = await asyncio.wait_for(worker.stderr.read(), timeout=30)
    status = await worker.wait()

    log = "".join(lines) + rest.decode()
    assert status == 0, log
    assert "Traceback" not in log and "ERROR" not in log
    assert "INFO guanai SIGTERM received: stopping" in log


# ---------------------------------------------------------------- migrating


async def test_processes_started_together_on_a_fresh_server_migrate_once() -> None:
    """`guanai bot` and `guanai worker` started at once both migrate: one waits for the
    other rather than failing on a half-created database."""
    from guanai.migrate import migrate

    name = fresh_name("together")
    try:
        await asyncio.gather(*(migrate(database_url(name)) for _ in range(3)))
    finally:
        await drop_database(name)


# ---------------------------------------------------------------- waiting at start


async def test_a_server_not_answering_yet_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a reboot compose starts everything at once: PostgreSQL may answer a little
    after the bot starts."""
    from guanai import checks

    monkeypatch.setattr(checks, "RETRY_SECONDS", 0.01)
    answers: list[Exception | None] = [
        checks.DatabaseUnavailable(url="x"),
        checks.DatabaseUnavailable(url="x"),
        None,
    ]

    async def database(settings: Settings) -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    await checks.wait_until_ready(Settings(STARTUP_WAIT_SECONDS=30), database)

    assert answers == []


async def test_waiting_at_start_has_a_limit(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    db_url: str,
) -> None:
    started = asyncio.get_running_loop().time()
    status, err = await guanai(
        capsys,
        ["worker", "--queue", "escalations"],
        DATABASE_URL=db_url,
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        STARTUP_WAIT_SECONDS="1",
    )

    assert status == 1
    assert "REDIS_URL" in err
    assert asyncio.get_running_loop().time() - started >= 1
    assert "Trying again" in caplog.text
