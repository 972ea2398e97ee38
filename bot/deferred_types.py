"""Let pydantic build aiogram's Telegram types on first use, not all of them at import.

aiogram declares its ~400 types `defer_build`, then `aiogram.types` builds every one at
import (a `model_rebuild` loop that hands them the names their forward references use),
and each Bot API method builds with them: ~110 MB of validators, most for types this bot
never meets (payments, stickers, games, business accounts). That is the bulk of the bot's
and the worker's memory (aiogram/aiogram#1513).

Here the loop only records those names; once aiogram is imported they are put into each
type's module, where pydantic looks when it builds a model the first time it is used.
Call this before anything imports aiogram: the `bot` and `tests` packages do (only the
Telegram front, `bot/`, imports aiogram: tests/test_import_graph.py).
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

TYPES_PACKAGE = "aiogram.types"


def defer_aiogram_types() -> None:
    """Import aiogram with its types left unbuilt; a no-op once aiogram is imported."""
    if TYPES_PACKAGE in sys.modules:
        return
    build = BaseModel.__dict__["model_rebuild"]
    namespaces: dict[str, dict[str, Any]] = {}

    def record_names(
        cls: type[BaseModel], /, *, _types_namespace: dict[str, Any] | None = None, **kwargs: Any
    ) -> bool | None:
        if _types_namespace is not None and cls.__module__.startswith(f"{TYPES_PACKAGE}."):
            namespaces[cls.__module__] = _types_namespace
            return None
        result: bool | None = build.__func__(cls, _types_namespace=_types_namespace, **kwargs)
        return result

    BaseModel.model_rebuild = classmethod(record_names)  # type: ignore[method-assign,assignment]
    try:
        import aiogram  # noqa: F401  (the import this function exists to shape)
    finally:
        BaseModel.model_rebuild = build  # type: ignore[method-assign]
    for module_name, names in namespaces.items():
        module_globals = vars(sys.modules[module_name])
        for name, value in names.items():
            module_globals.setdefault(name, value)
