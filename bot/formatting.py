"""Dates and times as people read them, in the reader's language and the programme's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from domain import deadlines
from domain.calendar import Month


def day(moment: dt.datetime | dt.date, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz) if isinstance(moment, dt.datetime) else moment
    return _("{month}/{day}").format(month=local.month, day=local.day)


def when(moment: dt.datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return _("{month}/{day} {time}").format(
        month=local.month, day=local.day, time=local.strftime("%H:%M")
    )


def days_late(since: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> int:
    """Whole local days overdue, at least one once the deadline has passed."""
    return max(deadlines.days_late(since, now, tz), 1)


def late(days: int) -> str:
    """`已逾期 N 天` / `1 day late`, `2 days late`."""
    return ngettext("{days} day late", "{days} days late", days).format(days=days)


def by_month_end() -> str:
    """The month's deadline, said one way everywhere: 本月底前."""
    return _("by the end of this month")


def month(value: Month) -> str:
    return _("{year}-{month:02d}").format(year=value.year, month=value.month)
