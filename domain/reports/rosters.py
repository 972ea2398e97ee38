"""The weekly roster (每周值班表): made every Monday morning, once per ISO week.

Each coordinator gets the roster of their scope — per volunteer: their children, what
they did last week, what is still due this month, their duty days at the children's
home, whether they have been inactive for 30 days — as a short message, a workbook and
a chart of this month's completion. Each volunteer gets their own week in one message.

The week is computed once for everything in the run's scope, in a handful of set-based
queries, and sliced per coordinator; a `Roster` row per (week, recipient, region) is
written with the messages, so a rerun makes nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import duty, review
from domain.delivery import robots
from domain.delivery.messaging import Outgoing, Recipient, queue, recipients
from domain.models import (
    Account,
    Activity,
    Channel,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    ConcernKind,
    Coordinator,
    DutyShift,
    Pairing,
    Person,
    Region,
    RegionKind,
    Roster,
    Volunteer,
)
from domain.reports import recognition
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import ancestor_ids, due_day, outside_quiet_hours
from domain.schedule.inactivity import INACTIVE_AFTER, is_inactive

log = logging.getLogger(__name__)

SITE_KINDS = [kind for kind in RegionKind if kind.is_site]


@dataclass(frozen=True)
class Done:
    child_name: str
    activity: Activity
    day: dt.date


@dataclass(frozen=True)
class Owed:
    child_name: str
    activities: tuple[Activity, ...]


@dataclass(frozen=True)
class MustVisit:
    child_name: str
    kind: ConcernKind
    due_at: dt.datetime
    due_day: dt.date | None = None  # the local day it is due by


@dataclass(frozen=True)
class Birthday:
    child_name: str
    day: dt.date  # this week's day of it


def birthday_in_week(born: dt.date | None, monday: dt.date) -> dt.date | None:
    """The day of the week from `monday` that is the child's birthday, if one is (a
    birthday on 29 February is kept on the 28th in other years)."""
    if born is None:
        return None
    for year in {monday.year, (monday + dt.timedelta(days=6)).year}:
        try:
            birthday = born.replace(year=year)
        except ValueError:
            birthday = dt.date(year, 2, 28)
        if monday <= birthday < monday + dt.timedelta(days=7):
            return birthday
    return None


@dataclass
class VolunteerWeek:
    volunteer_id: int
    person_id: int
    name: str
    site_id: int
    site_name: str
    site_path: str
    unreachable: bool
    children: list[str] = field(default_factory=list)
    last_week: list[Done] = field(default_factory=list)
    owed: list[Owed] = field(default_factory=list)
    must_visits: list[MustVisit] = field(default_factory=list)
    duty_days: list[dt.date] = field(default_factory=list)
    birthdays: list[Birthday] = field(default_factory=list)  # of their children, this week
    inactive: bool = False  # domain.schedule.inactivity's one definition, as in the overview
    of_the_month: bool = False  # a volunteer of last month (domain.reports.recognition)


@dataclass(frozen=True)
class Completion:
    """This month's items of one bar of the chart: done (up to what is required) / required."""

    name: str
    required: int
    done: int

    @property
    def share(self) -> float | None:
        """None when nothing is due there: a site without paired children is not 100 % done."""
        return self.done / self.required if self.required else None


@dataclass(frozen=True)
class Week:
    iso_week: str  # "2026-W47"
    monday: dt.date
    month: Month


@dataclass(frozen=True)
class ScopeRoster:
    week: Week
    scope_name: str
    volunteers: Sequence[VolunteerWeek]
    completion: Sequence[Completion]  # per site, or per township for a district
    to_review: int = 0  # check-ins in the sites' review queues (审核)


class RosterText(Protocol):
    def roster(self, to: Recipient, roster: ScopeRoster) -> list[Outgoing]: ...

    def volunteer_week(self, to: Recipient, week: Week, volunteer: VolunteerWeek) -> Outgoing: ...


def week_of(now: dt.datetime, tz: ZoneInfo) -> Week:
    today = now.astimezone(tz).date()
    year, number, weekday = today.isocalendar()
    monday = today - dt.timedelta(days=weekday - 1)
    return Week(f"{year}-W{number:02d}", monday, Month(today.year, today.month))


@dataclass
class SiteWeek:
    """One site's items of the month so far: the bar of a coordinator's chart."""

    name: str
    path: str
    required: int = 0
    done: int = 0


@dataclass
class DistrictWeek:
    """Everything the rosters of a scope need, computed once."""

    week: Week
    volunteers: list[VolunteerWeek]
    sites: dict[int, SiteWeek]
    region_names: dict[int, str]
    to_review: dict[int, int] = field(default_factory=dict)  # per site


