"""Filters checked in the event loop: `When(F…)` (the `loop-filters` patch, bot/patches.py)."""

from bot.patches import When

__all__ = ["When"]
