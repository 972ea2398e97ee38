"""A child's card for a coordinator: archive, check-ins with photos (stored copy or file id),
and the review buttons; end to end through the fake Bot API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.telegram.callbacks import ChildOpen, ChildView
from domain.care import review as queue
from domain.db import UnitOfWork
from domain.models import (
    Activity,
    Channel,
    CheckIn,
    Child,
    Guardian,
    OutboxMessage,
    Parent,
    Photo,
    PhotoStatus,
    Priority,
    RegionKind,
    ReviewStatus,
)
from domain.people import identity, regions
from guanai.settings import Settings
from tests.conftest import RunningBot
from tests.factories import make_checkin, make_pairing, make_person, make_volunteer
from tests.outbox_support import chat_of, shown
from tests.test_coordinator_chat import WANG, committed

VOLUNTEER = 9100


async def test_the_card_shows_the_archive_photos_and_what_awaits_review(
    running_bot: RunningBot, settings: Settings
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    stored_bytes = b"\xff\xd8 stored copy of a home visit"
    (settings.media_dir / "photos").mkdir(parents=True)
    (settings.media_dir / "photos" / "a.jpg").write_bytes(stored_bytes)
    telegram_only, _unique = fake.store_file("photo", b"\xff\xd8 only on telegram")
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        school = await regions.add_region(
            s, code="S1", name="中和小学", kind=RegionKind.school, parent_code=None, at=clock.now()
        )
        await identity.add_coordinator(
            s,
            channel=Channel.telegram,
            external_id=str(WANG),
            name="王老师",
            scope_code="S1",
            at=clock.now(),
        )
        child = Child(site_id=school.id, name="李小花", priority=Priority.key, address="中和村3组")
        child.guardians = [Guardian(name="李奶奶", relation="祖母", phone="+8613900000000")]
        child.parents = [Parent(relation="father", work_place="广东东莞", phone="+8613812345678")]
        s.add(child)
        await s.flush()
        volunteer = await make_volunteer(
            s, school, person=await make_person(s, telegram_id=VOLUNTEER, name="张阿姨")
        )
        pairing = await make_pairing(s, volunteer, child, started_at=clock.now())
        visit = await make_checkin(s, pairing, occurred_at=clock.now() - dt.timedelta(days=2))
        doubtful = await make_checkin(
            s,
            pairing,
            occurred_at=clock.now() - dt.timedelta(days=1),
            activities=(Activity.talk,),
        )
        await queue.flag(s, doubtful.id, queue.SIMILAR_PHOTO, now=clock.now())
        s.add_all(
            [
                Photo(
                    checkin_id=visit.id,
                    file_id="FAKE-gone",
                    file_unique_id="u1",
                    status=PhotoStatus.stored,
                    stored_path="photos/a.jpg",
                ),
                Photo(checkin_id=doubtful.id, file_id=telegram_only, file_unique_id="u2"),
            ]
        )
        child_id, doubtful_id = child.id, doubtful.id
        await uow.commit()
    wang = fake.user(WANG)
    wang.send_text("/start")
    menu = await wang.next_message()

    wang.press(ChildOpen(child_id=child_id, view=ChildView.card).pack(), menu)
    card = await wang.next_message()
    assert "李小花" in (card.text or "") and "李奶奶（祖母）139 0000 0000" in (card.text or "")
    assert "父亲：在广东东莞务工 138 1234 5678" in (card.text or "")  # not 父母（father）+86…
    assert "家访" in (card.text or "") and "待核查" in (card.text or "")

    wang.press(card.callback_data("照片"), card)
    newest, older = await wang.next_message(), await wang.next_message()
    assert newest.file is not None and newest.file.file_id == telegram_only
    assert older.file is not None and older.file.data == stored_bytes  # uploaded from MEDIA_DIR

    wang.press(card.callback_data("待核查"), card)
    await wang.next_message()  # the photo again
    review = await wang.next_message()
    assert "核查原因：有张照片和以前的几乎一样" in (review.text or "")
    wang.press(review.callback_data("询问"), review)
    await fake.wait_until(lambda: "已经问志愿者了" in (wang.last_message.text or "") or None)

    questioned = await committed(
        sessionmaker,
        lambda session: session.scalar(
            select(CheckIn).where(
                CheckIn.id == doubtful_id, CheckIn.review == ReviewStatus.questioned
            )
        ),
    )
    assert questioned.reviewed_by is not None
    async with sessionmaker() as session:
        message = await session.scalar(select(OutboxMessage))
    assert message is not None and chat_of(message) == VOLUNTEER
    assert "张阿姨您好，王老师对您11月15日为李小花做的打卡有个问题" in shown(message)["text"]
