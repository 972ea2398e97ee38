"""Telegram at its ceiling and 50 group robots at theirs, at the same time.

    uv run python -m bench.robots [--telegram 1800] [--robots 50] [--per-robot 25]

The Telegram outbox drains through the real sender against the fake Bot API enforcing 30
messages a second (as `bench.notifier`), while 50 robots (WeCom, DingTalk and Feishu in
turn) each get `--per-robot` outbox rows, drained by the robots' sender under the pace
shared in PostgreSQL, against the robot fakes (their own process) that enforce the
platforms' limits. More than 20 a robot means waiting for the minute to turn, so the
run lasts over a minute.

Prints Telegram's sustained rate (target ≥ 27/s, 90 % of 30), each platform's busiest
minute per robot (≤ 20 for WeCom and DingTalk, ≤ 100 and ≤ 5 a second for Feishu), the
throttle answers the fakes gave (target 0: the pace keeps within), and messages lost and
sent twice on both sides (target 0 and 0).

Both go through the real outbox and the senders the workers run (`guanai.wiring`): the
Telegram front's and the robots' (`bot.robots.outbox`), at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.notifier import against_the_fake
from domain.clock import SystemClock
from domain.delivery import outbox, robots
from domain.delivery.addresses import TELEGRAM, Address
from domain.delivery.content import Content
from domain.kinds import RegionKind, RobotKind
from domain.models import OutboxMessage, OutboxStatus
from domain.people import regions
from domain.ports import OutboxSender
from guanai.settings import Settings
from guanai.wiring import open_deps
from tests.fakes.robots import FakeRobots
from workers.context import Deps

KINDS = list(RobotKind)
SECRETS = {RobotKind.wecom: None, RobotKind.dingtalk: "SECbench", RobotKind.feishu: "bench"}


def serve_robots(connection: Connection, count: int) -> None:
    """The robot fakes in a process of their own: sends their URL and the robots' webhook
    URLs, then what arrived and what was refused when told to stop."""

    async def main() -> None:
        fake = FakeRobots()
        await fake.start()
        hooks = [fake.robot(KINDS[n % 3], SECRETS[KINDS[n % 3]]) for n in range(count)]
        connection.send((fake.base_url, hooks))
        await asyncio.get_running_loop().run_in_executor(None, connection.recv)
        arrived = [(a.token, str(a.body), a.at) for a in fake.arrived]
        connection.send((arrived, fake.refused))
        await fake.stop()

    asyncio.run(main())


async def unsettled(deps: Deps, channel: str) -> int:
    async with deps.unit_of_work() as uow:
        unsettled = select(func.count()).where(
            OutboxMessage.channel == channel,
            OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.sending]),
        )
        return int(await uow.session.scalar(unsettled) or 0)


async def bench(
    api_url: str, database_url: str, fake_url: str, hooks: list[tuple[str, str]], args: Any
) -> dict[str, Any]:
    settings = Settings(
        BOT_TOKEN="4242:BENCH",
        BOT_API_URL=api_url,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(Path.cwd()),
        WECOM_API_URL=fake_url,
        DINGTALK_API_URL=fake_url,
        FEISHU_API_URL=fake_url,
    )
    clock = SystemClock()
    telegram = [(1000 + n % 600, f"message {n}") for n in range(args.telegram)]
    expected: dict[str, list[str]] = {}
    async with open_deps(settings, clock) as deps:
        async with deps.unit_of_work() as uow:
            for chat_id, text in telegram:
                await outbox.enqueue(
                    uow.session,
                    to=Address(TELEGRAM, str(chat_id)),
                    content=Content.lines([text]),
                    not_before=clock.now(),
                )
            await regions.add_region(
                uow.session,
                code="BENCH",
                name="区",
                kind=RegionKind.district,
                parent_code=None,
                at=clock.now(),
                whole_tree=True,
            )
            for index, (url, token) in enumerate(hooks):
                robot = await robots.add_robot(
                    uow.session,
                    region_code="BENCH",
                    kind=KINDS[index % 3],
                    url=url,
                    secret=SECRETS[KINDS[index % 3]],
                    mobiles=[],
                    mask_child_names=False,
                    actor_id=None,
                    at=clock.now(),
                )
                expected[token] = [f"提醒（{index}-{n}）" for n in range(args.per_robot)]
                for title in expected[token]:  # through the real outbox, as the jobs queue
                    await outbox.enqueue(
                        uow.session,
                        to=robots.address(robot.id),
                        content=Content.lines([title, "第 1 条"]),
                        not_before=clock.now(),
                        front={"files": [], "mention": False},
                    )
            await uow.commit()

        async def drain(sender: OutboxSender, channel: str) -> float:
            """Drain one channel's rows as `send-outbox` does, run after run."""
            started = time.perf_counter()
            while await unsettled(deps, channel):
                if (await sender.drain(clock)).sent == 0:
                    await asyncio.sleep(0.2)
            return time.perf_counter() - started

        [robot_sender] = deps.channels
        telegram_s, robots_s = await asyncio.gather(
            drain(deps.sender, TELEGRAM), drain(robot_sender, robots.CHANNEL)
        )
        async with deps.unit_of_work() as uow:
            statuses = await outbox.count_by_status(uow.session)
    return {
        "telegram": telegram,
        "telegram_s": telegram_s,
        "robots_s": robots_s,
        "expected": expected,
        "kinds": {hooks[n][1]: KINDS[n % 3] for n in range(len(hooks))},
        "uncertain": statuses.get(OutboxStatus.uncertain, 0),
    }


