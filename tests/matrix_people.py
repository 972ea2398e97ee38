"""A person on Matrix, as the tests drive one: a second matrix-nio client with its own
device and keys, talking to the bot through the real Synapse."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.matrix.client import Answer, MatrixFront
from guanai.settings import MatrixAccount
from tests.synapse_server import MatrixUser, Synapse

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
WAIT_SECONDS = 60.0  # a loaded machine; a quiet one answers in well under a second


class Person:
    def __init__(self, synapse: Synapse, user: MatrixUser, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.client = AsyncClient(
            synapse.url,
            user.user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        # each room's timeline events as synced, decrypted where they could be
        self.seen: dict[str, list[Any]] = {}

    async def open(self) -> None:
        await self.client.keys_upload()
        await self._sync(0, full_state=True)

    async def close(self) -> None:
        await self.client.close()

    async def _sync(self, timeout_ms: int, *, full_state: bool | None = None) -> None:
        response = await self.client.sync(timeout=timeout_ms, full_state=full_state)
        assert isinstance(response, SyncResponse), response
        for room_id, joined in response.rooms.join.items():
            self.seen.setdefault(room_id, []).extend(joined.timeline.events)
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
            await self._sync(500)

    async def direct_chat_with(self, bot_id: str, *, encrypted: bool) -> str:
        """A direct chat inviting the bot, as Element makes one; waits until it joined."""
        response = await self.client.room_create(
            is_direct=True, invite=[bot_id], initial_state=[ENCRYPTION] if encrypted else []
        )
        assert isinstance(response, RoomCreateResponse), response
        room_id = str(response.room_id)
        await self.wait_until(
            lambda: room_id in self.client.rooms and bot_id in self.client.rooms[room_id].users,
            "the bot to join",
        )
        return room_id

    async def say(self, room_id: str, text: str) -> str:
        if self.client.should_query_keys:
            await self.client.keys_query()
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    def texts_from(self, room_id: str, sender: str) -> list[str]:
        """The texts `sender` sent in the room, as this person's client read them."""
        return [
            event.body
            for event in self.seen.get(room_id, [])
            if isinstance(event, RoomMessageText) and event.sender == sender
        ]

    async def messages_in_history(self, room_id: str, sender: str) -> int:
        """How many messages `sender` sent in the room, by the homeserver's own history
        (read, or still encrypted): what a second copy of an answer could not hide from."""
        await self._sync(0)  # from now: paging back from an older point would miss the last
        count = 0
        start = self.client.next_batch
        while start:
            page = await self.client.room_messages(room_id, start=start, limit=100)
            assert isinstance(page, RoomMessagesResponse), page
            count += sum(
                1
                for event in page.chunk
                if event.sender == sender and isinstance(event, (RoomMessageText, MegolmEvent))
            )
            if not page.chunk or page.end == start:
                break
            start = page.end
        return count


@contextlib.asynccontextmanager
async def running(
    account: MatrixAccount,
    sessionmaker: async_sessionmaker[AsyncSession],
    answer: Answer,
    **options: Any,
) -> AsyncIterator[MatrixFront]:
    """The front started and syncing, as `guanai matrix` runs it; stopped on the way out."""
    front = MatrixFront(account, sessionmaker, answer, **options)
    await front.start()
    task = asyncio.create_task(front.run())
    try:
        yield front
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await front.close()
