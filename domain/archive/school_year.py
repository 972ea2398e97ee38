"""The new school year (学年): on the site's day (default 1 September) every child's grade
moves up one; a child leaving the last grade of the school has finished it and is taken
out of the programme, their pairings ending and their volunteers told. Class lists change
in September: the new sheets are imported after it (`archive_import` matches each child).

A site is moved up once a year: `Region.promoted_on` says when it last was, so a second
run, or a worker that was down on the day and runs the day after, moves nobody twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.archive import leaving
from domain.delivery.messaging import Outgoing, Recipient, queue, recipients
from domain.models import Child, LeaveReason, Region, RegionKind, Volunteer
from domain.people import audit, regions
from domain.schedule.deadlines import outside_quiet_hours

DEFAULT_START = 901  # 1 September: the autumn semester starts and class lists change

PRIMARY_YEARS = 6  # 六年级 is the last year of primary school
LAST_YEAR = 9  # 九年级 (初三): compulsory education, and the programme's children, end

_CHINESE = "一二三四五六七八九"
_GRADE = re.compile(r"^(?:(?P<digit>[1-9])|(?P<chinese>[一二三四五六七八九]))年级$")
_JUNIOR = re.compile(r"^初(?P<chinese>[一二三])$")  # 初一 … 初三 are 七年级 … 九年级
_PRESCHOOL = ("学前班", "幼儿园大班", "大班")


def year_of(grade: str | None) -> int | None:
    """The school year a grade names (1 … 9), as sheets write it; None when not a grade."""
    text = re.sub(r"\s", "", grade or "")
    if match := _GRADE.match(text):
        return int(match["digit"]) if match["digit"] else _CHINESE.index(match["chinese"]) + 1
    if match := _JUNIOR.match(text):
        return _CHINESE.index(match["chinese"]) + 7
    return 0 if text in _PRESCHOOL else None


@dataclass(frozen=True)
class MovedUp:
    grade: str | None  # the next grade, written as the sheet wrote this one
    finished: bool = False  # left the last grade: finished school


def moved_up(grade: str | None, *, last_year: int) -> MovedUp | None:
    """The grade after `grade`, in its own style (3年级 → 4年级, 三年级 → 四年级, 初一 → 初二,
    学前班 → 一年级); `finished` past `last_year`. None for a grade not understood: it is
    left as it is, for the new sheet to set."""
    year = year_of(grade)
    if year is None:
        return None
    if year >= last_year:
        return MovedUp(grade, finished=True)
    text = re.sub(r"\s", "", grade or "")
    if _JUNIOR.match(text):
        return MovedUp(f"初{_CHINESE[year - 6]}")
    if text and text[0].isdigit():
        return MovedUp(f"{year + 1}年级")
    return MovedUp(f"{_CHINESE[year]}年级")


def last_year_of(site_kind: RegionKind, years: Sequence[int]) -> int:
    """A school whose children are all in primary grades is a primary school: its sixth
    grade is the last. A school with grades 7–9 (九年一贯制, a middle school), a village or a
    community keeps its children until 九年级."""
    if site_kind is RegionKind.school and all(year <= PRIMARY_YEARS for year in years):
        return PRIMARY_YEARS
    return LAST_YEAR


def start_in(year: int, start: int) -> dt.date:
    return dt.date(year, start // 100, start % 100)


def due(*, today: dt.date, start: int, last_moved: dt.date) -> bool:
    """The site moves up when this year's day has come and it has not moved up since."""
    day = start_in(today.year, start)
    return day <= today and last_moved < day


# --- moving a site up -----------------------------------------------------------------


@dataclass(frozen=True)
class LeftChild:
    name: str
    reason: LeaveReason


class SchoolYearText(Protocol):
    def children_left(self, to: Recipient, children: Sequence[LeftChild]) -> Outgoing:
        """To a volunteer: these children left the programme and the pairings ended."""
        ...


@dataclass
class YearReport:
    sites: int = 0
    moved_up: int = 0
    finished: int = 0
    not_understood: int = 0  # grades left as they were
    told: int = 0  # volunteers told of pairings that ended


