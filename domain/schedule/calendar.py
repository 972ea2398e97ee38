"""Periods the cadences count in: calendar months and school semesters, in local time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from domain.models import Period

# The autumn semester starts in September and the spring semester in March.
SEMESTER_START_MONTHS = (3, 9)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: dt.datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-11' → Month(2026, 11); ValueError otherwise."""
        year, month = text.split("-")
        result = cls(int(year), int(month))
        if not 1 <= result.month <= 12:
            raise ValueError(text)
        return result

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    def start(self, tz: ZoneInfo) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=tz)

    def end(self, tz: ZoneInfo) -> dt.datetime:
        return self.next().start(tz)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def semester_bounds(month: Month, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The school semester a month belongs to, as [start, end)."""
    spring, autumn = SEMESTER_START_MONTHS
    if spring <= month.month < autumn:
        return Month(month.year, spring).start(tz), Month(month.year, autumn).start(tz)
    start_year = month.year if month.month >= autumn else month.year - 1
    return Month(start_year, autumn).start(tz), Month(start_year + 1, spring).start(tz)


def period_bounds(period: Period, month: Month, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    if period is Period.month:
        return month.start(tz), month.end(tz)
    return semester_bounds(month, tz)
