"""The new school year: grades move up on the site's day, those past the last grade leave
with their pairings ended and their volunteers told, once a year whatever the reruns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.archive import leaving, school_year
from domain.archive.archive_import import ImportKind, import_archive
from domain.archive.school_year import MovedUp, moved_up, year_of
from domain.db import UnitOfWork
from domain.models import AuditEntry, Child, LeaveReason, Pairing, Person, Region, RegionKind
from domain.wording.notices import Notices
from tests.archive_sheets import xlsx
from tests.conftest import SHANGHAI
from tests.factories import make_child, make_pairing, make_site
from tests.outbox_support import shown
from tests.workers_support import make_programme, outbox_to

LAST_SEPTEMBER = dt.date(2026, 9, 1)


@pytest.mark.parametrize(
    ("grade", "last", "after"),
    [
        ("一年级", 6, MovedUp("二年级")),
        ("3年级", 6, MovedUp("4年级")),
        (" 五 年级", 6, MovedUp("六年级")),
        ("六年级", 6, MovedUp("六年级", finished=True)),
        ("6年级", 9, MovedUp("7年级")),
        ("六年级", 9, MovedUp("七年级")),
        ("初一", 9, MovedUp("初二")),
        ("初三", 9, MovedUp("初三", finished=True)),
        ("九年级", 9, MovedUp("九年级", finished=True)),
        ("学前班", 6, MovedUp("一年级")),
        ("三年级二班", 6, None),
        (None, 6, None),
    ],
)
def test_a_grade_moves_up_in_the_style_it_was_written(
    grade: str | None, last: int, after: MovedUp | None
) -> None:
    assert moved_up(grade, last_year=last) == after


def test_a_school_with_children_past_primary_keeps_its_sixth_graders() -> None:
    assert school_year.last_year_of(RegionKind.school, [1, 3, 6]) == 6
    assert school_year.last_year_of(RegionKind.school, [1, 6, 7]) == 9  # 九年一贯制
    assert school_year.last_year_of(RegionKind.village, [1, 6]) == 9
    assert year_of("初二") == 8 and year_of("二班") is None


def test_a_site_moves_up_once_on_or_after_its_day() -> None:
    last = dt.date(2026, 9, 1)
    assert not school_year.due(today=dt.date(2027, 8, 31), start=901, last_moved=last)
    assert school_year.due(today=dt.date(2027, 9, 1), start=901, last_moved=last)
    assert school_year.due(today=dt.date(2027, 9, 3), start=901, last_moved=last)  # worker was down
    moved = dt.date(2027, 9, 1)
    assert not school_year.due(today=dt.date(2027, 9, 2), start=901, last_moved=moved)
    assert school_year.due(today=dt.date(2027, 2, 15), start=215, last_moved=last)


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime
) -> school_year.YearReport:
    async with UnitOfWork(sessionmaker) as uow:
        report = await school_year.new_school_year(
            uow.session, now=at, tz=SHANGHAI, text=Notices(), media_dir=Path("unused")
        )
        await uow.commit()
    return report


async def test_september_moves_grades_up_and_the_sixth_grade_leaves_its_volunteer_told(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        p = await make_programme(s)  # 小明, grade unknown, paired at 中和小学
        p.school.promoted_on = LAST_SEPTEMBER
        first = await make_child(s, p.school, name="一年级的", grade="一年级")
        third = await make_child(s, p.school, name="三年级的", grade="3年级")
        sixth = await make_child(s, p.school, name="李小花", grade="六年级")
        pairing = await make_pairing(s, p.volunteer, sixth)
        gone = await make_child(
            s, p.school, grade="二年级", left_at=dt.datetime(2027, 3, 1, tzinfo=SHANGHAI)
        )
        village = await make_site(
            s, parent=p.township, kind=RegionKind.village, promoted_on=LAST_SEPTEMBER
        )
        villager = await make_child(s, village, grade="六年级")
        await uow.commit()

    assert (await _run(sessionmaker, dt.datetime(2027, 8, 31, 10, tzinfo=SHANGHAI))).sites == 0

    day = dt.datetime(2027, 9, 1, 6, 7, tzinfo=SHANGHAI)
    report = await _run(sessionmaker, day)
    assert (report.sites, report.moved_up, report.finished, report.told) == (2, 3, 1, 1)
    assert report.not_understood == 1  # 小明's grade is not set: the new sheet will say
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        grades = {c.id: c.grade for c in await s.scalars(select(Child))}
        assert grades[first.id] == "二年级" and grades[third.id] == "4年级"
        assert grades[villager.id] == "七年级"  # a village keeps its children past primary
        assert grades[gone.id] == "二年级"  # left before: not moved
        left = await s.get_one(Child, sixth.id)
        assert left.left_reason is LeaveReason.finished_school and left.left_at == day
        assert (await s.get_one(Pairing, pairing.id)).ended_at == day
        assert (await s.get_one(Pairing, p.pairing.id)).ended_at is None
        [told] = await outbox_to(s, await s.get_one(Person, p.volunteer.person_id))
        assert "李小花：毕业离校" in shown(told)["text"] and "新学年" in shown(told)["text"]
        assert told.not_before == dt.datetime(2027, 9, 1, 8, tzinfo=SHANGHAI)  # not at 6 am
        assert await s.scalar(
            select(AuditEntry.details).where(
                AuditEntry.action == "school_year.move_up", AuditEntry.subject_id == p.school.id
            )
        ) == {"moved_up": 2, "finished": 1}

    # a rerun that day, or the day after, moves nobody again
    assert (await _run(sessionmaker, day)).sites == 0
    assert (await _run(sessionmaker, day + dt.timedelta(days=1))).sites == 0
    next_year = await _run(sessionmaker, dt.datetime(2028, 9, 1, 6, 7, tzinfo=SHANGHAI))
    assert next_year.sites == 2 and next_year.moved_up == 3


async def test_a_township_sets_the_day_for_its_sites(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        p.school.promoted_on = LAST_SEPTEMBER
        p.township.school_year_start = 215  # 15 February
        child = await make_child(uow.session, p.school, grade="二年级")
        await uow.commit()

    assert (await _run(sessionmaker, dt.datetime(2027, 2, 14, 9, tzinfo=SHANGHAI))).sites == 0
    assert (await _run(sessionmaker, dt.datetime(2027, 2, 15, 9, tzinfo=SHANGHAI))).sites == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert (await uow.session.get_one(Child, child.id)).grade == "三年级"
        site = await uow.session.get_one(Region, p.school.id)
        assert site.promoted_on == dt.date(2027, 2, 15)


async def _import(
    sessionmaker: async_sessionmaker[AsyncSession], site_id: int, rows: list[tuple[str, ...]]
) -> tuple[int, int, int]:
    header = ("学号", "姓名", "出生日期", "学校", "年级", "监护人", "监护人电话")
    async with UnitOfWork(sessionmaker) as uow:
        result = await import_archive(
            uow.session,
            kind=ImportKind.children,
            site_id=site_id,
            data=xlsx(rows, header=header),
            file_name="名单.xlsx",
            scope_paths=None,
            actor_id=None,
            at=dt.datetime(2027, 9, 3, 9, tzinfo=SHANGHAI),
        )
        await uow.commit()
    assert result.applied, result.errors
    return result.added, result.updated, result.unchanged


async def test_a_year_moves_up_a_new_intake_adds_without_duplicates_and_leavers_are_forgotten(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        p = await make_programme(uow.session)
        p.school.promoted_on = LAST_SEPTEMBER
        await uow.commit()
    last_year = [
        ("S1", "张一", "2016-05-01", "中和小学", "五年级", "张奶奶", "13811110001"),
        ("S2", "陈二", "2015-04-01", "中和小学", "六年级", "陈爷爷", "13811110002"),
        ("S3", "刘三", "2020-03-01", "中和小学", "一年级", "刘奶奶", "13811110003"),
    ]
    assert await _import(sessionmaker, p.school.id, last_year) == (3, 0, 0)
    async with UnitOfWork(sessionmaker) as uow:
        chen = await uow.session.scalar(select(Child).where(Child.name == "陈二"))
        assert chen is not None
        await make_pairing(uow.session, p.volunteer, chen)
        await uow.commit()

    report = await _run(sessionmaker, dt.datetime(2027, 9, 1, 6, 7, tzinfo=SHANGHAI))
    assert (report.finished, report.told) == (1, 1)

    # the school's new list: the grades it writes are the ones moved up, a new first grade
    intake = [
        ("S1", "张一", "2016-05-01", "中和小学", "六年级", "张奶奶", "13811110001"),
        ("S3", "刘三", "2020-03-01", "中和小学", "二年级", "刘奶奶", "13899990003"),
        ("S4", "赵四", "2021-02-01", "中和小学", "一年级", "赵奶奶", "13811110004"),
    ]
    assert await _import(sessionmaker, p.school.id, intake) == (1, 1, 1)
    assert await _import(sessionmaker, p.school.id, intake) == (0, 0, 3)
    async with UnitOfWork(sessionmaker) as uow:
        names = sorted(c.name for c in await uow.session.scalars(select(Child)))
        assert names == sorted(["小明", "张一", "陈二", "刘三", "赵四"])  # none twice

    # a year and a day after leaving, 陈二's archive is erased; the others are kept
    async with UnitOfWork(sessionmaker) as uow:
        day = dt.datetime(2028, 9, 2, 3, 37, tzinfo=SHANGHAI)
        due = await leaving.due_for_forgetting(uow.session, now=day)
        assert due == [chen.id]
        await leaving.forget(uow.session, due, actor_id=None, at=day, why="retention")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        erased = await uow.session.get_one(Child, chen.id)
        assert erased.name == "—" and erased.external_id is None and erased.grade == "六年级"
