"""Message ids that are used in more than one place (menu labels, command descriptions).

Everything else is written at its use with `_()`; the catalogues in `locales/` hold the
translations.
"""

from __future__ import annotations

from aiogram.utils.i18n import lazy_gettext as __
from babel.support import LazyProxy

from domain.checkins import VisitQuestion
from domain.models import Activity, ConcernKind

OVERVIEW = __("📊 Overview")
OVERDUE = __("⏰ Overdue")
IMPORT = __("📥 Import archives")
INVITE = __("✉️ Invite")
PAIR = __("🤝 Pair")
EXPORT = __("📤 Export")
DUTY = __("🗓 Duty rota")

COORDINATOR_MENU = (OVERVIEW, OVERDUE, IMPORT, INVITE, PAIR, EXPORT, DUTY)

WEEKDAYS = (
    __("Monday"),
    __("Tuesday"),
    __("Wednesday"),
    __("Thursday"),
    __("Friday"),
    __("Saturday"),
    __("Sunday"),
)

MY_CHILDREN = __("👧 My children")
CHECK_IN = __("✅ Check in")
HELP = __("❓ Help")

VOLUNTEER_MENU = (MY_CHILDREN, CHECK_IN, HELP)

SKIP = __("Skip")
SHARE_PHONE = __("📱 Share my phone number")

ACTIVITIES: dict[Activity, LazyProxy] = {
    Activity.home_visit: __("Home visit"),
    Activity.talk: __("Heart-to-heart talk"),
    Activity.homework_check: __("Homework check"),
    Activity.tutoring: __("Tutoring"),
    Activity.family_meal: __("Family meal"),
    Activity.family_call: __("Helped a call with the parents"),
    Activity.parent_call: __("Phoned the parents"),
    Activity.parent_letter: __("Letter to the parents"),
    Activity.other: __("Other"),
}

CONCERNS: dict[ConcernKind, LazyProxy] = {
    ConcernKind.mood: __("In a bad mood"),
    ConcernKind.health: __("In poor health"),
    ConcernKind.grades: __("Grades falling"),
    ConcernKind.late_or_early: __("Late or leaving early"),
    ConcernKind.quarrel: __("Quarrels with classmates"),
    ConcernKind.other: __("Something else"),
}

VISIT_QUESTIONS: dict[VisitQuestion, LazyProxy] = {
    VisitQuestion.meals: __("Does the guardian cook the meals on time?"),
    VisitQuestion.picky: __("Is the child a picky eater?"),
    VisitQuestion.income: __("Does the family's income cover its costs?"),
    VisitQuestion.calls: __("Does the child call or video the parents often?"),
    VisitQuestion.homework: __("Does the child do homework on their own?"),
}

VISIT_ANSWERS: dict[str, LazyProxy] = {
    "yes": __("Yes"),
    "no": __("No"),
    "sometimes": __("Sometimes"),
    "little": __("A little"),
    "barely": __("Barely"),
    "often": __("Often"),
    "rarely": __("Rarely"),
    "alone": __("On their own"),
    "reminded": __("Needs reminding"),
    "pushed": __("Needs pushing"),
}

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

# Why a check-in awaits review; the keys are the reasons the check-in and photo code write.
REVIEW_REASON = {
    "similar_photo": __("a photo looks almost the same as an earlier one"),
    "backdated": __("recorded long after the day it says"),
    "photo_failed": __("a photo could not be saved"),
}

PARENT_RELATIONS: dict[str, LazyProxy] = {
    "father": __("father"),
    "mother": __("mother"),
}
