"""How long the near-duplicate search takes among many photos, indexed and by full scan.

Makes a scratch database, fills it with N stored photos (random 64-bit hashes, plus a
few planted near copies), then times the search `domain.care.photos` runs against a scan that
computes the distance to every photo, and checks both find the same photos.

    uv run python bench/photo_similarity.py [N=500000] [PROBES=200]

Random hashes are the friendly case for the quarter indexes (each quarter value is as
rare as it can be); real pHashes cluster somewhat, so expect more candidates per probe.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid

import asyncpg
from sqlalchemy import cast, func, select, text
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.engine import make_url

from domain.care.photos import near_duplicates
from domain.db import make_engine, make_sessionmaker
from domain.models import Photo
from guanai.migrate import migrate
from tests.factories import make_checkin

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
THRESHOLD = 6


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def near_copy(rng: random.Random, value: int, bits: int) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return signed(value & (1 << 64) - 1)


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string()


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(plain(f"{SERVER}/postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fill(
    url: str, checkin_id: int, count: int, planted: list[int], rng: random.Random
) -> None:
    connection = await asyncpg.connect(plain(url))
    try:
        hashes = [signed(rng.getrandbits(64)) for _ in range(count - len(planted))] + planted
        await connection.copy_records_to_table(
            "photos",
            columns=["checkin_id", "file_id", "file_unique_id", "status", "phash", "attempts"],
            records=((checkin_id, f"F{i}", f"U{i}", "stored", h, 1) for i, h in enumerate(hashes)),
        )
        await connection.execute("ANALYZE photos")
    finally:
        await connection.close()


async def main(count: int, probes: int) -> None:
    rng = random.Random(7)
    targets = [rng.getrandbits(64) for _ in range(probes)]
    # every other probe has one photo within the threshold and one just beyond it
    planted = [near_copy(rng, t, rng.randint(0, THRESHOLD)) for t in targets[::2]]
    planted += [near_copy(rng, t, THRESHOLD + 1) for t in targets[::2]]

    name = f"guanai_bench_photos_{uuid.uuid4().hex[:6]}"
    url = f"{SERVER}/{name}"
    await migrate(url)
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            checkin_id = (await make_checkin(session)).id
            await session.commit()
        started = time.perf_counter()
        await fill(url, checkin_id, count, planted, rng)
        print(f"photos: {count:,} (filled and analysed in {time.perf_counter() - started:.1f} s)")
        async with engine.connect() as connection:
            timings: dict[str, list[float]] = {"indexed": [], "full scan": []}
            found: dict[str, list[set[int]]] = {"indexed": [], "full scan": []}
            for target in targets:
                value = signed(target)
                distance = func.bit_count(cast(Photo.phash.op("#")(value), BIT(64)))
                queries = {
                    "indexed": near_duplicates(value, threshold=THRESHOLD, other_than_checkin=0),
                    "full scan": select(Photo.id).where(distance <= THRESHOLD),
                }
                for label, query in queries.items():
                    started = time.perf_counter()
                    rows = (await connection.execute(query)).all()
                    timings[label].append(time.perf_counter() - started)
                    found[label].append({row[0] for row in rows})
            query = near_duplicates(signed(targets[0]), threshold=THRESHOLD, other_than_checkin=0)
            sql = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = (await connection.execute(text(f"EXPLAIN ANALYZE {sql}"))).scalars().all()
        assert found["indexed"] == found["full scan"], "the indexed search missed photos"
        hits = sum(1 for rows in found["indexed"] if rows)
        print(f"probes: {probes}, with a photo within {THRESHOLD} bits: {hits} (both agree)")
        for label, values in timings.items():
            ms = sorted(v * 1000 for v in values)
            print(
                f"{label:>9}: median {statistics.median(ms):7.2f} ms, "
                f"p95 {ms[int(len(ms) * 0.95) - 1]:7.2f} ms per search"
            )
        print("plan of one indexed search:")
        print("\n".join(f"  {line}" for line in plan if "Scan" in line or "Execution" in line))
    finally:
        await engine.dispose()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(arguments + [500_000, 200][len(arguments) :])))
