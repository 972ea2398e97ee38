"""考核 / 表彰: volunteers of the month, and the school year's commendation list (表彰名单).

A volunteer of the month did everything due in the month by its end, visited every must-visit
(五必访) of their children by its deadline, and had no visit rejected on review or found not
to have happened. At the end of the school year each township gets its commendation list:
the volunteers with the best year, with their figures.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Concern,
    Pairing,
    Person,
    Region,
    RegionKind,
    ReviewStatus,
    SampleCheck,
    SampleOutcome,
    Volunteer,
)
from domain.schedule import due
from domain.schedule.calendar import Month

SCHOOL_YEAR_STARTS = 9  # September: classes and pairings change (DOMAIN.md)
COMMENDED_SHARE = 0.1  # the best tenth of a township's volunteers with a year to show
COMMENDED_AT_LEAST = 3


# rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolunteerMonth:
    volunteer_id: int
    required: int  # items due in the month
    done: int  # of them, done within it
    concerns: int  # must-visits of their children raised in the month
    concerns_late: int  # of them, not visited by the deadline
    rejected: int  # check-ins of the month rejected or found not to have happened


def of_the_month(month: VolunteerMonth) -> bool:
    """Everything due done on time, must-visits made by their deadline, nothing rejected."""
    return (
        month.required > 0
        and month.done >= month.required
        and month.concerns_late == 0
        and month.rejected == 0
    )


@dataclass(frozen=True)
class VolunteerYear:
    volunteer_id: int
    name: str
    site_name: str
    months_of_the_month: int
    home_visits: int
    checkins: int
    children: int
    concerns_closed: int
    confirmed_by_phone: int
    rejected: int

    def score(self) -> tuple[int, int, int, int]:
        return (self.months_of_the_month, self.home_visits, self.concerns_closed, self.checkins)


def commended(year: Sequence[VolunteerYear]) -> list[VolunteerYear]:
    """The best year first: the tenth (at least three) of the volunteers with visits and no
    visit rejected, ranked by months as volunteer of the month, then visits, then concerns."""
    eligible = sorted(
        (v for v in year if v.home_visits and not v.rejected),
        key=lambda v: (*(-x for x in v.score()), v.name, v.volunteer_id),
    )
    size = max(COMMENDED_AT_LEAST, round(len(eligible) * COMMENDED_SHARE))
    return eligible[:size]


def school_year_months(now: dt.date) -> list[Month]:
    """The months of the school year up to the one before `now` (September on)."""
    year = now.year if now.month >= SCHOOL_YEAR_STARTS else now.year - 1
    month, months = Month(year, SCHOOL_YEAR_STARTS), []
    last = Month(now.year, now.month).previous()
    while (month.year, month.month) <= (last.year, last.month):
        months.append(month)
        month = month.next()
    return months


# queries --------------------------------------------------------------------------------


async def month_records(
    session: AsyncSession, *, month: Month, tz: ZoneInfo, scope_path: str
) -> list[VolunteerMonth]:
    """Each volunteer's month in the scope, as `of_the_month` judges it."""
    start, end = month.start(tz), month.end(tz)
    required: dict[int, int] = defaultdict(int)
    done: dict[int, int] = defaultdict(int)
    async for batch in due.due_batches(
        session, month=month, tz=tz, selection=due.Selection(scope_path=scope_path)
    ):
        for item in batch:
            if item.due_at > end:
                continue  # the semester's letter is not due before its last month
            required[item.volunteer_id] += item.required
            done[item.volunteer_id] += min(item.done, item.required)
    concerns: dict[int, int] = defaultdict(int)
    late: dict[int, int] = defaultdict(int)
    for volunteer_id, closed_at, due_at in await session.execute(
        select(Pairing.volunteer_id, Concern.closed_at, Concern.due_at)
        .join(Pairing, Pairing.child_id == Concern.child_id)
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .join(Region, Region.id == Volunteer.site_id)
        .where(
            Region.path.startswith(scope_path),
            Concern.raised_at >= start,
            Concern.raised_at < end,
            Pairing.started_at <= Concern.raised_at,
            (Pairing.ended_at.is_(None)) | (Pairing.ended_at > Concern.raised_at),
        )
    ):
        concerns[volunteer_id] += 1
        late[volunteer_id] += closed_at is None or closed_at > due_at
    rejected = dict(
        (
            await session.execute(
                select(CheckIn.volunteer_id, func.count())
                .join(Volunteer, Volunteer.id == CheckIn.volunteer_id)
                .join(Region, Region.id == Volunteer.site_id)
                .where(
                    Region.path.startswith(scope_path),
                    CheckIn.review == ReviewStatus.rejected,
                    CheckIn.occurred_at >= start,
                    CheckIn.occurred_at < end,
                )
                .group_by(CheckIn.volunteer_id)
            )
        ).all()
    )
    return [
        VolunteerMonth(
            volunteer_id=volunteer_id,
            required=required[volunteer_id],
            done=done[volunteer_id],
            concerns=concerns[volunteer_id],
            concerns_late=late[volunteer_id],
            rejected=rejected.get(volunteer_id, 0),
        )
        for volunteer_id in sorted(set(required) | set(concerns) | set(rejected))
    ]


