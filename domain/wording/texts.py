"""Message ids that are used in more than one place (menu labels, command descriptions).

Everything else is written at its use with `_()`; the catalogues in `locales/` hold the
translations.
"""

from __future__ import annotations

from babel.support import LazyProxy

from domain.care.checkins import VisitQuestion
from domain.language import lazy_gettext as __
from domain.models import Activity, ConcernKind
from domain.wording import labels

OVERVIEW = __("📊 Overview")
OVERDUE = __("⏰ Overdue")
IMPORT = __("📥 Import archives")
INVITE = __("✉️ Invite")
PAIR = __("🤝 Pair")
EXPORT = __("📤 Export")
DUTY = __("🗓 Duty rota")
REVIEW = __("🔍 Review")
SAMPLE = __("📞 Phone checks")

COORDINATOR_MENU = (OVERVIEW, OVERDUE, REVIEW, SAMPLE, IMPORT, INVITE, PAIR, EXPORT, DUTY)

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


def _capitalised(label: LazyProxy) -> LazyProxy:
    """A label of `labels` as a button or line starts it: one vocabulary, one table."""

    def text() -> str:
        said = str(label)
        return said[:1].upper() + said[1:]

    return LazyProxy(text, enable_cache=False)


# The names of activities and concerns are `labels`' (chat, roster, record and exports say
# them alike); these are the same words, capitalised for buttons and line starts.
ACTIVITIES: dict[Activity, LazyProxy] = {
    activity: _capitalised(label) for activity, label in labels.ACTIVITY.items()
}

CONCERNS: dict[ConcernKind, LazyProxy] = {
    kind: _capitalised(label) for kind, label in labels.CONCERN.items()
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
    ("sos", __("Report an emergency or a drop-out")),
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
    "no_photo": __("a home visit without a photo"),
    "far_from_home": __("recorded far from the child's home"),
    "uncertain": __("the volunteer was not sure of it"),
    "other_visit_not_happened": __("a phone check found another of their visits did not happen"),
}

PARENT_RELATIONS: dict[str, LazyProxy] = {
    "father": __("father"),
    "mother": __("mother"),
}
