"""Chat flows that must not lose work, end to end through the fake Bot API: a command in
the middle of a check-in asks first, /language brings the new menu, a photo sent twice
counts once, and a visit's voice note and place reach the coordinator's timeline."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.telegram.callbacks import ChildOpen, ChildView
from domain.models import CheckIn, Person, Photo
from tests.conftest import RunningBot
from tests.factories import on_telegram
from tests.fakes.telegram import FakeUser, SentMessage
from tests.volunteering import COORDINATOR, VOLUNTEER, seed_school, settled


async def _to_photos(user: FakeUser) -> SentMessage:
    """Menu → check in → 谈心 → next: the photo prompt."""
    user.send_text("✅ 打卡")
    activities = await user.next_message()
    user.press(activities.callback_data("谈心"), activities)
    await user.fake.wait_until(lambda: "✅ 谈心" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    return await user.next_message()


async def _count(running_bot: RunningBot, model: type) -> int:
    async with running_bot.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_in_the_middle_of_a_check_in_asks_and_continuing_keeps_the_photos(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    await _to_photos(user)
    user.send_photo(b"visit-1")
    summary = await user.next_message()
    assert "照片：1" in (summary.text or "")

    user.send_text("/start")
    asked = await user.next_message()
    assert "李小花的打卡还没完成（已有 1 张照片）" in (asked.text or "")
    user.press(asked.callback_data("继续打卡"), asked)
    again = await user.next_message()
    assert "照片：1" in (again.text or "")  # the photo is still there
    user.press(again.callback_data("确认"), again)
    await user.next_message()
    await settled(user)
    assert await _count(running_bot, CheckIn) == 1
    assert await _count(running_bot, Photo) == 1


async def test_a_menu_tap_in_the_middle_of_a_check_in_can_discard_it(
    running_bot: RunningBot,
) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    await _to_photos(user)
    user.send_photo(b"visit-1")
    await user.next_message()

    user.send_text("👧 我的孩子")
    asked = await user.next_message()
    user.press(asked.callback_data("放弃"), asked)
    await running_bot.fake.wait_until(lambda: "已放弃" in (asked.text or "") or None)
    menu = await user.next_message()
    assert "👧 我的孩子" in menu.button_texts()
    assert asked.button_texts() == []  # asked once, answered once
    await settled(user)
    assert await _count(running_bot, CheckIn) == 0


async def test_the_same_photo_sent_twice_counts_once(running_bot: RunningBot) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    await _to_photos(user)
    sizes = running_bot.fake.photo_sizes(b"the same picture")
    user._send({"photo": sizes})  # as Telegram sends one file twice: the same unique id
    summary = await user.next_message()
    user._send({"photo": sizes})
    told = await user.next_message()
    assert "已经加过了（共 1 张）" in (told.text or "")
    user.send_photo(b"another picture")
    summary = await user.next_message()
    assert "照片：2" in (summary.text or "")
    user.press(summary.callback_data("确认"), summary)
    await user.next_message()
    await settled(user)
    assert await _count(running_bot, Photo) == 2


async def test_language_brings_the_menu_in_the_new_language(running_bot: RunningBot) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("/language")
    choice = await user.next_message()
    user.press(choice.callback_data("English"), choice)
    menu = await user.next_message()
    assert "👧 My children" in menu.button_texts()
    user.send_text("👧 My children")
    overview = await user.next_message()
    assert "李小花" in (overview.text or "")
    async with running_bot.sessionmaker() as session:
        language = await session.scalar(select(Person.language).where(on_telegram(VOLUNTEER)))
    assert language == "en"


async def test_a_voice_note_and_a_place_reach_the_coordinators_timeline(
    running_bot: RunningBot,
) -> None:
    school = await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    prompt = await _to_photos(user)
    user.press(prompt.callback_data("没有照片"), prompt)
    await user.next_message()  # the summary
    user.send_voice(b"voice of the visit")
    await user.next_message()
    user.send_location(29.0871, 108.7712)
    summary = await user.next_message()
    assert "语音" in (summary.text or "") and "位置" in (summary.text or "")
    user.press(summary.callback_data("确认"), summary)
    await user.next_message()
    await settled(user)

    wang = running_bot.fake.user(COORDINATOR)
    wang.send_text("/start")
    menu = await wang.next_message()
    wang.press(ChildOpen(child_id=school.child_ids[0], view=ChildView.card).pack(), menu)
    card = await wang.next_message()
    assert "🎤 语音" in (card.text or "") and "📍 位置" in (card.text or "")
    wang.press(card.callback_data("照片、语音和位置"), card)
    voice = await wang.next_message()
    place = await wang.next_message()
    assert voice.file is not None and voice.file.data == b"voice of the visit"
    assert place.text == "📍 29.0871,108.7712"
