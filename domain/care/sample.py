"""回访抽查: every month a random sample of last month's home visits, for the coordinator to
phone the guardian (DOMAIN.md §12: the reports phone 3–5 % of families).

On the 1st the `verification-sample` job draws, per site, the site's share (default 4 %,
rounded up) of the month's home visits; at a quarter's last month it adds one visit of
every volunteer with visits in the quarter and none drawn yet, so no one goes a quarter
unchecked. The draw's seed is stored: drawn again it is the same. The coordinator records
each call: confirmed, could not reach, or the visit did not happen — which takes the visit
out of the record and puts the volunteer's other recent visits in the review queue.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import review
from domain.errors import CheckInOutOfScope, UnknownCheckIn
from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Guardian,
    Person,
    Region,
    ReviewStatus,
    SampleCheck,
    SampleDraw,
    SampleOutcome,
    Volunteer,
)
from domain.people import audit, regions
from domain.people.identity import Identity
from domain.schedule.calendar import Month

OTHER_VISITS_BACK = dt.timedelta(days=92)  # a visit found not to have happened: the quarter's


# rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    checkin_id: int
    volunteer_id: int
    site_id: int
    in_month: bool  # of the month drawn (else of an earlier month of its quarter)


def sample_size(visits: int, percent: float) -> int:
    """The site's share of its visits, rounded up: a site with visits has one checked."""
    return math.ceil(visits * percent / 100) if visits else 0


def draw(
    visits: Sequence[Visit],
    *,
    percent: Mapping[int, float],
    seed: int,
    checked_this_quarter: Iterable[int] = (),
    quarter_end: bool = False,
) -> list[Visit]:
    """The sample: per site, `percent[site]` of the month's visits at random; at a quarter's
    end, one visit more of each volunteer with visits in the quarter not yet checked. The
    same visits and seed give the same sample, whatever their order."""
    by_site: dict[int, list[Visit]] = defaultdict(list)
    for visit in visits:
        if visit.in_month:
            by_site[visit.site_id].append(visit)
    chosen: dict[int, Visit] = {}
    for site_id in sorted(by_site):
        pool = sorted(by_site[site_id], key=lambda v: v.checkin_id)
        rng = random.Random(f"{seed}:site:{site_id}")
        for visit in rng.sample(pool, sample_size(len(pool), percent.get(site_id, 0.0))):
            chosen[visit.checkin_id] = visit
    if quarter_end:
        covered = set(checked_this_quarter) | {v.volunteer_id for v in chosen.values()}
        by_volunteer: dict[int, list[Visit]] = defaultdict(list)
        for visit in visits:
            if visit.volunteer_id not in covered:
                by_volunteer[visit.volunteer_id].append(visit)
        for volunteer_id in sorted(by_volunteer):
            pool = sorted(by_volunteer[volunteer_id], key=lambda v: v.checkin_id)
            visit = random.Random(f"{seed}:volunteer:{volunteer_id}").choice(pool)
            chosen[visit.checkin_id] = visit
    return sorted(chosen.values(), key=lambda v: v.checkin_id)


def quarter_months(month: Month) -> list[Month]:
    """The months of the quarter up to `month` (January–March, April–June, …)."""
    first = (month.month - 1) // 3 * 3 + 1
    return [Month(month.year, m) for m in range(first, month.month + 1)]


def confirmed_rate(confirmed: int, called: int) -> int | None:
    """Per cent of the calls made that confirmed the visit; None before any call."""
    return round(100 * confirmed / called) if called else None


# drawing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    draw_id: int
    seed: int
    checks: int  # visits in the sample
    visits: int  # home visits of the month


