"""Where messages go: an address is a channel (which front sends it) and a target in it
(a Telegram chat id, a Matrix room, a group's robot). The one place that says which
address a person has and whose an address is."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false

from domain.models import Person

TELEGRAM = "telegram"  # the channel of a person's Telegram chat; the target is its chat id


@dataclass(frozen=True)
class Address:
    channel: str
    target: str

    def __post_init__(self) -> None:
        if not self.channel or not self.target:
            raise ValueError("an address needs a channel and a target")


def address_of(person: Person) -> Address | None:
    """Where the bot writes to a person (their Telegram chat), if anywhere."""
    return None if person.telegram_id is None else Address(TELEGRAM, str(person.telegram_id))


def belongs_to(address: Address) -> ColumnElement[bool]:
    """A condition on `Person`: the person this address reaches (none for a group's)."""
    if address.channel != TELEGRAM or not address.target.lstrip("-").isdigit():
        return false()
    return Person.telegram_id == int(address.target)
