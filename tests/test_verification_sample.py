"""The verification sample (回访抽查): drawn on the 1st, of the site's size, the same when
drawn twice; the coordinator phones and records; "did not happen" corrects the record and
puts the volunteer's other visits in the review queue; the confirmed rate is counted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from bot.telegram.front import TelegramFront
from domain.care import review, sample
from domain.db import UnitOfWork
from domain.models import (
    Activity,
    CheckInActivity,
    Pairing,
    ReviewItem,
    SampleCheck,
    SampleDraw,
)
from domain.schedule.calendar import Month
from tests.conftest import SHANGHAI, RunningBot
from tests.factories import make_checkin
from tests.volunteering import COORDINATOR, seed_school
from workers.context import Deps
from workers.periodic import run_once

OCTOBER = Month(2026, 10)
FIRST_OF_NOVEMBER = dt.datetime(2026, 11, 1, 6, 0, tzinfo=SHANGHAI)


async def test_the_sample_is_drawn_on_the_1st_phoned_and_corrects_the_record(
    running_bot: RunningBot,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    school = await seed_school(sessionmaker, clock.now() - dt.timedelta(days=60), children=3)
    async with UnitOfWork(sessionmaker) as uow:
        pairings = list(await uow.session.scalars(select(Pairing).order_by(Pairing.id)))
        for n in range(30):  # 30 home visits in October, one in November
            when = dt.datetime(2026, 10, 1 + n, 16, 0, tzinfo=SHANGHAI)
            await make_checkin(uow.session, pairings[n % 3], occurred_at=when)
        await make_checkin(uow.session, pairings[0], occurred_at=clock.now())
        await uow.commit()
    deps = Deps(
        running_bot.settings, sessionmaker, clock, TelegramFront(running_bot.settings, sessionmaker)
    )
    try:
        result = await run_once(deps, "verification-sample", now=FIRST_OF_NOVEMBER, scope=None)
        again = await run_once(deps, "verification-sample", now=FIRST_OF_NOVEMBER, scope=None)
    finally:
        await deps.close()
    assert dict(result) == dict(again) == {"visits": 30, "drawn": 2}  # 4 % of 30, rounded up

    async def drawn() -> list[int]:
        async with sessionmaker() as session:
            return list(
                await session.scalars(select(SampleCheck.checkin_id).order_by(SampleCheck.id))
            )

    first = await drawn()
    assert len(first) == 2
    async with UnitOfWork(sessionmaker) as uow:  # drawn again from the stored seed
        await uow.session.execute(delete(SampleCheck))
        await sample.draw_month(uow.session, month=OCTOBER, tz=SHANGHAI, now=clock.now())
        await uow.commit()
    assert sorted(await drawn()) == sorted(first)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(SampleDraw)) == 1

    wang = fake.user(COORDINATOR)
    wang.send_text("📞 回访抽查")
    header = await wang.next_message()
    assert "有 2 次家访要电话回访" in (header.text or "")
    one, two = await wang.next_message(), await wang.next_message()
    assert "监护人：李奶奶 138 0000 0001" in (one.text or "") and "赵阿姨" in (one.text or "")
    assert one.button_texts() == ["✅ 已确认", "📵 联系不上", "❌ 没有这次家访"]

    wang.press(one.callback_data("没有这次家访"), one)
    said = (await wang.next_message()).text or ""
    assert "这次家访没有发生，已从记录中去掉" in said
    assert "另外 30 次打卡已放进“🔍 审核”" in said  # the volunteer's other visits
    wang.press(two.callback_data("已确认"), two)
    assert "家访已确认" in ((await wang.next_message()).text or "")

    async with sessionmaker() as session:
        not_happened = await session.scalar(
            select(SampleCheck.checkin_id).where(SampleCheck.outcome == "not_happened")
        )
        counted = await session.scalar(
            select(CheckInActivity.counted).where(
                CheckInActivity.checkin_id == not_happened,
                CheckInActivity.activity == Activity.home_visit,
            )
        )
        assert counted is False
        reasons = set(
            await session.scalars(select(ReviewItem.reason).where(ReviewItem.state == "waiting"))
        )
        assert reasons == {review.OTHER_VISIT_NOT_HAPPENED}
        figures = await sample.figures(session, month=OCTOBER, site_ids=[school.site.id])
    assert figures[school.site.id] == sample.Figures(drawn=2, confirmed=1, not_happened=1)
    assert figures[school.site.id].confirmed_percent == 50
