"""Every copy of an escalation message, at every level, says who took it and then that it
is resolved, and loses its buttons: the ladder, the sender and the chat, end to end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.sender import Sender
from domain.db import UnitOfWork
from domain.models import Concern, ConcernKind, Coordinator, OutboxMessage, Priority, RegionKind
from domain.schedule import ladder
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI, RunningBot
from tests.factories import make_child, make_pairing, make_person, make_site, make_volunteer
from tests.test_coordinator_chat import committed
from tests.volunteering import latin_words

SCHOOL, TOWNSHIP, DISTRICT = 9301, 9302, 9303


async def test_every_copy_says_who_took_it_and_that_it_is_resolved(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    now = clock.now()
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        district = await make_site(s, kind=RegionKind.district, name="秀山区")
        township = await make_site(s, parent=district, kind=RegionKind.township, name="中和镇")
        school = await make_site(s, parent=township, name="中和小学")
        for region, telegram_id, name in (
            (school, SCHOOL, "王校长"),
            (township, TOWNSHIP, "镇负责人"),
            (district, DISTRICT, "区关工委"),
        ):
            head = await make_person(s, telegram_id=telegram_id, name=name)
            s.add(Coordinator(person_id=head.id, region_id=region.id))
        child = await make_child(s, school, name="李小花", priority=Priority.key)
        volunteer = await make_volunteer(s, school)
        await make_pairing(s, volunteer, child, started_at=now - dt.timedelta(days=10))
        raiser = await make_person(s)
        s.add(
            Concern(
                child_id=child.id,
                kind=ConcernKind.mood,
                raised_by=raiser.id,
                raised_at=now - dt.timedelta(days=5),
                due_at=now - dt.timedelta(days=2),  # every step of the ladder is due
            )
        )
        await s.flush()
        await ladder.climb(s, now=now, tz=SHANGHAI, text=Notices(), media_dir=tmp_path)
        await uow.commit()
    sender = Sender(running_bot.bot, sessionmaker, media_dir=tmp_path)
    await sender.drain(clock)

    wang, township_head, district_head = (
        fake.user(SCHOOL),
        fake.user(TOWNSHIP),
        fake.user(DISTRICT),
    )
    to_wang = await wang.next_message()
    to_township = await township_head.next_message()
    to_district = await district_head.next_message()
    assert "李小花" in (to_township.text or "") and to_township.button_texts()

    wang.press(to_wang.callback_data("我来处理"), to_wang)
    await fake.wait_until(lambda: "我来处理" not in " ".join(to_wang.button_texts()) or None)
    await _queued_edits(running_bot, 2)
    await sender.drain(clock)
    for copy in (to_township, to_district):
        assert "王校长已接手处理" in (copy.text or ""), copy.text
        assert copy.button_texts() == []

    wang.press(to_wang.callback_data("已解决"), to_wang)
    await wang.next_message()  # how was it resolved?
    wang.send_text("已家访，孩子情绪好转")
    await wang.next_message()
    await _queued_edits(running_bot, 5)
    await sender.drain(clock)
    for copy in (to_wang, to_township, to_district):
        assert "已由王校长办结" in (copy.text or ""), copy.text
        assert copy.button_texts() == []
    assert "王校长已接手处理" in (to_district.text or "")  # the earlier line stays
    for copy in (to_wang, to_township, to_district):
        assert latin_words(copy.text or "") == []


async def _queued_edits(running_bot: RunningBot, count: int) -> list[int]:
    async def probe(session: AsyncSession) -> list[int] | None:
        found = list(
            await session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.content.has_key("replaces"))
            )
        )
        return found if len(found) >= count else None

    return await committed(running_bot.sessionmaker, probe)
