"""aiogram's i18n on guanai's catalogues, and how a user's locale is chosen."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from domain import language
from domain.language import DEFAULT_LOCALE, DOMAIN, LOCALES, compiled
from domain.people.identity import Identity

__all__ = ["DEFAULT_LOCALE", "LOCALES", "locale_for", "make_i18n"]


def make_i18n() -> I18n:
    """aiogram's I18n over freshly compiled catalogues (it reads them all when built),
    sharing its locale and catalogues with the shared texts (`domain.language`): a
    router's words and a notice's speak the same language."""
    with tempfile.TemporaryDirectory() as directory:
        for locale, mo in compiled().items():
            target = Path(directory) / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
            target.parent.mkdir(parents=True)
            target.write_bytes(mo)
        i18n = I18n(path=directory, default_locale=DEFAULT_LOCALE, domain=DOMAIN)
    i18n.ctx_locale = language.LOCALE
    language.install(i18n.locales)
    return i18n


def locale_for(identity: Identity | None, user: User | None) -> str:
    """The person's chosen language, else Telegram's: English speakers get English."""
    if identity is not None and identity.language in LOCALES:
        return identity.language
    code = (user.language_code or "") if user else ""
    return "en" if code.lower().startswith("en") else DEFAULT_LOCALE


class GuanaiI18nMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return locale_for(data.get("me"), data.get("event_from_user"))
