"""100 emergencies reported at once across a district: how long until every level's
coordinators have heard, while the notifier keeps Telegram's limits and other messages flow.

    uv run python -m bench.emergencies [--schools 100] [--others 300]

A district (two coordinators) of ten townships (one each) and `--schools` schools (one
coordinator each, one child each). `--others` ordinary messages to volunteers are queued
first; then one emergency per child is reported at once, one run of the ladder writes what
every level is told, and the real sender drains the outbox through the real aiogram Bot to
a fake Bot API that enforces 30 messages a second (and one a second per chat). Prints the
time until the last coordinator's message arrived (target < 60 s), the messages, the 429s,
and whether every other message arrived too.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.notifier import against_the_fake, unsettled
from domain.care import emergencies
from domain.care.emergencies import Incident
from domain.clock import SystemClock
from domain.delivery import outbox
from domain.delivery.addresses import TELEGRAM, Address
from domain.delivery.content import Content
from domain.models import Account, Channel, Child, Coordinator, Person, Region, RegionKind
from domain.schedule import ladder
from domain.wording.notices import Notices
from guanai.settings import Settings
from guanai.wiring import open_deps

INCIDENTS = list(Incident)


async def _region(session: Any, name: str, kind: RegionKind, parent: Region | None) -> Region:
    region = Region(
        code=f"R{uuid.uuid4().hex[:10]}",
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        path="",
    )
    session.add(region)
    await session.flush()
    region.path = f"{parent.path if parent else ''}{region.id}/"
    return region


async def bench(schools: int, others: int, api_url: str, database_url: str) -> dict[str, Any]:
    settings = Settings(
        BOT_TOKEN="4242:BENCH",
        BOT_API_URL=api_url,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(Path.cwd()),
    )
    clock = SystemClock()
    coordinators: dict[int, str] = {}  # telegram id → level
    kept_from: set[int] = set()  # school coordinators a sensitive report is not sent to
    telegram = iter(range(10_000, 1_000_000))

    async def head(session: Any, region: Region, level: str) -> int:
        chat = next(telegram)
        person = Person(name=f"{level}{chat}")
        session.add(person)
        session.add(Account(person=person, channel=Channel.telegram, external_id=str(chat)))
        await session.flush()
        session.add(Coordinator(person_id=person.id, region_id=region.id))
        coordinators[chat] = level
        return chat

    async with open_deps(settings, clock) as deps:
        async with deps.unit_of_work() as uow:
            s = uow.session
            district = await _region(s, "秀山区", RegionKind.district, None)
            await head(s, district, "district")
            await head(s, district, "district")
            reporter = Person(name="报告人")
            s.add(reporter)
            s.add(
                Account(person=reporter, channel=Channel.telegram, external_id=str(next(telegram)))
            )
            townships = []
            for t in range(10):
                township = await _region(s, f"镇{t}", RegionKind.township, district)
                await head(s, township, "township")
                townships.append(township)
            children = []
            for n in range(schools):
                school = await _region(s, f"学校{n}", RegionKind.school, townships[n % 10])
                chat = await head(s, school, "school")
                if INCIDENTS[n % len(INCIDENTS)] in emergencies.SENSITIVE:
                    kept_from.add(chat)
                child = Child(site_id=school.id, name=f"孩子{n}")
                s.add(child)
                children.append(child)
            for n in range(others):
                await outbox.enqueue(
                    s,
                    to=Address(TELEGRAM, str(2_000_000 + n)),
                    content=Content.lines([f"other {n}"]),
                    not_before=clock.now(),
                )
            await s.flush()
            await uow.commit()

        started = time.perf_counter()
        async with deps.unit_of_work() as uow:  # reported at once
            for n, child in enumerate(children):
                await emergencies.raise_incident(
                    uow.session,
                    child_id=child.id,
                    incident=INCIDENTS[n % len(INCIDENTS)],
                    note=None,
                    reporter_id=reporter.id,
                    now=clock.now(),
                    tz=settings.tz,
                )
            await uow.commit()
        async with deps.unit_of_work() as uow:  # one run of the ladder
            run = await ladder.climb(
                uow.session,
                now=clock.now(),
                tz=settings.tz,
                text=Notices(),
                media_dir=settings.media_dir,
            )
            await uow.commit()
        ladder_done = time.perf_counter() - started
        while await unsettled(deps):
            report = await deps.sender.drain(clock)
            if report.sent == 0:
                await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
    return {
        "coordinators": coordinators,
        "kept_from": kept_from,
        "started": started,
        "ladder": ladder_done,
        "elapsed": elapsed,
        "steps": run.steps,
        "messages": run.messages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--others", type=int, default=300)
    args = parser.parse_args()

    result, sends, rate_limited = against_the_fake(
        "emergencies", lambda api, db: bench(args.schools, args.others, api, db)
    )

    coordinators: dict[int, str] = result["coordinators"]
    first_send = min(at for *_, at in sends)
    last_by_level: dict[str, float] = {}
    heard = Counter()
    for chat_id, _text, at in sends:
        level = coordinators.get(chat_id)
        if level is not None:
            heard[chat_id] += 1
            last_by_level[level] = max(last_by_level.get(level, 0.0), at)
    others_received = sum(1 for chat_id, text, _ in sends if str(text).startswith("other "))
    missing = [
        chat for chat in coordinators if heard[chat] == 0 and chat not in result["kept_from"]
    ]
    told_anyway = [chat for chat in result["kept_from"] if heard[chat]]

    print(f"emergencies reported:  {args.schools} at once, {len(coordinators)} coordinators")
    print(
        f"ladder run:            {result['ladder']:.1f} s, {result['steps']} steps, "
        f"{result['messages']} messages"
    )
    for level in ("school", "township", "district"):
        if level in last_by_level:
            print(
                f"last {level:<9} heard:  {last_by_level[level] - first_send:.1f} s "
                "after the first send"
            )
    print(f"all drained:           {result['elapsed']:.1f} s after reporting (target < 60)")
    print(f"coordinators not told: {len(missing)} (target 0)")
    print(
        f"bullying kept from the school: {len(result['kept_from'])} schools, "
        f"told anyway: {len(told_anyway)} (target 0)"
    )
    print(f"other messages:        {others_received} of {args.others} delivered")
    print(f"429 answers:           {rate_limited}")


if __name__ == "__main__":
    main()
