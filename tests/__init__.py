import bot.telegram.patches  # noqa: F401  (aiogram's types built on first use: before aiogram loads)
