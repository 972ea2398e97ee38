"""The chat front: routers, keyboards and texts over aiogram."""

from bot.deferred_types import defer_aiogram_types

defer_aiogram_types()
