"""`guanai pair` / `guanai unpair` as an operator runs them, with and without `--scope`."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import (
    AuditEntry,
    Child,
    OutboxMessage,
    Pairing,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from domain.people import regions
from tests.cli_support import Guanai
from tests.conftest import SHANGHAI
from tests.factories import make_person
from tests.outbox_support import shown

AT = dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI)


@pytest.fixture
def cli(guanai: Guanai, db_url: str) -> Guanai:
    guanai.env["DATABASE_URL"] = db_url
    return guanai


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
            person = await make_person(s, telegram_id=555, name="张阿姨", phone="+8613800138000")
            twins = [Child(site_id=school.id, name="李小花") for _ in range(2)]
            only = Child(site_id=school.id, name="王小明", birth_date=dt.date(2015, 3, 2))
            s.add_all([*twins, only])
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


async def test_pair_and_unpair_by_phone_and_name_within_a_scope(cli: Guanai, db_url: str) -> None:
    ids = await _seed(db_url)

    paired = await cli("pair", "--volunteer", "138 0013 8000", "--child", "王小明", "--scope", "S1")
    assert paired.code == 0, paired.err
    assert str(ids["child"]) in paired.out and "王小明" in paired.out
    again = await cli("pair", "--volunteer", "555", "--child", str(ids["child"]))
    assert again.code == 1 and "已经" in again.err
    ended = await cli("unpair", "--volunteer", str(ids["volunteer"]), "--child", "王小明")
    assert ended.code == 0, ended.err

    pairs, _refusals = await _read(db_url)
    assert [(p.volunteer_id, p.child_id, p.ended_at is not None) for p in pairs] == [
        (ids["volunteer"], ids["child"], True)
    ]
    told = await _told(db_url, 555)  # the volunteer learns of both, in chat
    assert "从今天起由您照顾王小明（中和小学）" in told[0] and "您和王小明的结对已结束" in told[1]


async def _told(db_url: str, chat_id: int) -> list[str]:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(OutboxMessage.content)
                .where(OutboxMessage.target == str(chat_id))
                .order_by(OutboxMessage.id)
            )
            return [shown(content)["text"] for content in rows]
    finally:
        await engine.dispose()


async def test_an_ambiguous_name_lists_the_candidates(cli: Guanai, db_url: str) -> None:
    ids = await _seed(db_url)

    result = await cli("pair", "--volunteer", "555", "--child", "李小花")

    assert result.code == 1
    assert str(ids["twin"]) in result.err and "中和小学" in result.err
    assert "Traceback" not in result.err
    assert (await _read(db_url))[0] == []


async def test_outside_the_scope_is_refused_and_audited(cli: Guanai, db_url: str) -> None:
    ids = await _seed(db_url)

    result = await cli("pair", "--volunteer", "555", "--child", str(ids["child"]), "--scope", "S2")

    assert result.code == 1
    assert result.err == "错误：这名志愿者不在 S2（--scope 给出的区域）之内。\n"
    pairs, refusals = await _read(db_url)
    assert pairs == []
    assert [(r.subject_type, r.details) for r in refusals] == [
        ("volunteer", {"via": "cli", "scope": "S2"})
    ]
