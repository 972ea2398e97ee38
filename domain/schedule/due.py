"""What the cadences require of each active pairing in a month, and what has been done.

Two plain queries, the active pairings and their check-ins counted per activity: the
cost grows with the number of active pairings, not with years of history (check-ins are
read only inside the month's and semester's windows, through the (pairing, time)
index). Rules are data: the nearest region up the tree that has rules of its own
replaces the programme defaults (rules with no region).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    BindParameter,
    DateTime,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from domain.models import (
    Activity,
    CadenceRule,
    CheckInActivity,
    Child,
    Concern,
    Pairing,
    PairingRole,
    Period,
    Priority,
    Region,
    Volunteer,
)
from domain.schedule.calendar import Month, semester_bounds
from domain.schedule.deadlines import ancestor_ids


class DueItem(NamedTuple):
    """A tuple: a district's month is ~100,000 of them, made in well under a second."""

    pairing_id: int
    child_id: int
    volunteer_id: int
    activity: Activity
    period: Period
    required: int
    done: int
    due_at: dt.datetime  # the end of the period

    @property
    def missing(self) -> int:
        return max(self.required - self.done, 0)


_BATCH = 5_000  # rows fetched at a time


@dataclass(frozen=True)
class Selection:
    """Which pairings to look at: a region's subtree, some volunteers or some pairings."""

    scope_path: str | None = None
    volunteer_ids: Sequence[int] | None = None
    pairing_ids: Sequence[int] | None = None


async def due_items(
    session: AsyncSession,
    *,
    month: Month,
    tz: ZoneInfo,
    selection: Selection,
    only_missing: bool = False,
) -> list[DueItem]:
    """Every requirement of the month for the selected pairings active in it."""
    items: list[DueItem] = []
    async for batch in due_batches(
        session, month=month, tz=tz, selection=selection, only_missing=only_missing
    ):
        items += batch
    return items


async def due_batches(
    session: AsyncSession,
    *,
    month: Month,
    tz: ZoneInfo,
    selection: Selection,
    only_missing: bool = False,
) -> AsyncIterator[list[DueItem]]:
    """`due_items` a batch at a time: a district's month is ~100,000 items, and a caller
    that only sums them needs never hold them all.

    What is required is worked out here from the cadence rules (a few rows) once per
    class of pairing (the rules' region, the volunteer's kind, the child's priority);
    the database only lists the active pairings and counts their check-ins, as a bare
    aggregate would: building the requirements in SQL cost several times the count."""
    month_start, month_end = month.start(tz), month.end(tz)
    semester_start, semester_end = semester_bounds(month, tz)
    connection = await session.connection()
    params: dict[str, object] = {"month_start": month_start, "month_end": month_end}
    if selection.scope_path is not None:
        params["scope_path"] = selection.scope_path
    if selection.volunteer_ids is not None:
        params["volunteer_ids"] = list(selection.volunteer_ids)
    if selection.pairing_ids is not None:
        params["pairing_ids"] = list(selection.pairing_ids)
    active = (
        await connection.execute(
            _active_query(
                by_scope=selection.scope_path is not None,
                by_volunteers=selection.volunteer_ids is not None,
                by_pairings=selection.pairing_ids is not None,
            ),
            params,
        )
    ).all()
    if not active:
        return
    rules = await _rules(connection)
    ruled = {region_id for region_id, *_ in rules}
    rule_region: dict[str, int] = {}  # site path → the region whose rules apply (0: defaults)
    # (rules' region, kind, priority) → (activity, its value, period, which count, times,
    # deadline): worked out once per class, the enums' values read once (slow to read)
    needs_of: dict[tuple[int, str, str], list[tuple[Activity, str, Period, int, int, dt.datetime]]]
    needs_of = {}
    for start in range(0, len(active), _BATCH):
        chunk = active[start : start + _BATCH]
        counted = await connection.execute(
            _DONE_QUERY,
            {
                "pairing_ids": [row[0] for row in chunk],
                "month_start": month_start,
                "month_end": month_end,
                "semester_start": semester_start,
                "semester_end": semester_end,
                "window_start": min(month_start, semester_start),
                "window_end": max(month_end, semester_end),
            },
        )
        done = {(row[0], row[1]): (row[2], row[3]) for row in counted.all()}
        batch: list[DueItem] = []
        for pairing_id, child_id, volunteer_id, kind, priority, site_path in chunk:
            region = rule_region.get(site_path)
            if region is None:
                region = rule_region[site_path] = nearest_ruled(site_path, ruled)
            needs = needs_of.get((region, kind, priority))
            if needs is None:
                needs = needs_of[region, kind, priority] = [
                    (
                        activity,
                        activity.value,
                        period,
                        period is not Period.month,
                        times,
                        month_end if period is Period.month else semester_end,
                    )
                    for activity, period, times in required_by(
                        rules, region=region, kind=kind, key_child=priority == Priority.key.value
                    )
                ]
            for activity, value, period, which, times, due_at in needs:
                counts = done.get((pairing_id, value))
                done_ = 0 if counts is None else counts[which]
                if only_missing and done_ >= times:
                    continue
                batch.append(
                    DueItem(
                        pairing_id, child_id, volunteer_id, activity, period, times, done_, due_at
                    )
                )
        if batch:
            yield batch


