"""Every change guanai makes to a library's internals, in one place, with the releases it fits.

Five patches reach past aiogram's and pydantic's public API. The first halves start-up:
`guanai.runtime` and `workers.app` import in 121 MB and 1.3-1.5 s instead of 223 MB and
3.3-3.9 s (VmRSS from /proc/self/status, on this machine); the other three each take a
tenth to a fifth off the bot's time per update (bench/checkins.py). Each names the releases it was
written and checked for (`Patch.written_for`): a process that finds another release
installed refuses to start with one line (`check_versions`, called at start-up by
`guanai.runtime.prepare` and `bot.telegram.app.make_bot`), rather than run on a patch that may no
longer fit. To upgrade aiogram or pydantic: read each patch against the new release, run
tests/test_bot_shape.py and bench/checkins.py, then widen the ranges here.

The patches:

- `deferred-types` (`defer_aiogram_types`): aiogram's ~400 types are built on first use,
  not all at import: the bot imports in 65 MB instead of 168 (aiogram/aiogram#1513).
- `response-types` (`BotSession.check_response`): aiogram's `Response[T]` classes are
  kept, not rebuilt after every garbage collection: a fifth of the bot's time per update.
- `json-calls` (`BotSession.build_form_data`): calls go to the Bot API as JSON unless a
  file is uploaded: 303 -> 329 updates/s, a tenth of the bot's time per update.
- `loop-filters` (`When`): magic filters checked in the event loop, not in a thread per
  check: a tenth of the bot's time per update.
- `read-ahead` (`ConversationStorage`): a conversation's data is read with its state, in
  one Redis round trip instead of two: 3.9 -> 3.0 Redis commands per update.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

from domain.errors import DomainError

if TYPE_CHECKING:
    from aiogram import Bot
    from magic_filter import MagicFilter

T = TypeVar("T")

AIOGRAM = ">=3.31,<3.32"
PYDANTIC = ">=2.13,<2.14"


@dataclass(frozen=True)
class Patch:
    name: str
    #: distribution -> the releases the patch was written and checked for (PEP 440)
    written_for: Mapping[str, str]


DEFERRED_TYPES = Patch("deferred-types", {"aiogram": AIOGRAM, "pydantic": PYDANTIC})
RESPONSE_TYPES = Patch("response-types", {"aiogram": AIOGRAM, "pydantic": PYDANTIC})
JSON_CALLS = Patch("json-calls", {"aiogram": AIOGRAM})
LOOP_FILTERS = Patch("loop-filters", {"aiogram": AIOGRAM})
READ_AHEAD = Patch("read-ahead", {"aiogram": AIOGRAM})
PATCHES = (DEFERRED_TYPES, RESPONSE_TYPES, JSON_CALLS, LOOP_FILTERS, READ_AHEAD)


class UnsupportedLibrary(DomainError):
    message = (
        "{library} {installed} is installed, but the patch {patch} in bot/telegram/patches.py was "
        "written for {library} {expected}: install the locked versions (uv sync --locked)."
    )


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def misfit(patch: Patch) -> UnsupportedLibrary | None:
    """Why `patch` does not fit what is installed, or None when it does."""
    for library, expected in patch.written_for.items():
        installed = installed_version(library)
        try:
            fits = installed is not None and Version(installed) in SpecifierSet(expected)
        except InvalidVersion:
            fits = False
        if not fits:
            return UnsupportedLibrary(
                library=library, installed=installed or "-", patch=patch.name, expected=expected
            )
    return None


def check_versions() -> None:
    """Refuse to start (one line) when an installed library is outside a patch's range."""
    for patch in PATCHES:
        error = misfit(patch)
        if error is not None:
            raise error


# ---------------------------------------------------------------------- deferred-types

TYPES_PACKAGE = "aiogram.types"


def defer_aiogram_types() -> None:
    """Import aiogram with its types left unbuilt; a no-op once aiogram is imported.

    What it changes: aiogram declares its ~400 types `defer_build`, then `aiogram.types`
    builds every one at import (a `model_rebuild(_types_namespace=…)` loop handing them
    the names their forward references use), and each Bot API method builds with them:
    ~110 MB of validators, most for types this bot never meets (payments, stickers, games,
    business accounts). While aiogram is imported, pydantic's `BaseModel.model_rebuild`
    is swapped for one that only records those names; they are then put into each type's
    module, where pydantic looks when it builds a model the first time it is used.

    Gain: the bot imports in 65 MB instead of 168; `guanai.runtime` and `workers.app`
    together in 121 MB and 1.3-1.5 s instead of 223 MB and 3.3-3.9 s.

    Call it before anything imports aiogram: the `bot` and `tests` packages do.
    Outside its range it changes nothing (aiogram builds its types as it always did) and
    start-up refuses with one line.
    """
    if TYPES_PACKAGE in sys.modules or misfit(DEFERRED_TYPES) is not None:
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


# ---------------------------------------------------------------------- response-types, json-calls
# aiogram is imported here only once the types are deferred (the `bot` package does that first).

defer_aiogram_types()

from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.filters import Filter  # noqa: E402
from aiogram.fsm.storage.base import StorageKey  # noqa: E402
from aiogram.fsm.storage.redis import RedisStorage  # noqa: E402
from aiogram.methods import Response, TelegramMethod  # noqa: E402
from aiogram.types import InputFile, Message, TelegramObject, Update  # noqa: E402
from aiohttp import BytesPayload, FormData  # noqa: E402

