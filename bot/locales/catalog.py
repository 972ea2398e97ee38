"""Which message ids the code uses, and keeping the `.po` catalogues in step with them.

`uv run python -m bot.locales.catalog` adds new ids to every catalogue (keeping what is
translated) and drops ids no longer used; then translate the empty entries in `zh`.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from domain.errors import DomainError
from domain.language import DEFAULT_LOCALE, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("bot", "domain", "guanai", "workers")
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "__": None,
    "gettext": None,
    "lazy_gettext": None,
    "_say": None,
    "ngettext": (1, 2),  # ngettext(singular, plural, n): a message with plural forms
}


def _domain_error_messages() -> set[str]:
    for package in SOURCE_PACKAGES:
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if not module.name.endswith("__main__") and ".locales." not in module.name:
                importlib.import_module(module.name)
    found: set[str] = set()
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        found.add(cls.message)
        pending.extend(cls.__subclasses__())
    return found


def _extracted() -> list[str | tuple[str, ...]]:
    return [
        message
        for package in SOURCE_PACKAGES
        for _file, _lineno, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        )
    ]


def used_message_ids() -> set[str]:
    ids = {message if isinstance(message, str) else message[0] for message in _extracted()}
    return ids | _domain_error_messages()


def plural_ids() -> dict[str, str]:
    """singular id → plural id, of the messages said with `ngettext`."""
    return {m[0]: m[1] for m in _extracted() if not isinstance(m, str) and len(m) > 1}


def read_catalog(locale: str) -> Catalog:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Catalog(locale=locale)
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def sync() -> None:
    ids = used_message_ids()
    plurals = plural_ids()
    for locale in ("zh", "en"):
        old = read_catalog(locale)
        new = Catalog(locale=locale, project="guanai", charset="utf-8")
        for msgid in sorted(ids):
            previous = old.get(msgid)
            if msgid in plurals:
                forms = ("",) * new.num_plurals
                if previous and isinstance(previous.string, tuple | list):
                    forms = tuple(previous.string)
                new.add((msgid, plurals[msgid]), forms)
                continue
            new.add(msgid, previous.string if previous else "")
        path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fp:
            write_po(fp, new, width=100, omit_header=False, sort_output=True)
        untranslated = [m.id for m in new if m.id and not m.string]
        if locale == DEFAULT_LOCALE:
            print(f"{locale}: {len(new)} messages, {len(untranslated)} untranslated")


if __name__ == "__main__":
    sync()
