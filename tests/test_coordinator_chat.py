"""A coordinator's day, end to end through the fake Bot API: invite, pair, overview,
overdue, escalations; and a coordinator of another site who may see none of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.callbacks import (
    ChildOpen,
    ChildView,
    EscalationAct,
    EscalationAction,
    PairAct,
    PairStep,
)
from domain.db import UnitOfWork
from domain.models import (
    Account,
    AuditEntry,
    Channel,
    Child,
    Escalation,
    EscalationKind,
    EscalationStep,
    OutboxMessage,
    Pairing,
    Person,
    Priority,
    RegionKind,
)
from domain.people import identity, invitations, regions
from tests.conftest import RunningBot
from tests.factories import on_telegram
from tests.outbox_support import chat_of, shown

BOTH_DELIVERIES = True  # every chat test here runs polling and through the webhook

T = TypeVar("T")

WANG = 9001  # coordinator of the school
ZHAO = 9003  # coordinator of the township above it
LIU = 9004  # coordinator of another school
VOLUNTEER = 9100


async def seed(sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime) -> int:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        await regions.add_region(
            s, code="T1", name="中和镇", kind=RegionKind.township, parent_code=None, at=at
        )
        school = await regions.add_region(
            s, code="S1", name="中和小学", kind=RegionKind.school, parent_code="T1", at=at
        )
        await regions.add_region(
            s, code="S2", name="清溪小学", kind=RegionKind.school, parent_code="T1", at=at
        )
        child = Child(site_id=school.id, name="李小花", priority=Priority.key)
        s.add(child)
        for telegram_id, name, scope in (
            (WANG, "王老师", "S1"),
            (ZHAO, "赵主任", "T1"),
            (LIU, "刘老师", "S2"),
        ):
            await identity.add_coordinator(
                s,
                channel=Channel.telegram,
                external_id=str(telegram_id),
                name=name,
                scope_code=scope,
                at=at,
            )
        await s.flush()
        await uow.commit()
        return child.id


async def committed(
    sessionmaker: async_sessionmaker[AsyncSession],
    probe: Callable[[AsyncSession], Awaitable[T | None]],
) -> T:
    """Wait until the database shows something: replies go out before the update commits."""
    async with asyncio.timeout(5):
        while True:
            async with sessionmaker() as session:
                found = await probe(session)
            if found is not None:
                return found
            await asyncio.sleep(0.02)


async def audit_actions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[tuple[str, int | None]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.subject_id).order_by(AuditEntry.id)
        )
        return [(action, subject) for action, subject in rows]


async def test_invite_pair_see_it_and_act_on_an_escalation(running_bot: RunningBot) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    child_id = await seed(sessionmaker, clock.now())
    wang = fake.user(WANG)

    # ✉️ invite a surrogate parent: the school is the only place, so the link comes at once
    wang.send_text("✉️ 邀请")
    kinds = await wang.next_message()
    wang.press(kinds.callback_data("代理家长"), kinds)
    link = await wang.next_message()
    match = re.search(r"https://t\.me/guanai_test_bot\?start=(\S+)", link.text or "")
    assert match is not None and "中和小学" in (link.text or "")
    async with UnitOfWork(sessionmaker) as uow:
        await invitations.accept(
            uow.session,
            token=match.group(1),
            channel=Channel.telegram,
            external_id=str(VOLUNTEER),
            name="张阿姨",
            phone="+8613800138000",
            language=None,
            at=clock.now(),
        )
        await uow.commit()
    wang.send_text("✉️ 邀请")
    kinds = await wang.next_message()
    wang.press(kinds.callback_data("邀请记录"), kinds)
    listed = await fake.wait_until(lambda: "张阿姨" in (kinds.text or "") or None)
    assert listed and "加入中和小学" in (kinds.text or "")

    # 🤝 pair: the uncovered key child is offered, a search finds her too
    wang.send_text("🤝 结对")
    offer = await wang.next_message()
    assert "⚠️ 李小花" in offer.button_texts()[0]
    wang.send_text("小花")
    found = await wang.next_message()
    wang.press(found.callback_data("李小花"), found)
    await fake.wait_until(lambda: "还没有结对" in (found.text or "") or None)
    wang.press(found.callback_data("结对志愿者"), found)
    await fake.wait_until(lambda: "请为李小花选择" in (found.text or "") or None)
    assert found.button_texts() == ["张阿姨 · 代理家长 · 现结对 0 个孩子"]
    wang.press(found.callback_data("张阿姨"), found)
    await fake.wait_until(lambda: "要让张阿姨和李小花结对吗" in (found.text or "") or None)
    wang.press(found.callback_data("确定"), found)
    await fake.wait_until(lambda: "张阿姨已和李小花结对" in (found.text or "") or None)
    pairing = await committed(
        sessionmaker,
        lambda session: session.scalar(select(Pairing).where(Pairing.child_id == child_id)),
    )
    assert pairing.ended_at is None

    # 📊 the overview counts her as covered now
    wang.send_text("📊 概况")
    figures = (await wang.next_message()).text or ""
    assert "重点 1 人，其中没有代理家长 0 人" in figures
    assert "志愿者：1 人" in figures and "本月“六个一”：0/5" in figures

    # ⏰ in December, November's care is overdue
    clock.move(dt.timedelta(days=16))  # 2 December
    wang.send_text("⏰ 逾期")
    late = await wang.next_message()
    assert "1. ⚠️ 李小花 · 张阿姨 — 2026年11月：" in (late.text or "")
    assert "家访" in (late.text or "") and "已逾期 2 天" in (late.text or "")
    assert late.button_texts()[:3] == ["✉️ 提醒 1", "🔁 改派 1", "✅ 已处理 1"]
    update_id = wang.press(late.callback_data("✉️ 提醒 1"), late)
    assert (await fake.wait_callback_answer(update_id)).params["text"] == "已发给志愿者。"
    update_id = wang.press(late.callback_data("✉️ 提醒 1"), late)
    assert (await fake.wait_callback_answer(update_id)).params["text"] == "今天已经提醒过了。"
    nudge = await committed(
        sessionmaker,
        lambda session: session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("nudge:"))
        ),
    )
    assert chat_of(nudge) == VOLUNTEER
    said = shown(nudge)["text"]
    assert "张阿姨您好，王老师温馨提醒您" in said
    assert "李小花" in said and "家访" in said and "2026年11月" in said  # whose, and what
    assert "小助手" not in said
    wang.press(late.callback_data("✅ 已处理 1"), late)
    await fake.wait_until(lambda: "没有逾期事项" in (late.text or "") or None)

    # an escalation reaches the school and the township; the first to take it has it
    async with UnitOfWork(sessionmaker) as uow:
        escalation = Escalation(
            kind=EscalationKind.dropout,
            item_key="dropout:test",
            child_id=child_id,
            opened_at=clock.now(),
        )
        uow.session.add(escalation)
        await uow.session.flush()
        recipients = await uow.session.scalars(
            select(Account.person_id)
            .where(Account.external_id.in_([str(WANG), str(ZHAO)]))
            .order_by(Account.person_id)
        )
        for step, person_id in enumerate(recipients):
            uow.session.add(
                EscalationStep(
                    escalation_id=escalation.id,
                    step=step,
                    region_id=1,
                    recipient_id=person_id,
                    decided_at=clock.now(),
                )
            )
        await uow.commit()
    buttons = InlineKeyboardBuilder()
    for act in EscalationAct:
        buttons.button(
            text=act.value, callback_data=EscalationAction(escalation_id=escalation.id, act=act)
        )
    zhao = fake.user(ZHAO)
    for chat in (WANG, ZHAO):
        await running_bot.bot.send_message(chat, "李小花 未到校", reply_markup=buttons.as_markup())
    to_wang = await wang.next_message()
    to_zhao = await zhao.next_message()

    update_id = wang.press(to_wang.callback_data("take"), to_wang)
    assert "由您处理" in (await fake.wait_callback_answer(update_id)).params["text"]
    clock.move(dt.timedelta(minutes=5))
    for act in ("take", "resolve"):
        update_id = zhao.press(to_zhao.callback_data(act), to_zhao)
        answer = await fake.wait_callback_answer(update_id)
        assert answer.params["text"] == "已由 王老师 于 12月2日 10:00 处理"
    async with sessionmaker() as session:
        stored = await session.get_one(Escalation, escalation.id)
        steps = list(await session.scalars(select(EscalationStep).order_by(EscalationStep.step)))
        wang_id = await session.scalar(select(Person.id).where(on_telegram(WANG)))
    assert stored.acknowledged_by == wang_id and stored.closed_at is None
    assert [s.acknowledged_at is not None for s in steps] == [
        s.recipient_id == wang_id for s in steps
    ]

    # 已解决 with a note closes it
    wang.press(to_wang.callback_data("已解决"), to_wang)
    assert "怎么解决" in ((await wang.next_message()).text or "")
    wang.send_text("孩子已回校上课")
    assert "已办结" in ((await wang.next_message()).text or "")
    stored = await committed(
        sessionmaker,
        lambda session: session.scalar(
            select(Escalation).where(
                Escalation.id == escalation.id, Escalation.closed_at.is_not(None)
            )
        ),
    )
    assert stored.resolution_note == "孩子已回校上课"
    actions = [action for action, _ in await audit_actions(sessionmaker)]
    assert {"pairing.start", "overdue.nudge", "escalation.take", "escalation.resolved"} <= set(
        actions
    )


async def test_a_coordinator_of_another_site_sees_nothing_of_the_child(
    running_bot: RunningBot,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    child_id = await seed(sessionmaker, clock.now())
    liu = fake.user(LIU)

    liu.send_text("🤝 结对")
    offer = await liu.next_message()
    assert "李小花" not in str(offer.button_texts())
    liu.send_text("小花")
    assert "没有名字里带“小花”的孩子" in ((await liu.next_message()).text or "")

    for forged in (
        ChildOpen(child_id=child_id, view=ChildView.card),
        ChildOpen(child_id=child_id, view=ChildView.pairing),
        PairStep(act=PairAct.confirm, child_id=child_id, volunteer_id=1),
    ):
        update_id = liu.press(forged.pack(), offer)
        answer = await fake.wait_callback_answer(update_id)
        assert answer.params["text"] == "您负责的范围内没有这个孩子。"
    refusals = [
        subject
        for action, subject in await audit_actions(sessionmaker)
        if action == "scope.refused"
    ]
    assert refusals == [child_id] * 3
    assert not [a for a, _ in await audit_actions(sessionmaker) if a == "child.view"]


async def test_a_township_invites_a_school_coordinator_and_revokes_the_link(
    running_bot: RunningBot,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    await seed(sessionmaker, clock.now())
    zhao, wang = fake.user(ZHAO), fake.user(WANG)

    zhao.send_text("✉️ 邀请")
    kinds = await zhao.next_message()
    zhao.press(kinds.callback_data("下级单位负责人"), kinds)
    await fake.wait_until(lambda: "请选择地点" in (kinds.text or "") or None)
    assert set(kinds.button_texts()) == {"中和小学", "清溪小学"}
    zhao.press(kinds.callback_data("清溪小学"), kinds)
    link = await zhao.next_message()
    assert "负责人" in (link.text or "") and "清溪小学" in (link.text or "")

    wang.send_text("✉️ 邀请")  # a school's coordinator has nobody below
    theirs = await wang.next_message()
    update_id = wang.press(theirs.callback_data("下级单位负责人"), theirs)
    assert (await fake.wait_callback_answer(update_id)).params["text"] == "您的下面没有下级单位。"

    zhao.send_text("✉️ 邀请")
    kinds = await zhao.next_message()
    zhao.press(kinds.callback_data("邀请记录"), kinds)
    await fake.wait_until(lambda: "作废" in str(kinds.button_texts()) or None)
    revoke = kinds.callback_data("作废")
    update_id = wang.press(revoke, theirs)  # not wang's to revoke: outside his school
    assert "无效" in (await fake.wait_callback_answer(update_id)).params["text"]
    zhao.press(revoke, kinds)
    await fake.wait_until(lambda: "还没有邀请记录" in (kinds.text or "") or None)
    refusals = [a for a, _ in await audit_actions(sessionmaker) if a == "scope.refused"]
    assert refusals == ["scope.refused"]
