"""The notifier's sustained rate against a fake Bot API that enforces 30 messages a second.

    uv run python -m bench.notifier [--messages 1500] [--chats 500]

Queues the messages in a scratch database (chat by chat, the hardest order for the
per-chat limits), drains them with the real sender through the real aiogram Bot, and
prints the sustained rate (target ≥ 27/s), messages lost and sent twice (target 0 and 0),
the 429s the fake answered, and the peak RSS of this process (target < 300 MB). The fake
runs in a process of its own, so the RSS is the sender's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from domain.clock import SystemClock
from domain.delivery import outbox
from domain.delivery.addresses import TELEGRAM, Address
from domain.delivery.content import Content
from domain.models import OutboxMessage, OutboxStatus
from guanai.migrate import migrate
from guanai.settings import Settings
from guanai.wiring import open_deps
from tests.fakes import FakeTelegram
from workers.context import Deps

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


def serve_fake(connection: Connection) -> None:
    """The fake Bot API in its own process: sends its URL, then what it saw when told to stop."""

    async def main() -> None:
        async with FakeTelegram(enforce_rate_limit=30.0) as fake:
            connection.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, connection.recv)
            sends = [
                (call.params["chat_id"], call.params["text"], call.at)
                for call in fake.calls
                if call.method == "sendMessage" and call.status == 200
            ]
            connection.send((sends, fake.rate_limited))

    asyncio.run(main())


Sent = list[tuple[int, str, float]]  # chat, text, when the fake took it


def against_the_fake(
    name: str, run: Callable[[str, str], Coroutine[Any, Any, dict[str, Any]]]
) -> tuple[dict[str, Any], Sent, int]:
    """`run(api_url, database_url)` with the fake Bot API in a process of its own and a
    migrated database of its own, dropped after; its result, what the fake took, its 429s."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    fake = multiprocessing.get_context("spawn").Process(target=serve_fake, args=(theirs,))
    fake.start()
    api_url = ours.recv()
    database_url = f"{SERVER}/guanai_bench_{name}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(migrate(database_url))
        result = asyncio.run(run(api_url, database_url))
    finally:
        ours.send("stop")
        sends, rate_limited = ours.recv()
        fake.join()
        asyncio.run(drop_database(database_url))
    return result, sends, rate_limited


async def drop_database(url: str) -> None:
    server = make_url(url).set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await connection.close()


async def bench(messages: int, chats: int, api_url: str, database_url: str) -> dict[str, Any]:
    settings = Settings(
        BOT_TOKEN="4242:BENCH",
        BOT_API_URL=api_url,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(Path.cwd()),
    )
    clock = SystemClock()
    expected = [(1000 + n // (messages // chats), f"message {n}") for n in range(messages)]
    async with open_deps(settings, clock) as deps:
        async with deps.unit_of_work() as uow:
            for chat_id, text in expected:
                await outbox.enqueue(
                    uow.session,
                    to=Address(TELEGRAM, str(chat_id)),
                    content=Content.lines([text]),
                    not_before=clock.now(),
                )
            await uow.commit()

        started = time.perf_counter()
        while await unsettled(deps):
            report = await deps.sender.drain(clock)
            if report.sent == 0:
                await asyncio.sleep(0.1)  # only deferred rows left: wait for them to fall due
        elapsed = time.perf_counter() - started

        async with deps.unit_of_work() as uow:
            statuses = await outbox.count_by_status(uow.session)
    return {"expected": expected, "elapsed": elapsed, "statuses": statuses}


async def unsettled(deps: Deps) -> int:
    async with deps.unit_of_work() as uow:
        unsettled = select(func.count()).where(
            OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.sending])
        )
        return int(await uow.session.scalar(unsettled) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--chats", type=int, default=500)
    args = parser.parse_args()

    result, sends, rate_limited = against_the_fake(
        "notifier", lambda api, db: bench(args.messages, args.chats, api, db)
    )

    received = Counter((chat_id, text) for chat_id, text, _ in sends)
    expected = Counter(result["expected"])
    lost = sum((expected - received).values())
    duplicated = sum(count - 1 for count in received.values() if count > 1)
    times = sorted(at for *_, at in sends)
    overall = (len(times) - 1) / (times[-1] - times[0])
    # steady state: the middle 90 %, without the start and the tail where only the last
    # chats' later messages are left, which their one-a-second limit spaces out
    low, high = len(times) // 20, len(times) - 1 - len(times) // 20
    sustained = (high - low) / (times[high] - times[low])
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    statuses = {status.value: count for status, count in result["statuses"].items()}

    print(f"messages queued:       {len(result['expected'])} to {args.chats} chats")
    print(f"sustained rate:        {sustained:.1f} messages/s (target >= 27)")
    print(f"first to last send:    {overall:.1f} messages/s")
    print(f"wall time to drain:    {result['elapsed']:.1f} s")
    print(f"lost / sent twice:     {lost} / {duplicated} (target 0 / 0)")
    print(f"429 answers:           {rate_limited}")
    print(f"outbox rows:           {statuses}")
    print(f"peak RSS (sender):     {peak_rss_mb:.0f} MB (target < 300)")


if __name__ == "__main__":
    main()
