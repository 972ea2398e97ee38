"""Benchmark the documents in and out on a synthetic district in a fresh database.

    uv run python bench/bench_documents.py [--children 35000] [--volunteers 3500] [--rows 5000]

Makes a database of its own, migrates it, fills it with `guanai demo-data` (two months of
check-ins, in a child process so its memory is not counted), then prints:

- the monthly records of the whole district (every site's record and every township's
  summary, compiled, rendered as workbooks and queued) on the day before they are due,
  for last month: target < 60 s, with this process (standing in for the worker) < 300 MB;
- a sheet of `--rows` children with every row bad, refused with its error sheet: target
  < 30 s.

The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import tempfile
import time
from pathlib import Path

from bench_workers import SERVER, _admin, _make_demo, _peak_mb  # type: ignore[import-not-found]
from sqlalchemy import func, select

from bot.locales import load_translations
from domain.archive.archive_import import (
    ImportKind,
    bad_rows_workbook,
    error_report,
    import_archive,
)
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import OutboxMessage, Region
from domain.reports import care_record
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from guanai.settings import Settings
from workers.context import freeze_loaded_modules


def bad_sheet(rows: int) -> bytes:
    """A school's sheet where every row has a bad date, an unknown relation and a bad phone."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("留守儿童")
    sheet.append(["某某小学留守儿童信息登记表"])
    sheet.append(
        [
            *("序号", "姓名", "性别", "出生日期", "年级", "班级", "监护人", "与儿童关系"),
            *("监护人电话", "监护类型", "是否重点", "学号"),
        ]
    )
    for n in range(rows):
        sheet.append(
            [
                *(n + 1, f"孩子{n}", "男" if n % 2 else "女", "2015-02-30", "三年级", "2班"),
                *(f"监护人{n}", "干爹", "12345", "隔代监护", "是", f"B{n:05d}"),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=35_000)
    parser.add_argument("--volunteers", type=int, default=3_500)
    parser.add_argument("--rows", type=int, default=5_000, help="rows of the bad sheet")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="measure an existing demo database instead")
    args = parser.parse_args()
    args.months = 2  # last month complete, for its record

    name = args.database or f"guanai_bench_documents_{os.getpid()}"
    url = f"{SERVER}/{name}"
    settings = Settings(DATABASE_URL=url)
    tz = settings.tz
    if not args.database:
        await _make_demo(url, args)

    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    notices = Notices()
    zh = load_translations()["zh"].gettext
    freeze_loaded_modules()  # as the worker does on start-up
    print(f"{'peak memory after imports':<50} {_peak_mb():4.0f} MB")
    now = dt.datetime.now(tz)
    last_month = Month.of(now, tz).previous()
    # the day before the default deadline (the 25th), when the job sends them
    record_day = dt.datetime.combine(last_month.first_day().replace(day=24), dt.time(8, 30), tz)
    try:
        with tempfile.TemporaryDirectory() as media:
            started = time.perf_counter()
            async with UnitOfWork(sessionmaker) as uow:
                queued = await care_record.send_care_records(
                    uow.session, now=record_day, tz=tz, text=notices, media_dir=Path(media)
                )
                documents = await uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.content["attachment"]["kind"].astext == "document")
                )
                sites = await uow.session.scalar(
                    select(func.count()).select_from(Region).where(Region.code.like("DEMO-S%"))
                )
                # rolled back: the database stays as demo-data made it
            record_time = time.perf_counter() - started
            record_peak = _peak_mb()
            print(
                f"{'monthly records of the district':<50} {record_time:6.1f} s  "
                f"peak {record_peak:4.0f} MB  ({queued} messages, {documents} workbooks, "
                f"{sites} sites)"
            )

        async with sessionmaker() as session:
            site_id = await session.scalar(select(Region.id).where(Region.code == "DEMO-S000"))
        assert site_id is not None
        data = bad_sheet(args.rows)
        started = time.perf_counter()
        async with UnitOfWork(sessionmaker) as uow:
            result = await import_archive(
                uow.session,
                kind=ImportKind.children,
                site_id=site_id,
                data=data,
                file_name="名单.xlsx",
                scope_paths=None,
                actor_id=None,
                at=now,
            )
            report = error_report(result, zh)
            returned = bad_rows_workbook(result, zh)
        sheet_time = time.perf_counter() - started
        assert not result.applied
        print(
            f"{f'a {args.rows}-row sheet, every row bad':<50} {sheet_time:6.1f} s  "
            f"peak {_peak_mb():4.0f} MB  ({len(result.errors)} problems, "
            f"{len(report)} report lines, error sheet {len(returned) // 1024} KB)"
        )
        print()
        print(f"monthly records: {record_time:.1f} s (target < 60 s)")
        print(f"peak memory of this process: {record_peak:.0f} MB (target < 300 MB)")
        print(f"bad sheet refused with its error sheet: {sheet_time:.1f} s (target < 30 s)")
    finally:
        await engine.dispose()
        if not (args.keep or args.database):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
