"""Every message the code can say has a Chinese translation with the same placeholders."""

from __future__ import annotations

import string

from babel.messages.catalog import Message

from bot.locales.catalog import read_catalog, used_message_ids
from bot.telegram.i18n import make_i18n
from domain.wording.formatting import late


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_is_translated_into_chinese() -> None:
    catalog = read_catalog("zh")
    missing = sorted(m for m in used_message_ids() if not (catalog.get(m) and _text(catalog[m])))
    assert missing == [], "run `uv run python -m bot.locales.catalog` and translate these"


def _text(message: Message) -> str:
    """The translation, or all its plural forms (a plural message's string is a tuple)."""
    return message.string if isinstance(message.string, str) else "".join(message.string)


def test_translations_keep_the_placeholders() -> None:
    for message in read_catalog("zh"):
        if not message.id or not _text(message):
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        forms = (message.string,) if isinstance(message.string, str) else message.string
        for form in forms:
            assert _fields(form) == _fields(str(ids[-1])), message.id


def test_english_days_late_have_plural_forms() -> None:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("en"):
        assert late(1) == "1 day late" and late(2) == "2 days late"
    with i18n.context(), i18n.use_locale("zh"):
        assert late(1) == "已逾期 1 天" and late(3) == "已逾期 3 天"


def test_the_default_language_is_chinese() -> None:
    i18n = make_i18n()
    assert i18n.gettext("Main menu") == "主菜单"
    assert i18n.gettext("Main menu", locale="en") == "Main menu"


def test_activities_and_concerns_have_one_name_each_everywhere() -> None:
    from domain.models import Activity, ConcernKind
    from domain.wording import labels, texts

    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("zh"):
        assert {a: str(texts.ACTIVITIES[a]) for a in Activity} == {
            a: str(labels.ACTIVITY[a]) for a in Activity
        }
        assert {k: str(texts.CONCERNS[k]) for k in ConcernKind} == {
            k: str(labels.CONCERN[k]) for k in ConcernKind
        }
        assert str(labels.CONCERN[ConcernKind.mood]) == "情绪低落"
        assert str(labels.ACTIVITY[Activity.family_call]) == "亲情电话"
    with i18n.context(), i18n.use_locale("en"):
        assert str(texts.ACTIVITIES[Activity.home_visit]) == "Home visit"
        assert str(labels.ACTIVITY[Activity.home_visit]) == "home visit"


def test_the_shared_texts_speak_the_locale_the_telegram_front_chose() -> None:
    """A router (aiogram's i18n) and a shared text (`domain.language`) speak alike."""
    from aiogram.utils.i18n import gettext as telegram_gettext

    from domain import language
    from domain.models import ConcernKind
    from domain.wording.labels import CONCERN

    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("en"):
        assert (language.gettext("Skip"), str(CONCERN[ConcernKind.mood])) == (
            "Skip",
            "in a bad mood",
        )
        assert telegram_gettext("Skip") == "Skip"
    with i18n.context(), language.speaking("zh"):
        assert (telegram_gettext("Skip"), str(CONCERN[ConcernKind.mood])) == ("跳过", "情绪低落")
    with language.speaking("xx") as locale:  # a language guanai does not speak: Chinese
        assert (locale, language.gettext("Skip")) == ("zh", "跳过")
