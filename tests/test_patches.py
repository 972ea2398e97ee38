"""The patches of aiogram's and pydantic's internals (bot/telegram/patches.py) run only on
the releases they were written for: another release installed, and start-up refuses in one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis.asyncio import Redis

from bot.telegram import patches
from bot.telegram.patches import PATCHES, ConversationStorage, UnsupportedLibrary, check_versions
from guanai.settings import Settings
from tests.cli_support import Guanai, deployment

real_version = patches.installed_version


def installed(**fake: str | None) -> Callable[[str], str | None]:
    """`installed_version` with some distributions at made-up releases (None: absent)."""
    return lambda name: fake[name] if name in fake else real_version(name)


def test_the_locked_releases_fit_every_patch() -> None:
    check_versions()
    assert [patch.name for patch in PATCHES] == [
        "deferred-types",
        "response-types",
        "json-calls",
        "loop-filters",
        "read-ahead",
    ]


@pytest.mark.parametrize(
    ("library", "version", "patch"),
    [
        ("aiogram", "3.32.0", "deferred-types"),
        ("aiogram", "3.30.2", "deferred-types"),
        ("aiogram", "4.0.0a1", "deferred-types"),
        ("aiogram", None, "deferred-types"),
        ("aiogram", "not-a-release", "deferred-types"),
        ("pydantic", "2.14.0", "deferred-types"),
        ("pydantic", "2.12.5", "deferred-types"),
    ],
)
def test_a_release_outside_a_patchs_range_is_refused(
    monkeypatch: pytest.MonkeyPatch, library: str, version: str | None, patch: str
) -> None:
    monkeypatch.setattr(patches, "installed_version", installed(**{library: version}))
    with pytest.raises(UnsupportedLibrary) as refused:
        check_versions()
    assert refused.value.params == {
        "library": library,
        "installed": version or "-",
        "patch": patch,
        "expected": patches.AIOGRAM if library == "aiogram" else patches.PYDANTIC,
    }


def test_a_later_bugfix_release_still_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "installed_version", installed(aiogram="3.31.7"))
    check_versions()


@pytest.mark.parametrize("command", [("worker",), ("jobs", "run", "send-outbox")])
async def test_guanai_refuses_to_start_in_one_line_on_another_release(
    guanai: Guanai, settings: Settings, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    """`worker` at start-up, before waiting for anything; `jobs run send-outbox` when it
    makes the Bot whose session the patches change."""
    monkeypatch.setattr(patches, "installed_version", installed(aiogram="3.32.0"))
    guanai.env.update(deployment(settings))

    result = await guanai(*command)

    assert result.code == 1
    assert result.err.splitlines() == [
        "error: aiogram 3.32.0 is installed, but the patch deferred-types in "
        "bot/telegram/patches.py was written for aiogram >=3.31,<3.32: install the locked "
        "versions (uv sync --locked)."
    ]
    chinese = await guanai(*command, LANG="zh_CN.UTF-8")
    assert chinese.code == 1
    assert chinese.err.splitlines() == [
        "错误：已安装的 aiogram 是 3.32.0 版，但 bot/telegram/patches.py 中的补丁 deferred-types "
        "只适用于 aiogram >=3.31,<3.32：请安装锁定的版本（uv sync --locked）。"
    ]


def test_outside_its_range_aiogram_builds_its_types_as_it_always_did() -> None:
    """The patch changes nothing then: aiogram's own import-time build, and the process
    gets as far as start-up's one-line refusal."""
    code = textwrap.dedent(
        """
        from importlib import metadata
        real = metadata.version
        metadata.version = lambda name: "3.32.0" if name == "aiogram" else real(name)
        import bot
        from aiogram.types import Message
        print(Message.__pydantic_complete__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]


async def test_read_ahead_reads_state_and_data_in_one_round_trip_and_never_a_stale_copy(
    redis: Redis, redis_prefix: str
) -> None:
    """`read-ahead`: the handler's `get_data` takes what `get_state` read with the state,
    once; after a write in the update it asks Redis again, and sees the write."""
    storage = ConversationStorage(redis, key_builder=DefaultKeyBuilder(prefix=redis_prefix))
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(key, "CheckIn:photos")
    await storage.set_data(key, {"photos": 1})
    commands: list[str] = []
    execute = redis.execute_command

    async def counted(*args: Any, **kwargs: Any) -> Any:
        commands.append(str(args[0]))
        return await execute(*args, **kwargs)  # type: ignore[no-untyped-call]

    redis.execute_command = counted  # type: ignore[method-assign]
    assert await storage.get_state(key) == "CheckIn:photos"
    assert await storage.get_data(key) == {"photos": 1}
    assert commands == ["MGET"]  # the data came with the state
    await storage.set_data(key, {"photos": 2})
    assert await storage.get_data(key) == {"photos": 2}
    assert commands == ["MGET", "SET", "GET"]
    other = StorageKey(bot_id=1, chat_id=3, user_id=3)
    assert await storage.get_state(other) is None
    assert await storage.get_data(other) == {}
    assert await storage.get_data(key) == {"photos": 2}  # another chat's read-ahead is not ours
