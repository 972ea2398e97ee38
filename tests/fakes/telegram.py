"""A local fake of the Telegram Bot API, served over real HTTP with aiohttp.

Why: the bot must be tested through aiogram's real HTTP client (multipart forms, JSON-encoded
nested fields, error classification in ``check_response``) without touching Telegram.  Tests
play users (``FakeTelegram.user(...).send_text(...)``), the bot long-polls ``getUpdates``
exactly as in production, and everything the bot sends is recorded for assertions.

Point a real bot at it with::

    fake = FakeTelegram()
    url = await fake.start()
    bot = Bot("42:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(url)))

Webhook mode: after ``setWebhook`` the fake POSTs each update to the URL with the secret
token in ``X-Telegram-Bot-Api-Secret-Token``, as Telegram does: one request in flight per
chat (a chat's updates arrive in order), up to ``max_connections`` at once; an update is
confirmed by a 2xx answer and posted again, after a short back-off, on any other answer or
a broken connection. ``getUpdates`` answers 409 while a webhook is set; ``deleteWebhook``
returns to polling.

Synchronisation: every change (API call, new update, confirmed update) wakes all waiters, so
tests wait on conditions (``next_message``, ``wait_for_call``, ``wait_consumed``) and never
sleep.  The fake must be used from the event loop that runs it.
"""

# The wait helpers take ``timeout=`` by design (tests read better than asyncio.timeout blocks).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout, web

JSON = dict[str, Any]
T = TypeVar("T")

#: Telegram refuses ``getFile`` for files above this size ("file is too big").
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024

BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"
NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED_DESCRIPTION,
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
}

#: Form fields that are plain strings even when they look like JSON (``text="123"``).
#: Every other field is JSON-decoded when possible, because aiogram JSON-encodes all
#: non-string values (ints, bools, nested objects) before posting them.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "photo",
        "document",
        "voice",
        "video",
        "audio",
        "animation",
        "sticker",
        "action",
        "url",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "business_connection_id",
        "message_effect_id",
    }
)