async def volunteers_of_the_month(
    session: AsyncSession, *, month: Month, tz: ZoneInfo, scope_path: str
) -> set[int]:
    return {
        m.volunteer_id
        for m in await month_records(session, month=month, tz=tz, scope_path=scope_path)
        if of_the_month(m)
    }


async def school_year(
    session: AsyncSession, *, months: Sequence[Month], tz: ZoneInfo, scope_path: str
) -> list[VolunteerYear]:
    """Every volunteer's figures over the months given, in the scope."""
    if not months:
        return []
    start, end = months[0].start(tz), months[-1].end(tz)
    best: dict[int, int] = defaultdict(int)
    for month in months:
        for volunteer_id in await volunteers_of_the_month(
            session, month=month, tz=tz, scope_path=scope_path
        ):
            best[volunteer_id] += 1
    in_period = (CheckIn.occurred_at >= start) & (CheckIn.occurred_at < end)
    counted = CheckIn.review != ReviewStatus.rejected
    visits = (
        select(func.count(CheckInActivity.checkin_id))
        .where(
            CheckInActivity.checkin_id == CheckIn.id,
            CheckInActivity.activity == Activity.home_visit,
            CheckInActivity.counted,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Volunteer.id,
            Person.name,
            Region.name.label("site_name"),
            func.count(CheckIn.id).filter(counted).label("checkins"),
            func.coalesce(func.sum(visits).filter(counted), 0).label("home_visits"),
            func.count(func.distinct(CheckIn.child_id)).filter(counted).label("children"),
            func.count(CheckIn.id)
            .filter(CheckIn.review == ReviewStatus.rejected)
            .label("rejected"),
        )
        .join(Person, Person.id == Volunteer.person_id)
        .join(Region, Region.id == Volunteer.site_id)
        .outerjoin(CheckIn, (CheckIn.volunteer_id == Volunteer.id) & in_period)
        .where(Region.path.startswith(scope_path))
        .group_by(Volunteer.id, Person.name, Region.name)
    )
    closed = await _counts(
        session,
        select(CheckIn.volunteer_id, func.count(Concern.id))
        .join(Concern, Concern.closed_by_checkin_id == CheckIn.id)
        .where(in_period)
        .group_by(CheckIn.volunteer_id),
    )
    confirmed = await _counts(
        session,
        select(SampleCheck.volunteer_id, func.count())
        .join(CheckIn, CheckIn.id == SampleCheck.checkin_id)
        .where(in_period, SampleCheck.outcome == SampleOutcome.confirmed)
        .group_by(SampleCheck.volunteer_id),
    )
    return [
        VolunteerYear(
            volunteer_id=row.id,
            name=row.name,
            site_name=row.site_name,
            months_of_the_month=best.get(row.id, 0),
            home_visits=int(row.home_visits),
            checkins=row.checkins,
            children=row.children,
            concerns_closed=closed.get(row.id, 0),
            confirmed_by_phone=confirmed.get(row.id, 0),
            rejected=row.rejected,
        )
        for row in rows
    ]


async def _counts(session: AsyncSession, query: Select[int, int]) -> dict[int, int]:
    return {key: count for key, count in await session.execute(query)}


def names_by_site(
    volunteer_ids: Iterable[int], volunteers: Iterable[tuple[int, int, str]]
) -> dict[int, list[str]]:
    """(volunteer, site, name) rows → the names of the chosen, per site."""
    chosen = set(volunteer_ids)
    found: dict[int, list[str]] = defaultdict(list)
    for volunteer_id, site_id, name in volunteers:
        if volunteer_id in chosen:
            found[site_id].append(name)
    return dict(found)


@dataclass(frozen=True)
class CommendationLists:
    first: Month
    last: Month
    townships: list[tuple[str, list[VolunteerYear]]]


async def commendation_lists(
    session: AsyncSession, *, scope_path: str, today: dt.date, tz: ZoneInfo
) -> CommendationLists | None:
    """The school year's commendation list of each township in the scope (the scope itself
    when it is one); None before the year has a month to count."""
    months = school_year_months(today)
    if not months:
        return None
    townships = (
        await session.execute(
            select(Region.name, Region.path)
            .where(
                Region.kind == RegionKind.township,
                Region.path.startswith(scope_path),
            )
            .order_by(Region.path)
        )
    ).all()
    lists = []
    for name, path in townships:
        year = await school_year(session, months=months, tz=tz, scope_path=path)
        lists.append((name, commended(year)))
    return CommendationLists(months[0], months[-1], lists)
