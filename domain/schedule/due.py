"""What the cadences require of each active pairing in a month, and what has been done.

One set-based query: the cost grows with the number of active pairings, not with years
of history (check-ins are read only inside the month's and semester's windows, through
the (pairing, time) index). Rules are data: the nearest region up the tree that has
rules of its own replaces the programme defaults (rules with no region).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    DateTime,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
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
    """`due_items` a batch at a time, read through a cursor: a district's month is
    ~100,000 rows, and a caller that only sums them needs never hold them all."""
    month_start, month_end = month.start(tz), month.end(tz)
    semester_start, semester_end = semester_bounds(month, tz)
    query = _due_query(
        by_scope=selection.scope_path is not None,
        by_volunteers=selection.volunteer_ids is not None,
        by_pairings=selection.pairing_ids is not None,
        only_missing=only_missing,
    )
    params = {
        "month_start": month_start,
        "month_end": month_end,
        "semester_start": semester_start,
        "semester_end": semester_end,
        "window_start": min(month_start, semester_start),
        "window_end": max(month_end, semester_end),
        "scope_path": selection.scope_path,
        "volunteer_ids": selection.volunteer_ids,
        "pairing_ids": selection.pairing_ids,
    }
    rows = await session.stream(query, {k: v for k, v in params.items() if v is not None})
    async for batch in rows.partitions():
        yield [
            DueItem(
                pairing_id,
                child_id,
                volunteer_id,
                activity,
                period,
                times,
                done_,
                month_end if period is Period.month else semester_end,
            )
            for pairing_id, child_id, volunteer_id, activity, period, times, done_ in batch
        ]


# The period bounds, bound at execution: the statement is built once per kind of selection.
def _moment(name: str) -> BindParameter[dt.datetime]:
    return bindparam(name, type_=DateTime(timezone=True))


MONTH_START, MONTH_END = _moment("month_start"), _moment("month_end")
SEMESTER_START, SEMESTER_END = _moment("semester_start"), _moment("semester_end")
WINDOW_START, WINDOW_END = _moment("window_start"), _moment("window_end")


@functools.cache
def _due_query(
    *, by_scope: bool, by_volunteers: bool, by_pairings: bool, only_missing: bool
) -> Select[Any]:
    """Built once per shape and kept: building it cost more than running it for one
    volunteer (the reply to every check-in)."""
    site = aliased(Region)
    active_query = (
        select(
            Pairing.id.label("pairing_id"),
            Pairing.child_id,
            Pairing.volunteer_id,
            Volunteer.kind.label("kind"),
            Child.priority,
            Child.site_id,
        )
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .join(Child, Child.id == Pairing.child_id)
        .where(
            Pairing.started_at < MONTH_END,
            or_(Pairing.ended_at.is_(None), Pairing.ended_at > MONTH_START),
        )
    )
    if by_scope:
        active_query = active_query.join(site, site.id == Child.site_id).where(
            site.path.startswith(bindparam("scope_path"))
        )
    if by_volunteers:
        active_query = active_query.where(
            Pairing.volunteer_id.in_(bindparam("volunteer_ids", expanding=True))
        )
    if by_pairings:
        active_query = active_query.where(Pairing.id.in_(bindparam("pairing_ids", expanding=True)))
    active = active_query.cte("active")

    ruled = aliased(Region)
    ancestor = aliased(Region)
    rule_region = (
        select(ancestor.id)
        .where(
            ruled.path.startswith(ancestor.path),
            exists(select(CadenceRule.id).where(CadenceRule.region_id == ancestor.id)),
        )
        .order_by(func.length(ancestor.path).desc())
        .limit(1)
        .correlate(ruled)
        .scalar_subquery()
    )
    # MATERIALIZED: the nearest ruled ancestor is looked up once per site, not once per
    # pairing and rule (inlined, it ran 120,000 times for a district's 300 sites).
    # 0 stands for "the programme defaults" so that the joins below can hash.
    site_rules = (
        select(ruled.id.label("site_id"), func.coalesce(rule_region, 0).label("rule_region_id"))
        .where(ruled.id.in_(select(active.c.site_id)))
        # MATERIALIZED: otherwise PostgreSQL inlines it and runs the nearest-rules lookup
        # once per pairing and rule instead of once per site (seconds at district scale).
        .cte("site_rules")
        .prefix_with("MATERIALIZED")
    )

    # What is required depends only on the rules' region, the volunteer's kind and the
    # child's priority: worked out once per such class, then handed to its pairings.
    classes = (
        select(site_rules.c.rule_region_id, active.c.kind, active.c.priority)
        .join(site_rules, site_rules.c.site_id == active.c.site_id)
        .distinct()
        .cte("classes")
    )
    class_required = (
        select(
            classes.c.rule_region_id,
            classes.c.kind,
            classes.c.priority,
            CadenceRule.activity,
            CadenceRule.period,
            func.max(CadenceRule.times).label("times"),
        )
        .join(
            CadenceRule,
            and_(
                func.coalesce(CadenceRule.region_id, 0) == classes.c.rule_region_id,
                or_(
                    CadenceRule.volunteer_kind.is_(None),
                    CadenceRule.volunteer_kind == classes.c.kind,
                ),
                or_(CadenceRule.key_children_only.is_(False), classes.c.priority == Priority.key),
                CadenceRule.times > 0,
            ),
        )
        .group_by(
            classes.c.rule_region_id,
            classes.c.kind,
            classes.c.priority,
            CadenceRule.activity,
            CadenceRule.period,
        )
        .cte("class_required")
    )
    required = (
        select(
            active.c.pairing_id,
            class_required.c.activity,
            class_required.c.period,
            class_required.c.times,
        )
        .select_from(active)
        .join(site_rules, site_rules.c.site_id == active.c.site_id)
        .join(
            class_required,
            and_(
                class_required.c.rule_region_id == site_rules.c.rule_region_id,
                class_required.c.kind == active.c.kind,
                class_required.c.priority == active.c.priority,
            ),
        )
        .cte("required")
    )

    occurred = CheckInActivity.occurred_at
    done = (
        select(
            CheckInActivity.pairing_id,
            CheckInActivity.activity,
            func.count().filter(occurred >= MONTH_START, occurred < MONTH_END).label("in_month"),
            func.count()
            .filter(occurred >= SEMESTER_START, occurred < SEMESTER_END)
            .label("in_semester"),
        )
        .where(
            CheckInActivity.pairing_id.in_(select(active.c.pairing_id)),
            CheckInActivity.counted,
            occurred >= WINDOW_START,
            occurred < WINDOW_END,
        )
        .group_by(CheckInActivity.pairing_id, CheckInActivity.activity)
        .cte("done")
    )

    done_count = func.coalesce(
        case(
            (required.c.period == Period.month, done.c.in_month),
            else_=done.c.in_semester,
        ),
        literal(0),
    )
    query = (
        select(
            required.c.pairing_id,
            active.c.child_id,
            active.c.volunteer_id,
            required.c.activity,
            required.c.period,
            required.c.times,
            done_count.label("done"),
        )
        .join(active, active.c.pairing_id == required.c.pairing_id)
        .outerjoin(
            done,
            and_(
                done.c.pairing_id == required.c.pairing_id,
                done.c.activity == required.c.activity,
            ),
        )
        .order_by(required.c.pairing_id, required.c.activity)
    )
    if only_missing:
        query = query.where(done_count < required.c.times)
    return query.execution_options(yield_per=_BATCH)


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