async def draw_month(
    session: AsyncSession,
    *,
    month: Month,
    tz: ZoneInfo,
    now: dt.datetime,
    seed: int | None = None,
) -> Drawn:
    """Draw the month's sample once; drawn again, the stored seed gives the same sample."""
    existing = await session.scalar(
        select(SampleDraw).where(SampleDraw.month == month.first_day()).with_for_update()
    )
    if existing is None:
        existing = SampleDraw(
            month=month.first_day(),
            seed=secrets.randbits(62) if seed is None else seed,
            drawn_at=now,
        )
        session.add(existing)
        await session.flush()
    quarter = quarter_months(month)
    quarter_end = month.month % 3 == 0
    start = (quarter[0] if quarter_end else month).start(tz)
    visits = await _home_visits(session, start, month.end(tz), month.start(tz))
    paths = dict(
        (
            await session.execute(
                select(Region.id, Region.path).where(Region.id.in_({v.site_id for v in visits}))
            )
        ).all()
    )
    rules = await review.site_rules(session, paths.values())
    percent = {site_id: rules[path].sample_percent for site_id, path in paths.items()}
    checked = set(
        await session.scalars(
            select(SampleCheck.volunteer_id)
            .join(SampleDraw, SampleDraw.id == SampleCheck.draw_id)
            .where(SampleDraw.month.in_([m.first_day() for m in quarter[:-1]]))
        )
    )
    sample = draw(
        visits,
        percent=percent,
        seed=existing.seed,
        checked_this_quarter=checked,
        quarter_end=quarter_end,
    )
    for chunk in range(0, len(sample), 5000):
        await session.execute(
            insert(SampleCheck).on_conflict_do_nothing(index_elements=[SampleCheck.checkin_id]),
            [
                {
                    "draw_id": existing.id,
                    "checkin_id": v.checkin_id,
                    "site_id": v.site_id,
                    "volunteer_id": v.volunteer_id,
                }
                for v in sample[chunk : chunk + 5000]
            ],
        )
    return Drawn(
        draw_id=existing.id,
        seed=existing.seed,
        checks=len(sample),
        visits=sum(v.in_month for v in visits),
    )


async def _home_visits(
    session: AsyncSession, start: dt.datetime, end: dt.datetime, month_start: dt.datetime
) -> list[Visit]:
    """Counted home visits from `start` to `end`, with their volunteer and site."""
    rows = await session.execute(
        select(CheckIn.id, CheckIn.volunteer_id, Child.site_id, CheckIn.occurred_at)
        .join(
            CheckInActivity,
            (CheckInActivity.checkin_id == CheckIn.id)
            & (CheckInActivity.activity == Activity.home_visit),
        )
        .join(Child, Child.id == CheckIn.child_id)
        .where(
            CheckInActivity.counted,
            CheckInActivity.occurred_at >= start,
            CheckInActivity.occurred_at < end,
        )
    )
    return [
        Visit(checkin_id, volunteer_id, site_id, occurred_at >= month_start)
        for checkin_id, volunteer_id, site_id, occurred_at in rows
    ]


# the coordinator's calls ------------------------------------------------------------------


@dataclass(frozen=True)
class ToCall:
    check_id: int
    child_name: str
    volunteer_name: str
    visited_at: dt.datetime
    guardian: str | None
    phone: str | None


async def to_call(
    session: AsyncSession, person: Identity, *, limit: int = 10
) -> tuple[list[ToCall], int]:
    """The checks of the coordinator's sites still to make, oldest draw first; and how many."""
    in_scope = SampleCheck.site_id.in_(
        select(Region.id).where(or_(*(Region.path.startswith(s.path) for s in person.scopes)))
    )
    total = await session.scalar(
        select(func.count()).where(SampleCheck.outcome.is_(None), in_scope)
    )
    guardian = (
        select(Guardian.name, Guardian.phone)
        .where(Guardian.child_id == Child.id)
        .order_by(Guardian.entrusted.desc(), Guardian.id)
        .limit(1)
        .lateral()
    )
    rows = await session.execute(
        select(
            SampleCheck.id,
            Child.name,
            Person.name,
            CheckIn.occurred_at,
            guardian.c.name,
            guardian.c.phone,
        )
        .join(CheckIn, CheckIn.id == SampleCheck.checkin_id)
        .join(Child, Child.id == CheckIn.child_id)
        .join(Volunteer, Volunteer.id == SampleCheck.volunteer_id)
        .join(Person, Person.id == Volunteer.person_id)
        .outerjoin(guardian, true())
        .where(SampleCheck.outcome.is_(None), in_scope)
        .order_by(SampleCheck.draw_id, SampleCheck.id)
        .limit(limit)
    )
    return [ToCall(*row) for row in rows], total or 0