Rule = tuple[int, str | None, bool, Activity, Period, int]
"""A cadence rule as plain data: (region id or 0 for the defaults, volunteer kind or
None for any, key children only, activity, period, times)."""


async def _rules(connection: AsyncConnection) -> list[Rule]:
    return [
        (region_id or 0, kind, key_only, Activity(activity), Period(period), times)
        for region_id, kind, key_only, activity, period, times in await connection.execute(
            _RULES_QUERY
        )
    ]


def nearest_ruled(site_path: str, ruled: Collection[int]) -> int:
    """The nearest region up from the site (itself first) that has rules of its own: they
    replace the programme defaults (0) for everyone below it."""
    for region_id in reversed(ancestor_ids(site_path)):
        if region_id in ruled:
            return region_id
    return 0


def required_by(
    rules: Sequence[Rule], *, region: int, kind: str, key_child: bool
) -> list[tuple[Activity, Period, int]]:
    """What the rules of `region` require of a volunteer of `kind` with a (key) child:
    (activity, period, times) by activity, the largest count where several rules apply."""
    times: dict[tuple[Activity, Period], int] = {}
    for rule_region, rule_kind, key_only, activity, period, count in rules:
        if (
            rule_region == region
            and rule_kind in (None, kind)
            and (key_child or not key_only)
            and count > 0
        ):
            times[activity, period] = max(count, times.get((activity, period), 0))
    return sorted(
        ((activity, period, n) for (activity, period), n in times.items()),
        key=lambda need: (need[0].value, need[1].value),
    )


# The period bounds, bound at execution: the statements are built once.
def _moment(name: str) -> BindParameter[dt.datetime]:
    return bindparam(name, type_=DateTime(timezone=True))


MONTH_START, MONTH_END = _moment("month_start"), _moment("month_end")
SEMESTER_START, SEMESTER_END = _moment("semester_start"), _moment("semester_end")
WINDOW_START, WINDOW_END = _moment("window_start"), _moment("window_end")

# Enum columns read as their values: the rows are matched against plain strings, and
# converting ~100,000 of them to enums cost more than the query.
_RULES_QUERY = select(
    CadenceRule.region_id,
    type_coerce(CadenceRule.volunteer_kind, String),
    CadenceRule.key_children_only,
    type_coerce(CadenceRule.activity, String),
    type_coerce(CadenceRule.period, String),
    CadenceRule.times,
)

_occurred = CheckInActivity.occurred_at
_DONE_QUERY = (
    select(
        CheckInActivity.pairing_id,
        type_coerce(CheckInActivity.activity, String),
        func.count().filter(_occurred >= MONTH_START, _occurred < MONTH_END),
        func.count().filter(_occurred >= SEMESTER_START, _occurred < SEMESTER_END),
    )
    .where(
        CheckInActivity.pairing_id == any_(bindparam("pairing_ids", type_=ARRAY(Integer))),
        CheckInActivity.counted,  # a check-in rejected on review no longer counts
        _occurred >= WINDOW_START,
        _occurred < WINDOW_END,
    )
    .group_by(CheckInActivity.pairing_id, CheckInActivity.activity)
)


@functools.cache
def _active_query(
    *, by_scope: bool, by_volunteers: bool, by_pairings: bool
) -> Select[int, int, int, str, str, str]:
    """The pairings active in the month, by id; built once per shape and kept: building
    it cost more than running it for one volunteer (the reply to every check-in)."""
    site = aliased(Region)
    query = (
        select(
            Pairing.id,
            Pairing.child_id,
            Pairing.volunteer_id,
            type_coerce(Volunteer.kind, String),
            type_coerce(Child.priority, String),
            site.path,
        )
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .join(Child, Child.id == Pairing.child_id)
        .join(site, site.id == Child.site_id)
        .where(
            Pairing.started_at < MONTH_END,
            or_(Pairing.ended_at.is_(None), Pairing.ended_at > MONTH_START),
        )
        .order_by(Pairing.id)
    )
    if by_scope:
        query = query.where(site.path.startswith(bindparam("scope_path")))
    if by_volunteers:
        query = query.where(Pairing.volunteer_id.in_(bindparam("volunteer_ids", expanding=True)))
    if by_pairings:
        query = query.where(Pairing.id.in_(bindparam("pairing_ids", expanding=True)))
    return query


async def open_concerns(session: AsyncSession, *, child_ids: Sequence[int]) -> list[Concern]:
    """Must-visits still open for these children, the nearest deadline first."""
    result = await session.scalars(
        select(Concern)
        .where(Concern.child_id.in_(child_ids), Concern.closed_at.is_(None))
        .order_by(Concern.due_at)
    )
    return list(result)


async def key_children_without_surrogate(session: AsyncSession, *, scope_path: str) -> list[Child]:
    """The key-child rule: every key child must have an active surrogate parent."""
    has_surrogate = exists(
        select(Pairing.id).where(
            Pairing.child_id == Child.id,
            Pairing.ended_at.is_(None),
            Pairing.role == PairingRole.surrogate,
        )
    )
    result = await session.scalars(
        select(Child)
        .join(Region, Region.id == Child.site_id)
        .where(
            Region.path.startswith(scope_path),
            Child.priority == Priority.key,
            Child.left_at.is_(None),
            ~has_surrogate,
        )
        .order_by(Child.site_id, Child.name)
    )
    return list(result)
