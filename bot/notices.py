"""Messages the workers send, rendered in the recipient's language.

Domain services decide what to say and to whom and hand the facts here; this module
turns them into Bot API payloads (`Outgoing`). It implements the text protocols of
`domain.reminders`, `domain.ladder`, `domain.rosters` and `domain.care_record`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton

from bot.callbacks import EscalationAct, EscalationAction
from bot.i18n import DEFAULT_LOCALE, LOCALES, make_i18n
from domain.calendar import Month
from domain.ladder import EscalationNotice
from domain.messaging import Outgoing, Recipient
from domain.models import Activity, ConcernKind, EscalationKind
from domain.outbox import Method
from domain.reminders import ReminderDigest

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

# A digest lists this many items with buttons; the rest are in the coordinator's
# overdue list.
DIGEST_ITEMS = 10


def locale_of(to: Recipient) -> str:
    return to.language if to.language in LOCALES else DEFAULT_LOCALE


def day(value: dt.date, locale: str) -> str:
    return format_skeleton("MMMd", value, locale=locale)


def month_name(value: Month, locale: str) -> str:
    return format_skeleton("yMMM", value.first_day(), locale=locale)


def activities(items: Sequence[Activity]) -> str:
    return _(", ").join(str(ACTIVITY[a]) for a in items)


class Notices:
    """Renders the workers' messages; one instance per worker (it compiles catalogues)."""

    def __init__(self, i18n: I18n | None = None) -> None:
        self.i18n = i18n or make_i18n()

    @contextmanager
    def speaking_to(self, to: Recipient) -> Iterator[str]:
        with self.i18n.context(), self.i18n.use_locale(locale_of(to)):
            yield locale_of(to)

    # reminders -------------------------------------------------------------------------

    def reminder(self, to: Recipient, digest: ReminderDigest) -> Outgoing:
        with self.speaking_to(to) as locale:
            lines = [
                _("Hello, {name}! A gentle reminder of what is still open:").format(name=to.name)
            ]
            for child in digest.children:
                by_day: dict[dt.date, list[Activity]] = {}
                for item in child.items:
                    by_day.setdefault(item.last_day, []).append(item.activity)
                what = _("; ").join(
                    _("{activities} by {day}").format(
                        activities=activities(acts), day=day(last_day, locale)
                    )
                    for last_day, acts in by_day.items()
                )
                lines.append(_("• {child}: {what}").format(child=child.child_name, what=what))
            for concern in digest.concerns:
                lines.append(
                    _("❗ Please visit {child} ({concern}) by {day}.").format(
                        child=concern.child_name,
                        concern=CONCERN[concern.kind],
                        day=day(concern.due_at.date(), locale),
                    )
                )
            lines.append(_("When you have done one, just record it in the bot. Thank you!"))
        return Outgoing(Method.send_message, {"text": "\n".join(lines)})

    # escalations -----------------------------------------------------------------------

    def _what(self, notice: EscalationNotice, locale: str) -> str:
        if notice.kind is EscalationKind.missed_monthly and notice.month is not None:
            return _("not done in {month}: {activities}").format(
                month=month_name(notice.month, locale), activities=activities(notice.missing)
            )
        if notice.kind is EscalationKind.must_visit and notice.concern is not None:
            return _("must-visit not made ({concern})").format(concern=CONCERN[notice.concern])
        if notice.kind is EscalationKind.dropout:
            return _("absent from school (drop-out reported)")
        return _("emergency reported")

    def _overdue(self, notice: EscalationNotice, locale: str) -> str:
        days = notice.overdue.days
        deadline = day(notice.deadline.date(), locale)
        if days < 1:
            return _("due {deadline}").format(deadline=deadline)
        return _("{days} days overdue (due {deadline})").format(days=days, deadline=deadline)

    def escalation(self, to: Recipient, notice: EscalationNotice) -> Outgoing:
        with self.speaking_to(to) as locale:
            lines = [
                _("⏰ Overdue (step {step}): {child}, {site}").format(
                    step=notice.step, child=notice.child_name, site=notice.site_name
                ),
                _("What: {what}").format(what=self._what(notice, locale)),
                _("How long: {overdue}").format(overdue=self._overdue(notice, locale)),
            ]
            if notice.volunteers:
                lines.append(
                    _("Paired volunteer: {names}").format(names=_(", ").join(notice.volunteers))
                )
            lines += self._unreachable(notice.unreachable)
            keyboard = InlineKeyboardBuilder()
            for act, label in self._acts():
                keyboard.button(
                    text=label,
                    callback_data=EscalationAction(escalation_id=notice.escalation_id, act=act),
                )
            keyboard.adjust(3)
            markup = keyboard.as_markup().model_dump(mode="json", exclude_none=True)
        return Outgoing(Method.send_message, {"text": "\n".join(lines), "reply_markup": markup})

    def escalation_digest(self, to: Recipient, notices: Sequence[EscalationNotice]) -> Outgoing:
        with self.speaking_to(to) as locale:
            lines = [_("⏰ {count} new overdue items in your area:").format(count=len(notices))]
            keyboard = InlineKeyboardBuilder()
            shown = notices[:DIGEST_ITEMS]
            for number, notice in enumerate(shown, start=1):
                lines.append(
                    _("{number}. {child}, {site}: {what}; {overdue}").format(
                        number=number,
                        child=notice.child_name,
                        site=notice.site_name,
                        what=self._what(notice, locale),
                        overdue=self._overdue(notice, locale),
                    )
                )
                for act, label in self._acts():
                    keyboard.button(
                        text=f"{number}. {label}",
                        callback_data=EscalationAction(escalation_id=notice.escalation_id, act=act),
                    )
            if len(notices) > len(shown):
                lines.append(
                    _("… and {more} more: see ⏰ Overdue in the menu.").format(
                        more=len(notices) - len(shown)
                    )
                )
            unreachable = sorted({name for n in notices for name in n.unreachable})
            lines += self._unreachable(tuple(unreachable))
            keyboard.adjust(3)
            markup = keyboard.as_markup().model_dump(mode="json", exclude_none=True)
        return Outgoing(Method.send_message, {"text": "\n".join(lines), "reply_markup": markup})

    def _acts(self) -> list[tuple[EscalationAct, str]]:
        return [
            (EscalationAct.take, _("✋ I'll handle it")),
            (EscalationAct.reassign, _("🔁 Reassign")),
            (EscalationAct.resolve, _("✅ Resolved")),
        ]

    def _unreachable(self, names: Sequence[str]) -> list[str]:
        if not names:
            return []
        return [
            _("⚠️ The bot cannot reach {names} (blocked or never started it).").format(
                names=_(", ").join(names)
            )
        ]
