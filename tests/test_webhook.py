"""Webhook mode: the fake Bot API posts updates to the bot, as Telegram does.

The chat journeys themselves run in both modes (`BOTH_DELIVERIES` in their modules); here
is what only the webhook has: its secret, its answer only after the commit, Telegram's
redelivery, the health endpoint, and `guanai bot --webhook URL` as a real process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiohttp import ClientSession
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.telegram.app import make_bot
from bot.telegram.webhook import (
    HEALTH_PATH,
    WebhookRefused,
    database_and_redis,
    make_webhook_app,
    set_webhook,
    webhook_served,
)
from domain.db import make_engine
from domain.models import ProcessedUpdate
from guanai import runtime
from guanai.cli import main
from guanai.settings import BadWebhookSecret, Settings
from tests.conftest import REDIS_URL, RunningBot, database_url, drop_database, fresh_name
from tests.fakes import FakeTelegram
from tests.fakes.telegram import Delivery
from tests.test_deployments import free_port

STRANGER = 7301


def start_update(fake: FakeTelegram, user_id: int, update_id: int) -> dict[str, Any]:
    """A user's /start, as Telegram would post it."""
    user = fake.user(user_id)
    return {
        "update_id": update_id,
        "message": {
            "message_id": fake.next_message_id(user_id),
            "date": int(time.time()),
            "chat": fake.chat_json(user_id),
            "from": user.as_json(),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def post(url: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with ClientSession() as session, session.post(url, json=update, headers=headers) as r:
        return r.status


async def get_status(url: str) -> int:
    async with ClientSession() as session, session.get(url) as answer:
        return answer.status


async def processed(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(ProcessedUpdate.update_id))).all())


def webhook_url(fake: FakeTelegram) -> str:
    assert fake.webhook is not None
    return fake.webhook.url


@pytest.mark.parametrize("delivery", ["webhook"], indirect=True)
async def test_updates_come_by_webhook_with_the_secret_and_no_polling(
    running_bot: RunningBot,
) -> None:
    fake = running_bot.fake
    user = fake.user(STRANGER)
    update_id = user.send_text("/start")

    assert "邀请链接" in ((await user.next_message()).text or "")
    set_webhook = await fake.wait_for_call("setWebhook")
    assert set_webhook.params["secret_token"] == running_bot.settings.webhook_secret_token()
    assert "message" in set_webhook.params["allowed_updates"]
    await fake.wait_consumed(update_id)  # the bot answered Telegram's post
    assert fake.deliveries == [Delivery(update_id, 200)]
    assert [call for call in fake.calls if call.method == "getUpdates"] == []
    info = await running_bot.bot.get_webhook_info()
    assert info.url == webhook_url(fake) and info.pending_update_count == 0


@pytest.mark.parametrize("delivery", ["webhook"], indirect=True)
@pytest.mark.parametrize("secret", ["wrong-secret", "", None])
async def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_stored(
    running_bot: RunningBot, secret: str | None
) -> None:
    update = start_update(running_bot.fake, STRANGER, 900_001)

    assert await post(webhook_url(running_bot.fake), update, secret) == 401
    assert await processed(running_bot.sessionmaker) == []
    assert running_bot.fake.sent == []


@pytest.mark.parametrize("delivery", ["webhook"], indirect=True)
async def test_the_same_update_posted_twice_is_handled_once(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    update = start_update(fake, STRANGER, 900_002)
    secret = running_bot.settings.webhook_secret_token()

    # the 200 comes after the commit: the update id is stored by the time it arrives
    assert await post(webhook_url(fake), update, secret) == 200
    assert await processed(running_bot.sessionmaker) == [900_002]
    assert len(fake.messages_to(STRANGER)) == 1
    assert await post(webhook_url(fake), update, secret) == 200
    assert await processed(running_bot.sessionmaker) == [900_002]
    assert len(fake.messages_to(STRANGER)) == 1


@pytest.mark.parametrize("delivery", ["webhook"], indirect=True)
async def test_an_update_sent_while_the_bot_is_unreachable_arrives_when_it_is_back(
    running_bot: RunningBot,
) -> None:
    fake, bot = running_bot.fake, running_bot.bot
    url, secret = webhook_url(fake), running_bot.settings.webhook_secret_token()
    await bot.set_webhook(f"http://127.0.0.1:{free_port()}/telegram", secret_token=secret)
    user = fake.user(STRANGER)
    update_id = user.send_text("/start")
    await fake.wait_until(lambda: fake.deliveries or None)  # Telegram's post finds nobody

    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and "Connection failed" in (info.last_error_message or "")
    assert await processed(running_bot.sessionmaker) == []
    await bot.set_webhook(url, secret_token=secret)  # the bot is back

    assert "邀请链接" in ((await user.next_message()).text or "")
    await fake.wait_consumed(update_id)
    assert await processed(running_bot.sessionmaker) == [update_id]
    assert [d.status for d in fake.deliveries][-1] == 200
    assert len(fake.messages_to(STRANGER)) == 1


async def test_health_answers_200_only_while_the_database_and_redis_answer(
    settings: Settings, engine: AsyncEngine, redis: Redis
) -> None:
    bot = make_bot(settings)
    nowhere = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    try:
        for health, status in ((database_and_redis(engine, redis), 200),
                               (database_and_redis(nowhere, redis), 503)):  # fmt: skip
            app = make_webhook_app(
                Dispatcher(), bot, path="/telegram", secret_token="s", health=health
            )
            async with webhook_served(app, "127.0.0.1", 0) as port:
                assert await get_status(f"http://127.0.0.1:{port}{HEALTH_PATH}") == status
    finally:
        await nowhere.dispose()
        await bot.session.close()


async def test_a_webhook_url_telegram_refuses_is_one_line(
    settings: Settings, fake_telegram: FakeTelegram
) -> None:
    bot = make_bot(settings)
    try:
        with pytest.raises(WebhookRefused, match="invalid webhook URL"):
            await set_webhook(bot, Dispatcher(), "ftp://bot.example.org/telegram", "s")
    finally:
        await bot.session.close()
    assert fake_telegram.webhook is None


def test_a_secret_telegram_would_refuse_is_refused_in_one_line(settings: Settings) -> None:
    derived = settings.webhook_secret_token()
    assert len(derived) == 64 and derived == settings.webhook_secret_token()
    mine = settings.model_copy(update={"webhook_secret": SecretStr("my_Secret-42")})
    assert mine.webhook_secret_token() == "my_Secret-42"
    spaces = settings.model_copy(update={"webhook_secret": SecretStr("has spaces!")})
    with pytest.raises(BadWebhookSecret):
        spaces.webhook_secret_token()


async def test_guanai_bot_with_a_webhook_url_serves_updates_and_health(
    fake_telegram: FakeTelegram,
) -> None:
    name = fresh_name("webhook")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")},
        "BOT_TOKEN": "4242:TEST-TOKEN",
        "BOT_API_URL": fake_telegram.base_url,
        "DATABASE_URL": database_url(name),
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": name,
        "WEBHOOK_SECRET": "sekret_42",
        "WEBHOOK_PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}/tg/updates"
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "guanai.cli", "bot", "--webhook", url,
        env=env, cwd=tempfile.gettempdir(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        call = await fake_telegram.wait_for_call("setWebhook", timeout=60)
        assert call.params["url"] == url and call.params["secret_token"] == "sekret_42"
        user = fake_telegram.user(STRANGER)
        user.send_text("/start")
        assert "邀请链接" in ((await user.next_message(timeout=30)).text or "")
        assert await get_status(f"http://127.0.0.1:{port}{HEALTH_PATH}") == 200
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(service.communicate(), timeout=30)
        await drop_database(name)
    assert service.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


def test_guanai_run_refuses_a_bad_webhook_secret_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("BOT_TOKEN", "4242:TEST-TOKEN")
    monkeypatch.setenv("WEBHOOK_SECRET", "not allowed!")

    assert main(["run", "--webhook", "https://bot.example.org/telegram"]) == 1
    err = capsys.readouterr().err  # in the language of the first CLI test run in-process
    assert "WEBHOOK_SECRET" in err and len(err.strip().splitlines()) == 1


async def test_guanai_run_says_in_one_line_why_its_bot_cannot_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(settings: Settings) -> None:
        raise WebhookRefused(url="ftp://bot.example.org/telegram", reason="invalid webhook URL")

    async def working(settings: Settings, queue: object) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(runtime, "run_bot", refused)
    monkeypatch.setattr(runtime, "run_worker", working)

    with pytest.raises(WebhookRefused):  # the error itself, which `guanai` prints as one line
        await runtime.run_all(settings)
