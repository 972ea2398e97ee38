"""打卡 end to end: the real bot over the fake Bot API, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from domain.models import Activity, CheckIn, Photo, PhotoStatus, ReviewStatus
from tests.conftest import RunningBot
from tests.fakes.telegram import FakeUser, SentMessage
from tests.volunteering import VOLUNTEER, answer_visit_questions, seed_school, settled

BOTH_DELIVERIES = True  # every chat test here runs polling and through the webhook

ANSWERS = ("是", "有一点", "勉强够", "有时", "要人提醒")  # one per home-visit question


class Walk:
    """A volunteer going through the check-in, counting every tap they make."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.taps = 0

    def tap_menu(self, label: str) -> None:
        self.taps += 1
        self.user.send_text(label)

    def tap(self, message: SentMessage, label: str) -> int:
        self.taps += 1
        return self.user.press(message.callback_data(label), message)

    async def reply(self) -> SentMessage:
        return await self.user.next_message()

    async def answer(self, question: SentMessage, label: str) -> SentMessage:
        self.taps += 1
        return await answer_visit_questions(self.user, question, [label])


async def _check_in(
    walk: Walk,
    *,
    activities: tuple[str, ...],
    photos: int,
    child: str | None = None,
    days_back_label: str | None = None,
) -> SentMessage:
    """Menu → (child) → activities → next → photos (an album) → (answers) → summary."""
    walk.tap_menu("✅ 打卡")
    message = await walk.reply()
    if child is not None:
        walk.tap(message, child)
        message = await walk.reply()
    for activity in activities:
        walk.tap(message, activity)
        ticked = f"✅ {activity}"
        await walk.user.fake.wait_until(
            lambda ticked=ticked: ticked in message.button_texts() or None  # type: ignore[misc]
        )
    walk.tap(message, "下一步")
    await walk.reply()  # the activities message is edited; this is the photo prompt
    if photos:
        for n in range(photos):
            walk.user.send_photo(f"photo-{n}".encode(), media_group_id="album-1")
    else:
        prompt = walk.user.last_message
        walk.tap(prompt, "没有照片")
    message = await walk.reply()
    if "家访" in activities:
        for answer in ANSWERS:
            message = await walk.answer(message, answer)
    if days_back_label is not None:
        walk.tap(message, days_back_label)
        await walk.user.fake.wait_until(
            lambda: f"• {days_back_label}" in message.button_texts() or None
        )
    return message


async def test_a_home_visit_with_an_album_and_answers_is_stored_once_and_shows_as_done(
    running_bot: RunningBot,
) -> None:
    now = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, now)
    walk = Walk(running_bot.fake.user(VOLUNTEER))

    summary = await _check_in(walk, activities=("家访", "谈心"), photos=2)
    await running_bot.fake.wait_until(lambda: "照片：2 张" in (summary.text or "") or None)
    assert "监护人按时做饭吗？ 是" in (summary.text or "")
    walk.tap(summary, "确认")
    saved = await walk.reply()

    assert "已保存" in (saved.text or "") and "检查作业" in (saved.text or "")
    assert "家访" not in (saved.text or "").split("还要做")[1]
    walk.user.send_text("👧 我的孩子")
    overview = await walk.reply()
    assert "✅ 家访 1/1" in (overview.text or "") and "✅ 谈心 1/1" in (overview.text or "")
    async with running_bot.sessionmaker() as session:
        checkin = await session.scalar(
            select(CheckIn).options(selectinload(CheckIn.activities), selectinload(CheckIn.photos))
        )
    assert checkin is not None and checkin.child_id == school.child_ids[0]
    assert {a.activity for a in checkin.activities} == {Activity.home_visit, Activity.talk}
    assert checkin.occurred_at == now and checkin.review is ReviewStatus.none
    assert checkin.visit_answers == {
        "meals": "yes",
        "picky": "little",
        "income": "barely",
        "calls": "sometimes",
        "homework": "reminded",
    }
    assert sorted(p.file_size for p in checkin.photos) == [len(b"photo-0"), len(b"photo-1")]
    assert all(p.status is PhotoStatus.pending and p.file_id for p in checkin.photos)
    queued = await running_bot.arq_redis.queued_jobs(queue_name=running_bot.settings.arq_queue)
    assert sorted(job.args[0] for job in queued) == sorted(p.id for p in checkin.photos)
    assert {job.function for job in queued} == {"store_photo"}


@pytest.mark.faults  # the same update delivered twice is one check-in
async def test_a_redelivered_confirm_and_a_double_press_make_one_checkin(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    walk = Walk(running_bot.fake.user(VOLUNTEER))
    summary = await _check_in(walk, activities=("谈心",), photos=1)

    first = walk.tap(summary, "确认")
    second = walk.tap(summary, "确认")
    running_bot.fake.redeliver(first)
    update = Update.model_validate(running_bot.fake.update(first))
    await asyncio.gather(
        running_bot.dp.feed_update(running_bot.bot, update),
        running_bot.dp.feed_update(running_bot.bot, update),
    )

    assert "已保存" in ((await walk.reply()).text or "")
    answer = await running_bot.fake.wait_callback_answer(second)
    assert answer.params.get("text") == "已经保存过了，谢谢您！"
    await settled(walk.user)
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 1
        assert await session.scalar(select(func.count()).select_from(Photo)) == 1
    assert len([m for m in walk.user.messages if "已保存" in (m.text or "")]) == 1


async def test_a_plain_checkin_takes_at_most_five_taps_plus_the_photos(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now(), children=2)
    walk = Walk(running_bot.fake.user(VOLUNTEER))

    summary = await _check_in(walk, activities=("作业辅导",), photos=1, child="李小花")
    walk.tap(summary, "确认")
    assert "已保存" in ((await walk.reply()).text or "")
    plain = walk.taps

    walk.taps = 0
    summary = await _check_in(walk, activities=("家访",), photos=2, child="张小明")
    walk.tap(summary, "确认")
    assert "已保存" in ((await walk.reply()).text or "")

    assert plain <= 5  # menu, child, activity, next, (the photos), confirm
    assert walk.taps <= 5 + len(ANSWERS)


async def test_a_visit_can_be_backdated_and_a_week_old_one_goes_to_review(
    running_bot: RunningBot,
) -> None:
    now = running_bot.clock.now()
    await seed_school(running_bot.sessionmaker, now)
    walk = Walk(running_bot.fake.user(VOLUNTEER))

    summary = await _check_in(walk, activities=("谈心",), photos=0, days_back_label="昨天")
    walk.tap(summary, "确认")
    await walk.reply()
    summary = await _check_in(walk, activities=("亲情晚餐",), photos=0)
    walk.tap(summary, "更早")
    await running_bot.fake.wait_until(lambda: "11月9日" in summary.button_texts() or None)
    walk.tap(summary, "11月9日")
    await running_bot.fake.wait_until(lambda: "时间：11月9日" in (summary.text or "") or None)
    walk.tap(summary, "确认")
    await walk.reply()
    await settled(walk.user)

    async with running_bot.sessionmaker() as session:
        rows = (
            await session.execute(
                select(CheckIn.occurred_at, CheckIn.review, CheckIn.review_reason).order_by(
                    CheckIn.id
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (now - dt.timedelta(days=1), ReviewStatus.none, None),
        (now - dt.timedelta(days=7), ReviewStatus.pending, "backdated"),
    ]