async def sites_due(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str | None = None
) -> list[Region]:
    query = select(Region).where(Region.kind.in_([k for k in RegionKind if k.is_site]))
    if scope_path is not None:
        query = query.where(Region.path.startswith(scope_path))
    sites = list(await session.scalars(query.order_by(Region.id)))
    starts = await regions.inherited(
        session, {s.path for s in sites}, "school_year_start", DEFAULT_START
    )
    today = now.astimezone(tz).date()
    return [
        site
        for site in sites
        if due(
            today=today,
            start=starts[site.path],
            # a site made after this year's day holds the grades as they are now
            last_moved=site.promoted_on or site.created_at.astimezone(tz).date(),
        )
    ]


async def move_up(
    session: AsyncSession, site: Region, *, now: dt.datetime, tz: ZoneInfo, report: YearReport
) -> leaving.Left:
    """Move every child of the site up a grade; those past the last grade leave."""
    children = (
        await session.execute(
            select(Child.id, Child.grade).where(
                Child.site_id == site.id, Child.left_at.is_(None), Child.forgotten_at.is_(None)
            )
        )
    ).all()
    last = last_year_of(site.kind, [y for c in children if (y := year_of(c.grade)) is not None])
    to_grade: dict[str | None, list[int]] = defaultdict(list)
    finished: list[int] = []
    for child in children:
        up = moved_up(child.grade, last_year=last)
        if up is None:
            report.not_understood += 1
        elif up.finished:
            finished.append(child.id)
        else:
            to_grade[up.grade].append(child.id)
    for grade, ids in to_grade.items():
        await session.execute(
            update(Child)
            .where(Child.id.in_(ids))
            .values(grade=grade)
            .execution_options(synchronize_session=False)
        )
    left = await leaving.take_out_many(
        session, finished, reason=LeaveReason.finished_school, actor_id=None, at=now
    )
    site.promoted_on = now.astimezone(tz).date()
    moved = sum(len(ids) for ids in to_grade.values())
    audit.record(
        session,
        at=now,
        action="school_year.move_up",
        subject_type="region",
        subject_id=site.id,
        details={"moved_up": moved, "finished": len(finished)},
    )
    report.sites += 1
    report.moved_up += moved
    report.finished += len(left.child_ids)
    return left


async def tell_volunteers(
    session: AsyncSession,
    left: leaving.Left,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: SchoolYearText,
    media_dir: Path,
    key: str,
) -> int:
    """One message per volunteer whose pairings ended with children leaving."""
    if not left.ended:
        return 0
    names = {
        row.id: LeftChild(row.name, row.left_reason or LeaveReason.other)
        for row in await session.execute(
            select(Child.id, Child.name, Child.left_reason).where(
                Child.id.in_({p.child_id for p in left.ended})
            )
        )
    }
    volunteers = {
        volunteer_id: person_id
        for volunteer_id, person_id in await session.execute(
            select(Volunteer.id, Volunteer.person_id).where(
                Volunteer.id.in_({p.volunteer_id for p in left.ended})
            )
        )
    }
    by_person: dict[int, list[LeftChild]] = defaultdict(list)
    for pairing in sorted(left.ended, key=lambda p: p.id):
        by_person[volunteers[pairing.volunteer_id]].append(names[pairing.child_id])
    people = await recipients(session, by_person)
    told = 0
    for person_id, children in sorted(by_person.items()):
        to = people[person_id]
        if to.reachable and await queue(
            session,
            to=to,
            message=text.children_left(to, children),
            not_before=outside_quiet_hours(now, tz),
            dedupe_key=f"{key}:{person_id}",
            media_dir=media_dir,
        ):
            told += 1
    return told


async def new_school_year(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: SchoolYearText,
    media_dir: Path,
    scope_path: str | None = None,
) -> YearReport:
    """Move up every site whose day has come, and tell the volunteers of those who left."""
    report = YearReport()
    for site in await sites_due(session, now=now, tz=tz, scope_path=scope_path):
        left = await move_up(session, site, now=now, tz=tz, report=report)
        report.told += await tell_volunteers(
            session,
            left,
            now=now,
            tz=tz,
            text=text,
            media_dir=media_dir,
            key=f"school-year:{site.id}:{site.promoted_on}",
        )
    return report