async def compute_week(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str
) -> DistrictWeek:
    week = week_of(now, tz)
    monday = dt.datetime.combine(week.monday, dt.time(), tz)
    in_scope = Region.path.startswith(scope_path)

    volunteers: dict[int, VolunteerWeek] = {}
    joined: dict[int, dt.datetime] = {}
    for row in await session.execute(
        select(
            Volunteer.id,
            Volunteer.person_id,
            Person.name,
            Account.id.label("account_id"),
            Account.unreachable_at,
            Volunteer.joined_at,
            Region.id.label("site_id"),
            Region.name.label("site_name"),
            Region.path,
        )
        .join(Person, Person.id == Volunteer.person_id)
        .join(Region, Region.id == Volunteer.site_id)
        .outerjoin(
            Account, and_(Account.person_id == Person.id, Account.channel == Channel.telegram)
        )
        .where(Volunteer.removed_at.is_(None), in_scope)
        .order_by(Region.path, Person.name, Volunteer.id)
    ):
        volunteers[row.id] = VolunteerWeek(
            volunteer_id=row.id,
            person_id=row.person_id,
            name=row.name,
            site_id=row.site_id,
            site_name=row.site_name,
            site_path=row.path,
            unreachable=row.account_id is None or row.unreachable_at is not None,
        )
        joined[row.id] = row.joined_at
    last_check_in = dict(
        (
            await session.execute(
                select(CheckIn.volunteer_id, func.max(CheckIn.occurred_at))
                .join(Volunteer, Volunteer.id == CheckIn.volunteer_id)
                .join(Region, Region.id == Volunteer.site_id)
                .where(in_scope, CheckIn.occurred_at >= now - INACTIVE_AFTER)
                .group_by(CheckIn.volunteer_id)
            )
        ).all()
    )
    for volunteer_id, volunteer in volunteers.items():
        volunteer.inactive = is_inactive(
            joined_at=joined[volunteer_id], last_check_in=last_check_in.get(volunteer_id), now=now
        )

    pairings: dict[int, tuple[int, int, str]] = {}  # pairing → volunteer, child, child's name
    for paired in await session.execute(
        select(Pairing.id, Pairing.volunteer_id, Pairing.child_id, Child.name, Child.birth_date)
        .join(Child, Child.id == Pairing.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(Pairing.ended_at.is_(None), Child.left_at.is_(None), in_scope)
        .order_by(Child.name, Pairing.id)
    ):
        if paired.volunteer_id in volunteers:
            pairings[paired.id] = (paired.volunteer_id, paired.child_id, paired.name)
            volunteer = volunteers[paired.volunteer_id]
            volunteer.children.append(paired.name)
            if birthday := birthday_in_week(paired.birth_date, week.monday):
                volunteer.birthdays.append(Birthday(paired.name, birthday))

    # what they did last week
    since = monday - dt.timedelta(days=7)
    active_pairings = (
        select(Pairing.id)
        .join(Child, Child.id == Pairing.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(Pairing.ended_at.is_(None), in_scope)
    )
    for done in await session.execute(
        select(CheckInActivity.pairing_id, CheckInActivity.activity, CheckInActivity.occurred_at)
        .where(
            CheckInActivity.pairing_id.in_(active_pairings),
            CheckInActivity.counted,
            CheckInActivity.occurred_at >= since,
            CheckInActivity.occurred_at < now,
        )
        .order_by(CheckInActivity.occurred_at)
    ):
        if done.pairing_id not in pairings:
            continue
        volunteer_id, _, child_name = pairings[done.pairing_id]
        if done.occurred_at < monday:
            volunteers[volunteer_id].last_week.append(
                Done(child_name, done.activity, done.occurred_at.astimezone(tz).date())
            )

    # this month's items: what each still owes, and the completion of every site
    sites: dict[int, SiteWeek] = {
        row.id: SiteWeek(row.name, row.path)
        for row in await session.execute(
            select(Region.id, Region.name, Region.path).where(in_scope, Region.kind.in_(SITE_KINDS))
        )
    }
    owed: dict[int, list[Activity]] = defaultdict(list)
    month_end = week.month.end(tz)
    async for batch in due.due_batches(
        session, month=week.month, tz=tz, selection=due.Selection(scope_path=scope_path)
    ):
        for item in batch:
            # this month's items only: the semester's letter is not due before its last
            # month, as the ladder and the care record count it
            if item.pairing_id not in pairings or item.due_at > month_end:
                continue
            site = sites[volunteers[item.volunteer_id].site_id]
            site.required += item.required
            site.done += min(item.done, item.required)
            if item.missing:
                owed[item.pairing_id].append(item.activity)
    for pairing_id, activities in owed.items():
        volunteer_id, _, child_name = pairings[pairing_id]
        volunteers[volunteer_id].owed.append(Owed(child_name, tuple(activities)))

    # must-visits still open, and duty days at the children's home this week
    child_volunteers: dict[int, list[int]] = defaultdict(list)
    for volunteer_id, child_id, _ in pairings.values():
        child_volunteers[child_id].append(volunteer_id)
    for concern in await session.execute(
        select(Concern.child_id, Concern.kind, Concern.due_at, Child.name)
        .join(Child, Child.id == Concern.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(Concern.closed_at.is_(None), in_scope)
        .order_by(Concern.due_at)
    ):
        for volunteer_id in child_volunteers.get(concern.child_id, []):
            volunteers[volunteer_id].must_visits.append(
                MustVisit(concern.name, concern.kind, concern.due_at, due_day(concern.due_at, tz))
            )
    shifts: dict[int, list[dt.date]] = defaultdict(list)
    for shift in await session.execute(
        select(DutyShift.volunteer_id, DutyShift.day)
        .join(Region, Region.id == DutyShift.site_id)
        .where(
            in_scope,
            DutyShift.day >= week.monday,
            DutyShift.day < week.monday + dt.timedelta(days=7),
        )
    ):
        shifts[shift.volunteer_id].append(shift.day)
    rota = duty.days_in_week(week.monday, await duty.rota_within(session, scope_path))
    for volunteer_id, days in duty.merged(rota, shifts).items():
        if volunteer_id in volunteers:
            volunteers[volunteer_id].duty_days = days

    best = await recognition.volunteers_of_the_month(
        session, month=week.month.previous(), tz=tz, scope_path=scope_path
    )
    for volunteer_id in best & volunteers.keys():
        volunteers[volunteer_id].of_the_month = True
    region_names = dict(
        (await session.execute(select(Region.id, Region.name).where(in_scope))).all()
    )
    return DistrictWeek(
        week,
        list(volunteers.values()),
        sites,
        region_names,
        to_review=await review.waiting_per_site(session, sites),
    )


def scope_roster(data: DistrictWeek, *, scope_name: str, scope_path: str) -> ScopeRoster:
    """A coordinator's slice: their volunteers, and completion per site under them (per
    township when the scope is a district, so the chart stays readable)."""
    depth = len(ancestor_ids(scope_path))
    bars: dict[int, list[SiteWeek]] = defaultdict(list)
    for site_id, site in data.sites.items():
        if site.path.startswith(scope_path):
            chain = ancestor_ids(site.path)
            group = chain[depth] if len(chain) > depth + 1 else site_id
            bars[group].append(site)
    completion = sorted(
        (
            Completion(
                name=data.region_names[group],
                required=sum(s.required for s in members),
                done=sum(s.done for s in members),
            )
            for group, members in bars.items()
        ),
        key=lambda c: c.name,
    )
    return ScopeRoster(
        week=data.week,
        scope_name=scope_name,
        volunteers=[v for v in data.volunteers if v.site_path.startswith(scope_path)],
        completion=completion,
        to_review=sum(
            count
            for site_id, count in data.to_review.items()
            if data.sites[site_id].path.startswith(scope_path)
        ),
    )


@dataclass(frozen=True)
class Head:
    """A coordinator and the region they get the roster of."""

    to: Recipient
    region_id: int
    region_name: str
    region_path: str


@dataclass(frozen=True)
class RosterPlan:
    """Who gets which roster this week: read in one transaction, drawn outside any."""

    now: dt.datetime
    week: Week
    heads: Sequence[Head]
    data: DistrictWeek
    volunteers: Sequence[tuple[Recipient, VolunteerWeek]]


@dataclass(frozen=True)
class Drawn:
    """A recipient's rendered messages, with the dedupe key of each."""

    to: Recipient
    head: Head | None
    messages: Sequence[tuple[str, Outgoing]]


async def plan_rosters(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str | None = None
) -> RosterPlan | None:
    """This ISO week's rosters not made yet; None when nobody coordinates the scope."""
    week = week_of(now, tz)
    rows = (
        await session.execute(
            select(Coordinator.person_id, Region.id, Region.name, Region.path)
            .join(Region, Region.id == Coordinator.region_id)
            .where(
                Coordinator.removed_at.is_(None),
                Region.path.startswith(scope_path or ""),
            )
            .order_by(Region.path, Coordinator.person_id)
        )
    ).all()
    top = scope_path or _common_root([row.path for row in rows])
    if top is None:
        return None
    made = set(
        (
            await session.execute(
                select(Roster.region_id, Roster.recipient_id).where(
                    Roster.iso_week == week.iso_week
                )
            )
        ).all()
    )
    data = await compute_week(session, now=now, tz=tz, scope_path=top)
    people = await recipients(
        session, {row.person_id for row in rows} | {v.person_id for v in data.volunteers}
    )
    heads = [
        Head(people[row.person_id], row.id, row.name, row.path)
        for row in rows
        if people[row.person_id].reachable and (row.id, row.person_id) not in made
    ]
    seen: set[int] = set()
    volunteers = []
    for volunteer in data.volunteers:
        to = people[volunteer.person_id]
        if to.reachable and volunteer.person_id not in seen and volunteer.children:
            seen.add(volunteer.person_id)
            volunteers.append((to, volunteer))
    return RosterPlan(now, week, heads, data, volunteers)


def draw_rosters(plan: RosterPlan, text: RosterText) -> list[Drawn]:
    """Render every message; one that fails to draw (a chart, a workbook) is logged and
    left for the next run, and never costs the others theirs."""
    drawn: list[Drawn] = []
    iso_week = plan.week.iso_week
    for head in plan.heads:
        roster = scope_roster(plan.data, scope_name=head.region_name, scope_path=head.region_path)
        try:
            messages = text.roster(head.to, roster)
        except Exception:
            log.exception(
                "roster %s of region %d for person %d could not be drawn",
                iso_week,
                head.region_id,
                head.to.person_id,
            )
            continue
        keys = (
            f"roster:{iso_week}:{head.to.person_id}:{head.region_id}:{n}"
            for n in range(len(messages))
        )
        drawn.append(Drawn(head.to, head, list(zip(keys, messages, strict=True))))
    for to, volunteer in plan.volunteers:
        message = text.volunteer_week(to, plan.week, volunteer)
        drawn.append(Drawn(to, None, [(f"week:{iso_week}:{to.person_id}", message)]))
    return drawn


async def queue_rosters(
    session: AsyncSession,
    plan: RosterPlan,
    drawn: Sequence[Drawn],
    *,
    tz: ZoneInfo,
    media_dir: Path,
    text: RosterText,
) -> int:
    """Queue what was drawn, and the roster for the robots of each region told (drawn
    here, for a group: only regions with robots pay for it); a coordinator's roster is
    made once per week (a run that raced this one and made it first wins), a
    volunteer's week once by its key."""
    queued = 0
    not_before = outside_quiet_hours(plan.now, tz)
    told: set[int] = set()
    for each in drawn:
        if each.head is not None:
            made = await session.scalar(
                insert(Roster)
                .values(
                    iso_week=plan.week.iso_week,
                    region_id=each.head.region_id,
                    recipient_id=each.to.person_id,
                )
                .on_conflict_do_nothing()
                .returning(Roster.id)
            )
            if made is None:
                continue
            if each.head.region_id not in told:  # the region's groups, once a week
                told.add(each.head.region_id)
                queued += await _tell_robots(session, plan, each.head, text, not_before, media_dir)
        for key, message in each.messages:
            if await queue(
                session,
                to=each.to,
                message=message,
                not_before=not_before,
                dedupe_key=key,
                media_dir=media_dir,
            ):
                queued += 1
    log.info("rosters of %s: %d messages queued", plan.week.iso_week, queued)
    return queued


async def send_rosters(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: RosterText,
    media_dir: Path,
    scope_path: str | None = None,
) -> int:
    """Plan, draw and queue in one session: for callers that hold one already. The job
    draws between two transactions instead (`workers.jobs.send_rosters`)."""
    plan = await plan_rosters(session, now=now, tz=tz, scope_path=scope_path)
    if plan is None:
        return 0
    drawn = draw_rosters(plan, text)
    return await queue_rosters(session, plan, drawn, tz=tz, media_dir=media_dir, text=text)


async def _tell_robots(
    session: AsyncSession,
    plan: RosterPlan,
    head: Head,
    text: RosterText,
    not_before: dt.datetime,
    media_dir: Path,
) -> int:
    roster = scope_roster(plan.data, scope_name=head.region_name, scope_path=head.region_path)
    return await robots.tell_robots(
        session,
        region_id=head.region_id,
        say=lambda reader: text.roster(reader, roster),
        key=f"roster:{plan.week.iso_week}:{head.region_id}",
        not_before=not_before,
        media_dir=media_dir,
    )


def _common_root(paths: Sequence[str]) -> str | None:
    """The deepest region above all of `paths` ('' when they are in different trees)."""
    if not paths:
        return None
    chains = [ancestor_ids(p) for p in paths]
    common: list[int] = []
    for level in zip(*chains, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return "".join(f"{i}/" for i in common)
