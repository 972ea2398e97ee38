"""Message ids that are used in more than one place (menu labels, command descriptions).

Everything else is written at its use with `_()`; the catalogues in `locales/` hold the
translations.
"""

from __future__ import annotations

from aiogram.utils.i18n import lazy_gettext as __

OVERVIEW = __("📊 Overview")
OVERDUE = __("⏰ Overdue")
IMPORT = __("📥 Import archives")
INVITE = __("✉️ Invite")
PAIR = __("🤝 Pair")
EXPORT = __("📤 Export")

COORDINATOR_MENU = (OVERVIEW, OVERDUE, IMPORT, INVITE, PAIR, EXPORT)

COMMANDS = (
    ("start", __("Main menu")),
    ("help", __("How to use this bot")),
    ("language", __("Change language")),
    ("cancel", __("Cancel what you are doing")),
)
