"""Translations: gettext catalogues compiled in memory from the `.po` sources.

Message ids are English; Chinese (zh) is the default locale and its catalogue must
translate every message id (a test checks). The `.po` files are the only source:
nothing compiled is kept in git.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from domain.people import Identity

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "zh"
LOCALES = ("zh", "en")


class CatalogI18n(I18n):
    """aiogram's I18n, reading `.po` files directly instead of compiled `.mo` files."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for po_path in sorted(self.path.glob(f"*/LC_MESSAGES/{self.domain}.po")):
            locale = po_path.parent.parent.name
            with po_path.open("rb") as fp:
                catalog = read_po(fp, locale=locale)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            translations[locale] = gettext.GNUTranslations(buffer)
        return translations


def make_i18n() -> CatalogI18n:
    return CatalogI18n(path=LOCALES_DIR, default_locale=DEFAULT_LOCALE, domain=DOMAIN)


def locale_for(identity: Identity | None, user: User | None) -> str:
    """The person's chosen language, else Telegram's: English speakers get English."""
    if identity is not None and identity.language in LOCALES:
        return identity.language
    code = (user.language_code or "") if user else ""
    return "en" if code.lower().startswith("en") else DEFAULT_LOCALE


class GuanaiI18nMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return locale_for(data.get("me"), data.get("event_from_user"))
