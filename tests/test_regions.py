"""The region tree and coordinators, on the rolled-back session."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import FixedClock
from domain.errors import AlreadyCoordinator, BadParent, RegionExists, UnknownRegion
from domain.models import AuditEntry, Channel, RegionKind
from domain.people import identity, regions


async def _tree(session: AsyncSession, clock: FixedClock) -> None:
    at = clock.now()
    await regions.add_region(
        session, code="D", name="区", kind=RegionKind.district, parent_code=None, at=at
    )
    await regions.add_region(
        session, code="T", name="镇", kind=RegionKind.township, parent_code="D", at=at
    )
    await regions.add_region(
        session, code="S", name="小学", kind=RegionKind.school, parent_code="T", at=at
    )


async def test_paths_make_scopes(session: AsyncSession, clock: FixedClock) -> None:
    await _tree(session, clock)
    district = await regions.by_code(session, "D")
    school = await regions.by_code(session, "S")

    assert regions.within(school.path, district.path)
    assert not regions.within(district.path, school.path)


async def test_a_level_only_sits_under_a_higher_one(
    session: AsyncSession, clock: FixedClock
) -> None:
    await _tree(session, clock)
    with pytest.raises(BadParent):
        await regions.add_region(
            session, code="X", name="x", kind=RegionKind.township, parent_code="S", at=clock.now()
        )
    with pytest.raises(UnknownRegion):
        await regions.add_region(
            session, code="X", name="x", kind=RegionKind.school, parent_code="NOPE", at=clock.now()
        )
    with pytest.raises(RegionExists):
        await regions.add_region(
            session, code="S", name="x", kind=RegionKind.school, parent_code="T", at=clock.now()
        )


async def test_a_coordinator_is_identified_with_their_scope(
    session: AsyncSession, clock: FixedClock
) -> None:
    await _tree(session, clock)
    await identity.add_coordinator(
        session,
        channel=Channel.telegram,
        external_id="777",
        name="王老师",
        scope_code="T",
        at=clock.now(),
    )

    me = await identity.identify(session, Channel.telegram, "777")
    assert me is not None and me.is_coordinator and not me.is_volunteer
    assert [scope.code for scope in me.scopes] == ["T"]
    assert await identity.identify(session, Channel.telegram, "778") is None
    audited = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "coordinator.add")
    )
    assert audited == 1
    with pytest.raises(AlreadyCoordinator):
        await identity.add_coordinator(
            session,
            channel=Channel.telegram,
            external_id="777",
            name="王老师",
            scope_code="T",
            at=clock.now(),
        )
