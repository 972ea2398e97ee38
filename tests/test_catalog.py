"""Every message the code can say has a Chinese translation with the same placeholders."""

from __future__ import annotations

import string

from bot.i18n import make_i18n
from bot.locales.catalog import read_catalog, used_message_ids


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_is_translated_into_chinese() -> None:
    catalog = read_catalog("zh")
    missing = sorted(m for m in used_message_ids() if not (catalog.get(m) and catalog[m].string))
    assert missing == [], "run `uv run python -m bot.locales.catalog` and translate these"


def test_translations_keep_the_placeholders() -> None:
    for message in read_catalog("zh"):
        if message.id and message.string:
            assert _fields(message.string) == _fields(str(message.id)), message.id


def test_the_default_language_is_chinese() -> None:
    i18n = make_i18n()
    assert i18n.gettext("Main menu") == "主菜单"
    assert i18n.gettext("Main menu", locale="en") == "Main menu"
