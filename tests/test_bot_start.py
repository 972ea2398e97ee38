"""The first conversation, end to end: the real bot polling the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt

from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import Channel, Child, Person, Priority, ProcessedUpdate, RegionKind
from domain.people import identity, regions
from tests.conftest import RunningBot
from tests.factories import on_telegram

COORDINATOR = 9001
STRANGER = 9002


async def seed_school_with_coordinator(
    sessionmaker: async_sessionmaker[AsyncSession], at: dt.datetime
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await regions.add_region(
            uow.session, code="T1", name="中和镇", kind=RegionKind.township, parent_code=None, at=at
        )
        school = await regions.add_region(
            uow.session, code="S1", name="中和小学", kind=RegionKind.school, parent_code="T1", at=at
        )
        uow.session.add(Child(site_id=school.id, name="李小花", priority=Priority.key))
        await identity.add_coordinator(
            uow.session,
            channel=Channel.telegram,
            external_id=str(COORDINATOR),
            name="王老师",
            scope_code="S1",
            at=at,
        )
        await uow.commit()


async def test_a_stranger_learns_how_to_join_and_nothing_about_children(
    running_bot: RunningBot,
) -> None:
    await seed_school_with_coordinator(running_bot.sessionmaker, running_bot.clock.now())
    stranger = running_bot.fake.user(STRANGER, "张三")

    stranger.send_text("/start")
    reply = await stranger.next_message()

    assert reply.text is not None
    assert "邀请链接" in reply.text
    assert "李小花" not in reply.text and "中和小学" not in reply.text
    stranger.send_text("李小花")
    assert "邀请链接" in ((await stranger.next_message()).text or "")


async def test_a_coordinator_gets_the_coordinator_menu(running_bot: RunningBot) -> None:
    await seed_school_with_coordinator(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(COORDINATOR, "王")

    coordinator.send_text("/start")
    menu = await coordinator.next_message()

    assert menu.text is not None and "王老师" in menu.text and "中和小学" in menu.text
    assert {"📊 概况", "⏰ 逾期", "📥 导入档案", "🤝 结对"} <= set(menu.button_texts())
    coordinator.send_text("📊 概况")
    assert "留守儿童：1 人" in ((await coordinator.next_message()).text or "")


async def test_help_answers_each_kind_of_person(running_bot: RunningBot) -> None:
    await seed_school_with_coordinator(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(COORDINATOR)
    stranger = running_bot.fake.user(STRANGER)

    coordinator.send_text("/help")
    stranger.send_text("/help")

    assert "导入档案" in ((await coordinator.next_message()).text or "")
    stranger_help = (await stranger.next_message()).text or ""
    assert "邀请链接" in stranger_help and "导入档案" not in stranger_help


async def test_english_speakers_get_english_and_anyone_can_switch(
    running_bot: RunningBot,
) -> None:
    await seed_school_with_coordinator(running_bot.sessionmaker, running_bot.clock.now())
    english = running_bot.fake.user(STRANGER, language_code="en")
    english.send_text("/start")
    assert "invitation link" in ((await english.next_message()).text or "")

    coordinator = running_bot.fake.user(COORDINATOR)
    coordinator.send_text("/language")
    choice = await coordinator.next_message()
    coordinator.press(choice.callback_data("English"))
    await running_bot.fake.wait_until(lambda: choice.text == "Language set to English." or None)
    coordinator.send_text("/start")

    assert "You coordinate" in ((await coordinator.next_message()).text or "")
    async with running_bot.sessionmaker() as session:
        language = await session.scalar(select(Person.language).where(on_telegram(COORDINATOR)))
    assert language == "en"


async def test_a_forged_button_is_refused_politely(running_bot: RunningBot) -> None:
    stranger = running_bot.fake.user(STRANGER)
    stranger.send_text("/language")
    choice = await stranger.next_message()

    update_id = stranger.press("lang:xx", choice)
    answer = await running_bot.fake.wait_callback_answer(update_id)
    assert answer.params.get("text") == "这个按钮已失效。"
    update_id = stranger.press("visit_42", choice)
    answer = await running_bot.fake.wait_callback_answer(update_id)
    assert answer.params.get("text") == "这个按钮已失效。"


async def test_the_command_list_is_registered_in_both_languages(running_bot: RunningBot) -> None:
    await running_bot.fake.wait_until(lambda: running_bot.fake.commands(language_code="en") or None)

    chinese = {c["command"]: c["description"] for c in running_bot.fake.commands()}
    english = {
        c["command"]: c["description"] for c in running_bot.fake.commands(language_code="en")
    }
    assert chinese["start"] == "主菜单" and english["start"] == "Main menu"
    assert set(chinese) == set(english) == {"start", "help", "language", "cancel", "sos"}


async def test_a_duplicate_update_is_processed_once(running_bot: RunningBot) -> None:
    stranger = running_bot.fake.user(STRANGER)
    update_id = stranger.send_text("/start")
    update = Update.model_validate(running_bot.fake.update(update_id))
    await stranger.next_message()  # the polling dispatcher handled it once

    await running_bot.dp.feed_update(running_bot.bot, update)
    await asyncio.gather(
        running_bot.dp.feed_update(running_bot.bot, update),
        running_bot.dp.feed_update(running_bot.bot, update),
    )
    stranger.send_text("/help")
    await stranger.next_message()

    assert len(stranger.messages) == 2
    async with running_bot.sessionmaker() as session:
        seen = await session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == update_id)
        )
    assert seen == 1
