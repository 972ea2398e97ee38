"""The catalogues as the fronts read them: they live with the core (`domain/language.py`,
`domain/locales/`); `bot.locales.catalog` keeps them in step with the code."""

from __future__ import annotations

import gettext

from domain.language import DEFAULT_LOCALE, DOMAIN, LOCALES, catalogue, compiled

__all__ = ["DEFAULT_LOCALE", "DOMAIN", "LOCALES", "compiled", "load_translations"]


def load_translations() -> dict[str, gettext.NullTranslations]:
    return {locale: catalogue(locale) for locale in LOCALES}
