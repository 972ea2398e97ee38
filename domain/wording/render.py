"""Texts built from domain data, in the reader's language (the i18n context of the update)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from domain.care.caseload import ChildCard, ChildSummary
from domain.language import gettext as _
from domain.models import Activity, CheckIn, Concern, Period
from domain.schedule.due import DueItem
from domain.wording import formatting, labels, texts


def activity_names(activities: Iterable[Activity]) -> str:
    return _(", ").join(str(texts.ACTIVITIES[activity]) for activity in activities)


def progress(item: DueItem) -> str:
    mark = "✅" if item.missing == 0 else "▫️"
    label = str(texts.ACTIVITIES[item.activity])
    if item.period is Period.semester:
        label = _("{activity} (this semester)").format(activity=label)
    return f"{mark} {label} {item.done}/{item.required}"


def concern_line(concern: Concern, *, now: dt.datetime, tz: ZoneInfo) -> str:
    kind = str(texts.CONCERNS[concern.kind])
    if concern.due_at <= now:
        return _("⚠️ Must visit: {kind} — {late}").format(
            kind=kind, late=formatting.late(formatting.days_late(concern.due_at, now, tz))
        )
    return _("⚠️ Must visit: {kind} — by {day}").format(
        kind=kind, day=formatting.day(concern.due_at, tz)
    )


def my_children(summaries: list[ChildSummary], *, now: dt.datetime, tz: ZoneInfo) -> str:
    if not summaries:
        return _(
            "No children are paired with you yet. Your care office will pair you and you will "
            "see them here."
        )
    local = now.astimezone(tz)
    blocks = [_("👧 Your children — {month}/{year}").format(month=local.month, year=local.year)]
    for number, summary in enumerate(summaries, start=1):
        lines = [f"{number}. {summary.name}"]
        lines += [concern_line(concern, now=now, tz=tz) for concern in summary.concerns]
        lines += [progress(item) for item in summary.items]
        blocks.append("\n".join(lines))
    blocks.append(_("Tap a child for the contact card."))
    return "\n\n".join(blocks)


def still_due(items: list[DueItem], child_name: str) -> str:
    missing = [item for item in items if item.missing > 0 and item.period is Period.month]
    if not missing:
        return _("Everything due this month for {child} is done. Thank you! 🎉").format(
            child=child_name
        )
    return _("Still due this month for {child}: {activities}.").format(
        child=child_name, activities=activity_names(item.activity for item in missing)
    )


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def child_card(card: ChildCard, *, now: dt.datetime, tz: ZoneInfo) -> str:
    child = card.child
    today = now.astimezone(tz).date()
    head = f"👧 {child.name}"
    details = []
    if child.birth_date is not None:
        details.append(_("{age} years old").format(age=_age(child.birth_date, today)))
    school = " ".join(part for part in (child.school, child.grade, child.class_name) if part)
    if school:
        details.append(school)
    lines = [labels.with_details(head, details)]
    if child.address:
        lines.append(_("🏠 Address: {address}").format(address=child.address))
    for guardian in child.guardians:
        lines.append(
            _("👵 Guardian: {name} ({relation}) {phone}")
            .format(
                name=guardian.name,
                relation=formatting.relation(guardian.relation),
                phone=formatting.phone(guardian.phone),
            )
            .rstrip()
        )
    for parent in child.parents:
        lines.append(
            _("👨‍👩 Parent ({relation}) works in: {place} {phone}")
            .format(
                relation=formatting.relation(parent.relation),
                place=parent.work_place or "-",
                phone=formatting.phone(parent.phone),
            )
            .rstrip()
        )
    lines += [concern_line(concern, now=now, tz=tz) for concern in card.concerns]
    lines.append("")
    lines.append(_("Last visits:") if card.recent else _("No visits recorded yet."))
    lines += [_recent(checkin, tz) for checkin in card.recent]
    return "\n".join(lines)


def _recent(checkin: CheckIn, tz: ZoneInfo) -> str:
    activities = activity_names(sorted(a.activity for a in checkin.activities))
    return f"• {formatting.day(checkin.occurred_at, tz)} {activities}"
