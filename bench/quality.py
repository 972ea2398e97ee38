"""Benchmark quality of care on a synthetic district: the monthly verification sample and
every site's review queue.

    uv run python bench/quality.py [--months 3] [--children 35000] [--volunteers 3500]

Makes a database of its own with `guanai demo-data` (as bench_workers.py does), puts 3 % of
last month's check-ins in the review queues, then times drawing last month's sample for the
whole district (回访抽查, the job of the 1st) and compiling the review queue of every site
(its size and oldest check-ins, as 🔍 审核 shows them) and the overview's count. Target:
both together under 10 s. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_workers import SERVER, _admin, _admin_in, _make_demo, _peak_mb

from domain.care import review, sample
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import Region, RegionKind, ReviewItem, SampleCheck
from domain.schedule.calendar import Month
from guanai.settings import Settings

QUEUED_SHARE = 0.03


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--children", type=int, default=35_000)
    parser.add_argument("--volunteers", type=int, default=3_500)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="measure an existing demo database instead")
    args = parser.parse_args()

    name = args.database or f"guanai_bench_quality_{os.getpid()}"
    url = f"{SERVER}/{name}"
    tz = Settings(DATABASE_URL=url).tz
    if not args.database:
        await _make_demo(url, args)
    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    now = dt.datetime.now(tz)
    last_month = Month.of(now, tz).previous()
    try:
        async with UnitOfWork(sessionmaker) as uow:
            await uow.session.execute(
                text(
                    "INSERT INTO review_items (checkin_id, site_id, reason, state, opened_at) "
                    "SELECT c.id, ch.site_id, 'similar_photo', 'waiting', c.created_at "
                    "FROM checkins c JOIN children ch ON ch.id = c.child_id "
                    "WHERE c.occurred_at >= :start AND random() < :share "
                    "ON CONFLICT DO NOTHING"
                ),
                {"start": last_month.start(tz), "share": QUEUED_SHARE},
            )
            await uow.commit()
        await _admin_in(url, "VACUUM ANALYZE review_items")

        started = time.perf_counter()
        async with UnitOfWork(sessionmaker) as uow:
            drawn = await sample.draw_month(uow.session, month=last_month, tz=tz, now=now)
            await uow.commit()
        draw_time = time.perf_counter() - started
        print(
            f"{'sample of ' + str(last_month) + ' (first draw)':<50} {draw_time:6.2f} s  "
            f"({drawn.checks} of {drawn.visits} home visits)"
        )
        started = time.perf_counter()
        async with UnitOfWork(sessionmaker) as uow:
            again = await sample.draw_month(uow.session, month=last_month, tz=tz, now=now)
            await uow.commit()
        print(f"{'the same month drawn again':<50} {time.perf_counter() - started:6.2f} s")
        async with sessionmaker() as session:
            assert again.seed == drawn.seed
            checks = await session.scalar(select(func.count()).select_from(SampleCheck))
            assert checks == drawn.checks, (checks, drawn.checks)

        started = time.perf_counter()
        async with sessionmaker() as session:
            sites = list(
                await session.scalars(
                    select(Region.path).where(Region.kind.in_([k for k in RegionKind if k.is_site]))
                )
            )
            sizes = await review.waiting_per_site(session)
            shown = 0
            for path in sites:
                waiting, _total = await review.queue(session, [path], limit=5)
                shown += len(waiting)
            queued = await session.scalar(select(func.count()).select_from(ReviewItem))
        queue_time = time.perf_counter() - started
        print(
            f"{'review queues of every site':<50} {queue_time:6.2f} s  "
            f"({len(sites)} sites, {queued} items, {shown} shown, {sum(sizes.values())} waiting)"
        )
        total = draw_time + queue_time
        print()
        print(f"sample + review queues of the district: {total:.2f} s (target < 10 s)")
        print(f"peak memory of this process: {_peak_mb():.0f} MB")
    finally:
        await engine.dispose()
        if not (args.keep or args.database):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
