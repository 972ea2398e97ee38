from bot.deferred_types import defer_aiogram_types

defer_aiogram_types()
