"""A person's accounts: their address on each channel, and whether the bot reaches them there.

A front knows its senders by (channel, external id) — a Telegram user id, a Matrix user
id — and the core knows people; these are the only ways between the two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError
from domain.models import Account, Channel, Person


class AccountTaken(DomainError):
    message = "This account already belongs to someone else."


async def person_on(session: AsyncSession, channel: Channel, external_id: str) -> Person | None:
    """The person whose account on `channel` this is; None if nobody's."""
    return await session.scalar(
        select(Person)
        .join(Account, Account.person_id == Person.id)
        .where(Account.channel == channel, Account.external_id == external_id)
    )


async def on_channel(
    session: AsyncSession, person_ids: Iterable[int], channel: Channel
) -> dict[int, Account]:
    """The people's accounts on `channel`, by person id; someone without one is left out."""
    wanted = set(person_ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Account).where(Account.person_id.in_(wanted), Account.channel == channel)
    )
    return {account.person_id: account for account in rows}


async def address(session: AsyncSession, person_id: int, channel: Channel) -> str | None:
    """The person's address on `channel` (their account's external id); None without one.
    Whether they blocked the bot there is `on_channel`'s `unreachable_at`."""
    return await session.scalar(
        select(Account.external_id).where(
            Account.person_id == person_id, Account.channel == channel
        )
    )


async def open_account(
    session: AsyncSession, person: Person, channel: Channel, external_id: str
) -> Account:
    """Give the person an account on `channel`; one that is someone else's is refused (and
    a second one of theirs on the same channel by the database: one address per channel)."""
    account = await session.scalar(
        select(Account).where(Account.channel == channel, Account.external_id == external_id)
    )
    if account is not None:
        if account.person_id != person.id:
            raise AccountTaken()
        return account
    account = Account(person_id=person.id, channel=channel, external_id=external_id)
    session.add(account)
    await session.flush()
    return account


async def person_for(
    session: AsyncSession, channel: Channel, external_id: str, *, name: str
) -> Person:
    """The person behind the account, created (with the account) on first sight."""
    person = await person_on(session, channel, external_id)
    if person is None:
        person = Person(name=name)
        session.add(person)
        await session.flush()
        await open_account(session, person, channel, external_id)
    return person


async def mark_unreachable(
    session: AsyncSession, channel: Channel, external_id: str, *, at: dt.datetime
) -> None:
    """The person blocked the bot on this account (403): remember since when, so their
    coordinator hears of it; the first time counts."""
    await session.execute(
        update(Account)
        .where(
            Account.channel == channel,
            Account.external_id == external_id,
            Account.unreachable_at.is_(None),
        )
        .values(unreachable_at=at)
    )


async def reachable_again(session: AsyncSession, channel: Channel, external_id: str) -> bool:
    """The person writes on this account again (e.g. /start after unblocking the bot):
    messages reach them there. True if it was marked unreachable."""
    result = await session.execute(
        update(Account)
        .where(
            Account.channel == channel,
            Account.external_id == external_id,
            Account.unreachable_at.is_not(None),
        )
        .values(unreachable_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
