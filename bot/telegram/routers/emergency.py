"""🚨 An emergency, a drop-out or a must-visit, raised in three taps from a child's card:
🚨 → what happened → a few words (or “Send now”). Everyone responsible is told by the
ladder's next run; its page shows every step, and steps are recorded from there."""

from __future__ import annotations

import datetime as dt
import functools

from aiogram import F, Router
from aiogram.filters import Command, MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import (
    EmergencyChoice,
    EmergencySkipNote,
    EmergencyStart,
    IncidentPage,
    IncidentRecord,
    LetterSigned,
)
from bot.telegram.filters import When
from bot.telegram.keyboards import Button, _chunks, _rows
from bot.telegram.replies import note_that_fits
from domain.care import concerns, emergencies
from domain.care.emergencies import Incident, StepKind
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import ConcernKind, Escalation
from domain.people import scopes
from domain.people.identity import Identity
from domain.ports import LadderQueue
from domain.wording import formatting, labels, news, notices, reports, texts
from guanai.settings import Settings

MAX_NOTE = 1000
VISIT = "visit-"  # a must-visit's choice: "visit-mood"
FIVE_MUST_VISITS = (
    ConcernKind.mood,
    ConcernKind.health,
    ConcernKind.grades,
    ConcernKind.late_or_early,
    ConcernKind.quarrel,
)


class Report(StatesGroup):
    kind = State()
    note = State()


class Record(StatesGroup):
    words = State()


def _scope_paths(me: Identity) -> list[str]:
    return [scope.path for scope in me.scopes]


async def _reporter(session: AsyncSession, me: Identity, child_id: int) -> emergencies.Reporter:
    return await emergencies.reporter_for(
        session,
        person_id=me.person_id,
        volunteer_ids=me.volunteer_ids,
        scope_paths=_scope_paths(me),
        child_id=child_id,
    )


def _capitalised(label: object) -> str:
    text = str(label)
    return text[:1].upper() + text[1:]


def kinds_keyboard(*, visits: bool) -> InlineKeyboardMarkup:
    incidents: list[Button] = [
        (_capitalised(labels.INCIDENT[i.value]), EmergencyChoice(what=i.value)) for i in Incident
    ]
    must_visits: list[Button] = [
        (
            _("Must visit: {kind}").format(kind=labels.CONCERN[k]),
            EmergencyChoice(what=VISIT + k.value),
        )
        for k in FIVE_MUST_VISITS
    ]
    return _rows(*_chunks(incidents, 2), *(_chunks(must_visits, 2) if visits else []))


MAX_LISTED = 40


async def choose_child(
    message: Message, state: FSMContext, session: AsyncSession, me: Identity
) -> None:
    """/sos: the children this person may report about; a coordinator with many opens the
    child's card instead."""
    await state.clear()
    children = await emergencies.children_to_report(
        session,
        volunteer_ids=me.volunteer_ids,
        scope_paths=_scope_paths(me),
        limit=MAX_LISTED + 1,
    )
    if not children:
        await message.answer(_("There is no child in your care to report about."))
        return
    if len(children) > MAX_LISTED:
        await message.answer(_("Too many children to list: open the child's card (👧) instead."))
        return
    await message.answer(
        _("🚨 About which child?"),
        reply_markup=_rows(
            *_chunks([(name, EmergencyStart(child_id=child_id)) for child_id, name in children], 3)
        ),
    )


async def start(
    query: CallbackQuery,
    callback_data: EmergencyStart,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
) -> None:
    reporter = await _reporter(session, me, callback_data.child_id)
    await query.answer()
    await state.clear()
    await state.set_state(Report.kind)
    await state.set_data({"child_id": reporter.child.id})
    if isinstance(query.message, Message):
        await query.message.answer(
            _("🚨 What has happened to {child}?").format(child=reporter.child.name),
            reply_markup=kinds_keyboard(visits=reporter.may_raise_visits),
        )


