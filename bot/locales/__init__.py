"""The translation catalogues, compiled in memory from their `.po` sources.

Message ids are English; Chinese (zh) is the default locale and its catalogue must
translate every message id (a test checks). Nothing compiled is kept in git. This
module imports no aiogram, so the command line can speak without loading the bot.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from domain.language import DEFAULT_LOCALE, LOCALES

__all__ = ["DEFAULT_LOCALE", "DOMAIN", "LOCALES", "compiled", "load_translations"]

LOCALES_DIR = Path(__file__).parent
DOMAIN = "messages"


def compiled() -> dict[str, bytes]:
    """Each locale's catalogue compiled to `.mo` bytes."""
    result: dict[str, bytes] = {}
    for po_path in sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        locale = po_path.parent.parent.name
        with po_path.open("rb") as fp:
            catalog = read_po(fp, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        result[locale] = buffer.getvalue()
    return result


def load_translations() -> dict[str, gettext.GNUTranslations]:
    return {locale: gettext.GNUTranslations(io.BytesIO(mo)) for locale, mo in compiled().items()}


def speak() -> None:
    """Install the catalogues for the shared texts (`domain.language`), once a process."""
    from domain import language

    if not language.installed():
        language.install(load_translations())