@dataclass(frozen=True)
class Recorded:
    check: SampleCheck
    flagged: int  # the volunteer's other visits put in the review queue


async def record(
    session: AsyncSession,
    check_id: int,
    outcome: SampleOutcome,
    person: Identity,
    *,
    at: dt.datetime,
) -> Recorded:
    """What the call found; "did not happen" takes the visit out of the record and puts the
    volunteer's other visits of the last quarter before the coordinator."""
    check = await session.get(SampleCheck, check_id, with_for_update=True)
    if check is None:
        raise UnknownCheckIn()
    site_path = await session.scalar(select(Region.path).where(Region.id == check.site_id))
    if site_path is None or not any(regions.within(site_path, s.path) for s in person.scopes):
        raise CheckInOutOfScope(check.checkin_id)
    check.outcome, check.recorded_by, check.recorded_at = outcome, person.person_id, at
    audit.record(
        session,
        at=at,
        action="sample.outcome",
        actor_id=person.person_id,
        subject_type="checkin",
        subject_id=check.checkin_id,
        details={"outcome": outcome.value},
    )
    flagged = 0
    if outcome is SampleOutcome.not_happened:
        checkin = await session.get_one(CheckIn, check.checkin_id, with_for_update=True)
        checkin.review = ReviewStatus.rejected
        checkin.reviewed_by = person.person_id
        await review.void(session, checkin)
        others = await session.scalars(
            select(CheckIn.id)
            .where(
                CheckIn.volunteer_id == checkin.volunteer_id,
                CheckIn.id != checkin.id,
                CheckIn.occurred_at >= at - OTHER_VISITS_BACK,
                CheckIn.review != ReviewStatus.rejected,
            )
            .order_by(CheckIn.id)
        )
        for other in others:
            flagged += await review.flag(
                session,
                other,
                review.OTHER_VISIT_NOT_HAPPENED,
                now=at,
                details={"checkin_id": checkin.id},
            )
    return Recorded(check=check, flagged=flagged)


# figures for the record -----------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A site's sample of one month's visits and what the calls found."""

    drawn: int = 0
    confirmed: int = 0
    unreachable: int = 0
    not_happened: int = 0

    @property
    def called(self) -> int:
        return self.confirmed + self.unreachable + self.not_happened

    @property
    def confirmed_percent(self) -> int | None:
        return confirmed_rate(self.confirmed, self.called)


async def figures(
    session: AsyncSession, *, month: Month, site_ids: Iterable[int]
) -> dict[int, Figures]:
    """Per site: the sample of `month`'s visits (drawn on the 1st after it)."""
    counts: dict[int, dict[SampleOutcome | None, int]] = defaultdict(dict)
    for site_id, outcome, count in await session.execute(
        select(SampleCheck.site_id, SampleCheck.outcome, func.count())
        .join(SampleDraw, SampleDraw.id == SampleCheck.draw_id)
        .where(SampleDraw.month == month.first_day(), SampleCheck.site_id.in_(list(site_ids)))
        .group_by(SampleCheck.site_id, SampleCheck.outcome)
    ):
        counts[site_id][outcome] = count
    return {
        site_id: Figures(
            drawn=sum(found.values()),
            confirmed=found.get(SampleOutcome.confirmed, 0),
            unreachable=found.get(SampleOutcome.unreachable, 0),
            not_happened=found.get(SampleOutcome.not_happened, 0),
        )
        for site_id, found in counts.items()
    }
