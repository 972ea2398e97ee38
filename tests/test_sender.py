"""The sender draining the outbox through the real aiogram Bot and the fake Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.patches import BotSession
from bot.telegram.sender import GLOBAL_RATE, BotTokenRejected, Sender
from domain.clock import FixedClock, SystemClock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.content import Action, ActionKind, Attachment, AttachmentKind, Content
from domain.models import Account, Channel, OutboxMessage, OutboxStatus
from domain.ports import DrainReport
from guanai.cli import main as cli_main
from guanai.settings import Settings
from tests.conftest import RunningBot
from tests.factories import make_person, make_site, make_volunteer
from tests.fakes import FakeTelegram
from tests.fakes.telegram import JSON, Call
from tests.outbox_support import shown, tg

MakeSender = Callable[..., Sender]


@pytest.fixture
async def make_sender(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[MakeSender]:
    made: list[Sender] = []

    def make(
        bot_api_url: str | None = None, timeout: float = 60, rate: float = GLOBAL_RATE
    ) -> Sender:
        api = TelegramAPIServer.from_base(bot_api_url or settings.bot_api_url)
        bot = Bot(settings.require_bot_token(), session=BotSession(api=api, timeout=timeout))
        sender = Sender(bot, sessionmaker, media_dir=settings.media_dir, rate=rate)
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
                to=tg(chat_id),
                content=Content.lines([text]),
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
    actions = [[Action(ActionKind.take_escalation, "✋ 我来处理", 1)]]
    async with UnitOfWork(sessionmaker) as uow:
        await outbox.enqueue(
            uow.session,
            to=tg(501),
            content=Content.lines(["王老师，李小花本月还没有家访。"], actions=actions),
            not_before=clock.now(),
        )
        await uow.commit()
    sender = make_sender()

    first = await sender.drain(clock)
    second = await sender.drain(clock)

    [message] = fake_telegram.messages_to(501)
    assert message.text == "王老师，李小花本月还没有家访。"
    assert message.callback_data("我来处理") == "esc:1:take"
    [row] = await rows(sessionmaker)
    assert row.status is OutboxStatus.sent
    assert row.sent_ref == str(message.message_id)
    assert row.sent_at == clock.now()
    assert (first.sent, second.sent) == (1, 0)


async def test_documents_and_pictures_go_from_media_dir(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    roster = settings.media_dir / "rosters" / "2026-W47.xlsx"
    roster.parent.mkdir(parents=True)
    roster.write_bytes(b"PK roster bytes")
    (settings.media_dir / "rosters" / "chart.png").write_bytes(b"chart png")
    document, picture = AttachmentKind.document, AttachmentKind.picture
    async with UnitOfWork(sessionmaker) as uow:
        for content in (
            Content(attachment=Attachment(document, "rosters/2026-W47.xlsx", "值班表.xlsx")),
            Content.lines(
                ["本月完成情况"],
                attachment=Attachment(picture, "rosters/chart.png", "完成情况.png"),
            ),
            Content(attachment=Attachment(document, "rosters/missing.xlsx", "x.xlsx")),
        ):
            await outbox.enqueue(uow.session, to=tg(502), content=content, not_before=clock.now())
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


async def test_403_marks_the_account_unreachable_and_others_still_get_theirs(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    make_sender: MakeSender,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await make_person(uow.session, telegram_id=901, name="甲")
        await make_person(uow.session, telegram_id=902, name="乙")
        await uow.commit()
    await enqueue(sessionmaker, clock.now(), (901, "提醒"), (902, "提醒"))
    fake_telegram.block(901)

    report = await make_sender().drain(clock)

    assert (report.sent, report.failed) == (1, 1)
    assert [m.chat_id for m in fake_telegram.sent] == [902]
    blocked, delivered = await rows(sessionmaker)
    assert blocked.status is OutboxStatus.failed and "blocked" in (blocked.error or "")
    assert delivered.status is OutboxStatus.sent
    assert await unreachable_at(sessionmaker) == {901: clock.now(), 902: None}


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


# ---------------------------------------------------------------------- faults


class RunningClock:
    """Real time from a given start: rows deferred by a 429 fall due as seconds pass."""

    def __init__(self, start: dt.datetime) -> None:
        self._start = start
        self._started = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._started)


async def drain_until_settled(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: RunningClock,
    *senders: Sender,
) -> list[DrainReport]:
    """Drain with every sender at once, again until no row is pending or on its way;
    between drains, wait for the first deferred row to fall due."""
    reports: list[DrainReport] = []
    async with asyncio.timeout(60):
        while waiting := [r for r in await rows(sessionmaker) if r.status in _UNSETTLED]:
            reports += await asyncio.gather(*(sender.drain(clock) for sender in senders))
            due = min(r.not_before for r in waiting)
            await asyncio.sleep(max((due - clock.now()).total_seconds(), 0.05))
    return reports


_UNSETTLED = (OutboxStatus.pending, OutboxStatus.sending)


def received(fake: FakeTelegram) -> dict[int, list[str]]:
    by_chat: dict[int, list[str]] = {}
    for message in fake.sent:
        by_chat.setdefault(message.chat_id, []).append(message.text or "")
    return by_chat


@pytest.mark.faults
async def test_after_a_429_every_chat_gets_its_messages_in_outbox_order(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_sender: MakeSender,
) -> None:
    clock = RunningClock(SystemClock().now())
    chats = range(2001, 2021)
    # round by round: each chat's first message, then each chat's second, …
    messages = [(chat, f"{chat}: {n}") for n in range(3) for chat in chats]
    await enqueue(sessionmaker, clock.now(), *messages)
    for chat in (2003, 2008, 2015):  # their first message is refused: too many requests
        fake_telegram.fail_next("sendMessage", status=429, retry_after=1, chat_id=chat)

    reports = await drain_until_settled(sessionmaker, clock, make_sender())

    assert sum(r.rate_limited for r in reports) == 3
    assert received(fake_telegram) == {
        chat: [f"{chat}: {n}" for n in range(3)] for chat in chats
    }  # every chat, each message once, in the order it was queued
    assert {r.status for r in await rows(sessionmaker)} == {OutboxStatus.sent}


@pytest.mark.faults
async def test_two_senders_at_once_share_the_rate_and_draw_no_429(
    sessionmaker: async_sessionmaker[AsyncSession],
    make_sender: MakeSender,
) -> None:
    """Each sender paces itself at 24 a second: apart, two would send 48 a second; sharing
    one pace they stay at 24, which leaves a loaded machine's jitter room under Telegram's 30."""
    clock = RunningClock(SystemClock().now())
    messages = [(2100 + i, f"message {i}") for i in range(90)]
    await enqueue(sessionmaker, clock.now(), *messages)

    async with FakeTelegram(enforce_rate_limit=30.0) as strict:
        one, two = (make_sender(strict.base_url, rate=24.0) for _ in range(2))
        reports = await drain_until_settled(sessionmaker, clock, one, two)

    assert strict.rate_limited == 0
    assert Counter((m.chat_id, m.text) for m in strict.sent) == Counter(messages)
    assert reports[0].sent > 0 and reports[1].sent > 0  # both really took part
    assert {r.status for r in await rows(sessionmaker)} == {OutboxStatus.sent}


@pytest.mark.faults
async def test_a_429_storm_slows_the_sender_without_loss(
    fake_telegram: FakeTelegram,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_sender: MakeSender,
) -> None:
    clock = RunningClock(SystemClock().now())
    messages = [(2200 + i, f"storm {i}") for i in range(12)]
    await enqueue(sessionmaker, clock.now(), *messages)
    fake_telegram.fail_next("sendMessage", status=429, retry_after=1, times=4)

    reports = await drain_until_settled(sessionmaker, clock, make_sender())

    assert sum(r.rate_limited for r in reports) == 4
    assert Counter((m.chat_id, m.text) for m in fake_telegram.sent) == Counter(messages)
    sends = [c.at for c in fake_telegram.calls if c.method == "sendMessage"]
    refused = [c.at for c in fake_telegram.calls if c.status == 429]
    for at in refused:  # until retry_after has passed, nothing new leaves
        assert len([s for s in sends if at < s < at + 0.95]) <= 1  # one already on its way
    pauses: list[float] = []  # a refusal that arrives during a pause does not start another
    for at in refused:
        if not pauses or at >= pauses[-1] + 0.95:
            pauses.append(at)
    assert sends[-1] - sends[0] >= 0.95 * len(pauses)  # a second for each pause
    assert {r.status for r in await rows(sessionmaker)} == {OutboxStatus.sent}


@pytest.mark.faults
async def test_a_user_who_blocked_the_bot_is_unreachable_until_they_send_start(
    running_bot: RunningBot, make_sender: MakeSender
) -> None:
    fake, sessionmaker, clock = running_bot.fake, running_bot.sessionmaker, running_bot.clock
    async with UnitOfWork(sessionmaker) as uow:
        site = await make_site(uow.session)
        for telegram_id in (2301, 2302):
            person = await make_person(uow.session, telegram_id=telegram_id, name="志愿者")
            await make_volunteer(uow.session, site, person=person)
        await uow.commit()
    await enqueue(sessionmaker, clock.now(), (2301, "提醒一"), (2302, "提醒二"))
    fake.block(2301)

    await make_sender().drain(clock)

    assert [m.chat_id for m in fake.sent] == [2302]  # the others still get theirs
    assert await unreachable_at(sessionmaker) == {2301: clock.now(), 2302: None}

    fake.unblock(2301)
    fake.user(2301).send_text("/start")
    await fake.user(2301).next_message()  # the menu: the /start was handled and committed

    assert await unreachable_at(sessionmaker) == {2301: None, 2302: None}


async def unreachable_at(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[int, dt.datetime | None]:
    """Since when each Telegram account is unreachable, by Telegram id."""
    async with UnitOfWork(sessionmaker) as uow:
        accounts = await uow.session.scalars(
            select(Account).where(Account.channel == Channel.telegram)
        )
        return {int(a.external_id): a.unreachable_at for a in accounts}


class KillingTelegram(FakeTelegram):
    """Kills a process with SIGKILL the moment the `kill_at`-th message reaches it: that
    request left; the sender dies before its answer."""

    def __init__(self, *, kill_at: int, **options: Any) -> None:
        super().__init__(**options)
        self.kill_at = kill_at
        self.victim: int | None = None
        self.killed_at: str | None = None  # the text whose request the sender died awaiting

    def _send_message(self, call: Call) -> JSON:
        answer = super()._send_message(call)
        if self.victim is not None and len(self.sent) == self.kill_at:
            os.kill(self.victim, signal.SIGKILL)
            self.victim, self.killed_at = None, self.sent[-1].text
        return answer


@pytest.mark.faults
async def test_a_sender_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_sender: MakeSender,
) -> None:
    start = SystemClock().now()
    messages = [(2400 + n % 30, f"killed {n}") for n in range(60)]
    await enqueue(sessionmaker, start, *messages)

    async with KillingTelegram(kill_at=20, enforce_rate_limit=30.0) as fake:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")},
            "BOT_TOKEN": "4242:TEST-TOKEN",
            "BOT_API_URL": fake.base_url,
            "DATABASE_URL": settings.database_url,
            "MEDIA_DIR": str(settings.media_dir),
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "guanai.cli",
            "jobs",
            "run",
            "send-outbox",
            env=env,
            cwd=tempfile.gettempdir(),  # away from any developer .env
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        fake.victim = worker.pid
        assert await asyncio.wait_for(worker.wait(), timeout=90) == -signal.SIGKILL

        # a new sender, once the dead one's claims have timed out
        later = RunningClock(start + outbox.CLAIM_TIMEOUT + dt.timedelta(minutes=1))
        reports = await drain_until_settled(sessionmaker, later, make_sender(fake.base_url))

    arrived = Counter(m.text for m in fake.sent)
    assert max(arrived.values()) == 1  # nothing twice
    status = {shown(r)["text"]: r.status for r in await rows(sessionmaker)}
    uncertain = {text for text, s in status.items() if s is OutboxStatus.uncertain}
    sent = {text for text, s in status.items() if s is OutboxStatus.sent}
    assert sent | uncertain == {text for _, text in messages}  # nothing lost
    assert sent <= set(arrived)
    # only requests that really left can be uncertain: the one the sender died awaiting
    # (and, were the machine slow enough, the next one, already on its way)
    assert fake.killed_at in uncertain
    assert uncertain <= set(arrived)
    assert sum(r.uncertain for r in reports) == len(uncertain)
    async with UnitOfWork(sessionmaker) as uow:
        listed = await outbox.uncertain(uow.session)
    assert {u.id for u in listed} == {
        r.id for r in await rows(sessionmaker) if shown(r)["text"] in uncertain
    }  # what `guanai outbox uncertain` shows the operator


# ---------------------------------------------------------------------- the operator's word


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)


async def guanai(*argv: str) -> int:
    """The command in a thread: it runs its own event loop, as it does from a shell."""
    return await asyncio.to_thread(cli_main, list(argv))


async def uncertain_rows(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock
) -> tuple[int, int, int]:
    """Two messages cut off mid-send (one a reminder), and one that was sent."""
    first, second, sent = await enqueue(
        sessionmaker, clock.now(), (2501, "李小花的家访提醒"), (2502, "x"), (2503, "sent")
    )
    async with UnitOfWork(sessionmaker) as uow:
        for row in await outbox.claim(uow.session, now=clock.now(), limit=3):
            if row.id == sent:
                await outbox.mark_sent(uow.session, row.id, sent_ref="1", at=clock.now())
            else:
                await outbox.mark_uncertain(uow.session, row.id, error="TelegramNetworkError")
        (await uow.session.get_one(OutboxMessage, first)).dedupe_key = "reminder:17:2026-11-16"
        await uow.commit()
    return first, second, sent


async def test_the_operator_lists_uncertain_messages_then_resends_or_drops_them(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second, sent = await uncertain_rows(sessionmaker, clock)

    assert await guanai("outbox", "uncertain") == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == [
        f"消息 {first}（message reminder）于 2026-11-16 10:00:00 发给 telegram:2501，"
        "不确定是否送达。",
        f"消息 {second}（message）于 2026-11-16 10:00:00 发给 telegram:2502，不确定是否送达。",
    ]  # ids, the recipient, the kind and when; never the text with a child's name

    assert await guanai("outbox", "resend", str(first)) == 0
    assert capsys.readouterr().out == f"消息 {first} 将重新发送。\n"
    assert await guanai("outbox", "drop", str(second)) == 0
    assert capsys.readouterr().out == f"消息 {second} 已放弃，不会再发送。\n"

    status = {r.id: (r.status, r.not_before) for r in await rows(sessionmaker)}
    assert status[first][0] is OutboxStatus.pending  # the next drain sends it
    assert status[second][0] is OutboxStatus.failed
    assert status[sent][0] is OutboxStatus.sent
    assert await guanai("outbox", "uncertain") == 0
    assert capsys.readouterr().out == "没有不确定是否送达的消息。\n"


async def test_resend_and_drop_refuse_a_message_that_is_not_uncertain_and_change_nothing(
    cli_env: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, _, sent = await uncertain_rows(sessionmaker, clock)
    before = [(r.id, r.status) for r in await rows(sessionmaker)]

    assert await guanai("outbox", "resend", str(first), str(sent)) == 1
    assert capsys.readouterr().err == f"错误：消息 {sent} 并非不确定是否送达，未做任何更改。\n"
    assert await guanai("outbox", "drop", "999999") == 1
    assert capsys.readouterr().err == "错误：没有编号为 999999 的待发消息，未做任何更改。\n"

    assert [(r.id, r.status) for r in await rows(sessionmaker)] == before
