"""Pairings keep their history; invitations are single-use, expiring, and scope-bound."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import pairings
from domain.clock import FixedClock
from domain.errors import (
    AlreadyPaired,
    InvitationExpired,
    InvitationNotForSite,
    InvitationUnknown,
    InvitationUsed,
    NotPaired,
    UnknownChild,
)
from domain.models import (
    Channel,
    Invitation,
    InvitationRole,
    Pairing,
    PairingRole,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from domain.people import identity, invitations
from tests.factories import make_child, make_person, make_site, make_volunteer


async def test_pair_end_and_reassign_keep_history(session: AsyncSession, clock: FixedClock) -> None:
    site = await make_site(session)
    first = await make_volunteer(session, site, kind=VolunteerKind.surrogate)
    second = await make_volunteer(session, site, kind=VolunteerKind.wulao)
    child = await make_child(session, site)
    at = clock.now()

    pairing = await pairings.pair(
        session,
        volunteer_id=first.id,
        child_id=child.id,
        scope_path=site.path,
        actor_id=None,
        at=at,
    )
    assert pairing.role is PairingRole.surrogate
    with pytest.raises(AlreadyPaired):
        await pairings.pair(
            session,
            volunteer_id=first.id,
            child_id=child.id,
            scope_path=site.path,
            actor_id=None,
            at=at,
        )
    moved = await pairings.reassign(
        session,
        child_id=child.id,
        from_volunteer_id=first.id,
        to_volunteer_id=second.id,
        scope_path=site.path,
        actor_id=None,
        at=at + dt.timedelta(days=1),
    )

    history = (
        await session.scalars(
            select(Pairing).where(Pairing.child_id == child.id).order_by(Pairing.id)
        )
    ).all()
    assert [(p.volunteer_id, p.ended_reason) for p in history] == [
        (first.id, "reassigned"),
        (second.id, None),
    ]
    assert moved.role is PairingRole.mentor
    assert await pairings.loads(session, [first.id, second.id]) == {first.id: 0, second.id: 1}
    with pytest.raises(NotPaired):
        await pairings.unpair(
            session,
            volunteer_id=first.id,
            child_id=child.id,
            scope_path=site.path,
            actor_id=None,
            at=at,
        )


async def test_nobody_pairs_outside_their_scope(session: AsyncSession, clock: FixedClock) -> None:
    mine, theirs = await make_site(session), await make_site(session)
    volunteer = await make_volunteer(session, mine)
    their_child = await make_child(session, theirs)

    with pytest.raises(UnknownChild):
        await pairings.pair(
            session,
            volunteer_id=volunteer.id,
            child_id=their_child.id,
            scope_path=mine.path,
            actor_id=None,
            at=clock.now(),
        )


async def test_an_invitation_makes_a_volunteer_once(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)
    new = await invitations.create(
        session,
        region=site,
        role=InvitationRole.volunteer,
        volunteer_kind=VolunteerKind.wulao,
        created_by=None,
        at=clock.now(),
    )
    stored = await session.get_one(Invitation, new.invitation.id)
    assert new.token not in stored.token_hash and len(new.token) <= 64

    person = await invitations.accept(
        session,
        token=new.token,
        channel=Channel.telegram,
        external_id="4001",
        name="李老师",
        phone="+8613800138000",
        language="zh",
        at=clock.now(),
    )

    me = await identity.identify(session, Channel.telegram, "4001")
    assert me is not None and me.is_volunteer and person.consented_at == clock.now()
    volunteer = await session.scalar(select(Volunteer).where(Volunteer.person_id == person.id))
    assert volunteer is not None and volunteer.kind is VolunteerKind.wulao
    with pytest.raises(InvitationUsed):
        await invitations.accept(
            session,
            token=new.token,
            channel=Channel.telegram,
            external_id="4002",
            name="x",
            phone=None,
            language=None,
            at=clock.now(),
        )
    with pytest.raises(InvitationUnknown):
        await invitations.check(session, "not-a-token", at=clock.now())


async def test_expired_revoked_and_removed_are_refused(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)

    async def invite() -> str:
        return (
            await invitations.create(
                session,
                region=site,
                role=InvitationRole.volunteer,
                volunteer_kind=None,
                created_by=None,
                at=clock.now(),
            )
        ).token

    expired = await invite()
    with pytest.raises(InvitationExpired):
        await invitations.check(session, expired, at=clock.now() + dt.timedelta(days=15))

    revoked = await invite()
    invitation = await invitations.check(session, revoked, at=clock.now())
    coordinator = await make_person(session)
    await invitations.revoke(
        session,
        invitation_id=invitation.id,
        scope_path=site.path,
        actor_id=coordinator.id,
        at=clock.now(),
    )
    with pytest.raises(InvitationUnknown):
        await invitations.check(session, revoked, at=clock.now())

    old_link = await invite()
    person = await invitations.accept(
        session,
        token=await invite(),
        channel=Channel.telegram,
        external_id="4100",
        name="赵",
        phone=None,
        language=None,
        at=clock.now(),
    )
    volunteer = await session.scalar(select(Volunteer).where(Volunteer.person_id == person.id))
    assert volunteer is not None
    volunteer.removed_at = clock.now() + dt.timedelta(hours=1)
    with pytest.raises(InvitationUnknown):
        await invitations.accept(
            session,
            token=old_link,
            channel=Channel.telegram,
            external_id="4100",
            name="赵",
            phone=None,
            language=None,
            at=clock.now() + dt.timedelta(hours=2),
        )


async def test_volunteers_are_invited_to_a_site_not_a_township(
    session: AsyncSession, clock: FixedClock
) -> None:
    township = await make_site(session, kind=RegionKind.township)
    with pytest.raises(InvitationNotForSite):
        await invitations.create(
            session,
            region=township,
            role=InvitationRole.volunteer,
            volunteer_kind=None,
            created_by=None,
            at=clock.now(),
        )
    coordinator_link = await invitations.create(
        session,
        region=township,
        role=InvitationRole.coordinator,
        volunteer_kind=None,
        created_by=None,
        at=clock.now(),
    )
    await invitations.accept(
        session,
        token=coordinator_link.token,
        channel=Channel.telegram,
        external_id="4200",
        name="钱",
        phone=None,
        language=None,
        at=clock.now(),
    )
    me = await identity.identify(session, Channel.telegram, "4200")
    assert me is not None and [s.region_id for s in me.scopes] == [township.id]
