"""Robots as an outbox channel, end to end over HTTP: what reaches a region's coordinators
in Telegram reaches its WeCom, DingTalk and Feishu robots too, through the workers'
`send-outbox` and the fakes of the three platforms."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.robots.outbox import RobotOutboxSender
from bot.telegram.front import TelegramFront
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.delivery import robots
from domain.delivery.content import Content
from domain.delivery.messaging import Outgoing
from domain.kinds import RobotKind
from domain.models import Escalation, OutboxMessage, OutboxStatus, Region, Robot, RobotPace
from domain.reports import rosters
from domain.schedule import ladder
from domain.wording import news
from domain.wording.notices import Notices
from guanai.settings import Settings
from tests.conftest import SHANGHAI
from tests.fakes.robots import FakeRobots
from tests.fakes.telegram import FakeTelegram
from tests.workers_support import Programme, make_programme
from workers import jobs
from workers.context import Deps

SECRETS = {RobotKind.wecom: None, RobotKind.dingtalk: "SECtest-secret", RobotKind.feishu: "fs-key"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.stop()


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


async def add_robots(
    session: AsyncSession, fake: FakeRobots, region: Region, kinds: list[RobotKind] | None = None
) -> dict[RobotKind, str]:
    """A robot of each kind for the region; their fake tokens."""
    tokens = {}
    for kind in kinds or list(RobotKind):
        url, token = fake.robot(kind, SECRETS[kind])
        await robots.add_robot(
            session,
            region_code=region.code,
            kind=kind,
            url=url,
            secret=SECRETS[kind],
            mobiles=["13800000001"],
            mask_child_names=False,
            actor_id=None,
            at=at(11, 1),
        )
        tokens[kind] = token
    return tokens


def said(body: dict[str, object]) -> str:
    """Everything a body says, whatever its platform's shape."""
    return json.dumps(body, ensure_ascii=False)


async def send_outbox(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    fake: FakeRobots,
    tmp_path: Path,
) -> dict[str, int]:
    """The workers' `send-outbox`, with Telegram and the robots registered as wired."""
    sender = RobotOutboxSender(sessionmaker, media_dir=tmp_path, bases=fake.bases)
    deps = Deps(settings, sessionmaker, clock, TelegramFront(settings, sessionmaker), [sender])
    try:
        return await jobs.send_outbox(deps, clock.now(), None)
    finally:
        await deps.close()


