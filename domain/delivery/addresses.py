"""Where messages go: an address is a channel (which front sends it) and a target in it
(a Telegram chat id, a Matrix user, a group's robot). The one place that says which
address a person has and whose an address is: a person's accounts (`accounts`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Account, Channel

TELEGRAM = Channel.telegram.value  # the target is the chat id, a user's own id
#: where a person with accounts on several channels is written to, first to last
PREFERRED = (Channel.telegram, Channel.matrix)


@dataclass(frozen=True)
class Address:
    channel: str
    target: str

    def __post_init__(self) -> None:
        if not self.channel or not self.target:
            raise ValueError("an address needs a channel and a target")


def of_account(account: Account) -> Address:
    return Address(Channel(account.channel).value, account.external_id)


def preferred(accounts: Iterable[Account]) -> Account | None:
    """The account a person is written to: a reachable one before one that blocked the
    bot, then in the order of `PREFERRED`."""
    return min(
        accounts,
        key=lambda a: (a.unreachable_at is not None, PREFERRED.index(Channel(a.channel))),
        default=None,
    )


async def address_of(session: AsyncSession, person_id: int) -> Address | None:
    """Where the bot writes to a person, if anywhere."""
    held = await session.scalars(select(Account).where(Account.person_id == person_id))
    account = preferred(held)
    return None if account is None else of_account(account)


def belongs_to(address: Address) -> ColumnElement[bool]:
    """A condition on `Account`: the account this address reaches (none for a group's)."""
    if address.channel not in {channel.value for channel in Channel}:
        return false()
    return and_(Account.channel == Channel(address.channel), Account.external_id == address.target)
