"""People are told what others did, end to end through the fake Bot API: the coordinator
whose invitation was used, the volunteer who is paired, moved away from a child or unpaired."""

from __future__ import annotations

import re

from sqlalchemy import select

from domain.models import OutboxMessage, Person
from tests.conftest import RunningBot
from tests.factories import on_telegram
from tests.fakes.telegram import FakeUser, SentMessage
from tests.outbox_support import shown
from tests.test_coordinator_chat import WANG, committed, seed
from tests.volunteering import latin_words, settled

ZHANG = 9100
LI = 9101


async def _outbox(running_bot: RunningBot, chat_id: int) -> list[str]:
    async with running_bot.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage.content)
            .where(OutboxMessage.target == str(chat_id))
            .order_by(OutboxMessage.id)
        )
        return [shown(content)["text"] for content in rows]


async def _join(running_bot: RunningBot, wang: FakeUser, telegram_id: int, name: str) -> None:
    """Wang invites a surrogate parent in chat; the person joins through the link."""
    wang.send_text("✉️ 邀请")
    kinds = await wang.next_message()
    wang.press(kinds.callback_data("代理家长"), kinds)
    link = await wang.next_message()
    match = re.search(r"start=(\S+)", link.text or "")
    assert match is not None
    user = running_bot.fake.user(telegram_id, name)
    user.send_text(f"/start {match.group(1)}")
    await user.next_message()
    ask_name = await user.next_message()
    user.press(ask_name.callback_data(name), ask_name)
    ask_phone = await user.next_message()
    assert "跳过" in ask_phone.button_texts()
    user.send_text("跳过")
    await user.next_message()
    notice = await user.next_message()
    user.press(notice.callback_data("我同意"), notice)
    await user.next_message()  # welcome
    await user.next_message()  # menu
    await settled(user)


async def _pair_screen(running_bot: RunningBot, wang: FakeUser) -> SentMessage:
    wang.send_text("🤝 结对")
    await wang.next_message()
    wang.send_text("小花")
    offer = await wang.next_message()
    wang.press(offer.callback_data("李小花"), offer)
    await running_bot.fake.wait_until(lambda: "李小花 · 中和小学" in (offer.text or "") or None)
    return offer


async def test_the_inviter_and_the_volunteers_are_told(running_bot: RunningBot) -> None:
    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    await seed(sessionmaker, running_bot.clock.now())
    wang = fake.user(WANG)

    await _join(running_bot, wang, ZHANG, "张阿姨")
    [joined] = await _outbox(running_bot, WANG)
    assert "张阿姨已通过您的邀请加入中和小学" in joined and "代理家长" in joined

    # paired: the volunteer learns whose they are and what is due this month
    screen = await _pair_screen(running_bot, wang)
    wang.press(screen.callback_data("结对志愿者"), screen)
    await fake.wait_until(lambda: "张阿姨" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("张阿姨"), screen)
    await fake.wait_until(lambda: "确定" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("确定"), screen)
    [paired] = await committed(sessionmaker, lambda s: _some(running_bot, ZHANG))
    assert "从今天起由您照顾李小花（中和小学）" in paired
    assert "本月还要做" in paired and "家访" in paired and "本月底前" in paired

    # moved to another volunteer: both are told
    await _join(running_bot, wang, LI, "李老师")
    screen = await _pair_screen(running_bot, wang)
    wang.press(screen.callback_data("改派"), screen)
    await fake.wait_until(lambda: "李老师" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("李老师"), screen)
    await fake.wait_until(lambda: "确定" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("确定"), screen)
    moved = await committed(sessionmaker, lambda s: _some(running_bot, ZHANG, 2))
    assert "李小花已改由李老师照顾" in moved[-1]
    assert "从今天起由您照顾李小花" in (await _outbox(running_bot, LI))[-1]

    # unpaired: told too
    screen = await _pair_screen(running_bot, wang)
    wang.press(screen.callback_data("结束"), screen)
    await fake.wait_until(lambda: "确定" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("确定"), screen)
    ended = await committed(sessionmaker, lambda s: _some(running_bot, LI, 2))
    assert "您和李小花的结对已结束" in ended[-1]
    async with sessionmaker() as session:
        assert await session.scalar(select(Person.id).where(on_telegram(LI)))
        everything = list(await session.scalars(select(OutboxMessage.content)))
    assert [latin_words(shown(c)["text"]) for c in everything] == [[]] * len(everything)


async def _some(running_bot: RunningBot, chat_id: int, at_least: int = 1) -> list[str] | None:
    found = await _outbox(running_bot, chat_id)
    return found if len(found) >= at_least else None
