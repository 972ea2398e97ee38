"""`guanai run` as a deployment runs it: a real process, a database it has to create,
Redis, and the fake Bot API in place of Telegram."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.cli_support import Guanai, guanai_process
from tests.conftest import REDIS_URL
from tests.fakes import FakeTelegram

COORDINATOR = 5150


async def test_guanai_run_answers_strangers_and_coordinators(
    fake_telegram: FakeTelegram,
    new_database: tuple[str, str],
    redis_prefix: str,
    guanai: Guanai,
) -> None:
    _, url = new_database
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")},
        "BOT_TOKEN": "4242:TEST-TOKEN",
        "BOT_API_URL": fake_telegram.base_url,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
    }
    guanai.env.update({k: env[k] for k in ("BOT_API_URL", "DATABASE_URL", "REDIS_URL")})
    service = await guanai_process(env, "run")
    try:
        # `run` creates and migrates the database itself, then polls
        await fake_telegram.wait_for_call("getUpdates", timeout=60)
        for args in (
            ("site", "add", "--code", "XS", "--name", "秀山区", "--kind", "district"),
            (
                "site",
                "add",
                "--code",
                "ZH",
                "--name",
                "中和镇",
                "--kind",
                "township",
                "--parent",
                "XS",
            ),
            (
                "site",
                "add",
                "--code",
                "S9",
                "--name",
                "中和小学",
                "--kind",
                "school",
                "--parent",
                "ZH",
            ),
            (
                "admin",
                "add",
                "--telegram-id",
                str(COORDINATOR),
                "--name",
                "王老师",
                "--scope",
                "S9",
            ),
        ):
            admin = await guanai(*args)  # the operator's commands, in this process
            assert admin.code == 0, admin.err

        stranger = fake_telegram.user(5151)
        coordinator = fake_telegram.user(COORDINATOR)
        stranger.send_text("/start")
        coordinator.send_text("/start")

        assert "邀请链接" in ((await stranger.next_message(timeout=30)).text or "")
        assert "📊 概况" in (await coordinator.next_message(timeout=30)).button_texts()
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(service.communicate(), timeout=30)
    assert service.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
