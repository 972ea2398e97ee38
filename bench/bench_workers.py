"""Benchmark the workers on a synthetic district in a fresh database.

    uv run python bench/bench_workers.py [--months 12] [--children 35000] [--volunteers 3500]

Makes a database of its own, migrates it, fills it with `guanai demo-data` (in a child
process, so its memory is not counted), then prints: the due/overdue computation for the
whole district (target < 2 s; < 4 s with 36 months of history), building and queueing
every roster of the district on a Monday (target < 60 s), one run of the escalation
ladder on the 1st of the month, and this process's peak memory (target < 300 MB).
The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import Region
from domain.reports import rosters
from domain.schedule import due, ladder
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from guanai.migrate import migrate
from guanai.settings import Settings
from workers.context import freeze_loaded_modules

SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432")


async def _admin(sql: str) -> None:
    await _admin_in(f"{SERVER}/postgres", sql)


async def _admin_in(database_url: str, sql: str) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _timed(label: str, work, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    best, median = min(times), statistics.median(times)
    print(
        f"{label:<50} best {best:6.2f} s  median {median:6.2f} s  "
        f"peak {_peak_mb():4.0f} MB  ({result})"
    )
    return median


async def _make_demo(url: str, args: argparse.Namespace) -> None:
    await migrate(url)
    started = time.perf_counter()
    demo = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "guanai.cli", "demo-data", "--children", str(args.children)),
        *("--volunteers", str(args.volunteers), "--months", str(args.months)),
        env={**os.environ, "DATABASE_URL": url, "LANG": "en"},
    )
    if await demo.wait() != 0:
        raise SystemExit("demo-data failed")
    print(f"{'demo-data':<58} {time.perf_counter() - started:6.1f} s")
    # what autovacuum does a few minutes after a bulk load: statistics and the visibility
    # map (without it index-only scans of check-ins go to the heap for every row)
    await _admin_in(url, "VACUUM ANALYZE")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--children", type=int, default=35_000)
    parser.add_argument("--volunteers", type=int, default=3_500)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="measure an existing demo database instead")
    args = parser.parse_args()

    name = args.database or f"guanai_bench_{args.months}m_{os.getpid()}"
    url = f"{SERVER}/{name}"
    settings = Settings(DATABASE_URL=url)
    tz = settings.tz
    if not args.database:
        await _make_demo(url, args)

        (
            [
                sys.executable,
                "-m",
                "guanai.cli",
                "demo-data",
                "--children",
                str(args.children),
                "--volunteers",
                str(args.volunteers),
                "--months",
                str(args.months),
            ],
        )

    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    notices = Notices()
    freeze_loaded_modules()  # as the worker does on start-up
    print(f"{'peak memory after imports':<50} {_peak_mb():4.0f} MB")
    now = dt.datetime.now(tz)
    month = Month.of(now, tz)
    try:
        async with sessionmaker() as session:
            district = await session.scalar(select(Region.path).where(Region.code == "DEMO"))
            assert district is not None

            async def due_now() -> str:
                items = await due.due_items(
                    session, month=month, tz=tz, selection=due.Selection(scope_path=district)
                )
                return f"{len(items)} items"

            async def overdue_last_month() -> str:
                items = await due.due_items(
                    session,
                    month=month.previous(),
                    tz=tz,
                    selection=due.Selection(scope_path=district),
                    only_missing=True,
                )
                return f"{len(items)} missing items"

            due_time = await _timed("due this month, whole district", due_now)
            overdue_time = await _timed("overdue last month, whole district", overdue_last_month)

        monday = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()), dt.time(8), tz)
        with tempfile.TemporaryDirectory() as media:

            async def all_rosters() -> str:
                async with UnitOfWork(sessionmaker) as uow:
                    queued = await rosters.send_rosters(
                        uow.session, now=monday, tz=tz, text=notices, media_dir=Path(media)
                    )
                    # rolled back: each repeat makes the whole Monday again
                return f"{queued} messages"

            roster_time = await _timed("all rosters of the district (Monday)", all_rosters, 1)

            async def ladder_first_of_month() -> str:
                async with UnitOfWork(sessionmaker) as uow:
                    report = await ladder.climb(
                        uow.session,
                        now=month.start(tz) + dt.timedelta(hours=9),
                        tz=tz,
                        text=notices,
                        media_dir=Path(media),
                    )
                return f"{report.opened} opened, {report.steps} steps, {report.messages} messages"

            await _timed(
                "escalation ladder on the 1st (opens last month)", ladder_first_of_month, 1
            )
        peak = _peak_mb()
        target = 4.0 if args.months >= 36 else 2.0
        print()
        print(f"months of history: {args.months}")
        print(f"due/overdue: {max(due_time, overdue_time):.2f} s (target < {target} s)")
        print(f"all rosters: {roster_time:.1f} s (target < 60 s)")
        print(f"peak memory of this process: {peak:.0f} MB (target < 300 MB)")
    finally:
        await engine.dispose()
        if not (args.keep or args.database):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
