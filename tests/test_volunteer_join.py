"""Joining by invitation, end to end: the real bot over the fake Bot API, real databases."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from domain.models import Invitation, InvitationRole, Person, Volunteer
from guanai import cli
from guanai.settings import Settings
from tests.cli_support import Guanai
from tests.conftest import RunningBot
from tests.factories import on_telegram
from tests.fakes.telegram import FakeUser
from tests.volunteering import COORDINATOR, VOLUNTEER, invite, seed_school, settled

BOTH_DELIVERIES = True  # every chat test here runs polling and through the webhook

NEWCOMER = 9200


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_volunteer_joins_in_a_few_taps(running_bot: RunningBot) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at)
    user = running_bot.fake.user(NEWCOMER, "张三")

    user.send_text(f"/start {token}")
    assert "中和小学" in ((await user.next_message()).text or "")
    ask_name = await user.next_message()
    user.press(ask_name.callback_data("张三"), ask_name)
    ask_phone = await user.next_message()
    assert {"📱 分享我的手机号", "跳过"} == set(ask_phone.button_texts())
    user.send_contact("+8613900000002")
    await user.next_message()  # "almost done", removing the phone keyboard
    notice = await user.next_message()
    assert "隐私" in (notice.text or "")
    user.press(notice.callback_data("我同意"), notice)
    await user.next_message()  # welcome
    menu = await user.next_message()

    assert {"👧 我的孩子", "✅ 打卡", "❓ 帮助"} == set(menu.button_texts())
    await settled(user)
    async with running_bot.sessionmaker() as session:
        person = await session.scalar(select(Person).where(on_telegram(NEWCOMER)))
        assert person is not None
        assert (person.name, person.phone) == ("张三", "+8613900000002")
        assert person.consented_at == at
        volunteer = await session.scalar(select(Volunteer).where(Volunteer.person_id == person.id))
        assert volunteer is not None and volunteer.site_id == school.site.id
        invitation = await session.scalar(select(Invitation))
        assert invitation is not None and invitation.used_by == person.id


async def test_declining_stores_nothing_and_the_link_still_works(running_bot: RunningBot) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at)
    people_before = await _count(running_bot.sessionmaker, Person)
    user = running_bot.fake.user(NEWCOMER, "张三", language_code="en")

    user.send_text(f"/start {token}")
    await user.next_message()
    await user.next_message()
    user.send_sticker()
    assert "name" in ((await user.next_message()).text or "")
    user.send_text("Zhang San")
    await user.next_message()
    user.send_text("12345")
    assert "Skip" in ((await user.next_message()).text or "")
    user.send_text("Skip")
    await user.next_message()
    notice = await user.next_message()
    user.send_text("ok")  # a word instead of a button
    assert "I agree" in ((await user.next_message()).text or "")
    user.press(notice.callback_data("I do not agree"), notice)

    assert "Nothing was stored" in ((await user.next_message()).text or "")
    await settled(user)
    assert await _count(running_bot.sessionmaker, Person) == people_before
    async with running_bot.sessionmaker() as session:
        assert await session.scalar(select(Invitation.used_at)) is None


async def test_someone_elses_contact_is_refused(running_bot: RunningBot) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at)
    user = running_bot.fake.user(NEWCOMER, "张三")
    user.send_text(f"/start {token}")
    await user.next_message()
    await user.next_message()
    user.send_text("张三丰")
    await user.next_message()

    contact = {"phone_number": "+8613900000009", "first_name": "别人", "user_id": 777}
    user._send({"contact": contact})

    assert "您自己的号码" in ((await user.next_message()).text or "")


@pytest.mark.parametrize("problem", ["expired", "used", "unknown"])
async def test_a_bad_link_gets_a_clear_answer_and_changes_nothing(
    running_bot: RunningBot, problem: str
) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at - dt.timedelta(days=15))
    if problem == "used":
        token = await invite(running_bot.sessionmaker, school.site, at)
        first = running_bot.fake.user(NEWCOMER + 1, "李四")
        await _join(first, token)
    elif problem == "unknown":
        token = "not-a-real-token"
    people_before = await _count(running_bot.sessionmaker, Person)
    user = running_bot.fake.user(NEWCOMER, "张三")

    user.send_text(f"/start {token}")

    expected = {"expired": "已过期", "used": "已经用过", "unknown": "无效"}[problem]
    assert expected in ((await user.next_message()).text or "")
    user.send_text("张三")
    assert "邀请链接" in ((await user.next_message()).text or "")  # not in a conversation
    assert await _count(running_bot.sessionmaker, Person) == people_before


async def _join(user: FakeUser, token: str) -> None:
    user.send_text(f"/start {token}")
    await user.next_message()
    ask_name = await user.next_message()
    user.press(ask_name.callback_data(user.first_name), ask_name)
    await user.next_message()
    user.send_text("跳过")
    await user.next_message()
    notice = await user.next_message()
    user.press(notice.callback_data("我同意"), notice)
    await user.next_message()
    await user.next_message()
    await settled(user)


async def test_a_registered_person_joins_another_site_with_a_new_link(
    running_bot: RunningBot,
) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at)
    other = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, other.site, at)
    volunteer = running_bot.fake.user(VOLUNTEER, "赵")

    volunteer.send_text(f"/start {token}")

    assert "已加入" in ((await volunteer.next_message()).text or "")
    assert "✅ 打卡" in (await volunteer.next_message()).button_texts()
    await settled(volunteer)
    async with running_bot.sessionmaker() as session:
        sites = set(
            await session.scalars(
                select(Volunteer.site_id)
                .join(Person, Person.id == Volunteer.person_id)
                .where(on_telegram(VOLUNTEER))
            )
        )
    assert sites == {school.site.id, other.site.id}


async def test_a_coordinator_who_volunteers_gets_both_menus(running_bot: RunningBot) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at)
    coordinator = running_bot.fake.user(COORDINATOR, "王")

    coordinator.send_text(f"/start {token}")
    await coordinator.next_message()
    menu = await coordinator.next_message()

    assert {"📊 概况", "👧 我的孩子", "✅ 打卡"} <= set(menu.button_texts())


async def test_invite_prints_a_link_with_the_bot_username_from_telegram(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    school = await seed_school(sessionmaker, clock.now(), paired_with=None)
    args = argparse.Namespace(
        site=school.site.code,
        kind="wulao",
        role=InvitationRole.volunteer.value,
        bot_username=None,
    )

    assert await cli.cmd_invite(settings, args) == 0

    link = capsys.readouterr().out.splitlines()[0]
    assert link.startswith("https://t.me/guanai_test_bot?start=")
    async with sessionmaker() as session:
        invitation = await session.scalar(select(Invitation))
    assert invitation is not None and invitation.volunteer_kind == "wulao"


async def test_invite_without_a_token_prints_the_token_and_says_why(
    sessionmaker: async_sessionmaker[AsyncSession], db_url: str, clock: FixedClock, guanai: Guanai
) -> None:
    school = await seed_school(sessionmaker, clock.now(), paired_with=None)

    without = await guanai(
        "invite", "--site", school.site.code, DATABASE_URL=db_url, LANG="en_US.UTF-8"
    )
    unknown = await guanai("invite", "--site", "NOPE", "--bot-username", "b", DATABASE_URL=db_url)

    assert without.code == 0 and "BOT_TOKEN" in without.out
    assert "start=" in without.out and "Invitation token:" in without.out
    assert unknown.code == 1 and "NOPE" in unknown.err