async def kind_chosen(
    query: CallbackQuery, callback_data: EmergencyChoice, state: FSMContext
) -> None:
    what = callback_data.what
    known = {i.value for i in Incident} | {VISIT + k.value for k in FIVE_MUST_VISITS}
    if what not in known:
        await query.answer(_("Please choose with the buttons above, or send /cancel."))
        return
    await state.update_data(what=what)
    await state.set_state(Report.note)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(
            _("A few words on what happened (type them), or tap “Send now”."),
            reply_markup=_rows([(_("Send now"), EmergencySkipNote())]),
        )


async def note_typed(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
    ladder_queue: LadderQueue,
) -> None:
    note = await note_that_fits(message, MAX_NOTE) or None
    await _report(message, state, uow, me, clock, settings, ladder_queue, note=note)


MAX_MEDIA = 5


async def media_sent(message: Message, state: FSMContext) -> None:
    """A photo or a voice note with the report: kept with it (by Telegram's file id), shown
    on its page to those who may see it."""
    data = await state.get_data()
    media = list(data.get("media", []))
    if len(media) >= MAX_MEDIA:
        await message.answer(_("That is enough; type a few words or tap “Send now”."))
        return
    if message.voice is not None:
        media.append({"kind": "voice", "file_id": message.voice.file_id})
    elif message.photo:
        media.append({"kind": "photo", "file_id": message.photo[-1].file_id})
    await state.update_data(media=media)
    await message.answer(
        _("Kept with the report ({count}). Type a few words, or tap “Send now”.").format(
            count=len(media)
        ),
        reply_markup=_rows([(_("Send now"), EmergencySkipNote())]),
    )


