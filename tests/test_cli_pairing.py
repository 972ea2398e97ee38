"""`guanai pair` / `guanai unpair` as an operator runs them, with and without `--scope`."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from domain import regions
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import (
    AuditEntry,
    Child,
    OutboxMessage,
    Pairing,
    Person,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from tests.conftest import SHANGHAI
from tests.test_cli import guanai

AT = dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI)


async def _seed(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            s = uow.session
            await regions.add_region(
                s, code="T1", name="中和镇", kind=RegionKind.township, parent_code=None, at=AT
            )
            school = await regions.add_region(
                s, code="S1", name="中和小学", kind=RegionKind.school, parent_code="T1", at=AT
            )
            await regions.add_region(
                s, code="S2", name="清溪小学", kind=RegionKind.school, parent_code="T1", at=AT
            )
            person = Person(telegram_id=555, name="张阿姨", phone="+8613800138000")
            twins = [Child(site_id=school.id, name="李小花") for _ in range(2)]
            only = Child(site_id=school.id, name="王小明", birth_date=dt.date(2015, 3, 2))
            s.add_all([person, *twins, only])
            await s.flush()
            volunteer = Volunteer(
                person_id=person.id, site_id=school.id, kind=VolunteerKind.surrogate
            )
            s.add(volunteer)
            await s.flush()
            ids = {"volunteer": volunteer.id, "child": only.id, "twin": twins[0].id}
            await uow.commit()
            return ids
    finally:
        await engine.dispose()


async def _read(db_url: str) -> tuple[list[Pairing], list[AuditEntry]]:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            pairs = list(await session.scalars(select(Pairing).order_by(Pairing.id)))
            refusals = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "scope.refused")
                )
            )
            return pairs, refusals
    finally:
        await engine.dispose()


def test_pair_and_unpair_by_phone_and_name_within_a_scope(db_url: str) -> None:
    ids = asyncio.run(_seed(db_url))

    paired = guanai(
        "pair",
        "--volunteer",
        "138 0013 8000",
        "--child",
        "王小明",
        "--scope",
        "S1",
        DATABASE_URL=db_url,
    )
    assert paired.returncode == 0, paired.stderr
    assert str(ids["child"]) in paired.stdout and "王小明" in paired.stdout
    again = guanai("pair", "--volunteer", "555", "--child", str(ids["child"]), DATABASE_URL=db_url)
    assert again.returncode == 1 and "已经" in again.stderr
    ended = guanai(
        "unpair", "--volunteer", str(ids["volunteer"]), "--child", "王小明", DATABASE_URL=db_url
    )
    assert ended.returncode == 0, ended.stderr

    pairs, _refusals = asyncio.run(_read(db_url))
    assert [(p.volunteer_id, p.child_id, p.ended_at is not None) for p in pairs] == [
        (ids["volunteer"], ids["child"], True)
    ]
    told = asyncio.run(_told(db_url, 555))  # the volunteer learns of both, in chat
    assert "从今天起由您照顾王小明（中和小学）" in told[0] and "您和王小明的结对已结束" in told[1]


async def _told(db_url: str, chat_id: int) -> list[str]:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.chat_id == chat_id)
                .order_by(OutboxMessage.id)
            )
            return [payload["text"] for payload in rows]
    finally:
        await engine.dispose()


def test_an_ambiguous_name_lists_the_candidates(db_url: str) -> None:
    ids = asyncio.run(_seed(db_url))

    result = guanai("pair", "--volunteer", "555", "--child", "李小花", DATABASE_URL=db_url)

    assert result.returncode == 1
    assert str(ids["twin"]) in result.stderr and "中和小学" in result.stderr
    assert "Traceback" not in result.stderr
    assert asyncio.run(_read(db_url))[0] == []


def test_outside_the_scope_is_refused_and_audited(db_url: str) -> None:
    ids = asyncio.run(_seed(db_url))

    result = guanai(
        "pair",
        "--volunteer",
        "555",
        "--child",
        str(ids["child"]),
        "--scope",
        "S2",
        DATABASE_URL=db_url,
    )

    assert result.returncode == 1 and "没有" in result.stderr
    pairs, refusals = asyncio.run(_read(db_url))
    assert pairs == []
    assert [(r.subject_type, r.details) for r in refusals] == [
        ("volunteer", {"via": "cli", "scope": "S2"})
    ]
