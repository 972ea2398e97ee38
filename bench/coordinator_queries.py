"""How long a district coordinator waits for 📊 Overview and ⏰ Overdue.

Builds a scratch database at DOMAIN.md's district scale (300 sites, 35,000 children, a
third of them key, 3,500 volunteers, 12,000 pairings with October check-ins), then times
the overview and the overdue list for the whole district in November.

    uv run python bench/coordinator_queries.py   # needs PostgreSQL as in the tests
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import text

from domain.db import make_engine, make_sessionmaker
from domain.reports import overview
from domain.schedule import overdue
from domain.schedule.calendar import Month
from guanai.migrate import migrate

SERVER = os.environ.get("TEST_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432")
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 16, 10, tzinfo=TZ)

SEED = """
INSERT INTO regions (id, code, name, kind, parent_id, path)
  VALUES (1, 'D', '区', 'district', NULL, '1/');
INSERT INTO regions (id, code, name, kind, parent_id, path)
  SELECT 1 + t, 'T' || t, '镇' || t, 'township', 1, '1/' || (1 + t) || '/'
  FROM generate_series(1, 10) t;
INSERT INTO regions (id, code, name, kind, parent_id, path)
  SELECT 100 + s, 'S' || s, '校' || s, 'school', 2 + s % 10,
         '1/' || (2 + s % 10) || '/' || (100 + s) || '/'
  FROM generate_series(1, 300) s;
INSERT INTO people (id, name)
  SELECT p, '志愿者' || p FROM generate_series(1, 3500) p;
INSERT INTO accounts (person_id, channel, external_id)
  SELECT p, 'telegram', (1000000 + p)::text FROM generate_series(1, 3500) p;
INSERT INTO volunteers (id, person_id, site_id, kind, is_core, joined_at)
  SELECT v, v, 101 + v % 300, CASE WHEN v % 3 = 0 THEN 'teacher' ELSE 'surrogate' END, false,
         '2026-01-01+08' FROM generate_series(1, 3500) v;
INSERT INTO children (id, site_id, name, priority, guardianship)
  SELECT c, 101 + c % 300, '孩子' || c, CASE WHEN c % 3 = 0 THEN 'key' ELSE 'normal' END, 'guardian'
  FROM generate_series(1, 35000) c;
INSERT INTO pairings (volunteer_id, child_id, role, started_at)
  SELECT 1 + (c / 3) % 3500, c, 'surrogate', '2026-09-01+08' FROM generate_series(3, 36000, 3) c
  WHERE c <= 35000;
INSERT INTO checkins (id, pairing_id, child_id, volunteer_id, occurred_at, idempotency_key, review)
  SELECT p.id, p.id, p.child_id, p.volunteer_id, '2026-10-10+08', 'k' || p.id, 'none'
  FROM pairings p WHERE p.id % 4 <> 0;
INSERT INTO checkin_activities (checkin_id, activity, pairing_id, occurred_at)
  SELECT c.id, a, c.pairing_id, c.occurred_at FROM checkins c,
    unnest(ARRAY['home_visit', 'talk', 'homework_check']) a;
SELECT setval('checkins_id_seq', (SELECT max(id) FROM checkins));
ANALYZE;
"""


async def main() -> None:
    name = f"guanai_bench_{uuid.uuid4().hex[:6]}"
    url = f"{SERVER}/{name}"
    await migrate(url)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            for statement in SEED.split(";\n"):
                if statement.strip():
                    await connection.execute(text(statement))
        async with make_sessionmaker(engine)() as session:
            for label, run in (
                (
                    "overview, whole district",
                    lambda: overview.overview(
                        session, scope_path="1/", month=Month(2026, 11), tz=TZ, now=NOW
                    ),
                ),
                (
                    "overdue, whole district",
                    lambda: overdue.overdue(session, scope_path="1/", now=NOW, tz=TZ),
                ),
                (
                    "overdue, one school",
                    lambda: overdue.overdue(session, scope_path="1/3/101/", now=NOW, tz=TZ),
                ),
            ):
                await run()  # warm the caches once
                started = time.perf_counter()
                result = await run()
                size = len(result) if isinstance(result, list) else result.children
                print(f"{label}: {time.perf_counter() - started:.3f} s ({size} rows/children)")
    finally:
        await engine.dispose()
        connection = await asyncpg.connect(SERVER.replace("+asyncpg", "") + "/postgres")
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
