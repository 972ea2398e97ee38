"""五必访 from the child's card: raised, the coordinator told, then closed by a visit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from domain.models import Concern, ConcernKind, OutboxMessage
from tests.conftest import RunningBot
from tests.fakes.telegram import FakeUser, SentMessage
from tests.outbox_support import chat_of, shown
from tests.volunteering import (
    COORDINATOR,
    VOLUNTEER,
    answer_visit_questions,
    seed_school,
    settled,
)


async def _card(user: FakeUser) -> SentMessage:
    user.send_text("👧 我的孩子")
    overview = await user.next_message()
    user.press(overview.callback_data("李小花"), overview)
    return await user.next_message()


async def test_a_must_visit_is_raised_told_and_closed_by_a_visit(running_bot: RunningBot) -> None:
    now = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, now, must_visit_days=2)
    user = running_bot.fake.user(VOLUNTEER)

    card = await _card(user)
    user.press(card.callback_data("反映情况"), card)
    kinds = await user.next_message()
    user.send_sticker()
    assert "按钮" in ((await user.next_message()).text or "")
    user.press(kinds.callback_data("情绪低落"), kinds)
    await user.next_message()  # note, or skip
    user.send_text("最近总是一个人哭")
    noted = await user.next_message()

    assert "11月18日" in (noted.text or "") and "关工委" in (noted.text or "")
    card = await _card(user)
    assert "必访：情绪低落" in (card.text or "")
    await settled(user)
    async with running_bot.sessionmaker() as session:
        concern = await session.scalar(select(Concern))
        told = list(await session.scalars(select(OutboxMessage)))
    assert concern is not None and concern.child_id == school.child_ids[0]
    assert concern.kind is ConcernKind.mood and concern.note == "最近总是一个人哭"
    assert concern.due_at == now + dt.timedelta(days=2)
    assert [chat_of(m) for m in told] == [COORDINATOR]
    text = shown(told[0])["text"]
    assert "李小花" in text and "情绪低落" in text and "赵阿姨" in text and "一个人哭" in text

    running_bot.clock.move(dt.timedelta(hours=20))
    user.press(card.callback_data("打卡"), card)
    activities = await user.next_message()
    user.press(activities.callback_data("家访"), activities)
    await running_bot.fake.wait_until(lambda: "✅ 家访" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    prompt = await user.next_message()
    user.press(prompt.callback_data("没有照片"), prompt)
    question = await user.next_message()
    summary = await answer_visit_questions(user, question, ("是", "否", "是", "经常", "自己完成"))
    user.press(summary.callback_data("确认"), summary)
    await user.next_message()

    card = await _card(user)
    assert "必访" not in (card.text or "")
    await settled(user)
    async with running_bot.sessionmaker() as session:
        closed = await session.scalar(select(Concern))
    assert closed is not None and closed.closed_at == running_bot.clock.now()
    assert closed.closed_by_checkin_id is not None


async def test_a_concern_can_be_raised_without_a_note_in_english(running_bot: RunningBot) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER, language_code="en")
    user.send_text("👧 My children")
    overview = await user.next_message()
    user.press(overview.callback_data("李小花"), overview)
    card = await user.next_message()
    user.press(card.callback_data("Raise a concern"), card)
    kinds = await user.next_message()
    user.press(kinds.callback_data("Falling grades"), kinds)
    skip = await user.next_message()
    user.press(skip.callback_data("Skip"), skip)

    assert "11/19" in ((await user.next_message()).text or "")
    await settled(user)
    async with running_bot.sessionmaker() as session:
        concern = await session.scalar(select(Concern))
        told = await session.scalar(select(OutboxMessage.content))
    assert concern is not None and concern.note is None and concern.kind is ConcernKind.grades
    assert told is not None and "成绩下降" in shown(told)["text"]  # the coordinator reads Chinese


async def test_a_note_too_long_is_kept_up_to_the_limit_and_said_so(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)

    card = await _card(user)
    user.press(card.callback_data("反映情况"), card)
    kinds = await user.next_message()
    user.press(kinds.callback_data("情绪低落"), kinds)
    await user.next_message()  # note, or skip
    user.send_text("哭" * 1_200)
    cut = await user.next_message()
    noted = await user.next_message()

    assert "最多 1000 个字" in (cut.text or "") and "200" in (cut.text or "")
    assert "关工委" in (noted.text or "")
    await settled(user)
    async with running_bot.sessionmaker() as session:
        concern = await session.scalar(select(Concern))
    assert concern is not None and concern.note == "哭" * 1_000
