"""Filters checked in the event loop: `When(F…)` (the `loop-filters` patch, in
`bot/telegram/patches.py`)."""

from bot.telegram.patches import When

__all__ = ["When"]
