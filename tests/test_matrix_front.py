"""The Matrix front against a real Synapse: a person with their own Matrix client invites
the bot to a direct chat and writes; the bot joins, answers once, in plain and encrypted
rooms, across restarts, under the homeserver's rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.locales import load_translations
from bot.matrix import state
from bot.matrix.client import MatrixFront, MatrixLoginFailed
from bot.matrix.conversation import Conversation, IncomingText
from bot.matrix.rooms import Rooms
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.models import MatrixSyncState
from guanai.settings import MatrixAccount, Settings
from tests.cli_support import Guanai, deployment, guanai_process
from tests.conftest import REDIS_URL, SHANGHAI
from tests.fakes import FakeTelegram
from tests.matrix_people import ENCRYPTION, Person, running
from tests.servers import free_port
from tests.synapse_server import MatrixUser, Synapse

pytestmark = pytest.mark.matrix

NOT_INVITED = load_translations()["zh"].gettext(
    "This bot is only for invited volunteers and staff. Ask your school's or "
    "village's care office for an invitation link."
)

CANNOT_READ = load_translations()["zh"].gettext(
    "I could not read that message: it was encrypted before I could take part. "
    "Please send it again."
)


def _account(synapse: Synapse, bot: MatrixUser, store: Path, *, token: bool) -> MatrixAccount:
    return MatrixAccount(
        homeserver=synapse.url,
        user_id=bot.user_id,
        access_token=bot.access_token if token else None,
        password=None if token else bot.password,
        store_dir=store,
    )


@pytest.fixture
def conversation(redis: Redis, redis_prefix: str, clock: FixedClock) -> Conversation:
    return Conversation(Rooms(redis, redis_prefix), clock, SHANGHAI)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_stranger_in_a_direct_chat_is_told_how_to_be_invited(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
    encrypted: bool,
) -> None:
    account = _account(synapse, bot_user, tmp_path / "store", token=False)
    async with running(account, sessionmaker, conversation.answer):
        room = await person.direct_chat_with(bot_user.user_id, encrypted=encrypted)
        await person.say(room, "你好")
        await person.wait_until(
            lambda: person.texts_from(room, bot_user.user_id) == [NOT_INVITED], "the answer"
        )

    assert person.client.rooms[room].encrypted is encrypted
    assert await person.messages_in_history(room, bot_user.user_id) == 1


async def test_a_message_encrypted_before_the_bot_had_a_device_is_asked_for_again(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
) -> None:
    """Written while the bot was invited but had never run: no key for it in the message."""
    created = await person.client.room_create(
        is_direct=True, invite=[bot_user.user_id], initial_state=[ENCRYPTION]
    )
    room = str(created.room_id)
    await person.wait_until(lambda: room in person.client.rooms, "the room")
    await person.say(room, "在吗？")

    account = _account(synapse, bot_user, tmp_path / "store", token=False)
    async with running(account, sessionmaker, conversation.answer):
        await person.wait_until(
            lambda: person.texts_from(room, bot_user.user_id) == [CANNOT_READ], "the answer"
        )
        await person.say(room, "在吗？")
        await person.wait_until(
            lambda: person.texts_from(room, bot_user.user_id) == [CANNOT_READ, NOT_INVITED],
            "the answer to the message sent again",
        )


async def test_a_group_room_is_declined(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
) -> None:
    account = _account(synapse, bot_user, tmp_path / "store", token=True)
    async with running(account, sessionmaker, conversation.answer):
        created = await person.client.room_create(invite=[bot_user.user_id])
        room = str(created.room_id)
        await person.wait_until(
            lambda: (
                room in person.client.rooms
                and bot_user.user_id not in person.client.rooms[room].invited_users
            ),
            "the bot to decline",
        )
    assert bot_user.user_id not in person.client.rooms[room].users


async def test_a_restarted_bot_answers_each_message_once_in_an_encrypted_chat(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
) -> None:
    account = _account(synapse, bot_user, tmp_path / "store", token=False)
    async with running(account, sessionmaker, conversation.answer):
        room = await person.direct_chat_with(bot_user.user_id, encrypted=True)
        async with UnitOfWork(sessionmaker) as uow:
            before_first = await state.load(uow.session, bot_user.user_id)
        await person.say(room, "第一条")
        await person.wait_until(
            lambda: len(person.texts_from(room, bot_user.user_id)) == 1, "the first answer"
        )
    # as if the bot had died after answering but before saving its sync token: the next
    # start syncs the first message again, and must not answer it twice
    async with UnitOfWork(sessionmaker) as uow:
        await uow.session.execute(
            update(MatrixSyncState)
            .where(MatrixSyncState.user_id == bot_user.user_id)
            .values(next_batch=before_first.next_batch)
        )
        await uow.commit()

    async with running(account, sessionmaker, conversation.answer) as again:
        await person.say(room, "第二条")
        await person.wait_until(
            lambda: len(person.texts_from(room, bot_user.user_id)) == 2, "the second answer"
        )
        assert again.client.device_id == before_first.device_id  # same device, same keys

    assert await person.messages_in_history(room, bot_user.user_id) == 2
    assert person.texts_from(room, bot_user.user_id) == [NOT_INVITED, NOT_INVITED]


async def test_messages_while_the_bot_was_down_are_each_answered_once(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
) -> None:
    account = _account(synapse, bot_user, tmp_path / "store", token=False)
    async with running(account, sessionmaker, conversation.answer):
        room = await person.direct_chat_with(bot_user.user_id, encrypted=False)
    for number in range(5):  # more than a sync's timeline holds below: the rest is fetched
        await person.say(room, f"留言 {number}")

    async with running(account, sessionmaker, conversation.answer, timeline_limit=2):
        await person.wait_until(
            lambda: len(person.texts_from(room, bot_user.user_id)) == 5, "five answers"
        )

    assert await person.messages_in_history(room, bot_user.user_id) == 5


async def test_a_send_waits_out_the_rate_limit_and_a_retried_send_is_one_message(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = _account(synapse, bot_user, tmp_path / "store", token=True)
    async with running(account, sessionmaker, conversation.answer) as front:
        room = await person.direct_chat_with(bot_user.user_id, encrypted=False)
        await person.wait_until(lambda: room in front.client.rooms, "the bot to know the room")
        await synapse.limit_messages(bot_user.user_id, per_second=1, burst=1)
        with caplog.at_level(logging.WARNING, logger="bot.matrix.client"):
            sent = [await front.send_text(room, f"通知 {n}", txn_id=f"t{n}") for n in range(2)]
            again = await front.send_text(room, "通知 0", txn_id="t0")

    assert again == sent[0]
    assert len(set(sent)) == 2
    assert "M_LIMIT_EXCEEDED" in caplog.text
    assert await person.messages_in_history(room, bot_user.user_id) == 2


async def test_a_database_outage_while_answering_is_waited_out_and_answered_once(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = iter([ConnectionRefusedError("PostgreSQL went away")])

    async def answer_after_an_outage(uow: UnitOfWork, message: IncomingText) -> list[str]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return list(await conversation.answer(uow, message))

    account = _account(synapse, bot_user, tmp_path / "store", token=True)
    front = MatrixFront(account, sessionmaker, answer_after_an_outage)
    await front.start()
    task = asyncio.create_task(front.run(outage_retry_max_seconds=0.5))
    try:
        room = await person.direct_chat_with(bot_user.user_id, encrypted=True)
        with caplog.at_level(logging.WARNING, logger="bot.matrix.client"):
            await person.say(room, "你好")
            await person.wait_until(
                lambda: person.texts_from(room, bot_user.user_id) == [NOT_INVITED], "the answer"
            )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await front.close()

    assert "matrix front" in caplog.text  # the outage was logged, and waited out
    assert await person.messages_in_history(room, bot_user.user_id) == 1


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "error: MATRIX_HOMESERVER is not set: the Matrix front needs it (see .env.example)."),
        (
            {"MATRIX_HOMESERVER": "https://matrix.example.org", "MATRIX_USER": "guanai"},
            "error: MATRIX_USER is not valid (a full Matrix id, @name:server): correct it in "
            ".env or the environment.",
        ),
        (
            {"MATRIX_HOMESERVER": "https://matrix.example.org", "MATRIX_USER": "@g:example.org"},
            "error: MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD is not set: the Matrix front needs "
            "it (see .env.example).",
        ),
    ],
    ids=["no-homeserver", "bad-user", "no-secret"],
)
async def test_guanai_matrix_without_its_settings_says_which_in_one_line(
    guanai: Guanai, env: dict[str, str], line: str
) -> None:
    ran = await guanai("matrix", LANG="en_US.UTF-8", **env)
    assert (ran.code, ran.err.strip().splitlines()) == (1, [line])


async def test_guanai_matrix_says_when_the_homeserver_does_not_answer(
    guanai: Guanai, settings: Settings
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    ran = await guanai(
        "matrix",
        **deployment(settings),
        MATRIX_HOMESERVER=nobody,
        MATRIX_USER="@guanai:localhost",
        MATRIX_PASSWORD="secret-never-printed",
    )
    assert ran.code == 1
    assert ran.err.strip().splitlines()[-1] == (
        f"error: cannot reach the Matrix homeserver at {nobody}: is it running, and is "
        "MATRIX_HOMESERVER right?"
    )
    assert "secret-never-printed" not in ran.err + ran.out


async def test_a_token_the_homeserver_refuses_is_a_login_failure_that_names_the_settings(
    synapse: Synapse,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    tmp_path: Path,
) -> None:
    """The CLI prints a DomainError in one line (`guanai matrix`, like every command)."""
    account = MatrixAccount(
        homeserver=synapse.url,
        user_id=bot_user.user_id,
        access_token="syt_not_a_token_it_gave",
        password=None,
        store_dir=tmp_path / "store",
    )
    front = MatrixFront(account, sessionmaker, conversation.answer)
    try:
        with pytest.raises(MatrixLoginFailed) as refused:
            await front.start()
    finally:
        await front.close()
    assert refused.value.params == {"reason": "M_UNKNOWN_TOKEN"}
    assert "syt_not_a_token_it_gave" not in str(refused.value) + repr(account)


async def test_guanai_health_checks_the_homeserver_when_one_is_set(
    guanai: Guanai, settings: Settings, synapse: Synapse
) -> None:
    matrix = {"MATRIX_USER": "@guanai:localhost", "MATRIX_PASSWORD": "secret-never-printed"}
    nobody = f"http://127.0.0.1:{free_port()}"

    well = await guanai("health", **deployment(settings), **matrix, MATRIX_HOMESERVER=synapse.url)
    down = await guanai("health", **deployment(settings), **matrix, MATRIX_HOMESERVER=nobody)

    assert well.code == 0, well.out
    assert "Matrix: ok, the homeserver answers" in well.out.splitlines()
    assert down.code == 1
    assert f"Matrix: cannot reach the Matrix homeserver at {nobody}" in down.out
    assert "secret-never-printed" not in well.out + well.err + down.out + down.err


async def test_guanai_run_answers_on_telegram_and_on_matrix(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    fake_telegram: FakeTelegram,
    new_database: tuple[str, str],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    """One `guanai run` process, MATRIX_HOMESERVER set: both fronts answer a stranger."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")},
        "BOT_TOKEN": "4242:TEST-TOKEN",
        "BOT_API_URL": fake_telegram.base_url,
        "DATABASE_URL": new_database[1],
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "MEDIA_DIR": str(tmp_path / "media"),
        "MATRIX_HOMESERVER": synapse.url,
        "MATRIX_USER": bot_user.user_id,
        "MATRIX_PASSWORD": bot_user.password,
        "MATRIX_STORE_DIR": str(tmp_path / "store"),
    }
    service = await guanai_process(env, "run")
    try:
        # the process migrates a new database first; a chat encrypted before the bot's
        # device exists would hold no key for it
        await synapse.wait_for_device_keys(bot_user.user_id, asking=person.user)
        room = await person.direct_chat_with(bot_user.user_id, encrypted=True)
        await person.say(room, "你好")
        fake_telegram.user(5151).send_text("/start")
        await person.wait_until(
            lambda: person.texts_from(room, bot_user.user_id) == [NOT_INVITED], "the answer"
        )
        assert "邀请链接" in ((await fake_telegram.user(5151).next_message(timeout=30)).text or "")
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(service.communicate(), timeout=30)
        print(stderr.decode())  # shown when the test fails
    assert service.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert bot_user.password.encode() not in stderr
