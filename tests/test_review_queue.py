"""The review queue (审核), end to end through the fake Bot API: a reused photo puts a check-in
in the site's queue; the coordinator asks, the volunteer answers, the coordinator approves;
a rejected check-in stops counting in what is due and in the monthly record; a place far
from the child's home is flagged, a near one is not."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.callbacks import ChildOpen, ChildView
from bot.telegram.front import TelegramFront
from domain.care import checkins, review
from domain.care.checkins import Draft, PhotoRef
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.models import (
    Activity,
    CheckIn,
    Child,
    Region,
    ReviewItem,
    ReviewState,
    ReviewStatus,
)
from domain.reports import care_record
from domain.schedule import due
from domain.schedule.calendar import Month
from tests.conftest import RunningBot
from tests.fakes import FakeTelegram
from tests.fakes.telegram import FakeUser, SentMessage
from tests.test_photos import jpeg, scene
from tests.volunteering import COORDINATOR, VOLUNTEER, School, seed_school
from workers import jobs
from workers.context import Deps

HOME = review.Point(29.5630, 106.5516)
NEAR = review.Point(29.5630, 106.5516 + 200 / (111_195 * 0.87))  # 200 m east
FAR = review.Point(29.5630 + 5000 / 111_195, 106.5516)  # 5 km north


@pytest.fixture
async def deps(running_bot: RunningBot) -> AsyncIterator[Deps]:
    sessionmaker = running_bot.sessionmaker
    deps = Deps(
        running_bot.settings,
        sessionmaker,
        running_bot.clock,
        TelegramFront(running_bot.settings, sessionmaker),
    )
    yield deps
    await deps.close()


async def check_in(
    deps: Deps,
    school: School,
    child_id: int,
    clock: FixedClock,
    *,
    photos: tuple[PhotoRef, ...] = (),
    place: review.Point | None = None,
    key: str,
) -> int:
    """A home visit as the chat's 确认 records it, then its photos stored by the photo job."""
    assert school.volunteer_id is not None
    async with deps.unit_of_work() as uow:
        recorded = await checkins.record(
            uow.session,
            volunteer_ids=[school.volunteer_id],
            draft=Draft(
                child_id=child_id,
                activities=frozenset({Activity.home_visit}),
                photos=photos,
                latitude=place.latitude if place else None,
                longitude=place.longitude if place else None,
            ),
            idempotency_key=key,
            actor_id=1,
            now=clock.now(),
        )
        await uow.commit()
    for photo_id in recorded.photo_ids:  # the photo job, as the worker runs it
        assert await jobs.store_photo({"deps": deps, "job_try": 1}, photo_id) == "stored"
    return recorded.checkin_id


def photo_of(fake: FakeTelegram, data: bytes) -> PhotoRef:
    file_id, unique = fake.store_file("photo", data)
    return PhotoRef(file_id=file_id, file_unique_id=unique)


async def drained(deps: Deps, clock: FixedClock) -> None:
    report = await deps.sender.drain(clock)
    assert (report.failed, report.uncertain) == (0, 0), report


async def messages_until(user: FakeUser, text: str) -> list[SentMessage]:
    got = [await user.next_message()]
    while text not in (got[-1].text or ""):
        got.append(await user.next_message())
    return got


async def items_of(
    sessionmaker: async_sessionmaker[AsyncSession], checkin_id: int
) -> list[ReviewItem]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(select(ReviewItem).where(ReviewItem.checkin_id == checkin_id))
        )


