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

VOLUNTEER_KIND = {
    "wulao": __("“Five elders” volunteer"),
    "surrogate": __("Surrogate parent"),
    "teacher": __("Teacher"),
}

ACTIVITY = {
    "home_visit": __("home visit"),
    "talk": __("heart-to-heart talk"),
    "homework_check": __("homework check"),
    "tutoring": __("tutoring"),
    "family_meal": __("family meal"),
    "parent_call": __("call with the parents"),
    "family_call": __("family call"),
    "parent_letter": __("letter to the parents"),
    "other": __("other"),
}

CONCERN_KIND = {
    "mood": __("in a bad mood"),
    "health": __("in poor health"),
    "grades": __("falling grades"),
    "late_or_early": __("late or leaving early"),
    "quarrel": __("quarrels with classmates"),
    "other": __("other worry"),
}

# Why a check-in awaits review; the keys are the reasons the check-in and photo code write.
REVIEW_REASON = {
    "similar_photo": __("a photo looks almost the same as an earlier one"),
    "backdated": __("recorded long after the day it says"),
    "photo_failed": __("a photo could not be saved"),
}
