"""五必访 from the child's card: which concern → an optional note → stored, coordinators told."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram import keyboards
from bot.telegram.callbacks import ConcernChoice, ConcernSkipNote, ConcernStart
from bot.telegram.filters import When
from bot.telegram.replies import note_that_fits
from bot.telegram.routers.volunteer import my_pairing
from domain.care import caseload, concerns
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import ConcernKind
from domain.people.identity import Identity
from domain.wording import formatting, notices, texts

MAX_NOTE = 1000


class RaiseConcern(StatesGroup):
    kind = State()
    note = State()


async def start(
    query: CallbackQuery,
    callback_data: ConcernStart,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
) -> None:
    pairing = await my_pairing(query, session, me, clock, callback_data.child_id)
    if pairing is None:
        return
    await query.answer()
    await state.clear()
    await state.set_state(RaiseConcern.kind)
    name = await caseload.child_name(session, pairing.child_id)
    await state.set_data({"child_id": pairing.child_id, "child": name})
    if isinstance(query.message, Message):
        await query.message.answer(
            _("What worries you about {child}?").format(child=name),
            reply_markup=keyboards.concern_kinds(),
        )


async def kind_chosen(
    query: CallbackQuery, callback_data: ConcernChoice, state: FSMContext
) -> None:
    await state.update_data(kind=callback_data.kind.value)
    await state.set_state(RaiseConcern.note)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(str(texts.CONCERNS[callback_data.kind]))
        await query.message.answer(
            _("Add a short note if you like (type it), or tap “Skip”."),
            reply_markup=keyboards.skip_note(),
        )


async def note_typed(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    note = await note_that_fits(message, MAX_NOTE) or None
    await _raise(message, state, uow, me, clock, tz, note=note)


async def note_skipped(
    query: CallbackQuery,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _raise(query.message, state, uow, me, clock, tz, note=None)


async def _raise(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
    *,
    note: str | None,
) -> None:
    session = uow.session
    data = await state.get_data()
    now = clock.now()
    pairing = await caseload.active_pairing(
        session, volunteer_ids=me.volunteer_ids, child_id=int(data["child_id"])
    )
    if pairing is None:  # unpaired while the volunteer was typing
        await state.clear()
        await message.answer(_("This child is not paired with you."))
        return
    raised = await concerns.raise_concern(
        session,
        child_id=pairing.child_id,
        kind=ConcernKind(data["kind"]),
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
        tz=tz,
    )
    uow.after_commit(state.clear)  # kept if the commit fails: the note can be sent again
    await uow.commit()  # "noted" only once it is
    await message.answer(
        _(
            "Noted: {child} — {kind}. A visit is due by {day}; the care office has been told. "
            "A check-in with a home visit or a talk closes it."
        ).format(
            child=raised.child.name,
            kind=texts.CONCERNS[raised.concern.kind],
            day=formatting.day(raised.concern.due_at, tz),
        )
    )


async def kind_expected(message: Message) -> None:
    await message.answer(_("Please choose with the buttons above, or send /cancel."))


async def note_expected(message: Message) -> None:
    await message.answer(_("Please type a short note, or tap “Skip” above."))


def make_router() -> Router:
    router = Router(name="concern")
    router.message.filter(MagicData(F.me.is_volunteer))
    router.callback_query.filter(MagicData(F.me.is_volunteer))
    router.callback_query.register(start, ConcernStart.filter())
    router.callback_query.register(
        kind_chosen, StateFilter(RaiseConcern.kind), ConcernChoice.filter()
    )
    router.message.register(kind_expected, StateFilter(RaiseConcern.kind))
    router.message.register(
        note_typed, StateFilter(RaiseConcern.note), When(F.text & ~F.text.startswith("/"))
    )
    router.callback_query.register(
        note_skipped, StateFilter(RaiseConcern.note), ConcernSkipNote.filter()
    )
    router.message.register(note_expected, StateFilter(RaiseConcern.note))
    return router
