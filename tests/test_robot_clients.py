"""The robot clients against fakes that behave like WeCom, DingTalk and Feishu, over HTTP:
signed requests arrive, throttle answers delay without losing or doubling a message, a
refused key breaks the robot, and the pace in PostgreSQL is one for every sender."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.robots.client import Address, RobotClient
from bot.robots.deliver import SharedPace, address, deliver, group
from bot.robots.platforms import Outcome, Request
from bot.robots.render import Attachment, Group, Notice, requests
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.delivery import robots
from domain.kinds import RobotKind
from domain.models import AuditEntry, Robot
from tests.factories import make_region
from tests.fakes.robots import FakeRobots

SECRETS = {RobotKind.wecom: None, RobotKind.dingtalk: "SECtest-secret", RobotKind.feishu: "fs-key"}
NOW = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)


def same(text: str) -> str:
    return text


@pytest.fixture
async def fake() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


async def add_robot(
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeRobots,
    kind: RobotKind,
    **extra: object,
) -> tuple[Robot, str]:
    url, token = fake.robot(kind, SECRETS[kind])
    async with UnitOfWork(sessionmaker) as uow:
        region = await make_region(uow.session)
        robot = await robots.add_robot(
            uow.session,
            region_code=region.code,
            kind=kind,
            url=url,
            secret=SECRETS[kind],
            mobiles=["13812345678"],
            mask_child_names=bool(extra.get("mask", False)),
            actor_id=None,
            at=NOW,
        )
        await uow.commit()
    return robot, token


ESCALATION = Notice(
    title="逾期家访：张小明",
    lines=("张小明（中和小学）的家访已逾期 12 天。",),
    actions=("请在 Telegram 中按“我来处理”。",),
    responsible="王老师",
    phone="13900001111",
    mention=True,
    child_names=("张小明",),
)


@pytest.mark.parametrize("kind", list(RobotKind))
async def test_a_signed_escalation_arrives_at_each_platform(
    kind: RobotKind,
    fake: FakeRobots,
    http: ClientSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    robot, token = await add_robot(sessionmaker, fake, kind, mask=True)
    sent = requests(ESCALATION, group(robot), same)

    delivery = await deliver(
        RobotClient(http, bases=fake.bases),
        SharedPace(sessionmaker),
        robot.id,
        address(robot),
        sent,
    )

    assert delivery.sent == len(sent) == 1
    assert delivery.answer is not None and delivery.answer.outcome is Outcome.ok
    [arrived] = fake.received(token)
    said = str(arrived)
    assert ("张*明" in said or "张＊明" in said) and "张小明" not in said
    assert "13900001111" in said


async def test_a_roster_reaches_wecom_as_markdown_file_and_image(
    fake: FakeRobots, http: ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    robot, token = await add_robot(sessionmaker, fake, RobotKind.wecom)
    workbook = b"PK\x03\x04" + b"x" * 50_000
    chart = b"\x89PNG\r\n\x1a\n" + b"y" * 10_000
    roster = Notice(
        title="本周值班表",
        lines=tuple(f"周{day}：李老师" for day in "一二三四五"),
        files=(Attachment("值班表.xlsx", workbook), Attachment("值班.png", chart, image=True)),
    )
    sent = requests(roster, group(robot), same)

    delivery = await deliver(
        RobotClient(http, bases=fake.bases),
        SharedPace(sessionmaker),
        robot.id,
        address(robot),
        sent,
    )

    assert delivery.sent == 3
    markdown, file, image = fake.received(token)
    assert markdown["msgtype"] == "markdown" and "周一：李老师" in markdown["markdown"]["content"]
    assert file["file"]["name"] == "值班表.xlsx" and file["file"]["data"] == workbook
    assert image["msgtype"] == "image"


async def test_signing_uses_the_wall_clock_and_a_skewed_one_is_refused(
    fake: FakeRobots, http: ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for kind, code in ((RobotKind.dingtalk, 310000), (RobotKind.feishu, 19021)):
        robot, token = await add_robot(sessionmaker, fake, kind)
        [request] = requests(ESCALATION, group(robot), same)
        skewed = RobotClient(http, bases=fake.bases, wall=lambda: time.time() - 2 * 3600)
        answer = await skewed.send(address(robot), request)
        assert (answer.outcome, answer.code) == (Outcome.broken, code)
        answer = await RobotClient(http, bases=fake.bases).send(address(robot), request)
        assert answer.outcome is Outcome.ok
        assert len(fake.received(token)) == 1


@dataclass
class FreePace:
    """A pace that lets everything through (another program shares the robot, say) but
    keeps the platform's holds, in the fake's time."""

    fake: FakeRobots
    held: dict[int, float] = field(default_factory=dict)

    async def take(self, robot_id: int, kind: RobotKind) -> dt.timedelta:
        left = self.held.get(robot_id, 0.0) - self.fake.now()
        return dt.timedelta(seconds=max(left, 0.0))

    async def hold(self, robot_id: int, for_: dt.timedelta) -> None:
        self.held[robot_id] = self.fake.now() + for_.total_seconds()


@pytest.mark.parametrize(
    ("kind", "code", "held"),
    [
        (RobotKind.wecom, 45009, dt.timedelta(minutes=1)),
        (RobotKind.dingtalk, 130101, dt.timedelta(minutes=10)),
        (RobotKind.feishu, 11232, dt.timedelta(seconds=30)),
    ],
)
async def test_too_fast_delays_messages_without_losing_or_doubling_one(
    kind: RobotKind,
    code: int,
    held: dt.timedelta,
    fake: FakeRobots,
    http: ClientSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    robot, token = await add_robot(sessionmaker, fake, kind)
    g = Group(kind)
    # 30 messages, one of them long enough to go in parts, as a sender would queue them
    long_lines = tuple(f"第{n}行：逾期家访，请负责人处理。" + "说明" * 40 for n in range(200))
    queue: list[list[Request]] = [
        requests(Notice(f"消息{n}", (f"第{n}条",)), g, same) for n in range(30)
    ]
    queue[17] = requests(Notice("长消息", long_lines), g, same)
    assert len(queue[17]) > 2
    pace, client = FreePace(fake), RobotClient(http, bases=fake.bases)
    progress = [0] * len(queue)
    delays: list[dt.timedelta] = []

    for index, sent in enumerate(queue):
        while progress[index] < len(sent):
            delivery = await deliver(
                client, pace, robot.id, address(robot), sent, start=progress[index]
            )
            progress[index] = delivery.sent
            if delivery.wait:
                delays.append(delivery.wait)
                fake.advance(delivery.wait.total_seconds())  # the time passes, nobody sleeps
            else:
                assert delivery.answer is not None and delivery.answer.outcome is Outcome.ok

    assert (token, code) in fake.refused
    assert held in delays
    wanted = [str(request.body) for sent in queue for request in sent]  # type: ignore[union-attr]
    arrived = [str(_without_signature(body)) for body in fake.received(token)]
    assert arrived == wanted  # each once, in order


def _without_signature(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k not in ("timestamp", "sign")}


@pytest.mark.parametrize(
    ("kind", "code"),
    [(RobotKind.wecom, 93000), (RobotKind.dingtalk, 300001), (RobotKind.feishu, 19001)],
)
async def test_an_invalid_key_breaks_the_robot(
    kind: RobotKind,
    code: int,
    fake: FakeRobots,
    http: ClientSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    robot, token = await add_robot(sessionmaker, fake, kind)
    fake.robots[token].removed = True  # someone removed the robot from the group
    sent = requests(ESCALATION, group(robot), same)

    delivery = await deliver(
        RobotClient(http, bases=fake.bases),
        SharedPace(sessionmaker),
        robot.id,
        address(robot),
        sent,
    )

    assert delivery.sent == 0 and delivery.answer is not None
    assert (delivery.answer.outcome, delivery.answer.code) == (Outcome.broken, code)
    async with UnitOfWork(sessionmaker) as uow:
        reason = f"{code} {delivery.answer.words}"
        assert await robots.mark_broken(uow.session, robot.id, reason=reason, at=NOW)
        assert not await robots.mark_broken(uow.session, robot.id, reason=reason, at=NOW)
        await uow.commit()
    async with sessionmaker() as session:
        assert await robots.working_robots(session, [robot.region_id]) == []
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "robot.broken"))
        assert entry is not None and entry.subject_id == robot.id
        assert token not in str(entry.details)


async def test_two_senders_share_one_pace_in_postgresql(
    db_url: str, fake: FakeRobots, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    robot, _ = await add_robot(sessionmaker, fake, RobotKind.wecom)
    other = make_engine(db_url, pool_size=5)  # a second worker: its own connections
    try:
        paces = [SharedPace(sessionmaker), SharedPace(make_sessionmaker(other))]
        waits = await asyncio.gather(
            *(paces[n % 2].take(robot.id, RobotKind.wecom) for n in range(30))
        )
    finally:
        await other.dispose()
    taken = [wait for wait in waits if wait == dt.timedelta(0)]
    assert len(taken) == 20
    assert all(
        dt.timedelta(seconds=55) < wait <= dt.timedelta(seconds=62) for wait in waits if wait
    )

    await paces[0].hold(robot.id, dt.timedelta(minutes=10))
    async with sessionmaker() as session:
        wait = await robots.take_slot(session, robot.id, robots.LIMITS[RobotKind.wecom])
    assert dt.timedelta(minutes=9) < wait <= dt.timedelta(minutes=10)


async def test_a_robot_address_never_shows_its_url() -> None:
    secret = Address(
        RobotKind.dingtalk, "https://oapi.dingtalk.com/robot/send?access_token=abc", "SECx"
    )
    assert "abc" not in repr(secret) and "SECx" not in repr(secret)


async def test_nothing_logged_carries_the_url_or_the_secret(
    fake: FakeRobots,
    http: ClientSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    robot, token = await add_robot(sessionmaker, fake, RobotKind.dingtalk)
    client = RobotClient(http, bases=fake.bases)
    with caplog.at_level(logging.DEBUG):
        sent = requests(ESCALATION, group(robot), same)
        await deliver(client, SharedPace(sessionmaker), robot.id, address(robot), sent)
        fake.robots[token].removed = True
        await deliver(client, SharedPace(sessionmaker), robot.id, address(robot), sent)
    assert token not in caplog.text and "SECtest-secret" not in caplog.text


async def test_an_answer_cut_off_is_uncertain_and_not_sent_again_by_itself(
    fake: FakeRobots, http: ClientSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    robot, token = await add_robot(sessionmaker, fake, RobotKind.feishu)
    fake.robots[token].cut_next = 1
    sent = requests(ESCALATION, group(robot), same)

    delivery = await deliver(
        RobotClient(http, bases=fake.bases),
        SharedPace(sessionmaker),
        robot.id,
        address(robot),
        sent,
    )

    assert delivery.answer is not None and delivery.answer.outcome is Outcome.uncertain
    assert delivery.sent == 0  # the caller records it as uncertain: it did arrive
    assert len(fake.received(token)) == 1
