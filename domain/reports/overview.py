"""概况: a scope's figures at a glance, and the sub-regions to drill into.

Each figure is one aggregate over the region tree's path index, all in one statement;
the six ones' completion reuses `due_items`, so the overview counts exactly what the
volunteers are reminded of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement, ScalarSelect

from domain.care import review
from domain.models import (
    Activity,
    CheckIn,
    Child,
    Concern,
    Escalation,
    Guardian,
    Guardianship,
    Pairing,
    PairingRole,
    Period,
    Priority,
    Region,
    ReviewItem,
    Volunteer,
)
from domain.schedule.calendar import Month
from domain.schedule.due import DueItem, Selection, due_items
from domain.schedule.inactivity import INACTIVE_AFTER

# 六个一: the five a surrogate parent does with the child (the sixth, the site's meeting,
# is held by the site and is not counted per pairing).
SIX_ONES = frozenset(
    {
        Activity.talk,
        Activity.homework_check,
        Activity.tutoring,
        Activity.home_visit,
        Activity.family_meal,
    }
)


@dataclass(frozen=True)
class Overview:
    children: int
    key_children: int
    key_without_surrogate: int
    volunteers: int
    inactive_volunteers: int
    six_ones_done: int
    six_ones_required: int
    open_must_visits: int
    open_escalations: int
    unsupervised: int = 0  # 无人监护: no capable guardian, no entrusted one with a letter
    letters_missing: int = 0  # 委托监护 without the signed responsibility letter
    to_review: int = 0  # check-ins in the sites' review queues (审核)
    to_review_late: int = 0  # of them, waiting for more than a week

    @property
    def six_ones_percent(self) -> int | None:
        """None when nothing is due: no paired child is not 100 % done."""
        if not self.six_ones_required:
            return None
        return self.six_ones_done * 100 // self.six_ones_required


def six_ones(items: Iterable[DueItem]) -> tuple[int, int]:
    """(done, required) of the month's 六个一: a talk done twice does not make up for a
    missed home visit, and the semester's letter is not one of them."""
    counted = [i for i in items if i.activity in SIX_ONES and i.period is Period.month]
    return sum(min(i.done, i.required) for i in counted), sum(i.required for i in counted)


async def overview(
    session: AsyncSession, *, scope_path: str, month: Month, tz: ZoneInfo, now: dt.datetime
) -> Overview:
    """The scope's figures; "inactive" is a volunteer of 30 days' standing with no check-in
    in the last 30 days (someone who joined last week is not yet inactive)."""
    in_scope = select(Region.id).where(Region.path.startswith(scope_path))
    current = Child.site_id.in_(in_scope) & Child.left_at.is_(None)
    key = current & (Child.priority == Priority.key)
    has_surrogate = exists(
        select(Pairing.id).where(
            Pairing.child_id == Child.id,
            Pairing.ended_at.is_(None),
            Pairing.role == PairingRole.surrogate,
        )
    )
    since = now - INACTIVE_AFTER
    checked_in = exists(
        select(CheckIn.id).where(CheckIn.volunteer_id == Volunteer.id, CheckIn.occurred_at >= since)
    )
    active_volunteer = Volunteer.site_id.in_(in_scope) & Volunteer.removed_at.is_(None)
    child_in_scope = select(Child.id).where(Child.site_id.in_(in_scope))

    entrusted = current & (Child.guardianship == Guardianship.entrusted)
    with_letter = exists(
        select(Guardian.id).where(
            Guardian.child_id == Child.id,
            Guardian.entrusted,
            Guardian.letter_signed_on.is_not(None),
        )
    )

    def count_children(condition: ColumnElement[bool]) -> ScalarSelect[int]:
        return select(func.count()).select_from(Child).where(condition).scalar_subquery()

    def count_to_review(condition: ColumnElement[bool]) -> ScalarSelect[int]:
        return (
            select(func.count(func.distinct(ReviewItem.checkin_id)))
            .where(ReviewItem.site_id.in_(in_scope), ReviewItem.state.in_(review.OPEN), condition)
            .scalar_subquery()
        )

    row = (
        await session.execute(
            select(
                count_children(current),
                count_children(key),
                count_children(key & ~has_surrogate),
                select(func.count()).where(active_volunteer).scalar_subquery(),
                select(func.count())
                .where(active_volunteer, Volunteer.joined_at <= since, ~checked_in)
                .scalar_subquery(),
                select(func.count())
                .where(Concern.closed_at.is_(None), Concern.child_id.in_(child_in_scope))
                .scalar_subquery(),
                select(func.count())
                .where(Escalation.closed_at.is_(None), Escalation.child_id.in_(child_in_scope))
                .scalar_subquery(),
                count_children(current & (Child.guardianship == Guardianship.none)),
                count_children(entrusted & ~with_letter),
                count_to_review(ReviewItem.opened_at.is_not(None)),
                count_to_review(ReviewItem.opened_at <= now - review.WAITING_TOO_LONG),
            )
        )
    ).one()
    done, required = six_ones(
        await due_items(session, month=month, tz=tz, selection=Selection(scope_path=scope_path))
    )
    return Overview(
        children=row[0],
        key_children=row[1],
        key_without_surrogate=row[2],
        volunteers=row[3],
        inactive_volunteers=row[4],
        six_ones_done=done,
        six_ones_required=required,
        open_must_visits=row[5],
        open_escalations=row[6],
        unsupervised=row[7],
        letters_missing=row[8],
        to_review=row[9],
        to_review_late=row[10],
    )


async def letters_missing(
    session: AsyncSession, *, scope_path: str, limit: int
) -> list[tuple[str, str]]:
    """(child, site) of the children in an entrusted guardian's care whose responsibility
    letter (委托监护责任确认书) is not recorded as signed, by site and name."""
    rows = await session.execute(
        select(Child.name, Region.name)
        .join(Region, Region.id == Child.site_id)
        .where(
            Region.path.startswith(scope_path),
            Child.left_at.is_(None),
            Child.guardianship == Guardianship.entrusted,
            ~exists(
                select(Guardian.id).where(
                    Guardian.child_id == Child.id,
                    Guardian.entrusted,
                    Guardian.letter_signed_on.is_not(None),
                )
            ),
        )
        .order_by(Region.name, Child.name)
        .limit(limit)
    )
    return [(child, site) for child, site in rows]


async def sub_regions(session: AsyncSession, region: Region) -> list[Region]:
    """The regions directly under one, to drill into; by name."""
    result = await session.scalars(
        select(Region).where(Region.parent_id == region.id).order_by(Region.name, Region.id)
    )
    return list(result)
