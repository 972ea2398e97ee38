"""Each site's days (reminder day, record due day, must-visit deadline) and quiet hours.

A region's day left empty is inherited from the nearest region above that sets it, and
falls back to the programme default of DOMAIN.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Region

DEFAULT_REMINDER_DAY = 20
DEFAULT_RECORD_DUE_DAY = 25  # the monthly care record goes to the township by the 25th
DEFAULT_MUST_VISIT_DAYS = 3

# Nobody is messaged between 21:00 and 08:00 local time; such messages wait for the morning.
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)


def ancestor_ids(path: str) -> list[int]:
    """'1/4/17/' → [1, 4, 17]: the region's chain from the top down to itself."""
    return [int(part) for part in path.split("/") if part]


def nearest_setting(path: str, set_at: Mapping[int, int | None], default: int) -> int:
    """A setting a region leaves empty is the one of the nearest region above that sets
    it (`set_at`: region id → its own value), else the programme default."""
    for region_id in reversed(ancestor_ids(path)):
        value = set_at.get(region_id)
        if value is not None:
            return value
    return default


@dataclass(frozen=True)
class SiteDays:
    reminder_day: int
    record_due_day: int
    must_visit_days: int


async def site_days(session: AsyncSession, region_ids: Iterable[int]) -> dict[int, SiteDays]:
    """The effective days of each region, in two queries whatever the depth of the tree."""
    wanted = set(region_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Region.id, Region.path).where(Region.id.in_(wanted)))
    paths: dict[int, str] = {row.id: row.path for row in rows}
    chain_ids = {ancestor for path in paths.values() for ancestor in ancestor_ids(path)}
    own = {
        row.id: OwnDays(row.reminder_day, row.record_due_day, row.must_visit_days)
        for row in await session.execute(
            select(
                Region.id, Region.reminder_day, Region.record_due_day, Region.must_visit_days
            ).where(Region.id.in_(chain_ids))
        )
    }
    return {region_id: site_days_of(path, own) for region_id, path in paths.items()}


@dataclass(frozen=True)
class OwnDays:
    """The days a region sets itself; None where it inherits them."""

    reminder_day: int | None = None
    record_due_day: int | None = None
    must_visit_days: int | None = None


def site_days_of(path: str, own: Mapping[int, OwnDays]) -> SiteDays:
    """A region's effective days from what it and the regions above it set (by id)."""

    chain = {i: own[i] for i in ancestor_ids(path) if i in own}

    def nearest(field: str, default: int) -> int:
        return nearest_setting(
            path, {i: getattr(days, field) for i, days in chain.items()}, default
        )

    return SiteDays(
        reminder_day=nearest("reminder_day", DEFAULT_REMINDER_DAY),
        record_due_day=nearest("record_due_day", DEFAULT_RECORD_DUE_DAY),
        must_visit_days=nearest("must_visit_days", DEFAULT_MUST_VISIT_DAYS),
    )


def outside_quiet_hours(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """`moment`, or the next 08:00 local time when it falls between 21:00 and 08:00."""
    local = moment.astimezone(tz)
    if local.time() >= QUIET_FROM:
        morning = dt.datetime.combine(local.date() + dt.timedelta(days=1), QUIET_UNTIL, tz)
    elif local.time() < QUIET_UNTIL:
        morning = dt.datetime.combine(local.date(), QUIET_UNTIL, tz)
    else:
        return moment
    return morning


def due_day(deadline: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The last local day on which something due at `deadline` can still be done: the
    deadline's own day, or the day before when it falls at midnight (a month ends at
    00:00 on the 1st of the next, and is due by the last day of the month)."""
    local = deadline.astimezone(tz)
    if local.time() == dt.time(0):
        return local.date() - dt.timedelta(days=1)
    return local.date()


def days_late(deadline: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> int:
    """Whole local days since the due day; at least one once the deadline has passed,
    zero before it."""
    if now < deadline:
        return 0
    return max((now.astimezone(tz).date() - due_day(deadline, tz)).days, 1)
