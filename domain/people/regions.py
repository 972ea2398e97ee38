"""The region tree (district → township → school / village / community) and scopes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import (
    BadParent,
    NeedsParent,
    PlaceOutOfScope,
    RegionExists,
    RegionOutOfScope,
    UnknownRegion,
)
from domain.models import Region, RegionKind
from domain.people import audit

_LEVEL = {
    RegionKind.district: 0,
    RegionKind.township: 1,
    RegionKind.school: 2,
    RegionKind.village: 2,
    RegionKind.community: 2,
}

# What each level sits right under in a tree built whole, as the operator builds it.
PARENT_KIND = {
    RegionKind.township: RegionKind.district,
    RegionKind.school: RegionKind.township,
    RegionKind.village: RegionKind.township,
    RegionKind.community: RegionKind.township,
}


def check_parent(kind: RegionKind, parent_kind: RegionKind | None, *, whole_tree: bool) -> None:
    """A level may only sit under a higher level; in a tree built whole (the operator's
    command line), right under the level above it."""
    if parent_kind is not None and _LEVEL[parent_kind] >= _LEVEL[kind]:
        raise BadParent(kind=kind, parent_kind=parent_kind)
    needed = PARENT_KIND.get(kind)
    if whole_tree and needed is not None and parent_kind is not needed:
        raise NeedsParent(kind=kind, parent_kind=needed)


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
    whole_tree: bool = False,
) -> Region:
    """Add a node under its parent; a level may only sit under a higher level, and with
    `whole_tree` right under the level above it (a school under a township, a township
    under a district), as the operator's command line requires."""
    if await session.scalar(select(Region.id).where(Region.code == code)) is not None:
        raise RegionExists(code=code)
    parent = await by_code(session, parent_code) if parent_code else None
    check_parent(kind, parent.kind if parent else None, whole_tree=whole_tree)
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


def require_within(
    region: Region, scope_paths: Sequence[str] | None, *, by_id: bool = False
) -> None:
    """Refuse (the edges audit it) unless the region lies in one of the scopes; None is the
    operator's command line, which sees everything. A region asked for `by_id` (a button)
    is refused without its code, which the asker did not give."""
    if scope_paths is not None and not any(within(region.path, p) for p in scope_paths):
        if by_id:
            raise PlaceOutOfScope(region.id)
        raise RegionOutOfScope(region.id, code=region.code)


async def sites_within(session: AsyncSession, scope_paths: Sequence[str]) -> list[Region]:
    """The schools, villages and communities in any of the scopes, by code."""
    if not scope_paths:
        return []
    found = await session.scalars(
        select(Region)
        .where(
            Region.kind.in_([kind for kind in RegionKind if kind.is_site]),
            or_(*(Region.path.startswith(path) for path in scope_paths)),
        )
        .order_by(Region.code)
    )
    return list(found)


async def inherited(
    session: AsyncSession, site_paths: Iterable[str], column: str, default: int
) -> dict[str, int]:
    """A region setting per site path: the value set nearest up the tree, else the default."""
    paths = set(site_paths)
    ids = {int(part) for path in paths for part in path.split("/") if part}
    setting = getattr(Region, column)
    set_here = {
        row.path: int(row.value)
        for row in await session.execute(
            select(Region.path, setting.label("value")).where(
                Region.id.in_(ids), setting.is_not(None)
            )
        )
    }
    result = {}
    for path in paths:
        found = [p for p in set_here if within(path, p)]
        result[path] = set_here[max(found, key=len)] if found else default
    return result
