"""Accounts: a person is one identity on every channel they have an account on; an account
is one person's; whether the bot reaches them is the account's, not the person's."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import FixedClock
from domain.delivery import messaging
from domain.delivery.addresses import Address
from domain.models import Account, Channel, InvitationRole, VolunteerKind
from domain.people import accounts, identity, invitations
from domain.people.accounts import AccountTaken
from tests.factories import make_person, make_site, make_volunteer, telegram_account

WANG_ON_MATRIX = "@wang:county.example"


async def test_a_person_with_two_accounts_is_one_identity(session: AsyncSession) -> None:
    site = await make_site(session)
    wang = await make_person(session, telegram_id=7301, name="王阿姨")
    volunteer = await make_volunteer(session, site, person=wang)
    await accounts.open_account(session, wang, Channel.matrix, WANG_ON_MATRIX)

    on_telegram = await identity.identify(session, Channel.telegram, "7301")
    on_matrix = await identity.identify(session, Channel.matrix, WANG_ON_MATRIX)

    assert on_telegram is not None and on_telegram == on_matrix
    assert (on_matrix.person_id, on_matrix.volunteer_ids) == (wang.id, (volunteer.id,))
    # the same external id on another channel is somebody else's (here nobody's)
    assert await identity.identify(session, Channel.matrix, "7301") is None
    assert await accounts.address(session, wang.id, Channel.matrix) == WANG_ON_MATRIX
    assert (await accounts.person_on(session, Channel.telegram, "7301")) is wang


async def test_an_account_someone_has_is_refused_to_anyone_else(session: AsyncSession) -> None:
    wang = await make_person(session, telegram_id=7302)
    li = await make_person(session, telegram_id=None)
    await accounts.open_account(session, wang, Channel.matrix, WANG_ON_MATRIX)

    with pytest.raises(AccountTaken):
        await accounts.open_account(session, li, Channel.matrix, WANG_ON_MATRIX)
    with pytest.raises(AccountTaken):
        await accounts.open_account(session, li, Channel.telegram, "7302")
    # opening one's own account again changes nothing
    again = await accounts.open_account(session, wang, Channel.matrix, WANG_ON_MATRIX)
    assert again.person_id == wang.id
    assert await accounts.on_channel(session, [li.id], Channel.matrix) == {}


async def test_the_database_refuses_a_second_account_with_the_same_channel_and_id(
    session: AsyncSession,
) -> None:
    wang = await make_person(session, telegram_id=7303)
    li = await make_person(session, telegram_id=None)

    with pytest.raises(IntegrityError, match="uq_accounts_channel_external_id"):
        async with session.begin_nested():
            session.add(Account(person_id=li.id, channel=Channel.telegram, external_id="7303"))
            await session.flush()
    # and a second address of one person on one channel: whom would a message go to?
    with pytest.raises(IntegrityError, match="uq_accounts_person_id_channel"):
        async with session.begin_nested():
            session.add(Account(person_id=wang.id, channel=Channel.telegram, external_id="7304"))
            await session.flush()


async def test_a_blocked_telegram_account_leaves_the_person_reachable_elsewhere(
    session: AsyncSession, clock: FixedClock
) -> None:
    wang = await make_person(session, telegram_id=7305)
    await accounts.open_account(session, wang, Channel.matrix, WANG_ON_MATRIX)
    li = await make_person(session, telegram_id=7306)

    await accounts.mark_unreachable(session, Channel.telegram, "7305", at=clock.now())

    blocked = await telegram_account(session, wang.id)
    assert blocked.unreachable_at == clock.now()
    matrix = (await accounts.on_channel(session, [wang.id], Channel.matrix))[wang.id]
    assert matrix.unreachable_at is None
    told = await messaging.recipients(session, [wang.id, li.id])
    # blocked on Telegram, Wang is written to on Matrix; Li has only Telegram
    assert (told[wang.id].reachable, told[wang.id].address) == (
        True,
        Address("matrix", WANG_ON_MATRIX),
    )
    assert (told[li.id].reachable, told[li.id].address) == (True, Address("telegram", "7306"))
    # the person is still who they were, on both channels
    assert await identity.identify(session, Channel.telegram, "7305") is None  # no role yet
    assert await accounts.person_on(session, Channel.telegram, "7305") is wang

    assert await accounts.reachable_again(session, Channel.telegram, "7305") is True
    assert await accounts.reachable_again(session, Channel.telegram, "7305") is False
    await session.refresh(blocked)
    assert blocked.unreachable_at is None
    told = await messaging.recipients(session, [wang.id])
    assert told[wang.id].reachable


async def test_someone_with_only_a_matrix_account_is_written_to_there(
    session: AsyncSession,
) -> None:
    matrix_only = await make_person(session, telegram_id=None)
    await accounts.open_account(session, matrix_only, Channel.matrix, "@li:county.example")

    told = await messaging.recipients(session, [matrix_only.id])

    assert (told[matrix_only.id].address, told[matrix_only.id].reachable) == (
        Address("matrix", "@li:county.example"),
        True,
    )


async def test_joining_by_invitation_opens_the_account_it_came_from(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)

    async def join(channel: Channel, external_id: str) -> int:
        new = await invitations.create(
            session,
            region=site,
            role=InvitationRole.volunteer,
            volunteer_kind=VolunteerKind.surrogate,
            created_by=None,
            at=clock.now(),
        )
        person = await invitations.accept(
            session,
            token=new.token,
            channel=channel,
            external_id=external_id,
            name="赵阿姨",
            phone=None,
            language=None,
            at=clock.now(),
        )
        return person.id

    zhao = await join(Channel.matrix, "@zhao:county.example")
    me = await identity.identify(session, Channel.matrix, "@zhao:county.example")
    assert me is not None and me.person_id == zhao and me.is_volunteer
    assert await accounts.on_channel(session, [zhao], Channel.telegram) == {}

    # someone who blocked the bot and joins again from that account is reachable again
    again = await join(Channel.telegram, "7307")
    await accounts.mark_unreachable(session, Channel.telegram, "7307", at=clock.now())
    assert await join(Channel.telegram, "7307") == again
    assert (await telegram_account(session, again)).unreachable_at is None
