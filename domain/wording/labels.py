"""Names of activities and concerns, dates and lists, in the current language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from babel.dates import format_date, format_skeleton

from domain.language import gettext as _
from domain.language import lazy_gettext as __
from domain.models import Activity, ConcernKind, Guardianship, LeaveReason, ReviewStatus, Sex
from domain.schedule.calendar import Month

ACTIVITY = {
    Activity.home_visit: __("home visit"),
    Activity.talk: __("heart-to-heart talk"),
    Activity.homework_check: __("homework check"),
    Activity.tutoring: __("tutoring"),
    Activity.family_meal: __("family meal"),
    Activity.parent_call: __("call with the parents"),
    Activity.family_call: __("child's call home"),
    Activity.parent_letter: __("letter to the parents"),
    Activity.other: __("other"),
}

CONCERN = {
    ConcernKind.mood: __("in a bad mood"),
    ConcernKind.health: __("in poor health"),
    ConcernKind.grades: __("falling grades"),
    ConcernKind.late_or_early: __("late or leaving early"),
    ConcernKind.quarrel: __("quarrel with classmates"),
    ConcernKind.other: __("other worry"),
}

LEAVE_REASON = {
    LeaveReason.finished_school: __("finished school"),
    LeaveReason.moved_away: __("moved away"),
    LeaveReason.parents_returned: __("parents came home, no longer left behind"),
    LeaveReason.other: __("other reason"),
}

INCIDENT = {
    "dropout": __("absent without reason / drop-out risk"),
    "missing": __("ran away or missing"),
    "injury": __("injury or serious illness"),
    "unsupervised": __("nobody looking after the child"),
    "bullying": __("bullying or abuse"),
    "other": __("other emergency"),
}

INCIDENT_STEP = {
    "registered": __("registered"),
    "persuasion": __("persuasion visit (劝返)"),
    "returned": __("back at school"),
    "report": __("written report made"),
    "found": __("found"),
    "police": __("handed to the police"),
    "guardian": __("entrusted guardian named"),
    "note": __("note"),
    "closed": __("closed"),
}

INCIDENT_STEP_BUTTON = {
    "persuasion": __("🚶 Persuasion visit"),
    "returned": __("🏫 Back at school"),
    "report": __("📄 Written report"),
    "found": __("✅ Found"),
    "police": __("👮 Handed to the police"),
    "guardian": __("🧑‍🍼 Entrusted guardian"),
    "note": __("📝 Add a note"),
    "closed": __("✔️ Close with an outcome"),
}

SEX = {Sex.male: __("male"), Sex.female: __("female")}

GUARDIANSHIP = {
    Guardianship.guardian: __("Guardian"),
    Guardianship.entrusted: __("Entrusted guardian"),
    Guardianship.none: __("No guardian"),
}

REVIEW = {
    ReviewStatus.none: "",
    ReviewStatus.pending: __("To review"),
    ReviewStatus.approved: __("Approved"),
    ReviewStatus.questioned: __("Questioned"),
}

CONTACT_ROLE = {
    "guardian": __("guardian"),
    "parent": __("parent"),
    "head_teacher": __("head teacher"),
    "supervisor": __("village supervisor"),
}


def day(value: dt.date, locale: str) -> str:
    return format_skeleton("MMMd", value, locale=locale)


def weekday(value: dt.date, locale: str) -> str:
    """周四, Thu: the short name of the day's weekday."""
    return format_date(value, "EEE", locale=locale)


def month_name(value: Month, locale: str) -> str:
    return format_skeleton("yMMM", value.first_day(), locale=locale)


def join(parts: Iterable[str]) -> str:
    return _(", ").join(parts)


def labelled(label: str, value: str) -> str:
    """ "label: value", with the reader's colon (：in Chinese)."""
    return _("{label}: {value}").format(label=label, value=value)


def with_details(head: str, details: Iterable[str]) -> str:
    """ "head (a, b)", with the reader's brackets (（）in Chinese); just `head` without any."""
    listed = [detail for detail in details if detail]
    if not listed:
        return head
    together = listed[0]
    for detail in listed[1:]:  # details of one thing: "，" in Chinese, not a list's "、"
        together = _("{first}, {then}").format(first=together, then=detail)
    return _("{head} ({details})").format(head=head, details=together)


def activities(items: Iterable[Activity]) -> str:
    return join(str(ACTIVITY[a]) for a in items)
