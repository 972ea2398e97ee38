"""值班表: a site's coordinator sets the duty rota in chat; the weekly roster shows it.
End to end through the fake Bot API, with another site's coordinator who may not touch it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.callbacks import DutySet
from domain.care import duty
from domain.db import UnitOfWork
from domain.models import AuditEntry, Channel, DutyRota, RegionKind
from domain.people import identity, regions
from domain.reports import rosters
from tests.conftest import SHANGHAI, RunningBot
from tests.factories import make_child, make_pairing, make_person, make_volunteer

WANG = 9201  # coordinator of 中和小学
ZHAO = 9202  # coordinator of the township
LIU = 9203  # coordinator of 清溪小学
NOVEMBER_16 = dt.date(2026, 11, 16)  # a Monday


async def seed(sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime) -> dict[str, int]:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        await regions.add_region(
            s, code="T1", name="中和镇", kind=RegionKind.township, parent_code=None, at=at
        )
        school = await regions.add_region(
            s, code="S1", name="中和小学", kind=RegionKind.school, parent_code="T1", at=at
        )
        other = await regions.add_region(
            s, code="S2", name="清溪小学", kind=RegionKind.school, parent_code="T1", at=at
        )
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
        zhang = await make_volunteer(s, school, person=await make_person(s, name="张阿姨"))
        li = await make_volunteer(s, school, person=await make_person(s, name="李老师"))
        chen = await make_volunteer(s, other, person=await make_person(s, name="陈老师"))
        await make_pairing(s, zhang, await make_child(s, school, name="小明"), started_at=at)
        await uow.commit()
        return {"school": school.id, "zhang": zhang.id, "li": li.id, "chen": chen.id}


async def test_a_site_coordinator_sets_the_rota_and_the_roster_shows_it(
    running_bot: RunningBot,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    ids = await seed(sessionmaker, clock.now())
    wang = fake.user(WANG)

    wang.send_text("🗓 值班表")
    rota = await wang.next_message()
    assert "🗓 中和小学留守儿童之家值班表：" in (rota.text or "")
    assert "周三：（未安排）" in (rota.text or "")

    wang.press(rota.callback_data("周三"), rota)
    await fake.wait_until(lambda: "留守儿童之家周三由谁值班" in (rota.text or "") or None)
    assert rota.button_texts() == ["张阿姨", "李老师", "无人值班", "‹ 返回"]
    update_id = wang.press(rota.callback_data("张阿姨"), rota)
    assert (await fake.wait_callback_answer(update_id)).params["text"] == "已保存。"
    await fake.wait_until(lambda: "周三：张阿姨" in (rota.text or "") or None)

    async with sessionmaker() as session:
        [row] = (await session.scalars(select(DutyRota))).all()
        assert (row.site_id, row.weekday, row.volunteer_id) == (ids["school"], 2, ids["zhang"])
        actions = (await session.scalars(select(AuditEntry.action))).all()
        assert "duty.set" in actions
        week = await rosters.compute_week(
            session,
            now=dt.datetime(2026, 11, 16, 8, tzinfo=SHANGHAI),
            tz=SHANGHAI,
            scope_path="",
        )
    on_duty = {v.volunteer_id: v.duty_days for v in week.volunteers}
    assert on_duty[ids["zhang"]] == [dt.date(2026, 11, 18)]  # the Wednesday of that week
    assert on_duty[ids["li"]] == []

    # nobody on Wednesday after all
    wang.press(rota.callback_data("周三"), rota)
    await fake.wait_until(lambda: "由谁值班" in (rota.text or "") or None)
    wang.press(rota.callback_data("无人值班"), rota)
    await fake.wait_until(lambda: "周三：（未安排）" in (rota.text or "") or None)


async def test_another_sites_coordinator_or_volunteer_is_refused_and_nothing_changes(
    running_bot: RunningBot,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    ids = await seed(sessionmaker, clock.now())

    # 刘老师 of 清溪小学, on his own rota, forges a press for 中和小学
    liu = fake.user(LIU)
    liu.send_text("🗓 值班表")
    own = await liu.next_message()
    assert "清溪小学" in (own.text or "")
    forged = DutySet(site_id=ids["school"], weekday=0, volunteer_id=ids["zhang"]).pack()
    update_id = liu.press(forged, own)
    refusal = (await fake.wait_callback_answer(update_id)).params["text"]
    assert "中和小学" not in refusal and "S1" not in refusal
    # 王老师 forges a volunteer of the other school onto his own rota
    wang = fake.user(WANG)
    wang.send_text("🗓 值班表")
    mine = await wang.next_message()
    wrong = DutySet(site_id=ids["school"], weekday=0, volunteer_id=ids["chen"]).pack()
    update_id = wang.press(wrong, mine)
    answer = (await fake.wait_callback_answer(update_id)).params["text"]
    assert answer == "这位志愿者不在（或已不在）这个站点。"

    async with sessionmaker() as session:
        assert (await session.scalars(select(DutyRota))).all() == []

    # the township's coordinator chooses among the township's schools first
    zhao = fake.user(ZHAO)
    zhao.send_text("🗓 值班表")
    choice = await zhao.next_message()
    assert choice.text == "查看哪个站点的值班表？"
    assert choice.button_texts() == ["中和小学", "清溪小学"]


def test_duty_days_of_a_week_come_from_the_rota_and_single_shifts() -> None:
    rota = duty.days_in_week(NOVEMBER_16, [(2, 7), (0, 7), (6, 8)])
    assert rota == {7: [dt.date(2026, 11, 16), dt.date(2026, 11, 18)], 8: [dt.date(2026, 11, 22)]}
    shifts = {7: [dt.date(2026, 11, 18), dt.date(2026, 11, 19)]}
    assert duty.merged(rota, shifts)[7] == [
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 18),
        dt.date(2026, 11, 19),
    ]
