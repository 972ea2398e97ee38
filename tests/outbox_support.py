"""Outbox rows as the Telegram front shows them: tests read what a person would see."""

from __future__ import annotations

from typing import Any

from bot.telegram import outgoing
from domain.delivery import outbox
from domain.delivery.addresses import TELEGRAM, Address
from domain.delivery.content import Content
from domain.models import OutboxMessage


def tg(chat_id: int) -> Address:
    """A Telegram chat's address."""
    return Address(TELEGRAM, str(chat_id))


def text(*lines: str) -> Content:
    return Content.lines(lines)


def shown(row: OutboxMessage | dict[str, Any]) -> dict[str, Any]:
    """The Bot API parameters the sender will send for a row (or its content's JSON): text,
    reply_markup, caption, filename, path (relative to MEDIA_DIR), message_id."""
    content = outbox.content(row) if isinstance(row, OutboxMessage) else Content.from_json(row)
    return outgoing.call(content)[1]


def method(row: OutboxMessage) -> str:
    return outgoing.call(outbox.content(row))[0]


def chat_of(row: OutboxMessage) -> int:
    assert row.channel == TELEGRAM
    return int(row.target)
