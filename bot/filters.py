"""Filters checked in the event loop.

aiogram runs a bare magic filter (`F.text == …`) through `asyncio.to_thread`, one
thread hop per check, several per update: a tenth of the bot's time per update in
bench/checkins.py. `When(F…)` checks the same condition without leaving the loop.
"""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter


class When(Filter):
    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> bool:
        return bool(self.magic.resolve(event))