async def test_each_step_of_an_overdue_visit_reaches_every_robot_of_its_level_and_telegram(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeRobots,
    fake_telegram: FakeTelegram,
    tmp_path: Path,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        p: Programme = await make_programme(uow.session)
        p.school_head.phone = "13912345678"
        tokens = {
            level: await add_robots(uow.session, fake, region)
            for level, region in (
                ("school", p.school),
                ("township", p.township),
                ("district", p.district),
            )
        }
        await uow.commit()
    chats = {}
    for level, when in (
        ("school", at(12, 1, 9)),
        ("township", at(12, 4, 9)),
        ("district", at(12, 8, 9)),
    ):
        async with UnitOfWork(sessionmaker) as uow:
            await ladder.climb(
                uow.session, now=when, tz=SHANGHAI, text=Notices(), media_dir=tmp_path
            )
            await uow.commit()
        clock = FixedClock(when)
        report = await send_outbox(settings, sessionmaker, clock, fake, tmp_path)
        assert report["failed"] == report["uncertain"] == 0
        chats[level] = [m.chat_id for m in fake_telegram.sent]
        for reached, kinds in tokens.items():
            for kind, token in kinds.items():
                arrived = fake.received(token)
                if list(tokens).index(reached) > list(tokens).index(level):
                    assert arrived == [], (level, reached, kind)
                    continue
                # each level's robots heard of it once, at their own step
                assert len(arrived) == 1, (level, reached, kind)
                words = said(arrived[0])
                assert "小明" in words and "中和小学" in words
                assert "Telegram" in words  # the actions, as words
    # the school's robots name the school's coordinator with their phone and @mention it
    wecom = said(fake.received(tokens["school"][RobotKind.wecom])[0])
    assert "王校长" in wecom and "13912345678" in wecom
    assert "13800000001" in wecom  # the group's own mobiles are called
    assert len(set(chats["district"])) == 3  # Telegram had each level's coordinator too

    # taken: a robot cannot edit its message, so each group hears it in a line more
    async with UnitOfWork(sessionmaker) as uow:
        escalation_id = await uow.session.scalar(select(Escalation.id))
        assert escalation_id is not None
        await news.escalation_settled(
            uow.session,
            escalation_id=escalation_id,
            by="镇负责人",
            closed=False,
            at=at(12, 8, 10),
            tz=SHANGHAI,
        )
        await uow.commit()
    await send_outbox(settings, sessionmaker, FixedClock(at(12, 8, 10)), fake, tmp_path)
    for kinds in tokens.values():
        for token in kinds.values():
            [_, taken] = fake.received(token)
            assert "镇负责人" in said(taken) and "小明" in said(taken)


async def test_a_roster_reaches_wecom_as_markdown_file_and_image_and_dingtalk_as_markdown(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeRobots,
    fake_telegram: FakeTelegram,
    tmp_path: Path,
) -> None:
    now = at(12, 7, 9)
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        tokens = await add_robots(
            uow.session, fake, p.school, [RobotKind.wecom, RobotKind.dingtalk]
        )
        queued = await rosters.send_rosters(
            uow.session, now=now, tz=SHANGHAI, text=Notices(), media_dir=tmp_path
        )
        await uow.commit()
    assert queued > 0

    await send_outbox(settings, sessionmaker, FixedClock(now), fake, tmp_path)

    wecom = fake.received(tokens[RobotKind.wecom])
    assert [body["msgtype"] for body in wecom] == ["markdown", "file", "image"]
    assert "中和小学" in said(wecom[0])
    [dingtalk] = fake.received(tokens[RobotKind.dingtalk])
    assert dingtalk["msgtype"] == "markdown"
    assert ".xlsx" in said(dingtalk)  # says which file it could not take


async def queue_for(sessionmaker: async_sessionmaker[AsyncSession], region: Region, n: int) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        for number in range(n):
            message = Outgoing(Content.lines([f"通知 {number}", "小明"]))
            await robots.tell_robots(
                uow.session,
                region_id=region.id,
                say=lambda _, message=message: [message],  # type: ignore[misc]
                key=f"test:{number}",
                not_before=at(12, 1),
                media_dir=Path("/nonexistent"),
            )
        await uow.commit()


@pytest.mark.parametrize("kind", list(RobotKind))
async def test_a_throttle_answer_delays_without_losing_or_doubling(
    kind: RobotKind,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeRobots,
    tmp_path: Path,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        [token] = (await add_robots(uow.session, fake, p.school, [kind])).values()
        await uow.commit()
    await queue_for(sessionmaker, p.school, 3)
    fake.robots[token].throttle_next = 2  # 45009 / 130101 / 11232 twice
    clock = FixedClock(at(12, 1))

    for _ in range(4):
        await send_outbox(settings, sessionmaker, clock, fake, tmp_path)
        async with UnitOfWork(sessionmaker) as uow:  # the platform's hold has passed
            await uow.session.execute(update(RobotPace).values(held_until=None))
            await uow.commit()
        clock.move(dt.timedelta(minutes=11))

    arrived = [said(body) for body in fake.received(token)]
    assert [n for n in range(3) for text in arrived if f"通知 {n}" in text] == [0, 1, 2]
    assert len(fake.refused) == 2
    async with UnitOfWork(sessionmaker) as uow:
        statuses = await uow.session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.channel == robots.CHANNEL)
        )
        assert set(statuses) == {OutboxStatus.sent}


async def test_an_invalid_key_breaks_the_robot_and_its_coordinators_hear_of_it(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeRobots,
    fake_telegram: FakeTelegram,
    tmp_path: Path,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        tokens = await add_robots(uow.session, fake, p.school, [RobotKind.wecom, RobotKind.feishu])
        await uow.commit()
    await queue_for(sessionmaker, p.school, 2)
    fake.robots[tokens[RobotKind.wecom]].removed = True
    clock = FixedClock(at(12, 1))

    await send_outbox(settings, sessionmaker, clock, fake, tmp_path)
    await send_outbox(settings, sessionmaker, clock, fake, tmp_path)  # the coordinators' note

    async with UnitOfWork(sessionmaker) as uow:
        found = {r.kind: (r.id, r.broken_at) for r in await uow.session.scalars(select(Robot))}
    assert found[RobotKind.wecom][1] is not None
    assert found[RobotKind.feishu][1] is None
    assert len(fake.received(tokens[RobotKind.feishu])) == 2  # the other robot went on
    told = [m.text or "" for m in fake_telegram.sent if "robots test" in (m.text or "")]
    assert len(told) == 1 and f"robots test {found[RobotKind.wecom][0]}" in told[0]
    assert tokens[RobotKind.wecom] not in told[0]  # the key is never shown
    async with UnitOfWork(sessionmaker) as uow:  # and the overview lists it
        listed = await robots.broken_robots(uow.session, p.district.path)
        assert [robot.id for robot, _ in listed] == [found[RobotKind.wecom][0]]
