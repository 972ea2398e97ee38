"""What is due this month, the ladder on the 1st and the worker's memory, at 1×, 2×, 4× a district.

    uv run python bench/due_month.py [--scales 1 2 4] [--months 12] [--keep]
    uv run python bench/due_month.py --database guanai_x --scales 4   # an existing demo database

For each scale, a database of its own filled by `guanai demo-data` (bench_workers.py's
generator, 35,000 children and 3,500 volunteers per district), then, in the same run:

- guanai's due computation for the whole district (`due.due_items`, what the overview,
  the rosters, the care record and the ladder read), against the bare baseline: one SQL
  aggregate over the same rows (the active pairings' check-ins of the month and the
  semester, counted per pairing and activity, fetched with asyncpg), and their ratio;
- one run of the escalation ladder on the 1st (rolled back);
- the peak memory (VmHWM) of a process that runs one job and nothing else: due, the
  ladder, the overview, the care record of the district.

The ratio is the figure to trust on a shared machine: both sides see the same load.
Targets (issue 18): due within 3× of the baseline, < 0.5 s a district and < 2 s 4×;
the ladder at 4× < 10 s; every job < 300 MB at 4×.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from bench_workers import SERVER, _admin, _make_demo
from bot.notices import Notices
from sqlalchemy.engine import make_url

from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.reports import care_record, overview
from domain.schedule import due, ladder
from domain.schedule.calendar import Month, semester_bounds
from guanai.settings import Settings

BARE = """
SELECT a.pairing_id, a.activity,
       count(*) FILTER (WHERE a.occurred_at >= $1 AND a.occurred_at < $2),
       count(*) FILTER (WHERE a.occurred_at >= $3 AND a.occurred_at < $4)
FROM pairings p
JOIN children c ON c.id = p.child_id
JOIN regions s ON s.id = c.site_id
JOIN checkin_activities a ON a.pairing_id = p.id
WHERE s.path LIKE $5 || '%'
  AND p.started_at < $2 AND (p.ended_at IS NULL OR p.ended_at > $1)
  AND a.occurred_at >= least($1, $3) AND a.occurred_at < greatest($2, $4)
GROUP BY a.pairing_id, a.activity
"""


def _vm_hwm_mb() -> float:
    """This process's peak resident memory (what the kernel says, not what Python thinks)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _median(work: Callable[[], Awaitable[str]], repeat: int) -> tuple[float, str]:
    await work()  # warm the caches once, as a worker that has run before
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _district(url: str) -> str:
    connection = await asyncpg.connect(_plain(url))
    try:
        path = await connection.fetchval("SELECT path FROM regions WHERE code = 'DEMO'")
    finally:
        await connection.close()
    assert path is not None
    return str(path)


async def measure(url: str, repeat: int) -> dict[str, float]:
    """guanai's due, the bare aggregate, the ladder: in this process, one after the other."""
    tz = Settings(DATABASE_URL=url).tz
    month = Month.of(dt.datetime.now(tz), tz)
    district = await _district(url)
    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    bare = await asyncpg.connect(_plain(url))
    month_start, month_end = month.start(tz), month.end(tz)
    semester_start, semester_end = semester_bounds(month, tz)
    figures: dict[str, float] = {}
    try:
        async with sessionmaker() as session:

            async def guanai_due() -> str:
                items = await due.due_items(
                    session, month=month, tz=tz, selection=due.Selection(scope_path=district)
                )
                figures["items"] = len(items)
                figures["pairings"] = len({i.pairing_id for i in items})
                return f"{len(items)} items"

            async def bare_aggregate() -> str:
                rows = await bare.fetch(
                    BARE, month_start, month_end, semester_start, semester_end, district
                )
                return f"{len(rows)} rows"

            # interleaved, so that both see the same load
            guanai_times, bare_times = [], []
            await guanai_due()
            await bare_aggregate()
            for _ in range(repeat):
                started = time.perf_counter()
                await guanai_due()
                guanai_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                await bare_aggregate()
                bare_times.append(time.perf_counter() - started)
            figures["due"] = statistics.median(guanai_times)
            figures["bare"] = statistics.median(bare_times)

        with tempfile.TemporaryDirectory() as media:
            async with UnitOfWork(sessionmaker) as uow:  # rolled back
                started = time.perf_counter()
                report = await ladder.climb(
                    uow.session,
                    now=month.start(tz) + dt.timedelta(hours=9),
                    tz=tz,
                    text=Notices(),
                    media_dir=Path(media),
                )
                figures["ladder"] = time.perf_counter() - started
                figures["ladder_steps"] = report.steps
                figures["ladder_messages"] = report.messages
    finally:
        await bare.close()
        await engine.dispose()
    return figures


