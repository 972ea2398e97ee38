"""The region tree (district → township → school / village / community) and scopes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.errors import BadParent, RegionExists, UnknownRegion
from domain.models import Region, RegionKind

_LEVEL = {
    RegionKind.district: 0,
    RegionKind.township: 1,
    RegionKind.school: 2,
    RegionKind.village: 2,
    RegionKind.community: 2,
}


async def by_code(session: AsyncSession, code: str) -> Region:
    region = await session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise UnknownRegion(code=code)
    return region


async def add_region(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    kind: RegionKind,
    parent_code: str | None,
    at: dt.datetime,
    actor_id: int | None = None,
) -> Region:
    """Add a node under its parent; a level may only sit under a higher level."""
    if await session.scalar(select(Region.id).where(Region.code == code)) is not None:
        raise RegionExists(code=code)
    parent = await by_code(session, parent_code) if parent_code else None
    if parent is not None and _LEVEL[parent.kind] >= _LEVEL[kind]:
        raise BadParent(kind=kind.value, parent_kind=parent.kind.value)
    region = Region(code=code, name=name, kind=kind, parent_id=parent and parent.id, path="")
    session.add(region)
    await session.flush()
    region.path = f"{parent.path if parent else ''}{region.id}/"
    audit.record(
        session,
        at=at,
        action="region.add",
        actor_id=actor_id,
        subject_type="region",
        subject_id=region.id,
    )
    return region


def within(region_path: str, scope_path: str) -> bool:
    """True when a region lies in a scope (the scope itself or anything under it)."""
    return region_path.startswith(scope_path)
