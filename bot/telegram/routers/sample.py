"""📞 回访抽查: the home visits drawn for a phone call to the guardian, each with the
guardian's number and 已确认 / 联系不上 / 没有这次家访."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import SampleAction
from bot.telegram.filters import When
from domain.care import sample
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.models import SampleOutcome
from domain.people import audit
from domain.people.identity import Identity
from domain.wording import formatting, texts

SHOWN = 10


def _buttons(check_id: int) -> dict[str, object]:
    outcomes = [
        (SampleOutcome.confirmed, _("✅ Confirmed")),
        (SampleOutcome.unreachable, _("📵 Could not reach")),
        (SampleOutcome.not_happened, _("❌ Did not happen")),
    ]
    return {
        "inline_keyboard": [
            [
                {
                    "text": str(label),
                    "callback_data": SampleAction(check_id=check_id, outcome=outcome).pack(),
                }
                for outcome, label in outcomes
            ]
        ]
    }


async def start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    me: Identity,
    clock: Clock,
    tz: ZoneInfo,
) -> None:
    await state.clear()
    calls, total = await sample.to_call(session, me, limit=SHOWN)
    audit.record(
        session,
        at=clock.now(),
        action="sample.list",
        actor_id=me.person_id,
        details={"checks": [c.check_id for c in calls]},
    )
    if not calls:
        await message.answer(_("No phone checks to make. Thank you!"))
        return
    await message.answer(
        _(
            "{count} home visits to confirm by phone. Please call the guardian and ask whether "
            "the volunteer came that day:"
        ).format(count=total)
    )
    for call in calls:
        text = _(
            "{child} · home visit by {volunteer} on {day}\nGuardian: {guardian} {phone}"
        ).format(
            child=call.child_name,
            volunteer=call.volunteer_name,
            day=formatting.day(call.visited_at, tz),
            guardian=call.guardian or "—",
            phone=formatting.phone(call.phone),
        )
        await message.answer(text, reply_markup=_buttons(call.check_id))  # type: ignore[arg-type]


async def recorded(
    query: CallbackQuery,
    callback_data: SampleAction,
    session: AsyncSession,
    uow: UnitOfWork,
    me: Identity,
    clock: Clock,
) -> None:
    done = await sample.record(
        session, callback_data.check_id, callback_data.outcome, me, at=clock.now()
    )
    await uow.commit()  # recorded before we say so
    if callback_data.outcome is SampleOutcome.confirmed:
        said = _("Recorded: the visit is confirmed.")
    elif callback_data.outcome is SampleOutcome.unreachable:
        said = _("Recorded: the guardian could not be reached.")
    else:
        said = _(
            "Recorded: the visit did not happen. It no longer counts in the record, and "
            "{count} other check-ins of the volunteer are in 🔍 Review."
        ).format(count=done.flagged)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(said)


def make_router() -> Router:
    router = Router(name="sample")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.callback_query.filter(MagicData(F.me.is_coordinator))
    router.message.register(start, When(F.text == texts.SAMPLE))
    router.callback_query.register(recorded, SampleAction.filter())
    return router
