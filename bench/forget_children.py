"""How long the `forget-leavers` job takes to erase 10,000 children who left a year ago.

    uv run python bench/forget_children.py [--children 35000] [--leavers 10000] [--months 12]

Makes a database of its own (`guanai demo-data`: a district with a year of check-ins),
adds a year of outbox messages naming the children and their guardians' phones (~250,000,
as reminders, news and roster captions would), two stored photos per leaver in a MEDIA_DIR
of its own, takes the leavers out (timed too), then runs the job a year and a day later:
erasure, the masking of the outbox and the deletion of the files. The issue asks for
under 60 s. It checks that a sample of leavers' names is nowhere left in the outbox.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from domain.archive import leaving
from domain.clock import SystemClock
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import Child, LeaveReason, OutboxMessage
from guanai.migrate import migrate
from guanai.settings import Settings
from workers.context import Deps
from workers.jobs import forget_leavers

SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432")


async def _admin(database_url: str, sql: str) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _demo(url: str, args: argparse.Namespace) -> None:
    await migrate(url)
    demo = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "guanai.cli", "demo-data", "--children", str(args.children)),
        *("--volunteers", str(args.children // 10), "--months", str(args.months)),
        env={**os.environ, "DATABASE_URL": url, "LANG": "en"},
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await demo.wait() != 0:
        raise SystemExit("demo-data failed")


# a year of messages to the volunteers: monthly reminders naming the child, and as many
# other lines again
OUTBOX = """
INSERT INTO outbox (channel, target, content, status, not_before, attempts, created_at)
SELECT a.channel, a.external_id,
       jsonb_build_object('blocks', jsonb_build_array(jsonb_build_array(CASE WHEN m % 2 = 0
           THEN '提醒：' || c.name || ' 本月还需家访、谈心。监护人电话 ' || coalesce(g.phone, '')
           ELSE '本周名单已发送，请查收。' END))),
       'sent', now(), 1, now()
FROM pairings p JOIN children c ON c.id = p.child_id
JOIN volunteers v ON v.id = p.volunteer_id JOIN accounts a ON a.person_id = v.person_id
LEFT JOIN LATERAL (SELECT phone FROM guardians WHERE child_id = c.id LIMIT 1) g ON true
CROSS JOIN generate_series(1, :months) m
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=35_000)
    parser.add_argument("--leavers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--profile", action="store_true", help="where the job's time goes")
    args = parser.parse_args()
    name = f"guanai_bench_forget_{os.getpid()}"
    url = f"{SERVER}/{name}"
    media = Path(tempfile.mkdtemp(prefix="guanai-bench-media-"))
    started = time.perf_counter()
    await _demo(url, args)
    print(f"{'demo district':<40} {time.perf_counter() - started:6.1f} s")
    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    left_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=366)
    try:
        async with UnitOfWork(sessionmaker) as uow:
            s = uow.session
            await s.execute(text(OUTBOX), {"months": args.months})
            ids = list(await s.scalars(select(Child.id).order_by(Child.id)))
            leavers = random.Random(5).sample(ids, args.leavers)
            checkins = await s.execute(
                text(
                    "SELECT DISTINCT ON (child_id) id, child_id FROM checkins "
                    "WHERE child_id = ANY(:ids) ORDER BY child_id, id"
                ),
                {"ids": leavers},
            )
            photos = []
            for checkin_id, _child in checkins:
                for n in (1, 2):
                    relative = f"checkins/{checkin_id}/{n}.jpg"
                    (media / relative).parent.mkdir(parents=True, exist_ok=True)
                    (media / relative).write_bytes(b"\xff\xd8 jpeg")
                    photos.append(
                        {
                            "c": checkin_id,
                            "f": f"F{checkin_id}-{n}",
                            "u": f"U{checkin_id}-{n}",
                            "p": relative,
                        }
                    )
            await s.execute(
                text(
                    "INSERT INTO photos (checkin_id, file_id, file_unique_id, status, "
                    "stored_path, attempts) VALUES (:c, :f, :u, 'stored', :p, 1)"
                ),
                photos,
            )
            outbox_rows = await s.scalar(select(func.count()).select_from(OutboxMessage))
            await uow.commit()
        await _admin(url, "VACUUM ANALYZE")
        print(f"outbox messages {outbox_rows}, photos of leavers {len(photos)}")

        started = time.perf_counter()
        async with UnitOfWork(sessionmaker) as uow:
            taken = await leaving.take_out_many(
                uow.session, leavers, reason=LeaveReason.finished_school, actor_id=None, at=left_at
            )
            await uow.commit()
        print(
            f"{'taking out ' + str(len(taken.child_ids)) + ' children':<40} "
            f"{time.perf_counter() - started:6.1f} s ({len(taken.ended)} pairings ended)"
        )
        async with UnitOfWork(sessionmaker) as uow:
            sample = list(
                await uow.session.scalars(select(Child.name).where(Child.id.in_(leavers[:50])))
            )

        settings = Settings(DATABASE_URL=url, MEDIA_DIR=str(media))
        deps = Deps(settings, sessionmaker, SystemClock(), None)  # type: ignore[arg-type]  # no front: it queues nothing
        profile = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        done = await forget_leavers(deps, dt.datetime.now(dt.UTC), None)
        elapsed = time.perf_counter() - started
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        print(f"{'forget-leavers: erasing ' + str(done['forgotten']) + ' children':<40} "
              f"{elapsed:6.1f} s ({done['messages']} messages masked, {done['files']} files)"
              f"  target < 60 s")  # fmt: skip
        assert done["forgotten"] == args.leavers
        assert not await asyncio.to_thread(lambda: any(media.rglob("*.jpg")))
        async with UnitOfWork(sessionmaker) as uow:
            for child_name in sample:
                # a leaver's name may also be a child's still in the programme (names repeat)
                still = await uow.session.scalar(
                    select(func.count()).where(Child.name == child_name)
                )
                if not still:
                    left_in = await uow.session.scalar(
                        select(func.count()).where(
                            OutboxMessage.payload["text"].astext.contains(child_name)
                        )
                    )
                    assert left_in == 0, child_name
    finally:
        await engine.dispose()
        await _admin(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
