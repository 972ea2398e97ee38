"""`guanai robots add | list | test | remove`, as an operator runs them, against fakes of
the three platforms; every bad input is one line in the operator's language."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.kinds import RegionKind, RobotKind
from domain.models import AuditEntry, Robot
from tests.cli_support import Guanai
from tests.factories import make_region
from tests.fakes.robots import FakeRobots


@pytest.fixture
async def fake() -> AsyncIterator[FakeRobots]:
    fake = FakeRobots()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def cli(
    guanai: Guanai, db_url: str, fake: FakeRobots, sessionmaker: async_sessionmaker[AsyncSession]
) -> Guanai:
    guanai.env |= {
        "DATABASE_URL": db_url,
        "WECOM_API_URL": fake.base_url,
        "DINGTALK_API_URL": fake.base_url,
        "FEISHU_API_URL": fake.base_url,
    }
    async with UnitOfWork(sessionmaker) as uow:
        district = await make_region(uow.session, code="XS", name="秀山区")
        await make_region(
            uow.session, parent=district, kind=RegionKind.township, code="ZH", name="中和镇"
        )
        await uow.commit()
    return guanai


async def test_add_list_test_and_remove_a_robot_of_each_kind(
    cli: Guanai, fake: FakeRobots, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    wecom, wecom_token = fake.robot(RobotKind.wecom)
    dingtalk, dingtalk_token = fake.robot(RobotKind.dingtalk, secret="SECding")
    feishu, feishu_token = fake.robot(RobotKind.feishu, secret="fei-secret")

    added = await cli(
        "robots", "add", "ZH", "--kind", "wecom", "--url", wecom, "--mobile", "13812345678"
    )
    assert (added.code, added.err) == (0, "")
    assert (
        added.out
        == "已为 ZH 添加机器人 1（企业微信）；用 `guanai robots test 1` 发一条测试消息。\n"
    )
    for kind, url, secret in (("dingtalk", dingtalk, "SECding"), ("feishu", feishu, "fei-secret")):
        ran = await cli("robots", "add", "XS", "--kind", kind, "--url", url, "--secret", secret)
        assert ran.code == 0, ran.err

    listed = await cli("robots", "list", LANG="en_US.UTF-8")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert lines[0].startswith("2 DingTalk of XS 秀山区: https://oapi.dingtalk.com/…")
    assert "signed" in lines[0]
    assert lines[2].startswith("1 WeCom of ZH 中和镇: https://qyapi.weixin.qq.com/…")
    assert "@mentions 13812345678" in lines[2]
    for token in (wecom_token, dingtalk_token, feishu_token):
        assert token[:-4] not in listed.out  # never the whole credential
    assert "SECding" not in listed.out and "fei-secret" not in listed.out
    only = await cli("robots", "list", "ZH")
    assert len(only.out.splitlines()) == 1

    for robot_id, token in ((1, wecom_token), (2, dingtalk_token), (3, feishu_token)):
        tested = await cli("robots", "test", str(robot_id))
        assert tested.code == 0, tested.err
        assert tested.out.startswith(f"机器人 {robot_id}（")
        assert "已收下测试消息：0 " in tested.out
        assert "中和镇" in str(fake.received(token)) or "秀山区" in str(fake.received(token))

    removed = await cli("robots", "remove", "1")
    assert removed.out == "已删除机器人 1（企业微信）。\n"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Robot)) == 2
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions == ["robot.add"] * 3 + ["robot.remove"]


async def test_a_test_that_the_platform_refuses_marks_the_robot_broken_and_a_good_one_mends_it(
    cli: Guanai, fake: FakeRobots, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    url, token = fake.robot(RobotKind.dingtalk, secret="SECright")
    await cli("robots", "add", "ZH", "--kind", "dingtalk", "--url", url, "--secret", "SECright")
    fake.robots[token].secret = "SECchanged"  # someone reset the secret in the group

    refused = await cli("robots", "test", "1", LANG="en_US.UTF-8")
    assert refused.code == 1
    assert refused.out.startswith(
        "Robot 1 (DingTalk) is refused by its platform, and is marked broken: 310000 sign"
    )
    listed = await cli("robots", "list", LANG="en_US.UTF-8")
    assert "BROKEN since" in listed.out and "310000 sign not match" in listed.out

    fake.robots[token].secret = "SECright"
    mended = await cli("robots", "test", "1")
    assert mended.code == 0
    async with sessionmaker() as session:
        robot = await session.get(Robot, 1)
        assert robot is not None and robot.broken_at is None


@pytest.mark.parametrize(
    ("argv", "zh", "en"),
    [
        (
            ["ZH", "--kind", "wechat", "--url", "https://x"],
            "错误：--kind 不能是 'wechat'：",
            "error: --kind cannot be 'wechat': choose from",
        ),
        (
            [
                "ZH",
                "--kind",
                "wecom",
                "--url",
                "https://oapi.dingtalk.com/robot/send?access_token=abcdef123456",
            ],
            "错误：这不是企业微信机器人的 Webhook 地址；它的样子是 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…\n",
            "error: This is not a WeCom robot's webhook URL; it looks like https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…\n",
        ),
        (
            [
                "ZH",
                "--kind",
                "dingtalk",
                "--url",
                "https://oapi.dingtalk.com/robot/send?access_token=abcdef123456",
            ],
            "错误：钉钉机器人需要密钥：请开启签名（安全设置 → 加签），并用 --secret 给出。\n",
            "error: A DingTalk robot needs its secret: turn on signing (安全设置 → 加签)",
        ),
        (
            [
                "ZH",
                "--kind",
                "feishu",
                "--url",
                "https://open.feishu.cn/open-apis/bot/v2/hook/abcdef123456",
            ],
            "错误：飞书机器人需要密钥：请开启签名（安全设置 → 签名校验），并用 --secret 给出。\n",
            "error: A Feishu robot needs its secret: turn on signing (安全设置 → 签名校验)",
        ),
        (
            [
                "NOPE",
                "--kind",
                "wecom",
                "--url",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef123456",
            ],
            "错误：没有代码为 NOPE 的站点或区域。\n",
            "error: No site or region has the code NOPE.\n",
        ),
        (
            [
                "ZH",
                "--kind",
                "wecom",
                "--url",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef123456",
                "--mobile",
                "12345",
            ],
            "错误：12345 不是大陆手机号（11 位，以 1 开头）。\n",
            "error: 12345 is not a mainland mobile number (11 digits, starting with 1).\n",
        ),
    ],
)
async def test_every_bad_input_is_one_line_in_the_operators_language(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession], argv: list[str], zh: str, en: str
) -> None:
    chinese = await cli("robots", "add", *argv)
    english = await cli("robots", "add", *argv, LANG="en_US.UTF-8")
    for ran, expected in ((chinese, zh), (english, en)):
        assert ran.code != 0 and ran.out == ""
        assert ran.err.startswith(expected), ran.err
        assert len(ran.err.strip().splitlines()) == 1
        assert "abcdef123456" not in ran.err
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Robot)) == 0


async def test_the_same_robot_twice_and_unknown_ids_are_refused(
    cli: Guanai, fake: FakeRobots
) -> None:
    url, _ = fake.robot(RobotKind.wecom)
    assert (await cli("robots", "add", "ZH", "--kind", "wecom", "--url", url)).code == 0
    again = await cli("robots", "add", "XS", "--kind", "wecom", "--url", url)
    assert again.err == "错误：这个机器人已经添加过了，编号 1。\n"
    assert (await cli("robots", "test", "9")).err == "错误：没有编号为 9 的机器人。\n"
    assert (await cli("robots", "remove", "9")).err == "错误：没有编号为 9 的机器人。\n"
    bad = await cli("robots", "remove", "x")
    assert bad.code == 2 and "机器人编号是一个数字：x" in bad.err


async def test_a_region_with_robots_is_not_removed(cli: Guanai, fake: FakeRobots) -> None:
    url, _ = fake.robot(RobotKind.wecom)
    await cli("robots", "add", "ZH", "--kind", "wecom", "--url", url)
    refused = await cli("site", "remove", "ZH")
    assert refused.code == 1 and "群机器人（1 个）" in refused.err
