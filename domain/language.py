"""The reader's language, for every text the core and the fronts build: one catalogue per
language (gettext, installed once per process from `bot/locales`) and the locale in a
context variable. The Telegram front's i18n (aiogram) keeps its locale in the same
variable (`bot/telegram/i18n.py`), so a router and a shared text speak alike.

Message ids are English; Chinese (zh) is the default.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from babel.support import LazyProxy

DEFAULT_LOCALE = "zh"
LOCALES = ("zh", "en")

LOCALE: ContextVar[str] = ContextVar("guanai_locale", default=DEFAULT_LOCALE)
_catalogues: dict[str, gettext_module.NullTranslations] = {}


def install(catalogues: Mapping[str, gettext_module.NullTranslations]) -> None:
    """The process's catalogues, by locale (compiled once: `bot.locales`)."""
    _catalogues.update(catalogues)


def installed() -> bool:
    return bool(_catalogues)


def locale_of(language: str | None) -> str:
    """A person's language if guanai speaks it, else the default."""
    return language if language in LOCALES else DEFAULT_LOCALE


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Texts built inside speak `language` (or the default); yields the locale."""
    locale = locale_of(language)
    token = LOCALE.set(locale)
    try:
        yield locale
    finally:
        LOCALE.reset(token)


def gettext(message: str) -> str:
    catalogue = _catalogues.get(LOCALE.get())
    return message if catalogue is None else catalogue.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    catalogue = _catalogues.get(LOCALE.get())
    if catalogue is None:
        return singular if n == 1 else plural
    return catalogue.ngettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """A label translated when it is shown, in the language spoken then."""
    return LazyProxy(gettext, message, enable_cache=False)