def busiest(moments: list[float], window: float) -> int:
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moments[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--telegram", type=int, default=1800)
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--per-robot", type=int, default=25)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    robots_fake = context.Process(target=serve_robots, args=(theirs, args.robots))
    robots_fake.start()
    fake_url, hooks = ours.recv()
    try:
        result, sends, rate_limited = against_the_fake(
            "robots", lambda api, db: bench(api, db, fake_url, hooks, args)
        )
    finally:
        ours.send("stop")
        arrived, refused = ours.recv()
        robots_fake.join()

    received = Counter((chat_id, text) for chat_id, text, _ in sends)
    wanted = Counter(result["telegram"])
    tg_lost = sum((wanted - received).values())
    tg_twice = sum(count - 1 for count in received.values() if count > 1)
    times = sorted(at for *_, at in sends)
    low, high = len(times) // 20, len(times) - 1 - len(times) // 20
    sustained = (high - low) / (times[high] - times[low])

    by_robot: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for token, body, at in arrived:
        by_robot[token].append((body, at))
    lost = twice = 0
    minute: dict[RobotKind, int] = defaultdict(int)
    second: dict[RobotKind, int] = defaultdict(int)
    for token, titles in result["expected"].items():
        got = Counter(title for body, _ in by_robot[token] for title in titles if title in body)
        lost += sum((Counter(titles) - got).values())
        twice += sum(count - 1 for count in got.values() if count > 1)
        kind = result["kinds"][token]
        moments = [at for _, at in by_robot[token]]
        minute[kind] = max(minute[kind], busiest(moments, 60.0))
        second[kind] = max(second[kind], busiest(moments, 1.0))
    throttled = Counter(code for _, code in refused)

    print(f"Telegram: {len(result['telegram'])} messages in {result['telegram_s']:.1f} s")
    print(f"  sustained rate:          {sustained:.1f} messages/s (target >= 27)")
    print(f"  lost / sent twice:       {tg_lost} / {tg_twice}; 429 answers {rate_limited}")
    print(f"Robots: {args.robots} x {args.per_robot} messages in {result['robots_s']:.1f} s")
    for kind in KINDS:
        print(
            f"  {kind.value:9} busiest minute / second per robot: {minute[kind]} / {second[kind]}"
        )
    print(f"  lost / sent twice:       {lost} / {twice}; uncertain {result['uncertain']}")
    print(f"  refusals by code:        {dict(throttled) or 'none'} (target none)")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
