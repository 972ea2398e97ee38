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

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import due
from domain.calendar import Month
from domain.deadlines import ancestor_ids, due_day, outside_quiet_hours
from domain.messaging import Outgoing, Recipient, queue, recipients
from domain.models import (
    Activity,
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

log = logging.getLogger(__name__)

INACTIVE_AFTER = dt.timedelta(days=30)
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
    inactive: bool = True  # until a check-in in the last 30 days is found


@dataclass(frozen=True)
class Completion:
    """This month's items of one bar of the chart: done (up to what is required) / required."""

    name: str
    required: int
    done: int

    @property
    def share(self) -> float:
        return self.done / self.required if self.required else 1.0


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


class RosterText(Protocol):
    def roster(self, to: Recipient, roster: ScopeRoster) -> list[Outgoing]: ...

    def volunteer_week(self, to: Recipient, week: Week, volunteer: VolunteerWeek) -> Outgoing: ...


def week_of(now: dt.datetime, tz: ZoneInfo) -> Week:
    today = now.astimezone(tz).date()
    year, number, weekday = today.isocalendar()
    monday = today - dt.timedelta(days=weekday - 1)
    return Week(f"{year}-W{number:02d}", monday, Month(today.year, today.month))


@dataclass
class _Site:
    name: str
    path: str
    required: int = 0
    done: int = 0


@dataclass
class DistrictWeek:
    """Everything the rosters of a scope need, computed once."""

    week: Week
    volunteers: list[VolunteerWeek]
    sites: dict[int, _Site]
    region_names: dict[int, str]


async def compute_week(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str
) -> DistrictWeek:
    week = week_of(now, tz)
    monday = dt.datetime.combine(week.monday, dt.time(), tz)
    in_scope = Region.path.startswith(scope_path)

    volunteers: dict[int, VolunteerWeek] = {}
    for row in await session.execute(
        select(
            Volunteer.id,
            Volunteer.person_id,
            Person.name,
            Person.telegram_id,
            Person.unreachable_at,
            Region.id.label("site_id"),
            Region.name.label("site_name"),
            Region.path,
        )
        .join(Person, Person.id == Volunteer.person_id)
        .join(Region, Region.id == Volunteer.site_id)
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
            unreachable=row.telegram_id is None or row.unreachable_at is not None,
        )

    pairings: dict[int, tuple[int, int, str]] = {}  # pairing → volunteer, child, child's name
    for paired in await session.execute(
        select(Pairing.id, Pairing.volunteer_id, Pairing.child_id, Child.name)
        .join(Child, Child.id == Pairing.child_id)
        .join(Region, Region.id == Child.site_id)
        .where(Pairing.ended_at.is_(None), Child.left_at.is_(None), in_scope)
        .order_by(Child.name, Pairing.id)
    ):
        if paired.volunteer_id in volunteers:
            pairings[paired.id] = (paired.volunteer_id, paired.child_id, paired.name)
            volunteers[paired.volunteer_id].children.append(paired.name)

    # what they did last week, and who did anything in the last 30 days
    since = min(monday - dt.timedelta(days=7), now - INACTIVE_AFTER)
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
            CheckInActivity.occurred_at >= since,
            CheckInActivity.occurred_at < now,
        )
        .order_by(CheckInActivity.occurred_at)
    ):
        if done.pairing_id not in pairings:
            continue
        volunteer_id, _, child_name = pairings[done.pairing_id]
        volunteer = volunteers[volunteer_id]
        if done.occurred_at >= now - INACTIVE_AFTER:
            volunteer.inactive = False
        if monday - dt.timedelta(days=7) <= done.occurred_at < monday:
            volunteer.last_week.append(
                Done(child_name, done.activity, done.occurred_at.astimezone(tz).date())
            )

    # this month's items: what each still owes, and the completion of every site
    sites: dict[int, _Site] = {
        row.id: _Site(row.name, row.path)
        for row in await session.execute(
            select(Region.id, Region.name, Region.path).where(in_scope, Region.kind.in_(SITE_KINDS))
        )
    }
    owed: dict[int, list[Activity]] = defaultdict(list)
    async for batch in due.due_batches(
        session, month=week.month, tz=tz, selection=due.Selection(scope_path=scope_path)
    ):
        for item in batch:
            if item.pairing_id not in pairings:
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
    for shift in await session.execute(
        select(DutyShift.volunteer_id, DutyShift.day)
        .join(Region, Region.id == DutyShift.site_id)
        .where(
            in_scope,
            DutyShift.day >= week.monday,
            DutyShift.day < week.monday + dt.timedelta(days=7),
        )
        .order_by(DutyShift.day)
    ):
        if shift.volunteer_id in volunteers:
            volunteers[shift.volunteer_id].duty_days.append(shift.day)

    region_names = dict(
        (await session.execute(select(Region.id, Region.name).where(in_scope))).all()
    )
    return DistrictWeek(week, list(volunteers.values()), sites, region_names)


def scope_roster(data: DistrictWeek, *, scope_name: str, scope_path: str) -> ScopeRoster:
    """A coordinator's slice: their volunteers, and completion per site under them (per
    township when the scope is a district, so the chart stays readable)."""
    depth = len(ancestor_ids(scope_path))
    bars: dict[int, list[_Site]] = defaultdict(list)
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
    )


async def send_rosters(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: RosterText,
    media_dir: Path,
    scope_path: str | None = None,
) -> int:
    """Make this week's rosters that are not made yet; returns how many messages were queued."""
    week = week_of(now, tz)
    heads = (
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
    top = scope_path or _common_root([h.path for h in heads])
    if top is None:
        return 0
    data = await compute_week(session, now=now, tz=tz, scope_path=top)
    people = await recipients(
        session, {h.person_id for h in heads} | {v.person_id for v in data.volunteers}
    )
    queued = 0
    for head in heads:
        to = people[head.person_id]
        if not to.reachable:
            continue
        made = await session.scalar(
            insert(Roster)
            .values(iso_week=week.iso_week, region_id=head.id, recipient_id=head.person_id)
            .on_conflict_do_nothing()
            .returning(Roster.id)
        )
        if made is None:
            continue  # made before this week
        roster = scope_roster(data, scope_name=head.name, scope_path=head.path)
        for number, message in enumerate(text.roster(to, roster)):
            key = f"roster:{week.iso_week}:{head.person_id}:{head.id}:{number}"
            if await queue(
                session,
                to=to,
                message=message,
                not_before=outside_quiet_hours(now, tz),
                dedupe_key=key,
                media_dir=media_dir,
            ):
                queued += 1
    seen: set[int] = set()
    for volunteer in data.volunteers:
        to = people[volunteer.person_id]
        if not to.reachable or volunteer.person_id in seen or not volunteer.children:
            continue
        seen.add(volunteer.person_id)
        if await queue(
            session,
            to=to,
            message=text.volunteer_week(to, week, volunteer),
            not_before=outside_quiet_hours(now, tz),
            dedupe_key=f"week:{week.iso_week}:{volunteer.person_id}",
            media_dir=media_dir,
        ):
            queued += 1
    log.info("rosters of %s: %d messages queued", week.iso_week, queued)
    return queued


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
