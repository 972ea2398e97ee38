"""The coordinator's main menu. Each entry grows into its own router as it is built."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.telegram.filters import When
from domain.wording import texts


async def not_built_yet(message: Message) -> None:
    await message.answer(_("This part is coming soon."))


def make_router() -> Router:
    router = Router(name="coordinator")
    router.message.filter(MagicData(F.me.is_coordinator))
    router.message.register(
        not_built_yet, When(F.text.in_((texts.OVERVIEW, texts.OVERDUE, texts.INVITE, texts.PAIR)))
    )
    return router
