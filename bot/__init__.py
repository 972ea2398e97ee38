"""The chat front: routers, keyboards and texts over aiogram."""

import bot.patches  # noqa: F401  (aiogram's types built on first use: before aiogram loads)