#: File-carrying send methods other than sendPhoto: method -> (message field, extra fields).
_FILE_KINDS: dict[str, tuple[str, JSON]] = {
    "sendDocument": ("document", {}),
    "sendVoice": ("voice", {"duration": 3, "mime_type": "audio/ogg"}),
    "sendAudio": ("audio", {"duration": 3}),
    "sendVideo": ("video", {"width": 640, "height": 480, "duration": 3}),
    "sendAnimation": ("animation", {"width": 320, "height": 240, "duration": 2}),
    "sendSticker": (
        "sticker",
        {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
    ),
}

_FILE_EXTENSIONS = {
    "photo": "jpg",
    "voice": "oga",
    "audio": "mp3",
    "video": "mp4",
    "animation": "mp4",
    "sticker": "webp",
}


class TelegramError(Exception):
    """An error answer (``ok: false``) a handler wants to send back to the bot."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class Call:
    """One Bot API request as the bot made it.

    ``params`` holds the form fields, JSON-decoded where aiogram JSON-encoded them;
    ``files`` the uploaded multipart parts by part name.  ``status`` is the HTTP status the
    fake answered with (200, or the injected/enforced error); ``at`` is ``time.monotonic()``.
    """

    method: str
    params: JSON
    files: dict[str, bytes]
    at: float
    status: int = 200
    file_names: dict[str, str] = field(default_factory=dict)


@dataclass
class SentFile:
    """A file attached to a bot message; ``data`` is what the bot uploaded (or reused)."""

    kind: str  # "photo", "document", "voice", ...
    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    api_object: Any = None  # the JSON Telegram puts in the message (a list for photos)


@dataclass
class SentMessage:
    """A message the bot created; edits update it in place and are appended to ``edits``."""

    message_id: int
    chat_id: int
    method: str
    text: str | None  # the caption for media messages
    reply_markup: JSON | None
    parse_mode: str | None
    date: int
    file: SentFile | None = None
    media_group_id: str | None = None
    edits: list[Call] = field(default_factory=list)
    deleted: bool = False

    def buttons(self) -> list[list[JSON]]:
        """Rows of the inline keyboard, or of the reply keyboard; empty without one."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[b if isinstance(b, dict) else {"text": b} for b in row] for row in rows]

    def button_texts(self) -> list[str]:
        return [str(button["text"]) for row in self.buttons() for button in row]

    def callback_data(self, text_substring: str) -> str:
        """Data of the first inline button whose text contains ``text_substring``."""
        for row in (self.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if text_substring in button.get("text", "") and "callback_data" in button:
                    return str(button["callback_data"])
        raise AssertionError(
            f"no inline button containing {text_substring!r} in message {self.message_id}; "
            f"buttons: {self.button_texts()}"
        )


@dataclass
class _Injection:
    method: str
    status: int
    description: str
    retry_after: int | None
    remaining: int
    chat_id: int | None


@dataclass
class _Pending:
    update: JSON
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error: str | None = None
    last_error_date: int | None = None


@dataclass
class Delivery:
    """One POST of an update to the webhook: the HTTP status the bot answered (0: no answer)."""

    update_id: int
    status: int


#: Telegram posts a failed update again after a back-off; the fake's is short.
WEBHOOK_RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str


class _Changes:
    """Wake-all notification of "something changed".

    An ``asyncio.Condition`` can only be notified while its lock is held, which synchronous
    helpers such as ``FakeUser.send_text`` cannot do.  Swapping an ``asyncio.Event`` gives the
    same semantics: waiters re-check their predicate after every change, without polling.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, probe: Callable[[], T | None], timeout: float | None) -> T:
        """Return the first non-None ``probe()`` result; raise TimeoutError after ``timeout``."""
        async with asyncio.timeout(timeout):
            while (result := probe()) is None:
                await self._event.wait()
        return result


class FakeTelegram:
    """The fake Bot API server plus the recorded state tests assert on."""

    def __init__(
        self,
        *,
        bot_id: int = 4242,
        bot_username: str = "guanai_test_bot",
        enforce_rate_limit: float | None = None,
        token: str | None = None,
    ) -> None:
        self.bot_id = bot_id
        #: when set, a request made with any other token is refused with 401, as Telegram does
        self.token = token
        self.bot_username = bot_username
        self.enforce_rate_limit = enforce_rate_limit
        self.base_url = ""
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.stored_files: dict[str, bytes] = {}
        self.callback_answers: dict[str, Call] = {}
        self.rate_limited = 0

        self._users: dict[int, FakeUser] = {}
        self._updates: dict[int, JSON] = {}
        self._pending: list[_Pending] = []
        self._update_ids = itertools.count(100_001)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_counter = itertools.count(1)
        self._group_counter = itertools.count(1)
        self._file_meta: dict[str, _StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._injections: list[_Injection] = []
        self._blocked: set[int] = set()
        self._send_times: deque[float] = deque()
        self._handed_out: set[int] = set()
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._changes = _Changes()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.webhook: _Webhook | None = None
        self.deliveries: list[Delivery] = []
        self._delivering: asyncio.Task[None] | None = None

        handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: self.bot_user(full=True),
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,
            # a location is kept as its text "📍 latitude,longitude", for tests to read
            "sendLocation": lambda call: self.message_json(
                self._record(
                    call,
                    text=f"📍 {call.params.get('latitude')},{call.params.get('longitude')}",
                )
            ),
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        for method in _FILE_KINDS:
            handlers[method] = self._send_file
        self._handlers = {name.lower(): handler for name, handler in handlers.items()}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Serve on 127.0.0.1 with an OS-chosen port; return the base URL."""
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll abandoned by a stopped dispatcher must not linger.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Answer pending long polls right away, then shut the server down."""
        self._closing = True
        self._changes.notify()
        await self._stop_delivering()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ users and updates

    def user(
        self,
        user_id: int,
        first_name: str = "测试",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "zh-hans",
    ) -> FakeUser:
        """Create (or replace) a user who talks to the bot in a private chat."""
        user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._users[user_id] = user
        return user

    def enqueue(self, update: JSON) -> int:
        """Queue a raw update for getUpdates; assigns ``update_id`` if missing."""
        if "update_id" in update:
            update_id = int(update["update_id"])
            # keep generated ids above explicit ones, like Telegram's increasing sequence
            self._update_ids = itertools.count(max(next(self._update_ids), update_id + 1))
        else:
            update_id = next(self._update_ids)
            update["update_id"] = update_id
        self._updates[update_id] = update
        self._pending.append(_Pending(update))
        self._changes.notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Queue the very same update again, as Telegram does when it retries a delivery."""
        self._pending.append(_Pending(self._updates[update_id]))
        self._changes.notify()

    def update(self, update_id: int) -> JSON:
        return self._updates[update_id]

    def next_message_id(self, chat_id: int) -> int:
        """Message ids are per chat and shared by the user's and the bot's messages."""
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def store_file(
        self, kind: str, data: bytes, *, file_size: int | None = None, file_name: str | None = None
    ) -> tuple[str, str]:
        """Register a file (sent by a user or uploaded by the bot); return (id, unique id)."""
        n = next(self._file_counter)
        file_id = f"FAKE-{kind}-{n:06d}"
        file_unique_id = f"U{kind[:3]}{n:06d}"
        ext = _FILE_EXTENSIONS.get(kind) or (file_name or "file.bin").rpartition(".")[2]
        path = f"{kind}s/file_{n}.{ext}"
        self.stored_files[file_id] = data
        self._file_meta[file_id] = _StoredFile(
            file_id, file_unique_id, len(data) if file_size is None else file_size, path
        )
        self._paths[path] = file_id
        return file_id, file_unique_id

    def photo_sizes(self, data: bytes, file_size: int | None = None) -> list[JSON]:
        """A small thumbnail plus the full-size photo (``data``), as Telegram sends them."""
        thumb = b"thumbnail:" + data[:64]
        small_id, small_unique = self.store_file("photo", thumb)
        big_id, big_unique = self.store_file("photo", data, file_size=file_size)
        return [
            {
                "file_id": small_id,
                "file_unique_id": small_unique,
                "width": 90,
                "height": 90,
                "file_size": len(thumb),
            },
            {
                "file_id": big_id,
                "file_unique_id": big_unique,
                "width": 1280,
                "height": 960,
                "file_size": len(data) if file_size is None else file_size,
            },
        ]

    def file_object(self, file_id: str, **extra: Any) -> JSON:
        """The Document/Voice/... JSON for a stored file."""
        meta = self._file_meta[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": meta.file_unique_id,
            "file_size": meta.file_size,
            **extra,
        }

    # ------------------------------------------------------------------ recorded output

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def find_message(self, chat_id: int, message_id: int) -> SentMessage | None:
        for message in self.sent:
            if message.chat_id == chat_id and message.message_id == message_id:
                return message
        return None

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands set with setMyCommands for this scope and language."""
        return self._commands.get(_commands_key(scope, language_code), [])

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Wait for the first call to ``method`` matching ``predicate`` not yet handed out.

        Each recorded call is returned by ``wait_for_call`` at most once, so consecutive
        ``wait_for_call("sendMessage")`` return consecutive sendMessage calls (including ones
        made before the wait started).  Failed calls are included; check ``call.status``.
        """

        def probe() -> Call | None:
            for index, call in enumerate(self.calls):
                if (
                    call.method == method
                    and index not in self._handed_out
                    and (predicate is None or predicate(call))
                ):
                    self._handed_out.add(index)
                    return call
            return None

        try:
            return await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            made = [c.method for c in self.calls if c.method != "getUpdates"]
            raise AssertionError(
                f"no matching {method} call within {timeout}s; calls made: {made}"
            ) from None

    async def wait_consumed(self, update_id: int, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed ``update_id`` (a getUpdates with a higher offset).

        Covers redelivered copies too: it resolves once no copy of the update is pending.
        Confirmation means aiogram fetched the update, not that its handler has finished.
        """
        if update_id not in self._updates:
            raise KeyError(f"unknown update_id {update_id}")

        def probe() -> bool | None:
            return True if all(p.update_id != update_id for p in self._pending) else None

        try:
            await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            raise AssertionError(
                f"update {update_id} not consumed within {timeout}s; is the dispatcher polling?"
            ) from None

    async def wait_callback_answer(self, update_id: int, timeout: float = 5.0) -> Call:
        """Wait for the answerCallbackQuery call answering the callback update ``update_id``."""
        query_id = self._updates[update_id]["callback_query"]["id"]

        def probe() -> Call | None:
            return self.callback_answers.get(query_id)

        try:
            return await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            raise AssertionError(
                f"callback query {query_id} not answered within {timeout}s"
            ) from None

    async def wait_until(self, probe: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait for an arbitrary condition over the fake's state (re-checked on each change)."""
        return await self._changes.wait_until(probe, timeout)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (for ``chat_id`` if given) with an error.

        429 carries ``parameters.retry_after`` (default 1), which aiogram turns into
        TelegramRetryAfter; 403 defaults to the "blocked by the user" text; 5xx to
        "Internal Server Error".  Injections are used up in the order they were added.
        """
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(
                status, "Internal Server Error" if status >= 500 else "Bad Request"
            )
        if status == 429 and retry_after is None:
            retry_after = 1
        if status == 429 and description == "Too Many Requests":
            description = f"Too Many Requests: retry after {retry_after}"
        self._injections.append(
            _Injection(method.lower(), status, description, retry_after, times, chat_id)
        )

    def block(self, chat_id: int) -> None:
        """From now on every send to ``chat_id`` answers 403 "bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        call = await _read_call(request)
        self.calls.append(call)
        self._changes.notify()  # a long poll must be visible to waiters before it returns
        try:
            if self.token is not None and request.match_info["token"] != self.token:
                raise TelegramError(401, "Unauthorized")
            self._check_faults(call)
            if call.method.lower() == "getupdates":
                if self.webhook is not None:
                    raise TelegramError(
                        409,
                        "Conflict: can't use getUpdates method while webhook is active; "
                        "use deleteWebhook to delete the webhook first",
                    )
                result: Any = await self._get_updates(call)
            else:
                handler = self._handlers.get(call.method.lower())
                result = True if handler is None else handler(call)
        except TelegramError as error:
            call.status = error.status
            body: JSON = {
                "ok": False,
                "error_code": error.status,
                "description": error.description,
            }
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            return web.json_response(body, status=error.status)
        finally:
            self._changes.notify()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        file_id = self._paths.get(request.match_info["path"])
        if file_id is None:
            raise web.HTTPNotFound(text="Not Found")
        return web.Response(body=self.stored_files[file_id])

    def _check_faults(self, call: Call) -> None:
        """Injected errors first, then the flood limit, then blocked chats."""
        method = call.method.lower()
        chat_id = call.params.get("chat_id")
        for injection in self._injections:
            if injection.method == method and injection.chat_id in (None, chat_id):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                raise TelegramError(injection.status, injection.description, injection.retry_after)
        is_send = method.startswith("send")
        if is_send and self.enforce_rate_limit is not None:
            now = time.monotonic()
            while self._send_times and self._send_times[0] <= now - 1.0:
                self._send_times.popleft()
            if len(self._send_times) >= self.enforce_rate_limit:
                self.rate_limited += 1
                raise TelegramError(429, "Too Many Requests: retry after 1", retry_after=1)
            self._send_times.append(now)
        if (is_send or method in ("copymessage", "forwardmessage")) and chat_id in self._blocked:
            raise TelegramError(403, BLOCKED_DESCRIPTION)

    # ------------------------------------------------------------------ Bot API methods

    async def _get_updates(self, call: Call) -> list[JSON]:
        """Long poll: confirm updates below ``offset``, then wait up to ``timeout`` seconds."""
        offset = int(call.params.get("offset") or 0)
        limit = int(call.params.get("limit") or 100)
        timeout = float(call.params.get("timeout") or 0)
        if offset > 0:
            # Only delivered copies are confirmed: a redelivered copy queued after the bot
            # moved past its id must still reach the bot once.
            self._pending = [p for p in self._pending if not p.delivered or p.update_id >= offset]
            self._changes.notify()

        def probe() -> list[_Pending] | None:
            if self._closing:
                return []
            return sorted(self._pending, key=lambda p: p.update_id)[:limit] or None

        try:
            batch = await self._changes.wait_until(probe, timeout)
        except TimeoutError:
            return []
        for pending in batch:
            pending.delivered = True
        return [pending.update for pending in batch]

    # ------------------------------------------------------------------ webhook

    def _set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url") or "")
        if not url:
            return self._delete_webhook(call)
        if not url.startswith(("http://", "https://")):
            raise TelegramError(400, "Bad Request: bad webhook: invalid webhook URL specified")
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        secret = call.params.get("secret_token")
        self.webhook = _Webhook(
            url,
            None if secret is None else str(secret),
            int(call.params.get("max_connections") or 40),
        )
        if self._delivering is None or self._delivering.done():
            self._delivering = asyncio.create_task(self._deliver())
        return True

    def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        if self._delivering is not None:
            self._delivering.cancel()  # a post under way stays pending: it was not confirmed
            self._delivering = None
        for pending in self._pending:
            pending.delivered = False
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        webhook = self.webhook
        info: JSON = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            if webhook.last_error is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error
        return info

    async def _stop_delivering(self) -> None:
        task, self._delivering = self._delivering, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self) -> None:
        """Post pending updates to the webhook: a chat's one at a time, in update order."""
        posts: set[asyncio.Task[None]] = set()
        busy: set[Any] = set()  # chats with an update in flight

        def finished(post: asyncio.Task[None], chat: Any) -> None:
            posts.discard(post)
            busy.discard(chat)
            self._changes.notify()  # the chat's next update may go

        try:
            async with ClientSession(timeout=ClientTimeout(total=60)) as session:
                while True:

                    def ready() -> list[_Pending] | None:
                        if self.webhook is None:
                            return None
                        free = self.webhook.max_connections - len(posts)
                        chosen, chats = [], set(busy)
                        for pending in sorted(self._pending, key=lambda p: p.update_id):
                            chat = _chat_of(pending.update)
                            if chat not in chats and not pending.delivered and free > 0:
                                chosen.append(pending)
                                free -= 1
                            chats.add(chat)  # later updates of the chat wait for this one
                        return chosen or None

                    for pending in await self._changes.wait_until(ready, timeout=None):
                        chat = _chat_of(pending.update)
                        busy.add(chat)
                        pending.delivered = True
                        post = asyncio.create_task(self._post(session, pending))
                        posts.add(post)
                        post.add_done_callback(functools.partial(finished, chat=chat))
        finally:
            for post in posts:
                post.cancel()
            await asyncio.gather(*posts, return_exceptions=True)

    async def _post(self, session: ClientSession, pending: _Pending) -> None:
        """Post one update until the webhook (as set at each try) answers 2xx."""
        for attempt in itertools.count():
            webhook = self.webhook
            assert webhook is not None  # deleteWebhook cancels the posts under way
            headers = {}
            if webhook.secret_token is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
            try:
                async with session.post(
                    webhook.url, json=pending.update, headers=headers
                ) as answer:
                    status = answer.status
                    await answer.read()
                    error = f"Wrong response from the webhook: {status} {answer.reason}"
            except (ClientError, OSError) as failure:
                status, error = 0, f"Connection failed: {failure.__class__.__name__}"
            self.deliveries.append(Delivery(pending.update_id, status))
            if 200 <= status < 300:
                self._pending = [p for p in self._pending if p is not pending]
                self._changes.notify()
                return
            webhook.last_error, webhook.last_error_date = error, int(time.time())
            self._changes.notify()
            await asyncio.sleep(WEBHOOK_RETRY_SECONDS[min(attempt, len(WEBHOOK_RETRY_SECONDS) - 1)])

    def _send_message(self, call: Call) -> JSON:
        text = call.params.get("text")
        if not text:
            raise TelegramError(400, "Bad Request: message text is empty")
        return self.message_json(self._record(call, text=str(text)))

    def _send_photo(self, call: Call) -> JSON:
        data, _name, file_id = self._input_file(call, call.params.get("photo"))
        sent_file = self._photo_file(data, file_id)
        return self.message_json(
            self._record(call, text=call.params.get("caption"), file=sent_file)
        )

    def _send_file(self, call: Call) -> JSON:
        kind, extra = _FILE_KINDS[call.method]
        data, file_name, file_id = self._input_file(call, call.params.get(kind))
        mime_type = extra.get("mime_type") or (
            _guess_mime(file_name) if kind == "document" else None
        )
        sent_file = self._file_for(kind, data, file_name, file_id, mime_type, extra)
        return self.message_json(
            self._record(call, text=call.params.get("caption"), file=sent_file)
        )

    def _send_media_group(self, call: Call) -> list[JSON]:
        media = call.params.get("media")
        if not isinstance(media, list) or not media:
            raise TelegramError(400, "Bad Request: media must be a non-empty array")
        group_id = f"{next(self._group_counter):014d}"
        results = []
        for item in media:
            kind = str(item.get("type", "photo"))
            data, file_name, file_id = self._input_file(call, item.get("media"))
            if kind == "photo":
                sent_file = self._photo_file(data, file_id)
            else:
                _, extra = _FILE_KINDS.get("send" + kind.capitalize(), (kind, {}))
                mime = _guess_mime(file_name) if kind == "document" else None
                sent_file = self._file_for(kind, data, file_name, file_id, mime, extra)
            message = self._record(
                call,
                text=item.get("caption"),
                parse_mode=item.get("parse_mode"),
                file=sent_file,
                media_group_id=group_id,
            )
            results.append(self.message_json(message))
        return results

    def _edit_message_text(self, call: Call) -> JSON:
        message = self._message_to_edit(call)
        if message.file is not None:
            raise TelegramError(400, "Bad Request: there is no text in the message to edit")
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        return self._apply_edit(message, call, text=call.params.get("text"))

    def _edit_message_caption(self, call: Call) -> JSON:
        message = self._message_to_edit(call)
        return self._apply_edit(message, call, text=call.params.get("caption"))

    def _edit_message_reply_markup(self, call: Call) -> JSON:
        message = self._message_to_edit(call)
        return self._apply_edit(message, call, text=message.text)

    def _delete_message(self, call: Call) -> bool:
        message = self._message_to_edit(call)
        message.deleted = True
        return True

    def _answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id"))
        if query_id in self.callback_answers:
            raise TelegramError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers[query_id] = call
        return True

    def _get_file(self, call: Call) -> JSON:
        meta = self._file_meta.get(str(call.params.get("file_id")))
        if meta is None:
            raise TelegramError(400, "Bad Request: invalid file_id")
        if meta.file_size > MAX_DOWNLOAD_SIZE:
            raise TelegramError(400, "Bad Request: file is too big")
        return {
            "file_id": meta.file_id,
            "file_unique_id": meta.file_unique_id,
            "file_size": meta.file_size,
            "file_path": meta.file_path,
        }

    def _set_my_commands(self, call: Call) -> bool:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self._commands[key] = list(call.params.get("commands") or [])
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        return self._commands.get(key, [])

    def _delete_my_commands(self, call: Call) -> bool:
        key = _commands_key(call.params.get("scope"), call.params.get("language_code", ""))
        self._commands.pop(key, None)
        return True

    # ------------------------------------------------------------------ helpers

    def bot_user(self, *, full: bool = False) -> JSON:
        user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "关爱测试机器人",
            "username": self.bot_username,
        }
        if full:
            user |= {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        return user

    def chat_json(self, chat_id: int) -> JSON:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
        user = self._users.get(chat_id)
        chat: JSON = {"id": chat_id, "type": "private", "first_name": "User"}
        if user is not None:
            chat["first_name"] = user.first_name
            if user.last_name:
                chat["last_name"] = user.last_name
            if user.username:
                chat["username"] = user.username
        return chat

    def message_json(self, message: SentMessage) -> JSON:
        """The Message object Telegram returns for (or echoes in callbacks) a bot message."""
        result: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chat_json(message.chat_id),
            "from": self.bot_user(),
        }
        if message.file is None:
            result["text"] = message.text or ""
        else:
            result[message.file.kind] = message.file.api_object
            if message.text:
                result["caption"] = message.text
        if message.media_group_id is not None:
            result["media_group_id"] = message.media_group_id
        # Telegram only echoes inline keyboards; reply keyboards are not part of Message.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup
        if message.edits:
            result["edit_date"] = int(time.time())
        return result

    def _record(
        self,
        call: Call,
        *,
        text: Any,
        file: SentFile | None = None,
        parse_mode: Any = None,
        media_group_id: str | None = None,
    ) -> SentMessage:
        chat_id = _chat_id(call)
        message = SentMessage(
            message_id=self.next_message_id(chat_id),
            chat_id=chat_id,
            method=call.method,
            text=None if text is None else str(text),
            reply_markup=call.params.get("reply_markup"),
            parse_mode=parse_mode or call.params.get("parse_mode"),
            date=int(time.time()),
            file=file,
            media_group_id=media_group_id,
        )
        self.sent.append(message)
        return message

    def _input_file(self, call: Call, value: Any) -> tuple[bytes, str | None, str | None]:
        """Resolve an InputFile field to (bytes, filename, existing file_id or None)."""
        if not isinstance(value, str) or not value:
            raise TelegramError(400, "Bad Request: there is no file in the request")
        if value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part not in call.files:
                raise TelegramError(400, f"Bad Request: file attachment {part!r} not found")
            return call.files[part], call.file_names.get(part), None
        if value in self.stored_files:
            return self.stored_files[value], None, value
        if value.startswith(("http://", "https://")):
            return b"", value.rpartition("/")[2] or None, None
        raise TelegramError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _photo_file(self, data: bytes, file_id: str | None) -> SentFile:
        """A photo the bot sent: fresh sizes for an upload, the same file for a file_id."""
        if file_id is None:
            sizes = self.photo_sizes(data)
        else:
            sizes = [self.file_object(file_id, width=1280, height=960)]
        largest = sizes[-1]
        return SentFile(
            "photo", largest["file_id"], largest["file_unique_id"], data, api_object=sizes
        )

    def _file_for(
        self,
        kind: str,
        data: bytes,
        file_name: str | None,
        file_id: str | None,
        mime_type: str | None,
        extra: JSON,
    ) -> SentFile:
        if file_id is None:
            file_id, _ = self.store_file(kind, data, file_name=file_name)
        fields = dict(extra)
        if file_name:
            fields["file_name"] = file_name
        if mime_type:
            fields["mime_type"] = mime_type
        api_object = self.file_object(file_id, **fields)
        return SentFile(
            kind,
            file_id,
            api_object["file_unique_id"],
            data,
            file_name=file_name,
            mime_type=mime_type,
            api_object=api_object,
        )

    def _message_to_edit(self, call: Call) -> SentMessage:
        if "inline_message_id" in call.params:
            raise TelegramError(400, "Bad Request: inline messages are not supported by the fake")
        message = self.find_message(_chat_id(call), int(call.params.get("message_id") or 0))
        if message is None or message.deleted:
            raise TelegramError(400, "Bad Request: message to edit not found")
        return message

    def _apply_edit(self, message: SentMessage, call: Call, *, text: Any) -> JSON:
        new_text = None if text is None else str(text)
        new_markup = call.params.get("reply_markup")
        if new_text == message.text and new_markup == message.reply_markup:
            raise TelegramError(400, NOT_MODIFIED_DESCRIPTION)
        message.text = new_text
        message.reply_markup = new_markup
        if "parse_mode" in call.params:
            message.parse_mode = call.params["parse_mode"]
        message.edits.append(call)
        return self.message_json(message)


class FakeUser:
    """A Telegram user in a private chat with the bot; each ``send_*`` queues one update."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "zh-hans",
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.chat_id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self._cursor = 0
        self._callback_ids = itertools.count(1)

    def as_json(self) -> JSON:
        user: JSON = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        return user

    # ------------------------------------------------------------------ sending

    def send_text(self, text: str) -> int:
        content: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._send(content)

    def send_photo(
        self,
        data: bytes,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        file_size: int | None = None,
    ) -> int:
        """``file_size`` overrides the reported size, e.g. to exceed getFile's 20 MB limit."""
        content: JSON = {"photo": self.fake.photo_sizes(data, file_size)}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._send(content)

    def send_document(
        self, data: bytes, *, file_name: str, mime_type: str, file_size: int | None = None
    ) -> int:
        file_id, _ = self.fake.store_file(
            "document", data, file_size=file_size, file_name=file_name
        )
        document = self.fake.file_object(file_id, file_name=file_name, mime_type=mime_type)
        return self._send({"document": document})

    def send_voice(self, data: bytes, *, duration: int = 3) -> int:
        file_id, _ = self.fake.store_file("voice", data)
        voice = self.fake.file_object(file_id, duration=duration, mime_type="audio/ogg")
        return self._send({"voice": voice})

    def send_location(self, latitude: float, longitude: float) -> int:
        return self._send({"location": {"latitude": latitude, "longitude": longitude}})

    def send_contact(self, phone_number: str) -> int:
        """The user's own contact, as sent by a ``request_contact`` keyboard button."""
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": self.first_name,
            "user_id": self.id,
        }
        if self.last_name:
            contact["last_name"] = self.last_name
        return self._send({"contact": contact})

    def send_sticker(self) -> int:
        file_id, _ = self.fake.store_file("sticker", b"RIFF-fake-webp")
        extra = _FILE_KINDS["sendSticker"][1]
        return self._send({"sticker": self.fake.file_object(file_id, emoji="👍", **extra)})

    def send_video(self) -> int:
        file_id, _ = self.fake.store_file("video", b"fake-mp4")
        extra = _FILE_KINDS["sendVideo"][1]
        video = self.fake.file_object(file_id, mime_type="video/mp4", **extra)
        return self._send({"video": video})

    def press(self, callback_data: str, message: SentMessage | None = None) -> int:
        """Press an inline button; defaults to the latest bot message with an inline keyboard."""
        if message is None:
            with_keyboard = [
                m
                for m in self.messages
                if not m.deleted and m.reply_markup and "inline_keyboard" in m.reply_markup
            ]
            if not with_keyboard:
                raise AssertionError(
                    f"user {self.id} has no bot message with an inline keyboard to press"
                )
            message = with_keyboard[-1]
        query = {
            "id": f"{self.id}-{next(self._callback_ids)}",
            "from": self.as_json(),
            "message": self.fake.message_json(message),
            "chat_instance": f"ci-{self.chat_id}",
            "data": callback_data,
        }
        return self.fake.enqueue({"callback_query": query})

    # ------------------------------------------------------------------ reading

    @property
    def messages(self) -> list[SentMessage]:
        return self.fake.messages_to(self.chat_id)

    @property
    def last_message(self) -> SentMessage:
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing to user {self.id}")
        return messages[-1]

    async def next_message(self, timeout: float = 5.0) -> SentMessage:
        """The next bot message to this chat not yet returned here (a cursor per user)."""

        def probe() -> SentMessage | None:
            messages = self.messages
            if self._cursor < len(messages):
                self._cursor += 1
                return messages[self._cursor - 1]
            return None

        try:
            return await self.fake.wait_until(probe, timeout)
        except TimeoutError:
            raise AssertionError(self._timeout_report(timeout)) from None

    def _timeout_report(self, timeout: float) -> str:
        lines = [f"no new bot message to user {self.id} within {timeout}s."]
        lines.append(f"messages already returned by next_message ({self._cursor}):")
        lines += [f"  #{m.message_id} {m.method}: {m.text!r}" for m in self.messages]
        recent = [c for c in self.fake.calls if c.method != "getUpdates"][-10:]
        lines.append("last API calls (getUpdates omitted):")
        lines += [f"  {c.method} [{c.status}] {c.params}" for c in recent]
        return "\n".join(lines)

    def _send(self, content: JSON) -> int:
        message = {
            "message_id": self.fake.next_message_id(self.chat_id),
            "date": int(time.time()),
            "chat": self.fake.chat_json(self.chat_id),
            "from": self.as_json(),
            **content,
        }
        return self.fake.enqueue({"message": message})


