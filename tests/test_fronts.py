"""A message is content; each front renders it its own way, and a new front plugs in
beside Telegram without a change in the core (`tests/fakes/recorded.py`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import outgoing
from bot.telegram.front import TelegramFront
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.delivery import messaging, outbox
from domain.delivery.addresses import Address
from domain.delivery.content import (
    Action,
    ActionKind,
    Attachment,
    AttachmentKind,
    Block,
    Content,
    Emphasis,
    Span,
    markdown,
    plain_text,
)
from domain.delivery.messaging import File, Outgoing, Recipient
from domain.delivery.sending import Blocked, Deferred, Refused
from domain.models import OutboxMessage, OutboxStatus
from guanai.settings import Settings
from tests.fakes import FakeTelegram
from tests.fakes.recorded import CHANNEL, RecordingFront
from tests.outbox_support import tg
from workers import jobs
from workers.context import Deps

TAKE = [
    [
        Action(ActionKind.take_escalation, "1. ✋ 我来处理", 12),
        Action(ActionKind.reassign_escalation, "1. 🔁 改派", 12),
        Action(ActionKind.resolve_escalation, "1. ✅ 已解决", 12),
    ],
    [Action(ActionKind.open_incident, "📋 详情", 13)],
]
WARNING = Content(
    blocks=(
        Block((Span("⏰ 逾期提醒："), Span("小明", Emphasis.strong), Span(" <中和小学>"))),
        Block(),
        Block.of("事项：家访", Emphasis.quiet),
    ),
    actions=tuple(tuple(row) for row in TAKE),
)


def test_content_goes_to_json_and_back_unchanged() -> None:
    with_file = Content.lines(
        ["值班表"], attachment=Attachment(AttachmentKind.document, "outbox/r/1.xlsx", "值班表.xlsx")
    )
    for content in (WARNING, with_file, WARNING.replacing("77"), Content.lines(["你好", "", "x"])):
        assert Content.from_json(content.to_json()) == content


def test_telegram_shows_emphasis_as_html_and_actions_as_buttons_with_their_ids() -> None:
    method, payload = outgoing.call(WARNING)

    assert method == "sendMessage" and payload["parse_mode"] == "HTML"
    assert payload["text"] == "⏰ 逾期提醒：<b>小明</b> &lt;中和小学&gt;\n\n<i>事项：家访</i>"
    assert payload["reply_markup"]["inline_keyboard"] == [
        [
            {"text": "1. ✋ 我来处理", "callback_data": "esc:12:take"},
            {"text": "1. 🔁 改派", "callback_data": "esc:12:reassign"},
            {"text": "1. ✅ 已解决", "callback_data": "esc:12:resolve"},
        ],
        [{"text": "📋 详情", "callback_data": "inc:13"}],
    ]
    # a plain message goes as it always did: no parse mode, so nothing to escape
    assert outgoing.call(Content.lines(["a < b"])) == ("sendMessage", {"text": "a < b"})
    edit = outgoing.call(Content.lines(["已处理"]).replacing("41"))
    assert edit == ("editMessageText", {"text": "已处理", "message_id": 41})


def test_a_front_without_buttons_gets_the_actions_as_words() -> None:
    assert plain_text(WARNING) == (
        "⏰ 逾期提醒：小明 <中和小学>\n\n事项：家访\n\n"
        "1. ✋ 我来处理 · 1. 🔁 改派 · 1. ✅ 已解决\n📋 详情"
    )
    assert markdown(WARNING) == (
        "⏰ 逾期提醒：**小明** \\<中和小学\\>\n\n*事项：家访*\n\n"
        "**1. ✋ 我来处理** · **1. 🔁 改派** · **1. ✅ 已解决**\n**📋 详情**"
    )


def test_settling_adds_a_line_and_drops_only_that_escalations_actions() -> None:
    settled = WARNING.followed_by("✋ 小明：王老师正在处理").without_actions_on(12)

    assert settled.text.endswith("事项：家访\n\n✋ 小明：王老师正在处理")
    assert [[a.subject for a in row] for row in settled.actions] == [[13]]


async def test_a_message_queued_for_a_new_front_reaches_it_and_telegram_keeps_its_own(
    fake_telegram: FakeTelegram,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    room = Recipient(1, "王老师", "zh", Address(CHANNEL, "room-7"), unreachable=False)
    chat = Recipient(2, "李老师", "zh", tg(4242), unreachable=False)
    chart = File(AttachmentKind.picture, "完成情况.png", b"\x89PNG chart", ".png")
    async with UnitOfWork(sessionmaker) as uow:
        for n, (to, message) in enumerate(
            (
                (room, Outgoing(WARNING)),
                (room, Outgoing(Content.lines(["本月完成情况"]), chart)),
                (chat, Outgoing(Content.lines(["请核对"]))),
            )
        ):
            queued = await messaging.queue(
                uow.session,
                to=to,
                message=message,
                not_before=clock.now(),
                dedupe_key=f"test:{n}",
                media_dir=tmp_path,
            )
            assert queued is not None and queued.status is OutboxStatus.pending
        await uow.commit()
    recorder = RecordingFront(sessionmaker, media_dir=tmp_path)
    # registered where the wiring registers a front: beside Telegram's, in the workers
    telegram = TelegramFront(settings, sessionmaker)
    deps = Deps(settings, sessionmaker, clock, telegram, [recorder.sender])

    try:
        report = await jobs.send_outbox(deps, clock.now(), None)
    finally:
        await deps.close()

    assert report["sent"] == 3
    assert [(r.target, r.text, r.file) for r in recorder.sent] == [
        ("room-7", plain_text(WARNING), None),
        ("room-7", "本月完成情况\n\n📎 完成情况.png", b"\x89PNG chart"),
    ]
    assert [(m.chat_id, m.text) for m in fake_telegram.sent] == [(4242, "请核对")]


async def test_a_fronts_sender_records_each_answer_as_the_outbox_rules_say(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock, tmp_path: Path
) -> None:
    front = RecordingFront(sessionmaker, media_dir=tmp_path)
    async with UnitOfWork(sessionmaker) as uow:
        for target in "abcde":
            await outbox.enqueue(
                uow.session,
                to=Address(CHANNEL, target),
                content=Content.lines([f"to {target}"]),
                not_before=clock.now(),
            )
        await uow.commit()
    front.fail_next(
        Refused("400: bad request"),
        Blocked("403: left the room"),
        TimeoutError("no answer"),
        Deferred("503: try later", retry_after=60),
    )

    report = await front.sender.drain(clock)

    async with UnitOfWork(sessionmaker) as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        uow.session.expunge_all()
    assert [(r.target, r.status) for r in rows] == [
        ("a", OutboxStatus.failed),
        ("b", OutboxStatus.failed),
        ("c", OutboxStatus.uncertain),  # it may have arrived: never sent again by itself
        ("d", OutboxStatus.pending),
        ("e", OutboxStatus.sent),
    ]
    assert rows[3].not_before == clock.now() + dt.timedelta(seconds=60)
    assert rows[4].sent_ref == "1" and [r.text for r in front.sent] == ["to e"]
    assert (report.sent, report.failed, report.uncertain, report.deferred) == (1, 2, 1, 1)
