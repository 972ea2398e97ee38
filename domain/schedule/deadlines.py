"""Each site's days (reminder day, record due day, must-visit deadline) and quiet hours.

A region's day left empty is inherited from the nearest region above that sets it, and
falls back to the programme default of DOMAIN.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
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


@dataclass(frozen=True)
class SiteDays:
    reminder_day: int
    record_due_day: int
    must_visit_days: int


def ancestor_ids(path: str) -> list[int]:
    """'1/4/17/' → [1, 4, 17]: the region's chain from the top down to itself."""
    return [int(part) for part in path.split("/") if part]


async def site_days(session: AsyncSession, region_ids: Iterable[int]) -> dict[int, SiteDays]:
    """The effective days of each region, in two queries whatever the depth of the tree."""
    wanted = set(region_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Region.id, Region.path).where(Region.id.in_(wanted)))
    paths: dict[int, str] = {row.id: row.path for row in rows}
    chain_ids = {ancestor for path in paths.values() for ancestor in ancestor_ids(path)}
    own = {
        row.id: row
        for row in await session.execute(
            select(
                Region.id, Region.reminder_day, Region.record_due_day, Region.must_visit_days
            ).where(Region.id.in_(chain_ids))
        )
    }

    def nearest(path: str, field: str, default: int) -> int:
        for ancestor in reversed(ancestor_ids(path)):
            value = getattr(own[ancestor], field)
            if value is not None:
                return int(value)
        return default

    return {
        region_id: SiteDays(
            reminder_day=nearest(path, "reminder_day", DEFAULT_REMINDER_DAY),
            record_due_day=nearest(path, "record_due_day", DEFAULT_RECORD_DUE_DAY),
            must_visit_days=nearest(path, "must_visit_days", DEFAULT_MUST_VISIT_DAYS),
        )
        for region_id, path in paths.items()
    }


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