async def note_skipped(
    query: CallbackQuery,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
    ladder_queue: LadderQueue,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _report(query.message, state, uow, me, clock, settings, ladder_queue, note=None)


async def _report(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
    ladder_queue: LadderQueue,
    *,
    note: str | None,
) -> None:
    session = uow.session
    data = await state.get_data()
    now = clock.now()
    reporter = await _reporter(session, me, int(data["child_id"]))
    what = str(data["what"])
    if what.startswith(VISIT):
        if not reporter.may_raise_visits:
            await state.clear()
            await message.answer(_("Only a teacher or a coordinator can raise it from here."))
            return
        await _raise_visit(message, state, uow, me, reporter, settings, now, what, note)
        return
    incident = Incident(what)
    escalation = await emergencies.raise_incident(
        session,
        child_id=reporter.child.id,
        incident=incident,
        note=note,
        reporter_id=me.person_id,
        now=now,
        tz=settings.tz,
        media=list(data.get("media", [])),
    )
    uow.after_commit(state.clear)
    uow.after_commit(functools.partial(ladder_queue.climb_now, escalation.id))
    await uow.commit()  # "reported" only once it is
    if incident in emergencies.SENSITIVE:
        told = _("The township and district care offices are being told now; only they see it.")
    else:
        told = _("The school's, township's and district's care offices are being told now.")
    await message.answer(
        _("🚨 Reported: {child} — {what}. {told}").format(
            child=reporter.child.name, what=labels.INCIDENT[incident.value], told=told
        ),
        reply_markup=_rows([(_("📋 Its page"), IncidentPage(escalation_id=escalation.id))]),
    )


async def _raise_visit(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    reporter: emergencies.Reporter,
    settings: Settings,
    now: dt.datetime,
    what: str,
    note: str | None,
) -> None:
    session = uow.session
    raised = await concerns.raise_concern(
        session,
        child_id=reporter.child.id,
        kind=ConcernKind(what.removeprefix(VISIT)),
        note=note,
        raised_by=me.person_id,
        now=now,
    )
    await notices.concern_raised(
        session,
        raised,
        raised_by=me.name,
        site=raised.site.name,
        now=now,
        tz=settings.tz,
    )
    volunteers = await emergencies.paired_volunteers(session, reporter.child.id)
    await news.must_visit_raised(
        session, raised=raised, raised_by=me.name, to=volunteers, at=now, tz=settings.tz
    )
    uow.after_commit(state.clear)
    await uow.commit()
    due = formatting.day(raised.concern.due_at, settings.tz)
    if volunteers:
        text = _("Noted: {child} — {kind}. {names} must visit by {day}; they have been told.")
    else:
        text = _("Noted: {child} — {kind}, a visit due by {day}. Nobody is paired with the child!")
    await message.answer(
        text.format(
            child=reporter.child.name,
            kind=texts.CONCERNS[raised.concern.kind],
            names="、".join(v.name for v in volunteers),
            day=due,
        )
    )


async def kind_expected(message: Message) -> None:
    await message.answer(_("Please choose with the buttons above, or send /cancel."))


async def note_expected(message: Message) -> None:
    await message.answer(_("Please type a few words, or tap “Send now” above."))


# the page and its steps --------------------------------------------------------------------


def _step_line(step: emergencies.PageStep, settings: Settings) -> str:
    parts = [formatting.when(step.recorded_at, settings.tz), str(labels.INCIDENT_STEP[step.kind])]
    if step.on_day:
        parts.append(formatting.day(step.on_day, settings.tz))
    parts += [p for p in (step.by_whom, step.place, step.note) if p]
    if step.actor:
        parts.append(_("recorded by {name}").format(name=step.actor))
    return "• " + "，".join(parts)


async def show_page(
    query: CallbackQuery,
    callback_data: IncidentPage,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
) -> None:
    session = uow.session
    escalation = await emergencies.escalation_for(
        session,
        callback_data.escalation_id,
        viewer_id=me.person_id,
        volunteer_ids=me.volunteer_ids,
        scope_paths=_scope_paths(me),
    )
    page = await emergencies.page(session, escalation)
    emergencies.audit_view(session, escalation, me.person_id, clock.now())
    await uow.commit()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(page_text(page, settings), reply_markup=page_buttons(page))
        for item in (escalation.details or {}).get("media", []):
            if item.get("kind") == "voice":
                await query.message.answer_voice(item["file_id"])
            elif item.get("kind") == "photo":
                await query.message.answer_photo(item["file_id"])


def page_text(page: emergencies.Page, settings: Settings) -> str:
    escalation = page.escalation
    lines = [
        _("🚨 {child}, {site}: {what}").format(
            child=page.child.name, site=page.site.name, what=labels.INCIDENT[page.incident.value]
        ),
        _("Reported by {name} at {when}").format(
            name=page.reporter or "—", when=formatting.when(escalation.opened_at, settings.tz)
        ),
    ]
    if page.taken_by and escalation.acknowledged_at:
        lines.append(
            _("Taken by {name} at {when}").format(
                name=page.taken_by, when=formatting.when(escalation.acknowledged_at, settings.tz)
            )
        )
    if escalation.closed_at is not None:
        lines.append(
            _("Closed at {when}: {outcome}").format(
                when=formatting.when(escalation.closed_at, settings.tz),
                outcome=labels.INCIDENT_STEP.get(
                    escalation.resolution or StepKind.closed.value,
                    "",
                ),
            )
        )
    else:
        lines.append(_("Open."))
        if page.incident is Incident.dropout and not any(
            step.kind in (StepKind.returned, StepKind.report) for step in page.steps
        ):
            registered = next(
                (s.on_day for s in page.steps if s.kind is StepKind.registered and s.on_day),
                escalation.opened_at.astimezone(settings.tz).date(),
            )
            lines.append(
                _("If the child is not back at school by {day}, the written report is due.").format(
                    day=formatting.day(
                        registered + dt.timedelta(days=page.report_days), settings.tz
                    )
                )
            )
    lines.append(_("Steps:"))
    lines += [_step_line(step, settings) for step in page.steps]
    return "\n".join(lines)


def page_buttons(page: emergencies.Page) -> InlineKeyboardMarkup | None:
    if page.escalation.closed_at is not None:
        return None
    kinds = [*emergencies.FITTING.get(page.incident, ()), StepKind.note, StepKind.closed]
    if page.incident is Incident.dropout:
        kinds.insert(2, StepKind.report)
    buttons: list[Button] = [
        (
            labels.INCIDENT_STEP_BUTTON[kind],
            IncidentRecord(escalation_id=page.escalation.id, step=kind.value),
        )
        for kind in kinds
    ]
    return _rows(*_chunks(buttons, 2))


# what each step asks for, in one message typed by the recorder
PROMPTS = {
    StepKind.persuasion: __("Who went, on which day, with what result?"),
    StepKind.returned: __("On which day did the child return to school?"),
    StepKind.found: __("On which day, and where, was the child found?"),
    StepKind.police: __("On which day, and to which police station?"),
    StepKind.guardian: __("The entrusted guardian (name, relation, phone), the letter's day."),
    StepKind.note: __("What should be recorded?"),
    StepKind.closed: __("How did it end?"),
}


async def record_start(
    query: CallbackQuery,
    callback_data: IncidentRecord,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
    i18n: I18n,
) -> None:
    escalation = await emergencies.escalation_for(
        uow.session,
        callback_data.escalation_id,
        viewer_id=me.person_id,
        volunteer_ids=me.volunteer_ids,
        scope_paths=_scope_paths(me),
    )
    if callback_data.step not in StepKind.__members__ or escalation.closed_at is not None:
        await query.answer(_("This was already closed."), show_alert=True)
        return
    kind = StepKind(callback_data.step)
    if kind is StepKind.report:
        await state.clear()
        await _send_report(query, uow, escalation, me, clock, settings, i18n)
        return
    await query.answer()
    await state.set_state(Record.words)
    await state.set_data({"escalation_id": escalation.id, "step": kind.value})
    if isinstance(query.message, Message):
        await query.message.answer(str(PROMPTS.get(kind, PROMPTS[StepKind.note])))


async def record_typed(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
) -> None:
    session = uow.session
    data = await state.get_data()
    escalation = await emergencies.escalation_for(
        session,
        int(data["escalation_id"]),
        viewer_id=me.person_id,
        volunteer_ids=me.volunteer_ids,
        scope_paths=_scope_paths(me),
    )
    now = clock.now()
    words = await note_that_fits(message, MAX_NOTE)
    today = now.astimezone(settings.tz).date()
    kind = StepKind(data["step"])
    letter_pending = False
    if kind is StepKind.guardian:
        guardian = emergencies.parse_guardian(words, today=today)
        if guardian is None:
            await message.answer(str(PROMPTS[StepKind.guardian]))
            return
        await emergencies.name_entrusted_guardian(
            session, escalation, guardian, actor_id=me.person_id, now=now
        )
        letter_pending = guardian.letter_signed_on is None
    else:
        fields = emergencies.parse_step(kind, words, today=today)
        await emergencies.record_step(
            session, escalation, kind=kind, actor_id=me.person_id, now=now, **fields
        )
    page = await emergencies.page(session, escalation)
    uow.after_commit(state.clear)
    await uow.commit()
    if letter_pending:
        await message.answer(
            _(
                "Noted. Until the responsibility letter is signed the child still counts "
                "as unsupervised: record the guardian again with the letter's day."
            )
        )
    await message.answer(page_text(page, settings), reply_markup=page_buttons(page))


async def _send_report(
    query: CallbackQuery,
    uow: UnitOfWork,
    escalation: Escalation,
    me: Identity,
    clock: Clock,
    settings: Settings,
    i18n: I18n,
) -> None:
    """控辍保学: the written report, once persuasion has not brought the child back by the
    site's deadline; made from what was recorded, and recorded as a step itself."""
    session = uow.session
    now = clock.now()
    facts = await emergencies.report_facts(session, escalation, now=now, tz=settings.tz)
    returned = any(s.kind is StepKind.returned for s in facts.page.steps)
    if not emergencies.report_due(
        opened_on=facts.registered_on,
        today=facts.today,
        days=facts.page.report_days,
        returned=returned,
        reported=False,
    ):
        due = facts.registered_on + dt.timedelta(days=facts.page.report_days)
        await query.answer(
            _(
                "Persuasion goes on until {day}; the written report is due then if the child "
                "is not back at school."
            ).format(day=formatting.day(due, settings.tz)),
            show_alert=True,
        )
        return
    with i18n.use_locale("zh"):  # for the county education bureau and the township
        document = reports.dropout_report(facts, settings.tz)
    await emergencies.record_step(
        session,
        escalation,
        kind=StepKind.report,
        actor_id=me.person_id,
        now=now,
        on_day=facts.today,
    )
    await uow.commit()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer_document(
            BufferedInputFile(
                document, filename=f"控辍保学情况报告-{facts.page.child.name}-{facts.today}.docx"
            ),
            caption=_("The written report, ready to print, sign and stamp."),
        )


class Letter(StatesGroup):
    day = State()


async def letter_start(
    query: CallbackQuery,
    callback_data: LetterSigned,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
) -> None:
    child, _scope = await scopes.child(session, me.scopes, callback_data.child_id)
    await query.answer()
    await state.set_state(Letter.day)
    await state.set_data({"child_id": child.id})
    if isinstance(query.message, Message):
        await query.message.answer(
            _("On which day did {child}'s entrusted guardian sign the letter?").format(
                child=child.name
            )
        )


async def letter_day(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    settings: Settings,
) -> None:
    data = await state.get_data()
    child, _scope = await scopes.child(uow.session, me.scopes, int(data["child_id"]))
    now = clock.now()
    signed_on = emergencies.parse_day(
        (message.text or "").strip(), today=now.astimezone(settings.tz).date()
    )
    if signed_on is None:
        await message.answer(_("Please type the day, e.g. 11月20日 or 今天."))
        return
    guardian = await emergencies.record_letter(
        uow.session, child, signed_on=signed_on, actor_id=me.person_id, now=now
    )
    if guardian is None:
        await state.clear()
        await message.answer(
            _("{child} has no entrusted guardian on record.").format(child=child.name)
        )
        return
    uow.after_commit(state.clear)
    await uow.commit()
    await message.answer(
        _("Recorded: {guardian} signed the responsibility letter for {child} on {day}.").format(
            guardian=guardian.name, child=child.name, day=formatting.day(signed_on, settings.tz)
        )
    )


def make_router() -> Router:
    router = Router(name="emergency")
    router.message.filter(MagicData(F.me.is_volunteer | F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_volunteer | F.me.is_coordinator))
    router.message.register(choose_child, Command("sos"))
    router.callback_query.register(start, EmergencyStart.filter())
    router.callback_query.register(kind_chosen, StateFilter(Report.kind), EmergencyChoice.filter())
    router.message.register(kind_expected, StateFilter(Report.kind))
    router.message.register(
        note_typed, StateFilter(Report.note), When(F.text & ~F.text.startswith("/"))
    )
    router.callback_query.register(
        note_skipped, StateFilter(Report.note), EmergencySkipNote.filter()
    )
    router.message.register(media_sent, StateFilter(Report.note), When(F.voice | F.photo))
    router.message.register(note_expected, StateFilter(Report.note))
    router.callback_query.register(show_page, IncidentPage.filter())
    router.callback_query.register(letter_start, LetterSigned.filter())
    router.message.register(
        letter_day, StateFilter(Letter.day), When(F.text & ~F.text.startswith("/"))
    )
    router.callback_query.register(record_start, IncidentRecord.filter())
    router.message.register(
        record_typed, StateFilter(Record.words), When(F.text & ~F.text.startswith("/"))
    )
    return router