# What the Bot API answers to the calls every conversation makes (getUpdates, sendMessage,
# editMessageText/ReplyMarkup, answerCallbackQuery): their `Response[T]` classes, and the
# types inside them, are built with the session at start-up, before `gc.freeze`, rather
# than by the first updates handled: 8 of the 253 s of a profiled bench/checkins.py run.
CONVERSATION_ANSWERS: tuple[Any, ...] = (list[Update], Message, Message | bool, bool)


class BotSession(AiohttpSession):
    """aiogram's session with two patches: `response-types` and `json-calls`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._response_types: dict[Any, Any] = {
            returning: Response[returning]  # type: ignore[valid-type]
            for returning in CONVERSATION_ANSWERS
        }

    def check_response(
        self, bot: Bot, method: TelegramMethod[T], status_code: int, content: str
    ) -> Response[T]:
        """`response-types`: keeps the `Response[T]` classes aiogram parses answers with.

        What it changes: aiogram builds `Response[method.__returning__]` for every call;
        pydantic caches generic classes only weakly, so each is rebuilt (milliseconds)
        after every garbage collection. Here each is held for the session's life, those
        of `CONVERSATION_ANSWERS` built with the session.

        Gain: a fifth of the bot's time per update in bench/checkins.py.
        """
        returning = method.__returning__
        if returning not in self._response_types:
            self._response_types[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)

    def build_form_data(  # type: ignore[override]
        self, bot: Bot, method: TelegramMethod[T]
    ) -> FormData | BytesPayload:
        """`json-calls`: a JSON body, which the Bot API takes too, unless a file is uploaded.

        What it changes: aiogram builds a form (a multipart writer, then url-encoding) for
        every call; here the fields aiogram would put in the form (its private
        `prepare_value(…, _dumps_json=False)`, leaving out what it leaves out) go as one
        JSON object. Uploads (rosters, records) still go as aiogram's multipart form.

        Gain: 303 -> 329 updates/s in bench/checkins.py, a tenth of the bot's time per update.
        """
        files: dict[str, InputFile] = {}
        fields: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # what aiogram's form leaves out
                fields[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        return BytesPayload(self.json_dumps(fields).encode(), content_type="application/json")

    async def close(self) -> None:
        """aiogram waits 250 ms after closing, for SSL connections to wind down; a Bot API
        served over plain http (a local Bot API server, the tests' fake) has none to wait
        for, and every test that runs a bot would pay it."""
        if self.api.base.startswith("https:"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()


# ---------------------------------------------------------------------- loop-filters


class When(Filter):
    """`loop-filters`: a magic filter (`When(F.text == …)`) checked in the event loop.

    What it changes: aiogram's `FilterObject` runs a filter that is not a coroutine (a
    bare `F.text == …`, a bare `State`) through `asyncio.to_thread`, one thread hop per
    check, several per update. Register `When(F…)` and `StateFilter(…)` instead; a test
    (tests/test_bot_shape.py) walks the dispatcher for any other.

    Gain: a tenth of the bot's time per update in bench/checkins.py.
    """

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> bool:
        return bool(self.magic.resolve(event))


# ---------------------------------------------------------------------- read-ahead

# The data read with the state in this update's task: (storage, key, raw value or None)
_READ_AHEAD: ContextVar[tuple[RedisStorage, StorageKey, Any] | None] = ContextVar(
    "guanai_read_ahead", default=None
)


class ConversationStorage(RedisStorage):
    """`read-ahead`: aiogram's Redis storage, reading a conversation's data with its state.

    What it changes: aiogram reads the state (`get_state`, once per update, under the
    chat's lock) and then, in the handler, the data (`get_data`): two round trips. Here
    `get_state` reads both keys at once (MGET) and keeps the data for this update's task
    (a context variable: no other update sees it); the handler's `get_data` takes it from
    there, unless something wrote the conversation in between (`set_data`, `set_state`
    forget it). Keys, values and time-to-live stay aiogram's, so conversations in Redis
    survive the change either way.

    Gain: 3.9 -> 3.0 Redis commands per update in bench/checkins.py (profiled), each a
    write and a read on the socket.
    """

    async def get_state(self, key: StorageKey) -> str | None:
        state_key = self.key_builder.build(key, "state")
        state, data = await self.redis.mget(state_key, self.key_builder.build(key, "data"))
        _READ_AHEAD.set((self, key, data))
        return state.decode() if isinstance(state, bytes) else state

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        read = _READ_AHEAD.get()
        if read is None or read[0] is not self or read[1] != key:
            return await super().get_data(key)
        _READ_AHEAD.set(None)  # once: a later read in the same update asks Redis again
        value = read[2]
        if value is None:
            return {}
        return dict(self.json_loads(value.decode() if isinstance(value, bytes) else value))

    async def set_state(self, key: StorageKey, state: Any = None) -> None:
        self._forget(key)
        await super().set_state(key, state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        self._forget(key)
        await super().set_data(key, data)

    def _forget(self, key: StorageKey) -> None:
        read = _READ_AHEAD.get()
        if read is not None and read[0] is self and read[1] == key:
            _READ_AHEAD.set(None)
