"""The sender draining the outbox through the real aiogram Bot and the fake Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import outbox
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.models import OutboxMessage, OutboxStatus, Person
from domain.outbox import Method
from guanai.settings import Settings
from tests.fakes import FakeTelegram
from workers.sender import BotTokenRejected, Sender

MakeSender = Callable[..., Sender]


@pytest.fixture
async def make_sender(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[MakeSender]:
    made: list[Sender] = []

    def make(bot_api_url: str | None = None, timeout: float = 60) -> Sender:
        api = TelegramAPIServer.from_base(bot_api_url or settings.bot_api_url)
        bot = Bot(settings.require_bot_token(), session=AiohttpSession(api=api, timeout=timeout))
        sender = Sender(bot, sessionmaker, media_dir=settings.media_dir)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.bot.session.close()


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    at: dt.datetime,
    *messages: tuple[int, str],
    dedupe_key: str | None = None,
) -> list[int]:
    ids = []
    async with UnitOfWork(sessionmaker) as uow:
        for chat_id, text in messages:
            row = await outbox.enqueue(
                uow.session,
                chat_id=chat_id,
                method=Method.send_message,
                payload={"text": text},
                not_before=at,
                dedupe_key=dedupe_key,
            )
            if row is not None:
                ids.append(row.id)
        await uow.commit()
    return ids


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with UnitOfWork(sessionmaker) as uow:
        found = list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        uow.session.expunge_all()
    return found


async def test_a_queued_message_is_sent_once_with_its_message_id_recorded(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "✅ 知道了", "callback_data": "ack:1"}]]}
    async with UnitOfWork(sessionmaker) as uow:
        await outbox.enqueue(
            uow.session,
            chat_id=501,
            method=Method.send_message,
            payload={"text": "王老师，李小花本月还没有家访。", "reply_markup": keyboard},
            not_before=clock.now(),
        )
        await uow.commit()
    sender = make_sender()

    first = await sender.drain(clock)
    second = await sender.drain(clock)

    [message] = fake_telegram.messages_to(501)
    assert message.text == "王老师，李小花本月还没有家访。"
    assert message.callback_data("知道了") == "ack:1"
    [row] = await rows(sessionmaker)
    assert row.status is OutboxStatus.sent
    assert row.telegram_message_id == message.message_id
    assert row.sent_at == clock.now()
    assert (first.sent, second.sent) == (1, 0)


async def test_documents_and_photos_go_from_media_dir_or_by_file_id(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    roster = settings.media_dir / "rosters" / "2026-W47.xlsx"
    roster.parent.mkdir(parents=True)
    roster.write_bytes(b"PK roster bytes")
    photo_id, _ = fake_telegram.store_file("photo", b"chart png")
    async with UnitOfWork(sessionmaker) as uow:
        for method, payload in (
            (Method.send_document, {"path": "rosters/2026-W47.xlsx", "filename": "值班表.xlsx"}),
            (Method.send_photo, {"file_id": photo_id, "caption": "本月完成情况"}),
            (Method.send_document, {"path": "rosters/missing.xlsx"}),
        ):
            await outbox.enqueue(
                uow.session, chat_id=502, method=method, payload=payload, not_before=clock.now()
            )
        await uow.commit()

    report = await make_sender().drain(clock)

    document, photo = fake_telegram.messages_to(502)
    assert document.file is not None and document.file.data == b"PK roster bytes"
    assert document.file.file_name == "值班表.xlsx"
    assert photo.file is not None and photo.file.data == b"chart png"
    assert photo.text == "本月完成情况"
    assert [r.status for r in await rows(sessionmaker)] == [
        OutboxStatus.sent,
        OutboxStatus.sent,
        OutboxStatus.failed,  # the file is gone: nothing was sent
    ]
    assert (report.sent, report.failed) == (2, 1)


async def test_a_duplicate_dedupe_key_gives_one_message(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    for _ in range(2):
        await enqueue(sessionmaker, clock.now(), (503, "摘要"), dedupe_key="digest:503:2026-11-16")
    await make_sender().drain(clock)
    assert len(fake_telegram.messages_to(503)) == 1


async def test_two_senders_at_once_send_each_row_once(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    messages = [(600 + i % 20, f"message {i}") for i in range(60)]
    await enqueue(sessionmaker, clock.now(), *messages)

    one, two = await asyncio.gather(make_sender().drain(clock), make_sender().drain(clock))

    sent = Counter((m.chat_id, m.text) for m in fake_telegram.sent)
    assert sent == Counter(messages)  # every message, none twice
    assert one.sent > 0 and two.sent > 0  # both really took part
    assert one.sent + two.sent == 60
    assert {r.status for r in await rows(sessionmaker)} == {OutboxStatus.sent}


async def test_messages_to_one_chat_keep_their_order_and_a_second_apart(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    await enqueue(sessionmaker, clock.now(), (700, "first"), (700, "second"), (701, "other"))

    await make_sender().drain(clock)

    to_700 = [c for c in fake_telegram.calls if c.params.get("chat_id") == 700]
    assert [c.params["text"] for c in to_700] == ["first", "second"]
    assert to_700[1].at - to_700[0].at >= 0.95
    other = next(c for c in fake_telegram.calls if c.params.get("chat_id") == 701)
    assert other.at < to_700[1].at  # another chat does not wait for 700's second


async def test_429_defers_the_row_by_retry_after(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    await enqueue(sessionmaker, clock.now(), (801, "稍后再发"))
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1)
    sender = make_sender()

    report = await sender.drain(clock)
    [row] = await rows(sessionmaker)
    assert report.rate_limited == 1
    assert row.status is OutboxStatus.pending
    assert row.not_before == clock.now() + dt.timedelta(seconds=1)

    await sender.drain(clock)  # not yet due
    assert fake_telegram.messages_to(801) == []

    clock.move(dt.timedelta(seconds=1))
    await sender.drain(clock)
    assert [m.text for m in fake_telegram.messages_to(801)] == ["稍后再发"]
    assert [r.status for r in await rows(sessionmaker)] == [OutboxStatus.sent]


async def test_403_marks_the_person_unreachable_and_others_still_get_theirs(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add_all(
            [Person(telegram_id=901, name="甲"), Person(telegram_id=902, name="乙")]
        )
        await uow.commit()
    await enqueue(sessionmaker, clock.now(), (901, "提醒"), (902, "提醒"))
    fake_telegram.block(901)

    report = await make_sender().drain(clock)

    assert (report.sent, report.failed) == (1, 1)
    assert [m.chat_id for m in fake_telegram.sent] == [902]
    blocked, delivered = await rows(sessionmaker)
    assert blocked.status is OutboxStatus.failed and "blocked" in (blocked.error or "")
    assert delivered.status is OutboxStatus.sent
    async with UnitOfWork(sessionmaker) as uow:
        people = {
            p.telegram_id: p.unreachable_at for p in await uow.session.scalars(select(Person))
        }
    assert people == {901: clock.now(), 902: None}


async def test_5xx_is_retried_with_back_off_then_given_up(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    _, last_try = await enqueue(sessionmaker, clock.now(), (1001, "重试"), (1002, "放弃"))
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.session.get_one(OutboxMessage, last_try)
        row.attempts = outbox.MAX_ATTEMPTS - 1  # tried and failed before
        await uow.commit()
    fake_telegram.fail_next("sendMessage", status=502, chat_id=1001)
    fake_telegram.fail_next("sendMessage", status=500, chat_id=1002)
    sender = make_sender()

    report = await sender.drain(clock)
    first, second = await rows(sessionmaker)
    assert (report.deferred, report.failed) == (1, 1)
    assert first.status is OutboxStatus.pending
    assert first.not_before == clock.now() + outbox.backoff(1)
    assert second.status is OutboxStatus.failed and second.attempts == outbox.MAX_ATTEMPTS

    clock.move(outbox.backoff(1))
    await sender.drain(clock)

    first, _ = await rows(sessionmaker)
    assert first.status is OutboxStatus.sent and first.attempts == 2
    assert [m.text for m in fake_telegram.sent] == ["重试"]


async def test_a_row_left_mid_send_by_a_killed_worker_is_not_sent_again(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    killed, in_flight, waiting = await enqueue(
        sessionmaker, clock.now(), (1101, "killed"), (1102, "in flight"), (1103, "waiting")
    )
    async with UnitOfWork(sessionmaker) as uow:
        # a worker claimed two rows and died; one claim is old, one is recent
        for row in await outbox.claim(uow.session, now=clock.now(), limit=2):
            age = outbox.CLAIM_TIMEOUT * 2 if row.id == killed else dt.timedelta(seconds=30)
            row.claimed_at = clock.now() - age
        await uow.commit()

    report = await make_sender().drain(clock)

    assert [m.text for m in fake_telegram.sent] == ["waiting"]
    statuses = {r.id: r.status for r in await rows(sessionmaker)}
    assert statuses == {
        killed: OutboxStatus.uncertain,
        in_flight: OutboxStatus.sending,  # its sender may still answer: left alone
        waiting: OutboxStatus.sent,
    }
    assert report.uncertain == 1


@pytest.fixture
async def silent_api() -> AsyncIterator[str]:
    """A Bot API that takes requests and never answers them."""
    stop = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await stop.wait()
        return web.json_response({"ok": False, "error_code": 500, "description": "stopped"})

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", hang)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    stop.set()
    await runner.cleanup()


async def test_a_timed_out_send_is_uncertain_and_not_repeated(
    silent_api: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    await enqueue(sessionmaker, clock.now(), (1201, "也许已送达"))
    sender = make_sender(silent_api, timeout=0.3)

    report = await sender.drain(clock)
    again = await sender.drain(clock)

    [row] = await rows(sessionmaker)
    assert row.status is OutboxStatus.uncertain and "timeout" in (row.error or "")
    assert (report.uncertain, again.uncertain, again.sent) == (1, 0, 0)


async def test_a_refused_connection_sent_nothing_so_it_is_retried(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
    unused_tcp_port: int,
) -> None:
    await enqueue(sessionmaker, clock.now(), (1301, "稍后"))

    report = await make_sender(f"http://127.0.0.1:{unused_tcp_port}").drain(clock)

    [row] = await rows(sessionmaker)
    assert report.deferred == 1
    assert row.status is OutboxStatus.pending
    assert row.not_before == clock.now() + outbox.backoff(1)


async def test_a_rejected_token_stops_the_drain_and_keeps_the_messages(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    await enqueue(sessionmaker, clock.now(), (1401, "一"))
    fake_telegram.fail_next("sendMessage", status=401, description="Unauthorized")

    with pytest.raises(BotTokenRejected):
        await make_sender().drain(clock)

    [row] = await rows(sessionmaker)
    assert (row.status, row.attempts, row.not_before) == (OutboxStatus.pending, 0, clock.now())