async def test_a_reused_photo_is_asked_about_answered_and_approved_in_chat(
    running_bot: RunningBot, deps: Deps
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    school = await seed_school(sessionmaker, clock.now(), children=2)
    picture = jpeg(scene(7))
    first = await check_in(
        deps, school, school.child_ids[0], clock, photos=(photo_of(fake, picture),), key="a"
    )
    clock.move(dt.timedelta(hours=3))
    reused = await check_in(
        deps, school, school.child_ids[1], clock, photos=(photo_of(fake, picture),), key="b"
    )
    assert await items_of(sessionmaker, first) == []
    [item] = await items_of(sessionmaker, reused)
    assert (item.reason, item.state) == (review.SIMILAR_PHOTO, ReviewState.waiting)

    wang, zhao = fake.user(COORDINATOR), fake.user(VOLUNTEER)
    wang.send_text("🔍 审核")
    shown = await messages_until(wang, "核查原因")
    assert "有 1 条打卡等待审核" in (shown[0].text or "")
    photos = [m for m in shown if m.file is not None]
    assert [m.text for m in photos][1] == "和它相似的以前那张照片"  # both photos shown
    card = shown[-1]
    assert "张小明 · 赵阿姨" in (card.text or "")
    assert "核查原因：有张照片和以前的几乎一样" in (card.text or "")
    assert card.button_texts() == ["✅ 通过", "❓ 询问", "↩️ 退回"]

    wang.press(card.callback_data("询问"), card)
    assert "已经问志愿者了" in ((await wang.next_message()).text or "")
    await drained(deps, clock)
    question = await zhao.next_message()
    assert "赵阿姨您好，王老师对您" in (question.text or "") and "张小明" in (question.text or "")
    [item] = await items_of(sessionmaker, reused)
    assert item.state is ReviewState.asked

    zhao.press(question.callback_data("回答"), question)
    assert "请写下您的回答" in ((await zhao.next_message()).text or "")
    zhao.send_text("那天两个孩子在一起做作业，我拍了一张合影，发了两次")
    thanks = await zhao.next_message()
    assert "谢谢，您的回答已转给王老师" in (thanks.text or "")
    await drained(deps, clock)
    answer = await wang.next_message()
    assert "赵阿姨回答了您对张小明" in (answer.text or "")
    assert "发了两次" in (answer.text or "")
    [item] = await items_of(sessionmaker, reused)
    assert item.state is ReviewState.waiting and item.answer is not None

    wang.press(answer.callback_data("通过"), answer)
    assert "已通过" in ((await wang.next_message()).text or "")
    [item] = await items_of(sessionmaker, reused)
    assert item.state is ReviewState.approved
    async with sessionmaker() as session:
        checkin = await session.get_one(CheckIn, reused)
        assert checkin.review is ReviewStatus.approved
    wang.send_text("🔍 审核")
    assert "没有要审核的打卡" in ((await wang.next_message()).text or "")


async def test_a_rejected_visit_stops_counting_and_the_volunteer_is_told_kindly(
    running_bot: RunningBot, deps: Deps
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    school = await seed_school(sessionmaker, clock.now())
    child_id = school.child_ids[0]
    visit = await check_in(deps, school, child_id, clock, key="v")  # no photo
    [item] = await items_of(sessionmaker, visit)
    assert item.reason == review.NO_PHOTO
    month = Month.of(clock.now(), running_bot.settings.tz)

    async def home_visits_done() -> int:
        async with sessionmaker() as session:
            items = await due.due_items(
                session,
                month=month,
                tz=running_bot.settings.tz,
                selection=due.Selection(volunteer_ids=[school.volunteer_id or 0]),
            )
        return sum(i.done for i in items if i.activity is Activity.home_visit)

    async def visit_dates_in_record() -> list[dt.date]:
        async with sessionmaker() as session:
            [record] = await care_record.compile_records(
                session, month=month, tz=running_bot.settings.tz, scope_path=school.site.path
            )
        return [d for row in record.rows for d in row.done.get(Activity.home_visit, [])]

    assert await home_visits_done() == 1
    assert len(await visit_dates_in_record()) == 1

    wang, zhao = fake.user(COORDINATOR), fake.user(VOLUNTEER)
    wang.send_text("🔍 审核")
    card = (await messages_until(wang, "核查原因"))[-1]
    assert "家访没有照片" in (card.text or "")
    wang.press(card.callback_data("退回"), card)
    assert "已退回" in ((await wang.next_message()).text or "")
    await drained(deps, clock)
    told = await zhao.next_message()
    assert "这次没能算进记录（家访没有照片）" in (told.text or "")
    assert "感谢您的付出" in (told.text or "")

    assert await home_visits_done() == 0
    assert await visit_dates_in_record() == []
    [item] = await items_of(sessionmaker, visit)
    assert item.state is ReviewState.rejected


async def test_a_visit_5_km_from_home_is_flagged_and_one_200_m_away_is_not(
    running_bot: RunningBot, deps: Deps
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    school = await seed_school(sessionmaker, clock.now())
    child_id = school.child_ids[0]
    photo = (photo_of(fake, jpeg(scene(1))),)
    first = await check_in(deps, school, child_id, clock, photos=photo, place=HOME, key="1")
    async with sessionmaker() as session:
        child = await session.get_one(Child, child_id)
        assert (child.home_latitude, child.home_longitude) == (HOME.latitude, HOME.longitude)
        assert child.home_set_by is None  # from the first home visit with a place
    near = await check_in(
        deps,
        school,
        child_id,
        clock,
        photos=(photo_of(fake, jpeg(scene(2))),),
        place=NEAR,
        key="2",
    )
    far = await check_in(
        deps,
        school,
        child_id,
        clock,
        photos=(photo_of(fake, jpeg(scene(3))),),
        place=FAR,
        key="3",
    )
    assert await items_of(sessionmaker, first) == []
    assert await items_of(sessionmaker, near) == []
    [item] = await items_of(sessionmaker, far)
    assert item.reason == review.FAR_FROM_HOME and item.details is not None
    assert 4950 < item.details["metres"] < 5050

    # the site may allow less: 150 m flags the near one too
    async with UnitOfWork(sessionmaker) as uow:
        site = await uow.session.get_one(Region, school.site.id)
        site.review_distance_m = 150
        await uow.commit()
    nearer = await check_in(
        deps,
        school,
        child_id,
        clock,
        photos=(photo_of(fake, jpeg(scene(4))),),
        place=NEAR,
        key="4",
    )
    assert [i.reason for i in await items_of(sessionmaker, nearer)] == [review.FAR_FROM_HOME]
    async with sessionmaker() as session:
        assert await review.waiting_per_site(session) == {school.site.id: 2}


async def test_the_coordinator_sets_the_home_and_a_far_checkin_is_flagged(
    running_bot: RunningBot, deps: Deps
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    school = await seed_school(sessionmaker, clock.now())
    child_id = school.child_ids[0]
    wang = fake.user(COORDINATOR)
    wang.send_text("/start")
    menu = await wang.next_message()
    wang.press(ChildOpen(child_id=child_id, view=ChildView.card).pack(), menu)
    card = await wang.next_message()
    wang.press(card.callback_data("设置孩子家的位置"), card)
    assert "请发送李小花家的位置" in ((await wang.next_message()).text or "")
    wang.send_text("村口小卖部往东")
    assert "请发送一个位置" in ((await wang.next_message()).text or "")
    wang.send_location(HOME.latitude, HOME.longitude)
    assert "已记下李小花家的位置" in ((await wang.next_message()).text or "")
    async with sessionmaker() as session:
        child = await session.get_one(Child, child_id)
        assert (child.home_latitude, child.home_longitude) == (HOME.latitude, HOME.longitude)
        assert child.home_set_by is not None

    photo = (photo_of(fake, jpeg(scene(5))),)
    far = await check_in(deps, school, child_id, clock, photos=photo, place=FAR, key="far")
    assert [i.reason for i in await items_of(sessionmaker, far)] == [review.FAR_FROM_HOME]
    wang.press(ChildOpen(child_id=child_id, view=ChildView.card).pack(), menu)
    card = await wang.next_message()
    assert "家的位置：协调员已设置" in (card.text or "")


async def test_a_volunteer_not_sure_of_a_checkin_puts_it_before_the_coordinator(
    running_bot: RunningBot,
) -> None:
    from tests.test_volunteer_checkin import Walk, _check_in

    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    await seed_school(sessionmaker, running_bot.clock.now())
    walk = Walk(fake.user(VOLUNTEER))
    summary = await _check_in(walk, activities=("谈心",), photos=0)
    walk.tap(summary, "不太确定")
    await fake.wait_until(lambda: "已标记“不太确定”" in (summary.text or "") or None)
    assert "• 🤔 不太确定" in summary.button_texts()
    walk.tap(summary, "确认")
    assert "已保存" in ((await walk.reply()).text or "")
    async with sessionmaker() as session:
        checkin = await session.scalar(select(CheckIn))
        assert checkin is not None and checkin.uncertain
    assert [i.reason for i in await items_of(sessionmaker, checkin.id)] == [review.UNCERTAIN]
