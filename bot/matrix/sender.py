"""The outbox's `matrix` channel, sent by the Matrix front's own process: the same device
that logged in sends each row under its transaction id (`guanai.outbox.<row id>`), so a
row tried again after a crash or a timeout is one message to Synapse.

The row's target is the person's Matrix id; the message goes to the direct chat the bot
shares with them (one is opened, and they are invited, when there is none). Actions are
a numbered list; the room remembers them, so a reply `1` is the first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.matrix.client import MatrixFront, MatrixSendFailed, RateLimited
from bot.matrix.render import numbered
from bot.matrix.rooms import Rooms
from domain.delivery.addresses import Address
from domain.delivery.content import Content
from domain.delivery.sending import Blocked, Deferred, PacedSender, Refused
from domain.models import Channel

MATRIX = Channel.matrix.value
# Synapse's default for a user is 0.2 messages a second, a burst of 10; a deployment's
# own homeserver exempts the bot (`limit_messages` in the tests narrows it again)
RATE = 5.0
INTERVAL = 0.5  # between two messages to the same person


class MatrixDeliver:
    def __init__(self, front: MatrixFront, rooms: Rooms) -> None:
        self._front = front
        self._rooms = rooms

    async def __call__(self, to: Address, content: Content, key: str) -> str:
        room_id = self._front.direct_room_with(to.target)
        if room_id is None:
            await self._invite(to.target)
            raise Deferred("invited to a direct chat, not joined yet")
        text, offered = numbered(content)
        body: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if content.replaces is not None:  # an edit: clients show the new text in its place
            body = {
                "msgtype": "m.text",
                "body": f"* {text}",
                "m.new_content": {"msgtype": "m.text", "body": text},
                "m.relates_to": {"rel_type": "m.replace", "event_id": content.replaces},
            }
        try:
            event_id = await self._front.send_once(room_id, body, txn_id=key)
        except RateLimited as limited:
            raise Deferred("M_LIMIT_EXCEEDED", retry_after=limited.seconds, limited=True) from None
        except MatrixSendFailed as error:
            if "M_FORBIDDEN" in str(error):
                raise Blocked(str(error)) from error
            raise Refused(str(error)) from error
        if content.replaces is not None:
            await self._rooms.edited(room_id, content.replaces, offered)
        elif offered:
            await self._rooms.offer(room_id, event_id, offered)
        return event_id

    async def _invite(self, user_id: str) -> None:
        try:
            await self._front.open_direct_room(user_id)
        except MatrixSendFailed as error:
            raise Refused(str(error)) from error


def matrix_sender(
    sessionmaker: async_sessionmaker[AsyncSession], front: MatrixFront, rooms: Rooms
) -> PacedSender:
    return PacedSender(
        sessionmaker, MATRIX, MatrixDeliver(front, rooms), rate=RATE, interval=INTERVAL
    )
