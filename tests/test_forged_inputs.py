"""What an attacker (or a very long-winded volunteer) found: forged buttons, a region's code
told through a refusal, notes cut without a word, an invitation token kept in plain text."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis
from sqlalchemy import select

from domain.db import UnitOfWork
from domain.models import CheckIn, RegionKind
from tests.conftest import RunningBot
from tests.factories import make_site
from tests.volunteering import COORDINATOR, VOLUNTEER, invite, seed_school, settled

STALE = "这个按钮已失效。"
INTERNAL_ERROR = "出了点问题"
NOT_IN_AREA = "您负责的范围内没有这个站点或区域。"


async def test_forged_buttons_with_huge_ids_or_negative_pages_are_stale(
    running_bot: RunningBot,
) -> None:
    school = await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    coordinator = running_bot.fake.user(COORDINATOR)
    coordinator.send_text("/start")
    menu = await coordinator.next_message()

    for forged in (
        f"ch:{2**31}:card",  # no PostgreSQL integer holds it
        f"ch:{2**63 + 7}:card",
        f"child:{2**40}",
        f"ov:{school.site.id}:-1",  # pages start at 0
        "odp:-3",
        f"impsite:{-school.site.id}",
        "oda:nudge:p:1:202613",  # no thirteenth month
    ):
        update_id = coordinator.press(forged, menu)
        answer = await running_bot.fake.wait_callback_answer(update_id)
        assert answer.params.get("text") == STALE, forged
    await settled(coordinator)
    assert not any(INTERNAL_ERROR in (m.text or "") for m in coordinator.messages)


async def test_a_refused_region_id_tells_nothing_of_the_region(running_bot: RunningBot) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        elsewhere = await make_site(
            uow.session, kind=RegionKind.township, code="XS-ZH", name="秀山镇"
        )
        await uow.commit()
    coordinator = running_bot.fake.user(COORDINATOR)
    coordinator.send_text("/start")
    menu = await coordinator.next_message()

    answers = []
    for region_id in (elsewhere.id, 2**31 - 1):  # outside the scope; no such region
        update_id = coordinator.press(f"ov:{region_id}:0", menu)
        answers.append((await running_bot.fake.wait_callback_answer(update_id)).params.get("text"))

    assert answers == [NOT_IN_AREA, NOT_IN_AREA]  # alike: nothing of XS-ZH or 秀山镇 leaks


async def test_a_note_that_does_not_fit_is_said_not_to_fit(running_bot: RunningBot) -> None:
    await seed_school(running_bot.sessionmaker, running_bot.clock.now())
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("✅ 打卡")
    activities = await user.next_message()
    user.press(activities.callback_data("谈心"), activities)
    await running_bot.fake.wait_until(lambda: "✅ 谈心" in activities.button_texts() or None)
    user.press(activities.callback_data("下一步"), activities)
    await user.next_message()  # photo prompt
    user.send_photo(b"photo")
    await user.next_message()  # summary

    user.send_text("长" * 1990)
    assert "长" * 100 in ((await user.next_message()).text or "")  # the summary, note shown
    user.send_text("奶奶说下周去医院复查")
    warning = (await user.next_message()).text or ""
    assert warning == "一次打卡的文字备注最多 2000 个字：这条备注最后的 1 个字没有保存。"
    summary = await user.next_message()
    user.press(summary.callback_data("确认"), summary)
    assert "已保存" in ((await user.next_message()).text or "")
    await settled(user)

    async with running_bot.sessionmaker() as session:
        checkin = await session.scalar(select(CheckIn))
    assert checkin is not None and checkin.note == "长" * 1990 + "\n奶奶说下周去医院复"


async def test_a_joining_persons_conversation_keeps_only_the_tokens_hash(
    running_bot: RunningBot, redis: Redis
) -> None:
    at = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, at, paired_with=None)
    token = await invite(running_bot.sessionmaker, school.site, at)
    user = running_bot.fake.user(9200, "张三")

    user.send_text(f"/start {token}")
    await user.next_message()
    ask_name = await user.next_message()
    await settled(user)

    prefix = running_bot.settings.redis_prefix
    stored = b"".join(
        [await redis.dump(key) or b"" async for key in redis.scan_iter(match=f"{prefix}:fsm:*")]
    )
    assert token.encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored

    # and the hash is enough to join
    user.press(ask_name.callback_data("张三"), ask_name)
    await user.next_message()  # the phone, please
    user.send_text("跳过")
    await user.next_message()
    notice = await user.next_message()
    user.press(notice.callback_data("我同意"), notice)
    await user.next_message()  # welcome
    assert "✅ 打卡" in (await user.next_message()).button_texts()