# ---------------------------------------------------------------------- module helpers


async def _read_call(request: web.Request) -> Call:
    """Parse a call as the Bot API takes it: a JSON body, or a form (urlencoded, or
    multipart when files are attached)."""
    params: JSON = {key: _decode_field(key, value) for key, value in request.query.items()}
    files: dict[str, bytes] = {}
    file_names: dict[str, str] = {}
    if request.content_type == "application/json":
        params.update(await request.json())
        form: Mapping[str, Any] = {}
    else:
        form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
            file_names[key] = value.filename
        else:
            text = value.decode() if isinstance(value, bytes | bytearray) else value
            params[key] = _decode_field(key, text)
    return Call(
        method=request.match_info["method"],
        params=params,
        files=files,
        at=time.monotonic(),
        file_names=file_names,
    )


def _decode_field(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(call: Call) -> int:
    chat_id = call.params.get("chat_id")
    if not isinstance(chat_id, int):
        raise TelegramError(400, "Bad Request: chat not found")
    return chat_id


def _chat_of(update: JSON) -> Any:
    """The chat an update belongs to (the user, for a button pressed), for ordering."""
    for kind in ("message", "edited_message", "callback_query", "my_chat_member"):
        if kind in update:
            event = update[kind]
            chat = event.get("chat") or (event.get("message") or {}).get("chat")
            return (chat or event.get("from") or {}).get("id")
    return None


def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
    scope_json = json.dumps(scope or {"type": "default"}, sort_keys=True)
    return scope_json, str(language_code or "")


def _guess_mime(file_name: str | None) -> str:
    extension = (file_name or "").rpartition(".")[2].lower()
    return {
        "pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv",
        "txt": "text/plain",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "png": "image/png",
    }.get(extension, "application/octet-stream")


__all__ = [
    "MAX_DOWNLOAD_SIZE",
    "Call",
    "Delivery",
    "FakeTelegram",
    "FakeUser",
    "SentFile",
    "SentMessage",
    "TelegramError",
]
