"""The fronts, a package each (`bot.telegram` today), and the texts and documents they share."""

import bot.telegram.patches  # noqa: F401  (the shared texts load aiogram's i18n: patch it first)