JOBS = ("due", "ladder", "overview", "care_record")


async def run_job(url: str, job: str) -> None:
    """One job alone in this process; prints its peak memory."""
    tz = Settings(DATABASE_URL=url).tz
    now = dt.datetime.now(tz)
    month = Month.of(now, tz)
    district = await _district(url)
    engine = make_engine(url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    try:
        with tempfile.TemporaryDirectory() as media:
            async with UnitOfWork(sessionmaker) as uow:  # rolled back
                session = uow.session
                if job == "due":
                    await due.due_items(
                        session, month=month, tz=tz, selection=due.Selection(scope_path=district)
                    )
                elif job == "ladder":
                    await ladder.climb(
                        session,
                        now=month.start(tz) + dt.timedelta(hours=9),
                        tz=tz,
                        text=Notices(),
                        media_dir=Path(media),
                    )
                elif job == "overview":
                    await overview.overview(
                        session, scope_path=district, month=month, tz=tz, now=now
                    )
                elif job == "care_record":
                    await care_record.compile_records(
                        session, month=month, tz=tz, scope_path=district
                    )
    finally:
        await engine.dispose()
    print(f"{_vm_hwm_mb():.0f}")


async def _peak_of(url: str, job: str) -> float:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--job",
        job,
        "--database-url",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        return float("nan")
    return float(out.decode().split()[-1])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--database", help="an existing demo database (one scale)")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-job memory")
    parser.add_argument("--job", choices=JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        await run_job(args.database_url, args.job)
        return

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for scale in args.scales:
        name = args.database or f"guanai_bench_due_{scale}x_{os.getpid()}"
        url = f"{SERVER}/{name}"
        if not args.database:
            demo = argparse.Namespace(
                children=35_000 * scale, volunteers=3_500 * scale, months=args.months
            )
            await _make_demo(url, demo)
        try:
            figures = await measure(url, args.repeat)
            if not args.no_memory:
                for job in JOBS:
                    figures[f"mb_{job}"] = await _peak_of(url, job)
        finally:
            if not (args.keep or args.database):
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        rows.append((scale, figures))
        print(
            f"{scale}× district: {figures['pairings']:.0f} pairings, {figures['items']:.0f} items; "
            f"due {figures['due']:.3f} s, bare {figures['bare']:.3f} s, "
            f"ratio {figures['due'] / figures['bare']:.2f}×; ladder on the 1st "
            f"{figures['ladder']:.2f} s ({figures['ladder_steps']:.0f} steps, "
            f"{figures['ladder_messages']:.0f} messages)",
            flush=True,
        )
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| scale | due | bare aggregate | ratio | ladder on the 1st | peak MB "
        + " / ".join(JOBS)
        + " |"
    )
    print("|---|---|---|---|---|---|")
    for scale, f in rows:
        memory = " / ".join(f"{f.get(f'mb_{job}', float('nan')):.0f}" for job in JOBS)
        print(
            f"| {scale}× | {f['due']:.3f} s | {f['bare']:.3f} s | {f['due'] / f['bare']:.2f}× "
            f"| {f['ladder']:.2f} s | {memory} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
