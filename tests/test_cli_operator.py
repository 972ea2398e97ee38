"""The operator's list, show and remove, for every entity, as they run them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import (
    AuditEntry,
    Channel,
    Child,
    Coordinator,
    Guardian,
    Invitation,
    InvitationRole,
    Priority,
    Region,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from domain.people import identity, invitations
from tests.cli_support import Guanai
from tests.conftest import SHANGHAI
from tests.factories import (
    make_checkin,
    make_child,
    make_pairing,
    make_person,
    make_region,
    make_volunteer,
)

AT = dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI)


@pytest.fixture
def cli(guanai: Guanai, db_url: str) -> Guanai:
    guanai.env["DATABASE_URL"] = db_url
    return guanai


@dataclass
class Seeded:
    township: Region
    s1: Region
    s2: Region
    child: Child  # at S1, paired, with a check-in
    plain_child: Child  # at S1, nothing on record
    busy: Volunteer  # at S1, paired with `child`
    idle: Volunteer  # at S1, never paired
    invitation: Invitation


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Seeded:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        district = await make_region(s, code="XS", name="秀山区")
        township = await make_region(
            s, parent=district, kind=RegionKind.township, code="ZH", name="中和镇"
        )
        s1 = await make_region(
            s, parent=township, kind=RegionKind.school, code="S1", name="中和小学"
        )
        s2 = await make_region(
            s, parent=township, kind=RegionKind.village, code="S2", name="清溪村"
        )
        child = await make_child(s, s1, name="李小花", priority=Priority.key)
        s.add(Guardian(child_id=child.id, name="李奶奶", relation="祖母", phone="13812345678"))
        plain = await make_child(s, s1, name="王小明")
        busy = await make_volunteer(s, s1, person=await make_person(s, name="张阿姨"))
        idle = await make_volunteer(
            s, s1, person=await make_person(s, name="刘老师"), kind=VolunteerKind.teacher
        )
        await make_checkin(s, await make_pairing(s, busy, child))
        await identity.add_coordinator(
            s, channel=Channel.telegram, external_id="7001", name="王老师", scope_code="S1", at=AT
        )
        await identity.add_coordinator(
            s, channel=Channel.telegram, external_id="7001", name="王老师", scope_code="S2", at=AT
        )
        invitation = await invitations.create(
            s,
            region=s2,
            role=InvitationRole.volunteer,
            volunteer_kind=VolunteerKind.wulao,
            created_by=None,
            at=dt.datetime.now(dt.UTC),
        )
        await uow.commit()
        return Seeded(township, s1, s2, child, plain, busy, idle, invitation.invitation)


async def audit(sessionmaker: async_sessionmaker[AsyncSession], action: str) -> list[AuditEntry]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(found)


async def test_a_school_needs_its_township_and_a_township_its_district(cli: Guanai) -> None:
    school = await cli("site", "add", "--code", "S1", "--name", "中和小学", "--kind", "school")
    assert school.code == 1
    assert school.err == "错误：学校须添加在乡镇之下：用 --parent 给出乡镇的代码。\n"
    assert (
        await cli("site", "add", "--code", "XS", "--name", "秀山区", "--kind", "district")
    ).code == 0
    town = await cli("site", "add", "--code", "ZH", "--name", "中和镇", "--kind", "township")
    assert town.err == "错误：乡镇须添加在区县之下：用 --parent 给出区县的代码。\n"
    under_district = await cli(
        "site", "add", "--code", "S1", "--name", "x", "--kind", "community", "--parent", "XS"
    )
    assert under_district.err == "错误：社区须添加在乡镇之下：用 --parent 给出乡镇的代码。\n"
    english = await cli(
        "site", "add", "--code", "S1", "--name", "x", "--kind", "village", LANG="en_US.UTF-8"
    )
    assert english.err == (
        "error: A village is added under its township: give the township's code as --parent.\n"
    )
    assert (await cli("site", "list")).out == "区县 XS（秀山区）\n"


async def test_the_tree_listed_shown_and_pruned(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed(sessionmaker)
    async with UnitOfWork(sessionmaker) as uow:
        await make_region(
            uow.session, parent=seeded.township, kind=RegionKind.community, code="S3", name="新街"
        )
        await uow.commit()

    assert (await cli("site", "list")).out == (
        "区县 XS（秀山区）\n"
        "  乡镇 ZH（中和镇）\n"
        "    学校 S1（中和小学）\n"
        "    村 S2（清溪村）\n"
        "    社区 S3（新街）\n"
    )
    assert (await cli("site", "list", "--parent", "ZH", "--kind", "village")).out == (
        "村 S2（清溪村）\n"
    )
    shown = await cli("site", "show", "S1")
    assert shown.out.splitlines() == [
        "学校 S1（中和小学）",
        "上级：XS › ZH",
        "下级区域 0 个，儿童 2 名，志愿者 2 名，负责人 1 名，未使用的邀请 0 个。",
    ]
    english = await cli("site", "show", "ZH", LANG="en_US.UTF-8")
    assert english.out.splitlines()[0] == "ZH 中和镇 (township)"

    refused = await cli("site", "remove", "S1")
    assert refused.code == 1
    assert refused.err == (
        "错误：不能删除 S1：其下有儿童（2）、现任或曾任志愿者（2）、现任或曾任负责人（1）。\n"
    )
    assert (await cli("site", "remove", "ZH")).err == "错误：不能删除 ZH：其下有下级区域（3）。\n"
    removed = await cli("site", "remove", "S3")
    assert (removed.code, removed.out) == (0, "已删除社区 S3（新街）。\n")
    assert "S3" not in (await cli("site", "list")).out
    assert [entry.subject_id for entry in await audit(sessionmaker, "region.remove")] != []


async def test_coordinators_listed_shown_and_removed(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await seed(sessionmaker)
    today = dt.datetime.now(SHANGHAI).date()  # the day the role was recorded

    assert (await cli("admin", "list")).out == (
        f"7001 王老师：学校 S1（中和小学），自 {today} 起\n"
        f"7001 王老师：村 S2（清溪村），自 {today} 起\n"
    )
    assert (await cli("admin", "list", "--scope", "S2")).out.count("\n") == 1
    shown = await cli("admin", "show", "7001")
    assert shown.out.splitlines()[1:] == [
        f"自 {today} 起负责学校 S1（中和小学）。",
        f"自 {today} 起负责村 S2（清溪村）。",
    ]
    removed = await cli("admin", "remove", "7001", "--scope", "S2")
    assert removed.out == "Telegram id 7001 不再负责村 S2（清溪村）。\n"
    again = await cli("admin", "remove", "7001", "--scope", "S2")
    assert again.err == "错误：Telegram id 7001 不是 S2 的负责人。\n"
    assert (await cli("admin", "remove", "7001")).code == 0
    assert (await cli("admin", "list")).out == "没有负责人。\n"
    async with sessionmaker() as session:  # kept on record, ended
        roles = list(await session.scalars(select(Coordinator)))
    assert len(roles) == 2 and all(role.removed_at is not None for role in roles)


async def test_volunteers_listed_shown_and_removed_unless_they_have_history(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed(sessionmaker)
    busy, idle = seeded.busy.id, seeded.idle.id

    assert (await cli("volunteers", "list", "--site", "ZH")).out == (
        f"{idle} 刘老师（教师），S1：结对 0 名儿童，打卡 0 次\n"
        f"{busy} 张阿姨（代理家长），S1：结对 1 名儿童，打卡 1 次\n"
    )
    shown = await cli("volunteers", "show", str(busy))
    assert shown.out.splitlines()[0] == f"志愿者 {busy}：张阿姨（代理家长），学校 S1（中和小学）"
    assert shown.out.splitlines()[2] == f"结对儿童：{seeded.child.id}；打卡 1 次。"

    refused = await cli("volunteers", "remove", str(busy))
    assert (refused.code, refused.err) == (
        1,
        f"错误：不能移除志愿者 {busy}：已有记录：结对（1）、打卡（1）。\n",
    )
    removed = await cli("volunteers", "remove", str(idle))
    assert removed.out == f"已将志愿者 {idle}（刘老师）从 S1 移除。\n"
    assert (
        await cli("volunteers", "show", str(idle))
    ).err == f"错误：没有编号为 {idle} 的志愿者。\n"
    async with sessionmaker() as session:
        assert (await session.get_one(Volunteer, idle)).removed_at is not None


async def test_children_listed_and_shown_are_audited_and_removed_unless_cared_for(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed(sessionmaker)
    child, plain = seeded.child, seeded.plain_child

    listed = await cli("children", "list", "--site", "S1")
    assert listed.out.splitlines() == [
        f"{child.id} 李小花，{child.birth_date} 出生，S1，重点儿童：1 名志愿者，打卡 1 次",
        f"{plain.id} 王小明，{plain.birth_date} 出生，S1：0 名志愿者，打卡 0 次",
    ]
    shown = await cli("children", "show", str(child.id))
    assert "监护人：李奶奶（祖母），电话 13812345678" in shown.out.splitlines()
    assert shown.out.splitlines()[-1] == f"结对志愿者：{seeded.busy.id} 张阿姨；打卡 1 次。"
    assert [
        (e.subject_type, e.subject_id, e.details) for e in await audit(sessionmaker, "child.view")
    ] == [("child", child.id, {"via": "cli"})]
    assert [(e.subject_id, e.details) for e in await audit(sessionmaker, "children.list")] == [
        (seeded.s1.id, {"via": "cli", "children": 2})
    ]

    refused = await cli("children", "remove", str(child.id))
    assert refused.err == f"错误：不能删除儿童 {child.id}：已有记录：结对（1）、打卡（1）。\n"
    removed = await cli("children", "remove", str(plain.id))
    assert removed.out == f"已删除儿童 {plain.id}（王小明）。\n"
    assert (await cli("children", "show", str(plain.id))).err == (
        f"错误：没有编号为 {plain.id} 的儿童。\n"
    )
    assert (await cli("children", "show", "99999999999")).code == 1


async def test_outside_the_scope_says_so_without_saying_more(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed(sessionmaker)

    child = await cli("children", "show", str(seeded.child.id), "--scope", "S2")
    assert child.err == "错误：这名儿童不在 S2（--scope 给出的区域）之内。\n"
    assert "李小花" not in child.err + child.out
    site = await cli("site", "remove", "S1", "--scope", "S2")
    assert site.err == "错误：S1不在 S2（--scope 给出的区域）之内。\n"
    volunteer = await cli("volunteers", "remove", str(seeded.idle.id), "--scope", "S2")
    assert volunteer.err == "错误：这名志愿者不在 S2（--scope 给出的区域）之内。\n"
    pairing = await cli(
        "pair", "--volunteer", str(seeded.idle.id), "--child", "王小明", "--scope", "S2"
    )
    assert pairing.err == "错误：这名志愿者不在 S2（--scope 给出的区域）之内。\n"
    english = await cli("children", "remove", str(seeded.child.id), "--scope", "S2", LANG="en")
    assert english.err == "error: This child is not in S2, the region given with --scope.\n"
    assert [(e.subject_type, e.details) for e in await audit(sessionmaker, "scope.refused")] == [
        ("child", {"via": "cli", "scope": "S2"}),
        ("region", {"via": "cli", "scope": "S2"}),
        ("volunteer", {"via": "cli", "scope": "S2"}),
        ("volunteer", {"via": "cli", "scope": "S2"}),
        ("child", {"via": "cli", "scope": "S2"}),
    ]
    async with sessionmaker() as session:  # nothing changed
        assert (await session.get_one(Volunteer, seeded.idle.id)).removed_at is None


async def test_invitations_listed_and_revoked(
    cli: Guanai, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed(sessionmaker)
    number = seeded.invitation.id

    listed = await cli("invitations", "list", "--site", "ZH")
    assert listed.out.startswith(f"{number} 村 S2（清溪村）：邀请“五老”志愿者，有效期至 ")
    assert (await cli("invitations", "list", "--site", "S1")).out == "没有邀请。\n"
    revoked = await cli("invitations", "remove", str(number))
    assert revoked.out == f"已撤销邀请 {number}：其链接不再有效。\n"
    assert (await cli("invitations", "list")).out == "没有邀请。\n"
    assert "已撤销" in (await cli("invitations", "list", "--all")).out
    assert (await cli("invitations", "remove", str(number))).err == (
        f"错误：邀请 {number} 已经撤销过了。\n"
    )
    assert (await cli("invitations", "remove", "abc")).code == 2
