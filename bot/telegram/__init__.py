"""The Telegram front: routers, keyboards, the sender and the downloader, over aiogram."""

import bot.telegram.patches  # noqa: F401  (aiogram's types built on first use)
