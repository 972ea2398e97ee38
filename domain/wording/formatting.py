"""Dates and times as people read them, in the reader's language and the programme's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from domain.language import gettext as _
from domain.language import ngettext
from domain.schedule import deadlines
from domain.schedule.calendar import Month


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


def phone(value: str | None) -> str:
    """A phone number as people write it (138 1234 5678), not in its stored E.164 form;
    what cannot be read as a number is shown as it was written."""
    if not value:
        return ""
    import phonenumbers  # loaded where a number is shown

    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    if number.country_code != 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def relation(value: str | None) -> str:
    """A parent's or guardian's relation in the reader's words (father → 父亲)."""
    from domain.wording.texts import PARENT_RELATIONS

    if not value:
        return "—"
    known = PARENT_RELATIONS.get(value.strip().lower())
    return str(known) if known is not None else value
