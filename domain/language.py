"""The reader's language, for every text the core and the fronts build: one catalogue per
language (`domain/locales/<locale>/LC_MESSAGES/messages.po`, compiled in memory when
first used) and the locale in a context variable. The Telegram front's i18n (aiogram)
keeps its locale in the same variable (`bot/telegram/i18n.py`), so a router and a
shared text speak alike; the command line reads the same catalogues.

Message ids are English; Chinese (zh) is the default locale and its catalogue must
translate every message id (a test checks; `uv run python -m bot.locales.catalog` keeps
the catalogues in step with the code). Nothing compiled is kept in git.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.support import LazyProxy

DEFAULT_LOCALE = "zh"
LOCALES = ("zh", "en")
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"

LOCALE: ContextVar[str] = ContextVar("guanai_locale", default=DEFAULT_LOCALE)
_catalogues: dict[str, gettext_module.NullTranslations] = {}


def compiled() -> dict[str, bytes]:
    """Each locale's catalogue compiled to `.mo` bytes."""
    return {
        po.parent.parent.name: _compile(po)
        for po in sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    }


def _compile(po: Path) -> bytes:
    from babel.messages.mofile import write_mo  # only where a catalogue is read
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def catalogue(locale: str) -> gettext_module.NullTranslations:
    """One locale's catalogue, compiled on first use (none: the message ids themselves)."""
    found = _catalogues.get(locale)
    if found is None:
        po = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        found = (
            gettext_module.GNUTranslations(io.BytesIO(_compile(po)))
            if po.exists()
            else gettext_module.NullTranslations()
        )
        _catalogues[locale] = found
    return found


def install(catalogues: Mapping[str, gettext_module.NullTranslations]) -> None:
    """Catalogues another reader compiled already (aiogram's, in the bot): not twice."""
    _catalogues.update(catalogues)


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
    return catalogue(LOCALE.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(LOCALE.get()).ngettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """A label translated when it is shown, in the language spoken then."""
    return LazyProxy(gettext, message, enable_cache=False)
