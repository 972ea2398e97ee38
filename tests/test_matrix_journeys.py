"""The journeys on Matrix, against a real Synapse, a second matrix-nio client acting as the
person: joining with an invitation's code, and a coordinator on Matrix taking an
escalation that a coordinator on Telegram then sees taken."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nio import RoomSendResponse, UploadResponse
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.matrix import state
from bot.matrix.client import MatrixFront
from bot.matrix.conversation import Conversation
from bot.matrix.rooms import Rooms
from bot.matrix.sender import matrix_sender
from bot.telegram.sender import Sender
from domain.care import photos
from domain.care.inbox import StagedOr
from domain.care.photos import PhotoPolicy
from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.errors import InvitationUsed
from domain.language import catalogue
from domain.models import (
    Account,
    Channel,
    CheckIn,
    Concern,
    ConcernKind,
    Coordinator,
    Escalation,
    InvitationRole,
    MatrixSyncState,
    OutboxMessage,
    Photo,
    Priority,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from domain.people import identity, invitations
from domain.schedule import ladder
from domain.wording.notices import Notices
from guanai.settings import MatrixAccount
from tests.conftest import SHANGHAI, RunningBot
from tests.factories import make_child, make_pairing, make_person, make_site, make_volunteer
from tests.matrix_people import Person, running
from tests.synapse_server import MatrixUser, Synapse
from tests.volunteering import latin_words

pytestmark = pytest.mark.matrix

zh = catalogue("zh")
TOWNSHIP_HEAD = 9402


@contextlib.asynccontextmanager
async def matrix_front(
    synapse: Synapse,
    bot: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation,
    store: Path,
    media_dir: Path | None = None,
) -> AsyncIterator[MatrixFront]:
    account = MatrixAccount(
        homeserver=synapse.url,
        user_id=bot.user_id,
        access_token=None,
        password=bot.password,
        store_dir=store,
    )
    async with running(account, sessionmaker, conversation.answer, media_dir=media_dir) as front:
        yield front


@pytest.fixture
def rooms(redis: Redis, redis_prefix: str) -> Rooms:
    return Rooms(redis, redis_prefix)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_volunteer_joins_with_the_invitation_code_and_is_known(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    rooms: Rooms,
    clock: FixedClock,
    tmp_path: Path,
    encrypted: bool,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        site = await make_site(uow.session, name="中和小学")
        made = await invitations.create(
            uow.session,
            region=site,
            role=InvitationRole.volunteer,
            volunteer_kind=VolunteerKind.surrogate,
            created_by=None,
            at=clock.now(),
        )
        await uow.commit()
    conversation = Conversation(rooms, clock, SHANGHAI)
    bot = bot_user.user_id
    async with matrix_front(synapse, bot_user, sessionmaker, conversation, tmp_path / "store"):
        room = await person.direct_chat_with(bot, encrypted=encrypted)

        async def say(text: str, answers: int) -> list[str]:
            before = len(person.texts_from(room, bot))
            await person.say(room, text)
            await person.wait_until(
                lambda: len(person.texts_from(room, bot)) >= before + answers, f"'{text}'"
            )
            return person.texts_from(room, bot)[before:]

        assert await say("你好", 1) == [
            zh.gettext(
                "This bot is only for invited volunteers and staff. Ask your school's or "
                "village's care office for an invitation link."
            )
        ]
        welcome, ask_name = await say(f"https://t.me/guanai_bot?start={made.token}", 2)
        assert "中和小学" in welcome and "回复 1" in ask_name
        assert "请输入您的手机号" not in ask_name
        (ask_phone,) = await say("张老师", 1)
        assert "张老师" in ask_phone and "回复 0" in ask_phone
        (ask_consent,) = await say("12345", 1)  # not a phone number: asked again
        assert ask_consent == zh.gettext("Please type your phone number, or reply 0 to skip.")
        (ask_consent,) = await say("13800138000", 1)
        assert ask_consent.splitlines()[-1] == "回复 1 ✅ 我同意 · 2 我不同意", ask_consent
        (welcome_aboard,) = await say("1", 1)
        assert welcome_aboard == zh.gettext(
            "Welcome aboard! Thank you for caring for the children."
        )
        (known,) = await say("你好", 1)
        assert known.startswith("张老师，您好")
        (nothing_offered,) = await say("9", 1)  # a choice never offered: refused kindly
        assert nothing_offered == zh.gettext("There is no choice {number} here.").format(number=9)

    display_name = person.user.user_id.split(":")[0].removeprefix("@")
    for text in person.texts_from(room, bot):
        assert latin_words(text.replace(display_name, "")) == [], text
    async with UnitOfWork(sessionmaker) as uow:
        me = await identity.identify(uow.session, Channel.matrix, person.user.user_id)
        assert me is not None and me.name == "张老师" and me.is_volunteer
        volunteer = await uow.session.scalar(
            select(Volunteer).where(Volunteer.person_id == me.person_id)
        )
        assert volunteer is not None and volunteer.site_id == site.id
        with pytest.raises(InvitationUsed):
            await invitations.check(uow.session, made.token, at=clock.now())


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_matrix_coordinator_takes_an_escalation_and_telegram_sees_who(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    running_bot: RunningBot,
    rooms: Rooms,
    tmp_path: Path,
    encrypted: bool,
) -> None:
    fake, clock, sessionmaker = running_bot.fake, running_bot.clock, running_bot.sessionmaker
    now = clock.now()
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        township = await make_site(s, kind=RegionKind.township, name="中和镇")
        school = await make_site(s, parent=township, name="中和小学")
        wang = await make_person(s, telegram_id=None, name="王校长")
        s.add(Account(person_id=wang.id, channel=Channel.matrix, external_id=person.user.user_id))
        s.add(Coordinator(person_id=wang.id, region_id=school.id))
        head = await make_person(s, telegram_id=TOWNSHIP_HEAD, name="镇负责人")
        s.add(Coordinator(person_id=head.id, region_id=township.id))
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
        await uow.commit()

    conversation = Conversation(rooms, clock, SHANGHAI)
    bot = bot_user.user_id
    telegram = Sender(running_bot.bot, sessionmaker, media_dir=tmp_path)
    async with matrix_front(
        synapse, bot_user, sessionmaker, conversation, tmp_path / "store"
    ) as front:
        matrix = matrix_sender(sessionmaker, front, rooms)
        room = await person.direct_chat_with(bot, encrypted=encrypted)
        await person.wait_until(
            lambda: front.direct_room_with(person.user.user_id) == room, "the bot to know it"
        )
        async with UnitOfWork(sessionmaker) as uow:
            await ladder.climb(
                uow.session, now=now, tz=SHANGHAI, text=Notices(), media_dir=tmp_path
            )
            await uow.commit()
        await matrix.drain(clock)
        await telegram.drain(clock)

        await person.wait_until(lambda: len(person.texts_from(room, bot)) >= 1, "the escalation")
        (escalation,) = person.texts_from(room, bot)
        assert "李小花" in escalation
        assert escalation.splitlines()[-1] == "回复 1 ✋ 我来处理 · 2 🔁 改派 · 3 ✅ 已解决"
        to_head = await fake.user(TOWNSHIP_HEAD).next_message()
        assert "李小花" in (to_head.text or "") and any(
            "我来处理" in b for b in to_head.button_texts()
        )

        await person.say(room, "1")
        yours = zh.gettext("It is yours now; it will not be sent further up.")
        await person.wait_until(
            lambda: any(t.startswith(yours) for t in person.texts_from(room, bot)), "taken"
        )
        await telegram.drain(clock)
        await matrix.drain(clock)
        await fake.wait_until(lambda: "王校长" in (to_head.text or "") or None)
        assert "王校长已接手处理" in (to_head.text or ""), to_head.text
        assert to_head.button_texts() == []
        # the coordinator's own copy on Matrix is edited to say so, without the choices
        await person.wait_until(
            lambda: any("王校长已接手处理" in text for text in person.texts_from(room, bot)),
            "the edited copy",
        )
        edited = next(t for t in person.texts_from(room, bot) if "王校长已接手处理" in t)
        assert "回复 1" not in edited

        taken_answer = next(t for t in person.texts_from(room, bot) if t.startswith(yours))
        assert taken_answer.splitlines()[-1] == "回复 1 改派 · 2 已解决", taken_answer

        async def say(text: str) -> str:
            before = len(person.texts_from(room, bot))
            await person.say(room, text)
            await person.wait_until(lambda: len(person.texts_from(room, bot)) > before, text)
            return person.texts_from(room, bot)[-1]

        assert await say("3") == zh.gettext("There is no choice {number} here.").format(number=3)
        assert "怎么解决的" in await say("2")
        closed = await say("已家访，孩子情绪好转")
        assert closed == zh.gettext("Closed. Thank you for looking after this child.")
        await telegram.drain(clock)
        await fake.wait_until(lambda: "已由王校长办结" in (to_head.text or "") or None)

    async with UnitOfWork(sessionmaker) as uow:
        taken = await uow.session.scalar(select(Escalation).where(Escalation.child_id == child.id))
        assert taken is not None and taken.acknowledged_by == wang.id


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    picture = Image.new("RGB", (64, 48), colour)
    for x in range(0, 64, 8):  # unlike the other picture's, whatever the colour
        picture.putpixel((x, x % 48), (255 - colour[0], 0, 0))
    out = io.BytesIO()
    picture.save(out, format="JPEG")
    return out.getvalue()


async def send_image(person: Person, room: str, data: bytes, *, encrypted: bool) -> None:
    """An `m.image` as Element sends one: in an encrypted chat the file is encrypted too."""
    uploaded, keys = await person.client.upload(
        io.BytesIO(data),
        content_type="image/jpeg",
        filename="photo.jpg",
        encrypt=encrypted,
        filesize=len(data),
    )
    assert isinstance(uploaded, UploadResponse), uploaded
    content: dict[str, object] = {"msgtype": "m.image", "body": "photo.jpg"}
    if encrypted:
        assert keys is not None
        content["file"] = {**keys, "url": uploaded.content_uri}
    else:
        content["url"] = uploaded.content_uri
    if person.client.should_query_keys:
        await person.client.keys_query()
    sent = await person.client.room_send(
        room, "m.room.message", content, ignore_unverified_devices=True
    )
    assert isinstance(sent, RoomSendResponse), sent


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_volunteer_checks_in_a_home_visit_with_two_photos_and_the_questions(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    rooms: Rooms,
    clock: FixedClock,
    tmp_path: Path,
    encrypted: bool,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        site = await make_site(s, name="中和小学")
        me = await make_person(s, telegram_id=None, name="张老师")
        s.add(Account(person_id=me.id, channel=Channel.matrix, external_id=person.user.user_id))
        volunteer = await make_volunteer(s, site, person=me)
        child = await make_child(s, site, name="李小花")
        await make_pairing(s, volunteer, child, started_at=clock.now() - dt.timedelta(days=10))
        await uow.commit()
    media = tmp_path / "media"
    conversation = Conversation(rooms, clock, SHANGHAI)
    bot = bot_user.user_id
    async with matrix_front(
        synapse, bot_user, sessionmaker, conversation, tmp_path / "store", media
    ):
        room = await person.direct_chat_with(bot, encrypted=encrypted)

        async def said(answers: int, before: int) -> list[str]:
            await person.wait_until(
                lambda: len(person.texts_from(room, bot)) >= before + answers, "the answer"
            )
            return person.texts_from(room, bot)[before:]

        async def say(text: str) -> str:
            before = len(person.texts_from(room, bot))
            await person.say(room, text)
            (answer,) = await said(1, before)
            return answer

        menu = await say("你好")
        assert menu.splitlines()[-1].startswith("回复 1 👧 我的孩子 · 2 ✅ 打卡 · 3 ⚠️"), menu
        # the volunteer's steps, as in Telegram: check in, what was done, two photos,
        # five answers, confirm
        steps = 0
        what = await say("2")
        steps += 1
        assert "李小花" in what and "1 家访" in what
        ask_photos = await say("1")
        steps += 1
        assert "回复 0" in ask_photos
        for number, colour in enumerate([(20, 120, 200), (200, 180, 20)]):
            before = len(person.texts_from(room, bot))
            await send_image(person, room, _jpeg(colour), encrypted=encrypted)
            steps += 1
            (after,) = await said(1, before)
            if number == 0:
                assert "1/5" in after or "第1" in after or "1" in after.splitlines()[0], after
            else:
                assert after == zh.gettext(
                    "📷 Photo added ({count} in all). Please answer the question above."
                ).format(count=2)
        for _question in range(5):
            answer = await say("1")
            steps += 1
        assert (
            "📷" in answer
            and "2" in answer
            and answer.splitlines()[-1] == ("回复 1 ✅ 确认 · 2 🗑 放弃")
        ), answer
        saved = await say("1")
        steps += 1
        assert saved.startswith(zh.gettext("✅ Saved. Thank you!")), saved
        assert steps == 10  # Telegram: menu, home visit, next, an album, 5 answers, confirm

    for text in person.texts_from(room, bot):
        assert latin_words(text) == [], text
    async with UnitOfWork(sessionmaker) as uow:
        recorded = await uow.session.scalar(select(CheckIn).where(CheckIn.child_id == child.id))
        assert recorded is not None
        assert recorded.visit_answers is not None and len(recorded.visit_answers) == 5
        kept = list(await uow.session.scalars(select(Photo).where(Photo.checkin_id == recorded.id)))
        assert len(kept) == 2
        policy = PhotoPolicy(media_dir=media)
        for photo in kept:  # the photo job, as the worker runs it, reads what was staged
            stored = await photos.store_photo(
                uow.session,
                photo.id,
                downloader=StagedOr(media, NoOtherDownloads()),
                policy=policy,
                now=clock.now(),
            )
            assert stored.outcome is photos.Outcome.stored
        await uow.commit()


class NoOtherDownloads:
    async def download(self, file_id: str) -> bytes:
        raise AssertionError(f"only staged photos here, not {file_id}")


async def test_a_volunteer_raises_a_concern_and_reports_an_emergency(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    rooms: Rooms,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        site = await make_site(s, name="中和小学")
        head = await make_person(s, name="王校长")
        s.add(Coordinator(person_id=head.id, region_id=site.id))
        me = await make_person(s, telegram_id=None, name="张老师")
        s.add(Account(person_id=me.id, channel=Channel.matrix, external_id=person.user.user_id))
        volunteer = await make_volunteer(s, site, person=me)
        first = await make_child(s, site, name="李小花")
        second = await make_child(s, site, name="王小明")
        for child in (first, second):
            await make_pairing(s, volunteer, child, started_at=clock.now() - dt.timedelta(days=9))
        await uow.commit()
    ladder = LadderRuns()
    conversation = Conversation(rooms, clock, SHANGHAI, ladder_queue=ladder)
    bot = bot_user.user_id
    async with matrix_front(synapse, bot_user, sessionmaker, conversation, tmp_path / "store"):
        room = await person.direct_chat_with(bot, encrypted=True)

        async def say(text: str) -> str:
            before = len(person.texts_from(room, bot))
            await person.say(room, text)
            await person.wait_until(lambda: len(person.texts_from(room, bot)) > before, text)
            return person.texts_from(room, bot)[before]

        await say("你好")
        whom = await say("3")
        assert "李小花" in whom and "王小明" in whom
        assert await say("7") == zh.gettext("This answer is not one of the choices.")
        number = 1 + whom.splitlines()[-1].split(" · ").index(
            next(p for p in whom.splitlines()[-1].split(" · ") if "王小明" in p)
        )
        what = await say(str(number))
        assert "王小明" in what
        assert "回复 0" in await say("1")
        noted = await say("最近很少说话")
        assert noted.startswith("已记下：王小明"), noted
        assert latin_words(noted) == []

        # an emergency, from the same menu: child, what happened, a few words
        menu = await say("你好")
        assert "4 🚨" in menu.splitlines()[-1], menu
        assert "王小明" in await say("4")
        what = await say(str(number))
        assert what.startswith("🚨") and "王小明" in what
        assert "回复 0" in await say("2")  # 离家出走或失联
        reported = await say("0")
        assert reported.startswith("🚨") and "王小明" in reported, reported
        assert latin_words(reported) == []
        assert len(ladder.climbed) == 1  # the ladder runs at once, not at its next cron

    async with UnitOfWork(sessionmaker) as uow:
        raised = await uow.session.scalar(select(Concern).where(Concern.child_id == second.id))
        assert raised is not None and raised.raised_by == me.id and raised.note == "最近很少说话"
        told = await uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.target != "")
        )
        assert told, "the care office is told, through the outbox"
        incident = await uow.session.scalar(
            select(Escalation).where(
                Escalation.child_id == second.id, Escalation.id == ladder.climbed[0]
            )
        )
        assert incident is not None and incident.closed_at is None


async def test_a_bot_restarted_mid_check_in_carries_on_without_repeating_an_answer(
    synapse: Synapse,
    person: Person,
    bot_user: MatrixUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    rooms: Rooms,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        site = await make_site(s, name="中和小学")
        me = await make_person(s, telegram_id=None, name="张老师")
        s.add(Account(person_id=me.id, channel=Channel.matrix, external_id=person.user.user_id))
        volunteer = await make_volunteer(s, site, person=me)
        child = await make_child(s, site, name="李小花")
        await make_pairing(s, volunteer, child, started_at=clock.now() - dt.timedelta(days=10))
        await uow.commit()
    conversation = Conversation(rooms, clock, SHANGHAI)
    bot = bot_user.user_id
    store = tmp_path / "store"

    async def say(text: str) -> str:
        before = len(person.texts_from(room, bot))
        await person.say(room, text)
        await person.wait_until(lambda: len(person.texts_from(room, bot)) > before, text)
        return person.texts_from(room, bot)[before]

    async with matrix_front(synapse, bot_user, sessionmaker, conversation, store):
        room = await person.direct_chat_with(bot, encrypted=True)
        async with UnitOfWork(sessionmaker) as uow:
            before_check_in = await state.load(uow.session, bot)
        await say("你好")
        await say("2")
        assert "回复 0" in await say("3")  # homework checked, no home visit: no questions
    # as if it had died before saving its sync token: the three messages come again
    async with UnitOfWork(sessionmaker) as uow:
        await uow.session.execute(
            update(MatrixSyncState)
            .where(MatrixSyncState.user_id == bot)
            .values(next_batch=before_check_in.next_batch)
        )
        await uow.commit()

    async with matrix_front(synapse, bot_user, sessionmaker, conversation, store):
        summary = await say("0")
        assert "李小花" in summary and summary.splitlines()[-1] == "回复 1 ✅ 确认 · 2 🗑 放弃"
        assert (await say("1")).startswith(zh.gettext("✅ Saved. Thank you!"))

    assert await person.messages_in_history(room, bot) == 5


class LadderRuns:
    """The queue the front asks for an immediate ladder run on: what it was asked."""

    def __init__(self) -> None:
        self.climbed: list[int] = []

    async def climb_now(self, escalation_id: int) -> None:
        self.climbed.append(escalation_id)
