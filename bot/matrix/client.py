"""The Matrix bot: logs in, accepts direct chats, syncs, answers, sends.

One sync at a time, its events in order: each new message is recorded by its event id
and answered in one unit of work; the answer is sent after the commit, under a
transaction id made from the event's, so a send retried (after a timeout, a 429, a
restart) is one message. The `since` token is saved once a sync's events are all handled.

Encryption (Element encrypts direct chats) is matrix-nio's, on vodozemac: the device's
keys live in its store under MATRIX_STORE_DIR, and the device id in PostgreSQL, so a
restart logs in as the same device and still reads the chats it was in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LocalProtocolError,
    LoginResponse,
    MegolmEvent,
    MemoryDownloadResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomEncryptedImage,
    RoomMessageImage,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SendRetryError,
    SyncResponse,
    WhoamiResponse,
)
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.matrix import state
from bot.matrix.conversation import IncomingText
from domain.care import inbox
from domain.care.checkins import PhotoRef
from domain.clock import Clock
from domain.db import UnitOfWork
from domain.errors import DomainError
from domain.ports import OutboxSender
from guanai.outages import Backoff, Outage, is_outage
from guanai.settings import MatrixAccount

log = logging.getLogger(__name__)

#: What the front does with a new message, inside its unit of work (committed after it,
#: then its `after_commit` actions run): the texts to answer.
Answer = Callable[[UnitOfWork, IncomingText], Awaitable[Sequence[str]]]

DEVICE_NAME = "guanai"
# Each sync returns at most this many events a room; more since the last one (the bot was
# down) are fetched page by page back to where it stopped, so none is skipped.
TIMELINE_LIMIT = 50
SYNC_TIMEOUT_MS = 30_000
# How often the outbox is looked at for Matrix rows (the worker's cron drains Telegram's).
OUTBOX_POLL_SECONDS = 1.0
# A send refused for the rate limit waits what the homeserver asks, at most this often.
MAX_RATE_LIMITED_TRIES = 20


class MatrixLoginFailed(DomainError):
    message = (
        "The Matrix homeserver refused the bot's login ({reason}): check MATRIX_USER and "
        "MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD."
    )


class MatrixSendFailed(Exception):
    """The homeserver refused a message for good (not a rate limit)."""


class RateLimited(Exception):
    """The homeserver asked to wait (`M_LIMIT_EXCEEDED`); `seconds` how long, if it said."""

    def __init__(self, response: Any) -> None:
        super().__init__("M_LIMIT_EXCEEDED")
        self.response = response
        retry_after_ms = getattr(response, "retry_after_ms", None)
        self.seconds: float | None = retry_after_ms / 1000 if retry_after_ms else None


ENCRYPTED_ROOM = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class MatrixFront:
    """One bot account on one homeserver."""

    def __init__(
        self,
        account: MatrixAccount,
        sessionmaker: async_sessionmaker[AsyncSession],
        answer: Answer,
        *,
        media_dir: Path | None = None,
        timeline_limit: int = TIMELINE_LIMIT,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
    ) -> None:
        self.account = account
        self._sessionmaker = sessionmaker
        self._answer = answer
        self._media_dir = media_dir  # where photos people send are staged; None: not kept
        self._sync_timeout_ms = sync_timeout_ms
        self._filter = {"room": {"timeline": {"limit": timeline_limit}}}
        self._since: str | None = None
        self._first_sync = True
        self.client = AsyncClient(
            account.homeserver,
            account.user_id,
            store_path=str(account.store_dir),
            config=AsyncClientConfig(
                encryption_enabled=True,
                store_sync_tokens=False,  # the token lives in PostgreSQL, with the event ids
                max_limit_exceeded=0,  # a 429 comes back to us: we wait what it asks
            ),
        )

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> None:
        """Log in as the device of last time (its keys in the store), then upload keys."""
        self.account.store_dir.mkdir(parents=True, exist_ok=True)
        async with UnitOfWork(self._sessionmaker) as uow:
            point = await state.load(uow.session, self.user_id)
        self._since = point.next_batch
        device_id = await self._log_in(point.device_id)
        async with UnitOfWork(self._sessionmaker) as uow:
            await state.save_device(uow.session, self.user_id, device_id)
            await uow.commit()
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        log.info("matrix: logged in as device %s", device_id)

    async def _log_in(self, known_device: str | None) -> str:
        client = self.client
        if self.account.access_token:
            client.access_token = self.account.access_token
            who = await client.whoami()
            if not isinstance(who, WhoamiResponse) or not who.device_id:
                raise MatrixLoginFailed(reason=getattr(who, "status_code", None) or "whoami")
            client.restore_login(self.user_id, who.device_id, self.account.access_token)
            return str(who.device_id)
        # the same device again, unless its keys are gone: a device cannot change its keys
        if known_device and self._store_file(known_device).exists():
            client.device_id = known_device
        response = await client.login(self.account.password, device_name=DEVICE_NAME)
        if not isinstance(response, LoginResponse):
            raise MatrixLoginFailed(reason=getattr(response, "status_code", None) or "login")
        return str(response.device_id)

    def _store_file(self, device_id: str) -> Path:
        return self.account.store_dir / f"{self.user_id}_{device_id}.db"

    async def close(self) -> None:
        await self.client.close()

    async def run(self, *, outage_retry_max_seconds: float = 30.0) -> None:
        """Sync and answer until cancelled. PostgreSQL out of reach stops nothing else
        (in `guanai run` the Telegram front goes on): the same sync is tried again after
        a wait that doubles, and what it had handled is skipped the second time."""
        outage = Outage(log, "matrix front")
        backoff = Backoff(outage_retry_max_seconds)
        while True:
            try:
                await self.sync_once()
            except Exception as error:
                if not is_outage(error):
                    raise
                outage.failed(error)
                await asyncio.sleep(backoff.next())
            else:
                outage.over()
                backoff.reset()

    async def send_outbox(
        self, sender: OutboxSender, clock: Clock, *, poll_seconds: float = OUTBOX_POLL_SECONDS
    ) -> None:
        """Drains the outbox's Matrix rows until cancelled, looking again every
        `poll_seconds`; a database out of reach is waited out like the sync's."""
        outage = Outage(log, "matrix outbox")
        while True:
            try:
                await sender.drain(clock)
            except Exception as error:
                if not is_outage(error):
                    raise
                outage.failed(error)
            else:
                outage.over()
            await asyncio.sleep(poll_seconds)

    async def sync_once(self) -> None:
        """One sync: invitations, new messages in order, then the saved token and keys."""
        first = self._first_sync
        # nio skips a response whose token it has seen: after a failed sync, it must not
        self.client.next_batch = self._since
        response = await self.client.sync(
            timeout=0 if first else self._sync_timeout_ms,
            sync_filter=self._filter,
            since=self._since,
            # after a restart nio knows no room: the full state tells it members and
            # which rooms are encrypted, while the timeline still starts at `since`
            full_state=True if first else None,
        )
        if not isinstance(response, SyncResponse):
            await self._wait_out(response, "sync")
            return
        for room_id, invited in response.rooms.invite.items():
            await self._on_invite(room_id, invited.invite_state)
        for room_id, joined in response.rooms.join.items():
            timeline = joined.timeline
            missed: list[Any] = []
            if timeline.limited and self._since is not None:
                missed = await self._missed_events(room_id, timeline.prev_batch)
            for event in [*missed, *timeline.events]:
                await self._on_event(room_id, event)
        async with UnitOfWork(self._sessionmaker) as uow:
            await state.save_since(uow.session, self.user_id, response.next_batch)
            await uow.commit()
        self._since = response.next_batch
        self._first_sync = False
        await self._keys()

    async def _missed_events(self, room_id: str, prev_batch: str | None) -> list[Any]:
        """The room's events between the last handled sync and this one's timeline."""
        pages: list[list[Any]] = []
        start = prev_batch
        while start:
            page = await self.client.room_messages(
                room_id, start=start, end=self._since, direction=MessageDirection.back, limit=100
            )
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            pages.append(list(reversed(page.chunk)))
            if page.end == start:
                break
            start = page.end
        return [event for page in reversed(pages) for event in page]

    async def _keys(self) -> None:
        """What nio's sync_forever does between syncs: keep the device's keys and the
        room keys for its peers flowing."""
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        """A direct chat is joined; a group room is declined (the bot talks one to one)."""
        mine = [
            event
            for event in invite_state
            if isinstance(event, InviteMemberEvent)
            and event.state_key == self.user_id
            and event.membership == "invite"
        ]
        if not mine:
            return
        if mine[-1].content.get("is_direct"):
            await self.client.join(room_id)
            log.info("matrix: joined direct chat %s", room_id)
        else:
            await self.client.room_leave(room_id)
            log.info("matrix: declined group room %s", room_id)

    async def _on_event(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) == self.user_id:
            return
        body: str | None = None
        photo: PhotoRef | None = None
        if isinstance(event, MegolmEvent):
            # its room key never reached the bot's device (sent before the device existed,
            # say): the person is told to send it again rather than left without an answer
            log.warning("matrix: could not decrypt event %s in %s", event.event_id, room_id)
        elif isinstance(event, RoomMessageText):
            body = event.body
        elif isinstance(event, (RoomMessageImage, RoomEncryptedImage)):
            photo = await self._fetch_photo(event)
            body = "" if photo is not None else None
        else:
            return
        room = self.client.rooms.get(room_id)
        message = IncomingText(
            room_id=room_id,
            sender=event.sender,
            event_id=event.event_id,
            body=body,
            sender_name=room.user_name(event.sender) if room is not None else None,
            photo=photo,
        )
        async with UnitOfWork(self._sessionmaker) as uow:
            if not await state.first_time(uow.session, event.event_id):
                return
            replies = await self._answer(uow, message)
            await uow.commit()
        try:
            for number, text in enumerate(replies):
                await self.send_text(room_id, text, txn_id=reply_txn_id(event.event_id, number))
        except MatrixSendFailed as error:  # they left the room, say: the next event goes on
            log.warning("matrix: no answer to %s: %s", event.event_id, error)

    async def _fetch_photo(self, event: RoomMessageImage | RoomEncryptedImage) -> PhotoRef | None:
        """The image through the media API (decrypted, in an encrypted chat), staged for
        the photo job; None when it cannot be had (the person is asked to send it again)."""
        if self._media_dir is None:
            return None
        response = await self.client.download(mxc=event.url)
        if not isinstance(response, MemoryDownloadResponse):
            log.warning("matrix: could not download the image of %s", event.event_id)
            return None
        data = response.body
        if isinstance(event, RoomEncryptedImage):
            try:
                data = decrypt_attachment(data, event.key["k"], event.hashes["sha256"], event.iv)
            except (EncryptionError, KeyError) as error:
                log.warning("matrix: image of %s not decrypted: %s", event.event_id, error)
                return None
        file_id, digest = await inbox.stage(self._media_dir, data)
        return PhotoRef(file_id, digest, len(data))

    async def send_text(self, room_id: str, text: str, *, txn_id: str) -> str:
        """Sends a text once: the same `txn_id` again is the same message to the
        homeserver. A rate limit waits its `retry_after_ms`; returns the event id."""
        content = {"msgtype": "m.text", "body": text}
        for _ in range(MAX_RATE_LIMITED_TRIES):
            try:
                return await self.send_once(room_id, content, txn_id=txn_id)
            except RateLimited as limited:
                await self._wait_out(limited.response, "send")
        raise MatrixSendFailed(f"still rate-limited in {room_id} after {MAX_RATE_LIMITED_TRIES}")

    async def send_once(self, room_id: str, content: dict[str, Any], *, txn_id: str) -> str:
        """One try at sending an `m.room.message`; a rate limit is raised (`RateLimited`),
        for the caller to wait out or to defer. Returns the event id."""
        try:
            response = await self.client.room_send(
                room_id, "m.room.message", content, tx_id=txn_id, ignore_unverified_devices=True
            )
        except (LocalProtocolError, SendRetryError) as error:  # a room nio does not know
            raise MatrixSendFailed(f"{type(error).__name__} in {room_id}") from error
        if isinstance(response, RoomSendResponse):
            return str(response.event_id)
        if response.status_code == "M_LIMIT_EXCEEDED":
            raise RateLimited(response)
        raise MatrixSendFailed(f"{response.status_code} in {room_id}")

    def direct_room_with(self, user_id: str) -> str | None:
        """The chat the bot shares with this person alone (joined, or invited to by the
        bot); the oldest known first when there are several."""
        for room_id, room in sorted(self.client.rooms.items()):
            people = set(room.users) | set(room.invited_users)
            if people == {self.user_id, user_id}:
                return str(room_id)
        return None

    async def open_direct_room(self, user_id: str) -> str:
        """Invites the person to a new encrypted direct chat (they join it in their app)."""
        created = await self.client.room_create(
            is_direct=True, invite=[user_id], initial_state=[ENCRYPTED_ROOM]
        )
        if not isinstance(created, RoomCreateResponse):
            raise MatrixSendFailed(f"{getattr(created, 'status_code', None)} inviting a person")
        return str(created.room_id)

    async def _wait_out(self, response: Any, what: str) -> None:
        """A refused request waits what the homeserver asked (a rate limit) or a moment."""
        retry_after_ms = getattr(response, "retry_after_ms", None)
        seconds = retry_after_ms / 1000 if retry_after_ms else 1.0
        log.warning(
            "matrix: %s refused (%s), trying again in %.1f s",
            what,
            getattr(response, "status_code", None),
            seconds,
        )
        await asyncio.sleep(seconds)


def reply_txn_id(event_id: str, number: int) -> str:
    """The transaction id of the bot's `number`th answer to an event: the same on every
    try, so the homeserver keeps one message however often it is sent."""
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return f"guanai.reply.{digest}.{number}"
