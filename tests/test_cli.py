"""The `guanai` command as an operator runs it: a real process, real servers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import REDIS_URL


def guanai(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "LANG", "LC_ALL")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "guanai.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=tempfile.gettempdir(),  # away from any developer .env
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = guanai("--help")
    assert result.returncode == 0
    for command in ("migrate", "run", "bot", "worker", "site", "admin"):
        assert command in result.stdout


def test_site_and_admin_add_build_the_tree(db_url: str) -> None:
    assert (
        guanai(
            "site",
            "add",
            "--code",
            "D1",
            "--name",
            "秀山区",
            "--kind",
            "district",
            DATABASE_URL=db_url,
        ).returncode
        == 0
    )
    school = guanai(
        "site",
        "add",
        "--code",
        "S1",
        "--name",
        "中和小学",
        "--kind",
        "school",
        "--parent",
        "D1",
        DATABASE_URL=db_url,
    )
    assert school.returncode == 0 and "S1" in school.stdout
    admin = guanai(
        "admin",
        "add",
        "--telegram-id",
        "1001",
        "--name",
        "王老师",
        "--scope",
        "S1",
        DATABASE_URL=db_url,
    )
    assert admin.returncode == 0 and "王老师" in admin.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("site", "add", "--code", "X", "--name", "x", "--kind", "school", "--parent", "NOPE"),
            "NOPE",
        ),
        (("admin", "add", "--telegram-id", "1", "--name", "x", "--scope", "NOPE"), "NOPE"),
        (("admin", "add", "--telegram-id", "abc", "--name", "x", "--scope", "S1"), "abc"),
        (("site", "add", "--code", "X", "--name", "x", "--kind", "planet"), "planet"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_failure(
    db_url: str, args: tuple[str, ...], says: str
) -> None:
    result = guanai(*args, DATABASE_URL=db_url)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "BOT_TOKEN"),
        (
            {"BOT_TOKEN": "1:x", "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"},
            "DATABASE_URL",
        ),
        ({"BOT_TOKEN": "1:x", "REDIS_URL": "redis://127.0.0.1:1/0"}, "REDIS_URL"),
    ],
)
def test_run_without_what_it_needs_says_what_is_wrong(
    db_url: str, env: dict[str, str], says: str
) -> None:
    result = guanai("run", **{"DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, **env})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_english_operators_get_english(db_url: str) -> None:
    result = guanai("run", DATABASE_URL=db_url, LANG="en_US.UTF-8")
    assert result.stderr.strip() == (
        "error: BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env or the "
        "environment."
    )
