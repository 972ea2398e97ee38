"""What a Matrix chat is in the middle of, kept in Redis under REDIS_PREFIX (as aiogram
keeps Telegram's conversation state): the step of a conversation (an hour, like
Telegram's), and the numbered choices the bot's last message with choices offered.

Matrix has no buttons: a message offers its actions as `1`, `2`, … and a reply with a
number means the action under it in the room's latest such message.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from domain.delivery.content import ActionKind

CONVERSATION_SECONDS = 60 * 60
# an escalation may be answered days after it was sent (the ladder climbs in days)
OFFERED_SECONDS = 30 * 24 * 60 * 60

Offered = list[tuple[ActionKind, int]]


class Rooms:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, what: str, room_id: str) -> str:
        return f"{self._prefix}:matrix:{what}:{room_id}"

    async def conversation(self, room_id: str) -> dict[str, Any]:
        """The room's conversation step and what it gathered; empty when none is going."""
        raw = await self._redis.get(self._key("talk", room_id))
        return {} if raw is None else dict(json.loads(raw))

    async def carry_on(self, room_id: str, data: dict[str, Any]) -> None:
        await self._redis.set(self._key("talk", room_id), json.dumps(data), ex=CONVERSATION_SECONDS)

    async def end(self, room_id: str) -> None:
        await self._redis.delete(self._key("talk", room_id))

    async def offer(self, room_id: str, event_id: str, offered: Offered) -> None:
        """The choices of the bot's latest message with choices in the room (its event)."""
        data = {"event": event_id, "choices": [[kind.value, subject] for kind, subject in offered]}
        await self._redis.set(self._key("offered", room_id), json.dumps(data), ex=OFFERED_SECONDS)

    async def offered(self, room_id: str) -> Offered:
        return (await self._offer(room_id))[1]

    async def edited(self, room_id: str, event_id: str, offered: Offered) -> None:
        """The message `event_id` now offers these choices (none, once someone took its
        escalation): if it is the room's latest with choices, its numbers change too."""
        if (await self._offer(room_id))[0] == event_id:
            await self.offer(room_id, event_id, offered)

    async def _offer(self, room_id: str) -> tuple[str | None, Offered]:
        raw = await self._redis.get(self._key("offered", room_id))
        if raw is None:
            return None, []
        data = json.loads(raw)
        choices = [(ActionKind(kind), int(subject)) for kind, subject in data["choices"]]
        return str(data["event"]), choices
