"""Whatever a volunteer sends, at any step, gets a kind answer and stores nothing half-way."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from domain.models import CheckIn
from tests.conftest import RunningBot
from tests.fakes.telegram import FakeUser
from tests.volunteering import VOLUNTEER, answer_visit_questions, seed_school, settled

INTERNAL_ERROR = "出了点问题"


async def _odd_inputs(user: FakeUser, *, text: bool = True) -> list[str]:
    """Send a sticker, a video, a PDF (and text): each must get an answer, none an error."""
    answers = []
    senders = [
        user.send_sticker,
        user.send_video,
        lambda: user.send_document(b"%PDF-1.4", file_name="a.pdf", mime_type="application/pdf"),
    ]
    if text:
        senders.append(lambda: user.send_text("随便说点什么"))
    for send in senders:
        send()
        reply = (await user.next_message()).text or ""
        assert reply and INTERNAL_ERROR not in reply
        answers.append(reply)
    return answers


async def test_odd_inputs_at_every_step_get_kind_answers_and_the_flow_goes_on(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)

    user.send_text("✅ 打卡")
    activities = await user.next_message()
    assert all("点" in answer for answer in await _odd_inputs(user))
    user.press(activities.callback_data("下一步"), activities)  # nothing chosen yet
    user.press(activities.callback_data("家访"), activities)
    await running_bot.fake.wait_until(lambda: "✅ 家访" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    await user.next_message()  # photo prompt

    assert all("照片" in answer for answer in await _odd_inputs(user))
    user.send_document(b"\x89PNG fake", file_name="visit.png", mime_type="image/png")
    question = await user.next_message()
    assert "第 1 题" in (question.text or "")

    assert all("按钮" in answer for answer in await _odd_inputs(user))
    summary = await answer_visit_questions(user, question, ("否", "否", "是", "经常", "自己完成"))
    assert "照片：1 张" in (summary.text or "")

    assert all("确认" in answer for answer in await _odd_inputs(user, text=False))
    user.send_text("奶奶身体还好")
    user.send_voice(b"voice")
    user.send_location(29.5, 106.5)
    for _ in range(3):
        summary = await user.next_message()
    assert "奶奶身体还好" in (summary.text or "")
    assert "已加语音" in (summary.text or "") and "已加位置" in (summary.text or "")
    user.press(summary.callback_data("确认"), summary)
    assert "已保存" in ((await user.next_message()).text or "")
    await settled(user)

    async with running_bot.sessionmaker() as session:
        checkins = list(
            await session.scalars(select(CheckIn).options(selectinload(CheckIn.photos)))
        )
    assert len(checkins) == 1
    checkin = checkins[0]
    assert checkin.note == "奶奶身体还好" and checkin.voice_file_id
    assert (checkin.latitude, checkin.longitude) == (29.5, 106.5)
    assert [p.file_size for p in checkin.photos] == [len(b"\x89PNG fake")]


async def test_cancel_at_any_step_stores_nothing_and_old_buttons_are_refused(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)

    for steps in range(4):
        user.send_text("✅ 打卡")
        activities = await user.next_message()
        last = activities
        if steps >= 1:
            user.press(activities.callback_data("谈心"), activities)
            await running_bot.fake.wait_until(
                lambda a=activities: "✅ 谈心" in a.button_texts() or None
            )  # type: ignore[misc]
        if steps >= 2:
            user.press(activities.callback_data("下一步"), activities)
            last = await user.next_message()
        if steps >= 3:
            user.send_photo(b"photo")
            last = await user.next_message()
        user.send_text("/cancel")
        assert "已取消" in ((await user.next_message()).text or "")
        button = last.buttons()[0][0]["callback_data"]
        update_id = user.press(str(button), last)
        answer = await running_bot.fake.wait_callback_answer(update_id)
        assert answer.params.get("text") == "这个按钮已失效。"

    await settled(user)
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0


async def test_an_abandoned_conversation_expires_and_its_buttons_then_do_nothing(
    running_bot: RunningBot, redis: Redis
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("✅ 打卡")
    activities = await user.next_message()
    user.press(activities.callback_data("谈心"), activities)
    await running_bot.fake.wait_until(lambda: "✅ 谈心" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    await user.next_message()
    user.send_photo(b"photo")
    summary = await user.next_message()
    await settled(user)

    keys = [
        key async for key in redis.scan_iter(match=f"{running_bot.settings.redis_prefix}:fsm:*")
    ]
    ttls = [await redis.ttl(key) for key in keys if not key.endswith(b":lock")]
    assert ttls and all(0 < ttl <= 3600 for ttl in ttls)
    await redis.delete(*keys)  # what Redis does when the hour is up

    update_id = user.press(summary.callback_data("确认"), summary)
    answer = await running_bot.fake.wait_callback_answer(update_id)
    assert answer.params.get("text") == "这个按钮已失效。"
    user.send_photo(b"another")
    assert (await user.next_message()).text
    await settled(user)
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0


async def test_strangers_sending_anything_are_told_how_to_join(running_bot: RunningBot) -> None:
    stranger = running_bot.fake.user(9999)
    for send in (
        lambda: stranger.send_photo(b"p"),
        stranger.send_sticker,
        lambda: stranger.send_text("👧 我的孩子"),
        stranger.send_video,
    ):
        send()
        assert "邀请链接" in ((await stranger.next_message()).text or "")
    update_id = stranger.press("ci:1", stranger.messages[-1])
    answer = await running_bot.fake.wait_callback_answer(update_id)
    assert answer.params.get("text") == "这个按钮已失效。"
