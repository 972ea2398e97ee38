"""Dates and times as people read them, in the reader's language and the programme's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from domain.calendar import Month


def day(moment: dt.datetime | dt.date, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz) if isinstance(moment, dt.datetime) else moment
    return _("{month}/{day}").format(month=local.month, day=local.day)


def when(moment: dt.datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return _("{month}/{day} {time}").format(
        month=local.month, day=local.day, time=local.strftime("%H:%M")
    )


def days_late(since: dt.datetime, now: dt.datetime) -> int:
    """Whole days overdue, at least one once the deadline has passed."""
    return max((now - since).days, 1)


def month(value: Month) -> str:
    return _("{year}-{month:02d}").format(year=value.year, month=value.month)
