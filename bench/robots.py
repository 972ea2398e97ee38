"""Telegram at its ceiling and 50 group robots at theirs, at the same time.

    uv run python -m bench.robots [--telegram 1800] [--robots 50] [--per-robot 25]

The Telegram outbox drains through the real sender against the fake Bot API enforcing 30
messages a second (as `bench.notifier`), while 50 robots (WeCom, DingTalk and Feishu in
turn) each get `--per-robot` messages through `bot.robots.deliver` and the pace shared in
PostgreSQL, by two senders with connections of their own, against the robot fakes (their
own process) that enforce the platforms' limits. More than 20 a robot means waiting for
the minute to turn, so the run lasts over a minute.

Prints Telegram's sustained rate (target ≥ 27/s, 90 % of 30), each platform's busiest
minute per robot (≤ 20 for WeCom and DingTalk, ≤ 100 and ≤ 5 a second for Feishu), the
throttle answers the fakes gave (target 0: the pace keeps within), and messages lost and
sent twice on both sides (target 0 and 0).

Until the outbox carries robot messages (issue 11), the robots are driven here directly;
the figure this shows is that neither side slows the other.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from bench.notifier import against_the_fake, unsettled
from bot.robots.client import RobotClient
from bot.robots.deliver import SharedPace, address, deliver, group
from bot.robots.platforms import Outcome
from bot.robots.render import Notice, requests
from domain.clock import SystemClock
from domain.db import make_engine, make_sessionmaker
from domain.delivery import outbox, robots
from domain.kinds import RegionKind, RobotKind
from domain.people import regions
from guanai.settings import Settings
from guanai.wiring import open_deps
from tests.fakes.robots import FakeRobots

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


def same(text: str) -> str:
    return text


async def bench(
    api_url: str, database_url: str, fake_url: str, hooks: list[tuple[str, str]], args: Any
) -> dict[str, Any]:
    settings = Settings(
        BOT_TOKEN="4242:BENCH",
        BOT_API_URL=api_url,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(Path.cwd()),
    )
    clock = SystemClock()
    telegram = [(1000 + n % 600, f"message {n}") for n in range(args.telegram)]
    async with open_deps(settings, clock) as deps:
        async with deps.unit_of_work() as uow:
            for chat_id, text in telegram:
                await outbox.enqueue(
                    uow.session,
                    chat_id=chat_id,
                    method=outbox.Method.send_message,
                    payload={"text": text},
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
            added = [
                await robots.add_robot(
                    uow.session,
                    region_code="BENCH",
                    kind=KINDS[n % 3],
                    url=url,
                    secret=SECRETS[KINDS[n % 3]],
                    mobiles=[],
                    mask_child_names=False,
                    actor_id=None,
                    at=clock.now(),
                )
                for n, (url, _) in enumerate(hooks)
            ]
            await uow.commit()

        async def drain_telegram() -> float:
            started = time.perf_counter()
            while await unsettled(deps):
                if (await deps.sender.drain(clock)).sent == 0:
                    await asyncio.sleep(0.1)
            return time.perf_counter() - started

        engines = [make_engine(database_url, pool_size=10) for _ in range(2)]
        paces = [SharedPace(make_sessionmaker(engine)) for engine in engines]
        expected: dict[str, list[str]] = {}
        uncertain = 0

        async def one_robot(index: int, http: ClientSession) -> None:
            nonlocal uncertain
            robot, token = added[index], hooks[index][1]
            client = RobotClient(http, bases=dict.fromkeys(RobotKind, fake_url))
            expected[token] = []
            for n in range(args.per_robot):
                sent = requests(Notice(f"提醒 {index}-{n}", (f"第 {n} 条",)), group(robot), same)
                expected[token] += [str(r.body) for r in sent]  # type: ignore[union-attr]
                done = 0
                while done < len(sent):
                    pace = paces[(index + n) % 2]  # the two senders take turns
                    delivery = await deliver(
                        client, pace, robot.id, address(robot), sent, start=done
                    )
                    done = delivery.sent
                    if delivery.answer is not None and delivery.answer.outcome is Outcome.uncertain:
                        uncertain += 1
                        done += 1  # an uncertain send is not repeated by itself
                    elif delivery.wait:
                        await asyncio.sleep(delivery.wait.total_seconds())

        async def drain_robots() -> float:
            started = time.perf_counter()
            async with ClientSession() as http:
                await asyncio.gather(*(one_robot(n, http) for n in range(len(added))))
            return time.perf_counter() - started

        try:
            telegram_s, robots_s = await asyncio.gather(drain_telegram(), drain_robots())
        finally:
            for engine in engines:
                await engine.dispose()
    return {
        "telegram": telegram,
        "telegram_s": telegram_s,
        "robots_s": robots_s,
        "expected": expected,
        "kinds": {hooks[n][1]: KINDS[n % 3] for n in range(len(hooks))},
        "uncertain": uncertain,
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
    for token, bodies in result["expected"].items():
        got = Counter(body for body, _ in by_robot[token])
        lost += sum((Counter(bodies) - got).values())
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


if __name__ == "__main__":
    main()
