"""Messages the workers send, rendered in the recipient's language.

Domain services decide what to say and to whom and hand the facts here; this module
turns them into content (`Outgoing`: text, actions, files), which each front renders.
It implements the text protocols of
`domain.schedule.reminders`, `domain.schedule.ladder`, `domain.reports.rosters` and
`domain.reports.care_record`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain import language
from domain.archive.school_year import LeftChild
from domain.care.concerns import Raised
from domain.delivery import outbox
from domain.delivery.content import Action, ActionKind, AttachmentKind, Content
from domain.delivery.messaging import File, Outgoing, Recipient
from domain.language import gettext as _
from domain.models import Activity, EscalationKind
from domain.reports.care_record import SiteRecord, SiteSummary
from domain.reports.rosters import ScopeRoster, VolunteerWeek, Week
from domain.schedule.calendar import Month
from domain.schedule.ladder import AreaDigest, EscalationNotice
from domain.schedule.reminders import ReminderDigest
from domain.wording import formatting, texts
from domain.wording.labels import (
    CONCERN,
    CONTACT_ROLE,
    INCIDENT,
    LEAVE_REASON,
    activities,
    day,
    join,
    labelled,
    month_name,
    weekday,
)

# A digest lists this many items with buttons; the rest are in the coordinator's
# overdue list.
DIGEST_ITEMS = 10
# An area digest lists this many schools or townships, the most children first.
AREA_LINES = 20
# A roster message names at most this many people per line; the workbook has them all.
ROSTER_NAMES = 15


class Notices:
    """Renders the workers' messages."""

    @contextmanager
    def speaking_to(self, to: Recipient) -> Iterator[str]:
        with language.speaking(to.language) as locale:
            yield locale

    # reminders -------------------------------------------------------------------------

    def reminder(self, to: Recipient, digest: ReminderDigest) -> Outgoing:
        with self.speaking_to(to) as locale:
            lines = [
                _("Hello, {name}! A gentle reminder of what is still open:").format(name=to.name)
            ]
            for child in digest.children:
                by_day: dict[dt.date | None, list[Activity]] = {}
                for item in child.items:
                    by_day.setdefault(None if item.this_month else item.last_day, []).append(
                        item.activity
                    )
                what = _("; ").join(
                    _("{activities} {by}").format(
                        activities=activities(acts),
                        by=formatting.by_month_end()
                        if last_day is None
                        else _("by {day}").format(day=day(last_day, locale)),
                    )
                    for last_day, acts in by_day.items()
                )
                lines.append(_("• {child}: {what}").format(child=child.child_name, what=what))
            for concern in digest.concerns:
                lines.append(
                    _("❗ Please visit {child} ({concern}) by {day}.").format(
                        child=concern.child_name,
                        concern=CONCERN[concern.kind],
                        day=day(concern.due_day, locale),
                    )
                )
            lines.append(_("When you have done one, just record it in the bot. Thank you!"))
        return Outgoing(Content.lines(lines))

    # the school year ---------------------------------------------------------------------

    def children_left(self, to: Recipient, children: Sequence[LeftChild]) -> Outgoing:
        with self.speaking_to(to):
            lines = [
                _(
                    "🎓 A new school year. These children have left the programme, and your "
                    "pairing with them has ended:"
                ),
                *(labelled(child.name, str(LEAVE_REASON[child.reason])) for child in children),
                _("Thank you for your care!"),
            ]
        return Outgoing(Content.lines(lines))

    # escalations -----------------------------------------------------------------------

    def _what(self, notice: EscalationNotice, locale: str) -> str:
        if notice.kind is EscalationKind.missed_monthly and notice.month is not None:
            return _("not done in {month}: {activities}").format(
                month=month_name(notice.month, locale), activities=activities(notice.missing)
            )
        if notice.kind is EscalationKind.must_visit and notice.concern is not None:
            return _("must-visit not made ({concern})").format(concern=CONCERN[notice.concern])
        if notice.incident is not None:
            return str(INCIDENT.get(notice.incident, INCIDENT["other"]))
        if notice.kind is EscalationKind.dropout:
            return _("absent from school (drop-out reported)")
        if notice.kind is EscalationKind.review_waiting:
            return _("a check-in has waited for review (🔍) for over a week")
        return _("emergency reported")

    def _overdue(self, notice: EscalationNotice, locale: str) -> str:
        if notice.kind is EscalationKind.missed_monthly and notice.month is not None:
            deadline = _("by the end of {month}").format(month=month_name(notice.month, locale))
        else:
            due = notice.due_day or notice.deadline.date()
            deadline = _("by {day}").format(day=day(due, locale))
        if notice.days_late < 1:
            return _("due {deadline}").format(deadline=deadline)
        return _("{late} (due {deadline})").format(
            late=formatting.late(notice.days_late), deadline=deadline
        )

    def escalation(self, to: Recipient, notice: EscalationNotice) -> Outgoing:
        if notice.incident is not None:
            return self.emergency(to, notice)
        with self.speaking_to(to) as locale:
            lines = [
                _("⏰ Overdue (step {step}): {child}, {site}").format(
                    step=notice.step, child=notice.child_name, site=notice.site_name
                ),
                _("What: {what}").format(what=self._what(notice, locale)),
                _("How long: {overdue}").format(overdue=self._overdue(notice, locale)),
            ]
            if notice.volunteers:
                lines.append(_("Paired volunteer: {names}").format(names=join(notice.volunteers)))
            lines += self._unreachable(notice.unreachable)
            actions = self._buttons([(notice.escalation_id, "")])
        return Outgoing(Content.lines(lines, actions=actions))

    def emergency(self, to: Recipient, notice: EscalationNotice) -> Outgoing:
        """An emergency or a drop-out, to every level at once: the child, what happened,
        who reported it and whom to call, in order, with their numbers."""
        with self.speaking_to(to):
            what = INCIDENT.get(notice.incident or "other", INCIDENT["other"])
            lines = [
                _("🚨 Emergency: {child}, {site}").format(
                    child=notice.child_name, site=notice.site_name
                )
                if notice.round == 0
                else _("🚨 Still nobody has taken it (reminder {round}): {child}, {site}").format(
                    round=notice.round, child=notice.child_name, site=notice.site_name
                ),
                _("What happened: {what}").format(what=what),
            ]
            if notice.note:
                lines.append(_("Their words: {note}").format(note=notice.note))
            if notice.reported_by:
                lines.append(_("Reported by {name}").format(name=notice.reported_by))
            if notice.attachments:
                lines.append(
                    _("📎 Photos or voice notes with it: {count} (on its page)").format(
                        count=notice.attachments
                    )
                )
            if notice.contacts:
                lines.append(_("Contacts:"))
                for contact in notice.contacts:
                    who = " ".join(
                        part
                        for part in (
                            ""
                            if contact.role == "parent" and contact.relation
                            else str(CONTACT_ROLE.get(contact.role, contact.role)),
                            formatting.relation(contact.relation) if contact.relation else "",
                            contact.name,
                        )
                        if part
                    )
                    lines.append(
                        _("• {who}: {phone}").format(
                            who=who, phone=formatting.phone(contact.phone) or _("no phone")
                        )
                    )
            if notice.volunteers:
                lines.append(_("Paired volunteer: {names}").format(names=join(notice.volunteers)))
            lines += self._unreachable(notice.unreachable)
            lines.append(_("Whoever takes it: tap “I'll handle it”; everyone will see who."))
            subject = notice.escalation_id
            actions = [
                [
                    Action(ActionKind.take_escalation, _("✋ I'll handle it"), subject),
                    Action(ActionKind.open_incident, _("📋 Its page"), subject),
                ]
            ]
        return Outgoing(Content.lines(lines, actions=actions))

    def escalation_digest(self, to: Recipient, notices: Sequence[EscalationNotice]) -> Outgoing:
        with self.speaking_to(to) as locale:
            if all(n.incident is not None for n in notices):
                lines = [_("🚨 {count} more emergencies in your area:").format(count=len(notices))]
            else:
                lines = [_("⏰ {count} new overdue items in your area:").format(count=len(notices))]
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
            actions = self._buttons(
                [(notice.escalation_id, f"{number}. ") for number, notice in enumerate(shown, 1)]
            )
            if len(notices) > len(shown):
                lines.append(
                    _("… and {more} more: see ⏰ Overdue in the menu.").format(
                        more=len(notices) - len(shown)
                    )
                )
            unreachable = sorted({name for n in notices for name in n.unreachable})
            lines += self._unreachable(tuple(unreachable))
        return Outgoing(Content.lines(lines, actions=actions))

    def area_digest(self, to: Recipient, digest: AreaDigest) -> Outgoing:
        """A township's or district's one message per run: counts per school (township)
        or per township (district), and a township's worst cases with their buttons."""
        with self.speaking_to(to) as locale:
            lines = [
                _("⏰ {area}: {count} new overdue items this time").format(
                    area=digest.area_name, count=digest.total
                )
            ]
            for area in digest.below[:AREA_LINES]:
                lines.append(
                    _(
                        "• {name}: {children} children ({missed} months not done, "
                        "{visits} must-visits not made)"
                    ).format(
                        name=area.name,
                        children=area.children,
                        missed=area.missed,
                        visits=area.must_visits,
                    )
                )
            if len(digest.below) > AREA_LINES:
                lines.append(
                    _("… and {more} more places.").format(more=len(digest.below) - AREA_LINES)
                )
            actions: list[list[Action]] = []
            if digest.worst:
                lines.append(_("The most urgent:"))
                for number, notice in enumerate(digest.worst, start=1):
                    lines.append(
                        _("{number}. {child}, {site}: {what}; {overdue}").format(
                            number=number,
                            child=notice.child_name,
                            site=notice.site_name,
                            what=self._what(notice, locale),
                            overdue=self._overdue(notice, locale),
                        )
                    )
                actions = self._buttons(
                    [(n.escalation_id, f"{i}. ") for i, n in enumerate(digest.worst, 1)]
                )
            lines.append(_("Every item is in ⏰ Overdue in the menu."))
            lines += self._unreachable(digest.unreachable)
        return Outgoing(Content.lines(lines, actions=actions))

    async def settled_by_themselves(
        self, session: AsyncSession, escalation_ids: Sequence[int], *, at: dt.datetime, tz: ZoneInfo
    ) -> int:
        """The copies of escalations the ladder closed because what was due is recorded
        now (a late visit, a must-visit made) say so and lose their buttons."""
        from domain.wording import news  # news renders the chat's answers too

        edited = 0
        for escalation_id in escalation_ids:
            edited += await news.escalation_settled(
                session, escalation_id=escalation_id, by=None, closed=True, at=at, tz=tz
            )
        return edited

    def _buttons(self, items: Sequence[tuple[int, str]]) -> list[list[Action]]:
        """A row of 我来处理 / 改派 / 已解决 per escalation."""
        acts = [
            (ActionKind.take_escalation, _("✋ I'll handle it")),
            (ActionKind.reassign_escalation, _("🔁 Reassign")),
            (ActionKind.resolve_escalation, _("✅ Resolved")),
        ]
        return [
            [Action(kind, f"{prefix}{label}", escalation) for kind, label in acts]
            for escalation, prefix in items
        ]

    def _unreachable(self, names: Sequence[str]) -> list[str]:
        if not names:
            return []
        return [
            _("⚠️ The bot cannot reach {names} (blocked or never started it).").format(
                names=join(names)
            )
        ]

    # weekly roster ---------------------------------------------------------------------

    def roster(self, to: Recipient, roster: ScopeRoster) -> list[Outgoing]:
        """A short message, the workbook and the completion chart."""
        with self.speaking_to(to) as locale:
            volunteers = roster.volunteers
            inactive = [v.name for v in volunteers if v.inactive]
            unreachable = [v.name for v in volunteers if v.unreachable]
            required = sum(c.required for c in roster.completion)
            done = sum(c.done for c in roster.completion)
            lines = [
                _("📋 Roster of {scope}, week of {monday}").format(
                    scope=roster.scope_name, monday=day(roster.week.monday, locale)
                ),
                _("{volunteers} volunteers, {children} paired children.").format(
                    volunteers=len(volunteers), children=sum(len(v.children) for v in volunteers)
                ),
                _("This month so far: {share}% of the items done.").format(
                    share=round(100 * done / required)
                )
                if required
                else _("This month: nothing to count yet (no child is paired)."),
            ]
            on_duty = [v for v in volunteers if v.duty_days]
            if on_duty:
                lines.append(
                    _("On duty at the children's home: {names}").format(
                        names=join(
                            f"{v.name} {join(day(d, locale) for d in v.duty_days)}"
                            for v in on_duty[:ROSTER_NAMES]
                        )
                    )
                )
            if inactive:
                lines.append(
                    _("No record for 30 days: {count} ({names})").format(
                        count=len(inactive), names=join(inactive[:ROSTER_NAMES])
                    )
                )
            lines += self._unreachable(unreachable[:ROSTER_NAMES])
            best = [v for v in volunteers if v.of_the_month]
            if best:
                lines.append(
                    _("🌟 Volunteers of {month}: {names}").format(
                        month=month_name(roster.week.month.previous(), locale),
                        names=join(f"{v.name}（{v.site_name}）" for v in best[:ROSTER_NAMES]),
                    )
                )
            if roster.to_review:
                lines.append(_("🔍 To review: {count}").format(count=roster.to_review))
            lines.append(_("Details in the workbook below."))
            name = day(roster.week.monday, locale)  # no "2026-W49" in a Chinese caption
            title = _("{scope}: completion in {month}").format(
                scope=roster.scope_name, month=month_name(roster.week.month, locale)
            )
            # matplotlib and openpyxl (~75 MB) load only where files are made: the bot never does
            from domain.wording.charts import completion_chart
            from domain.wording.workbooks import roster_workbook

            chart = completion_chart(
                roster.completion,
                title=title,
                axis_label=_("Items done (%)"),
                nothing_label=_("nothing to count"),
            )
            workbook = roster_workbook(roster, locale)
            caption = _("Roster, week of {monday}").format(monday=name)
        return [
            Outgoing(Content.lines(lines)),
            _with_file(caption, AttachmentKind.document, f"{caption}.xlsx", workbook),
            _with_file(title, AttachmentKind.picture, f"{title}.png", chart),
        ]

    def volunteer_week(self, to: Recipient, week: Week, volunteer: VolunteerWeek) -> Outgoing:
        with self.speaking_to(to) as locale:
            lines = [
                _("📅 {name}, your week from {monday}:").format(
                    name=to.name, monday=day(week.monday, locale)
                ),
                _("Your children: {names}").format(names=join(volunteer.children)),
            ]
            lines += [
                _("🎂 {child}'s birthday is on {weekday}.").format(
                    child=birthday.child_name, weekday=weekday(birthday.day, locale)
                )
                for birthday in sorted(volunteer.birthdays, key=lambda b: b.day)
            ]
            if volunteer.duty_days:
                lines.append(
                    _("On duty at the children's home: {days}").format(
                        days=join(day(d, locale) for d in volunteer.duty_days)
                    )
                )
            for owed in volunteer.owed:
                lines.append(
                    _("• {child}: {what}").format(
                        child=owed.child_name, what=activities(owed.activities)
                    )
                )
            for visit in volunteer.must_visits:
                lines.append(
                    _("❗ Please visit {child} ({concern}) by {day}.").format(
                        child=visit.child_name,
                        concern=CONCERN[visit.kind],
                        day=day(visit.due_day or visit.due_at.date(), locale),
                    )
                )
            if not volunteer.owed and not volunteer.must_visits:
                lines.append(_("Everything for this month is done. Thank you!"))
            elif volunteer.last_week:
                lines.append(
                    _("Last week you recorded {count} things. Thank you!").format(
                        count=len(volunteer.last_week)
                    )
                )
        return Outgoing(Content.lines(lines))

    # monthly care record ---------------------------------------------------------------

    def care_record(self, to: Recipient, record: SiteRecord) -> list[Outgoing]:
        with self.speaking_to(to) as locale:
            month = month_name(record.month, locale)
            title = _("Care record {month}").format(month=month)
            gaps = sum(not row.complete for row in record.rows)
            text = _(
                "📒 The care record of {site} for {month} is ready: {rows} key children "
                "and surrogate parents, {gaps} with gaps (marked red). It is due tomorrow."
            ).format(site=record.site_name, month=month, rows=len(record.rows), gaps=gaps)
            if record.letters_missing:
                text += "\n" + _(
                    "Entrusted guardians' responsibility letters not signed: {count} ({children})"
                ).format(
                    count=len(record.letters_missing), children="、".join(record.letters_missing)
                )
            from domain.wording.workbooks import care_record_workbook

            workbook = care_record_workbook(record, record.rows, locale, to.name)
        return [
            Outgoing(Content.lines([text])),
            _with_file(
                title, AttachmentKind.document, f"{record.site_name} {title}.xlsx", workbook
            ),
        ]

    def record_failed(self, to: Recipient, region: str, month: Month) -> Outgoing:
        with self.speaking_to(to) as locale:
            text = _(
                "⚠️ The care record of {region} for {month} could not be made. The operators "
                "have been told; please ask them, or fill it in by hand this month."
            ).format(region=region, month=month_name(month, locale))
        return Outgoing(Content.lines([text]))

    def township_summary(
        self, to: Recipient, township: str, month: Month, sites: Sequence[SiteSummary]
    ) -> list[Outgoing]:
        with self.speaking_to(to) as locale:
            title = _("Care records {month}").format(month=month_name(month, locale))
            text = _(
                "📒 {township}, care records for {month}: {sites} sites, {complete} of "
                "{rows} records complete; {uncovered} key children without a surrogate parent."
            ).format(
                township=township,
                month=month_name(month, locale),
                sites=len(sites),
                complete=sum(s.complete for s in sites),
                rows=sum(s.complete + s.incomplete for s in sites),
                uncovered=sum(s.key_children - s.with_surrogate for s in sites),
            )
            if letters := sum(s.letters_missing for s in sites):
                text += "\n" + _(
                    "Entrusted guardians' responsibility letters not signed: {count}"
                ).format(count=letters)
            from domain.wording.workbooks import township_summary_workbook

            made_on = sites[0].made_on if sites else None
            workbook = township_summary_workbook(township, month, made_on, sites, locale)
        return [
            Outgoing(Content.lines([text])),
            _with_file(title, AttachmentKind.document, f"{township} {title}.xlsx", workbook),
        ]


def _with_file(caption: str, kind: AttachmentKind, name: str, data: bytes) -> Outgoing:
    extension = name[name.rfind(".") :]
    return Outgoing(Content.lines([caption]), File(kind, name, data, extension))


# caused by a chat action ------------------------------------------------------------


async def concern_raised(
    session: AsyncSession,
    raised: Raised,
    *,
    raised_by: str,
    site: str,
    now: dt.datetime,
    tz: ZoneInfo,
) -> None:
    """Tell the site's coordinators about a must-visit, once each."""
    concern = raised.concern
    for recipient in raised.recipients:
        with language.speaking(recipient.language):
            text = _(
                "⚠️ Must visit (五必访): {child}, {site} — {kind}.\n"
                "Raised by {volunteer}. A visit is due by {day}."
            ).format(
                child=raised.child.name,
                site=site,
                kind=texts.CONCERNS[concern.kind],
                volunteer=raised_by,
                day=formatting.day(concern.due_at, tz),
            )
            if concern.note:
                text += "\n" + _("Note: {note}").format(note=concern.note)
        await outbox.enqueue(
            session,
            to=recipient.address,
            content=Content.lines([text]),
            not_before=now,
            dedupe_key=f"concern:{concern.id}:{recipient.person_id}",
        )
