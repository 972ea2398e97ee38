"""/robot in chat: a coordinator pastes a group robot's URL (and secret); guanai adds it
for their scope, sends a test at once, and says whether it arrived, never showing the
URL or the secret back whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.kinds import RobotKind
from domain.models import Channel, RegionKind, Robot
from domain.people import identity, regions
from guanai.settings import Settings
from tests.conftest import RunningBot
from tests.fakes.robots import FakeRobots

WANG = 9001


@pytest.fixture
async def fake_robots() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings(settings: Settings, fake_robots: FakeRobots) -> Settings:
    """The bot posts to the fake platforms."""
    return settings.model_copy(
        update={
            "wecom_api_url": fake_robots.base_url,
            "dingtalk_api_url": fake_robots.base_url,
            "feishu_api_url": fake_robots.base_url,
        }
    )


async def seed(sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await regions.add_region(
            uow.session, code="T1", name="中和镇", kind=RegionKind.township, parent_code=None, at=at
        )
        await identity.add_coordinator(
            uow.session,
            channel=Channel.telegram,
            external_id=str(WANG),
            name="王老师",
            scope_code="T1",
            at=at,
        )
        await uow.commit()


async def test_a_pasted_robot_is_added_for_the_scope_and_tested_at_once(
    running_bot: RunningBot, fake_robots: FakeRobots
) -> None:
    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    await seed(sessionmaker, running_bot.clock.now())
    url, token = fake_robots.robot(RobotKind.dingtalk, "SECchat-secret")
    wang = fake.user(WANG)

    wang.send_text("/robot")
    asked = await wang.next_message()
    assert "中和镇" in (asked.text or "")
    wang.send_text(f"{url}\nSECchat-secret")
    told = await wang.next_message()

    assert "✅" in (told.text or "")
    assert token not in (told.text or "") and "SECchat-secret" not in (told.text or "")
    [arrived] = fake_robots.received(token)  # the test message, signed
    assert "中和镇" in str(arrived)
    async with sessionmaker() as session:
        robot = await session.scalar(select(Robot))
        assert robot is not None and robot.kind is RobotKind.dingtalk
        assert robot.added_by is not None and robot.broken_at is None


async def test_a_robot_its_platform_refuses_is_added_broken_and_the_answer_says_so(
    running_bot: RunningBot, fake_robots: FakeRobots
) -> None:
    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    await seed(sessionmaker, running_bot.clock.now())
    url, token = fake_robots.robot(RobotKind.wecom)
    fake_robots.robots[token].removed = True
    wang = fake.user(WANG)

    wang.send_text("/robot")
    await wang.next_message()
    wang.send_text(url)
    told = await wang.next_message()

    assert "⚠️" in (told.text or "") and token not in (told.text or "")
    async with sessionmaker() as session:
        robot = await session.scalar(select(Robot))
        assert robot is not None and robot.broken_at is not None


async def test_a_url_of_no_platform_is_refused_in_one_line(running_bot: RunningBot) -> None:
    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    await seed(sessionmaker, running_bot.clock.now())
    wang = fake.user(WANG)

    wang.send_text("/robot")
    await wang.next_message()
    wang.send_text("https://example.com/hook?key=abcdefghij")
    told = await wang.next_message()

    assert "\n" not in (told.text or "") and "Feishu" in (told.text or "")
    async with sessionmaker() as session:
        assert await session.scalar(select(Robot)) is None
