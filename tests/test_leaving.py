"""Leaving means forgetting: a child taken out keeps their history for a while, and a year
later (the site's retention period) nothing personal of theirs is left anywhere — in any
column of any table, or in MEDIA_DIR — while the counts the reports need survive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.archive import leaving
from domain.care import pairings
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.addresses import Address
from domain.delivery.content import Attachment, AttachmentKind, Content
from domain.models import (
    AuditEntry,
    CheckIn,
    Child,
    Concern,
    ConcernKind,
    Escalation,
    EscalationKind,
    Guardian,
    IncidentStep,
    LeaveReason,
    OutboxMessage,
    OutboxStatus,
    Pairing,
    Parent,
    Person,
    Photo,
    PhotoStatus,
    Volunteer,
)
from guanai.settings import Settings
from tests.cli_support import Guanai, deployment
from tests.conftest import SHANGHAI, RunningBot
from tests.factories import (
    make_checkin,
    make_child,
    make_pairing,
    make_photo,
    on_telegram,
    telegram_account,
)
from tests.test_coordinator_chat import WANG, committed, seed
from tests.test_people_told import ZHANG, _join, _pair_screen, _some
from tests.workers_support import make_programme

NAME = "李小花"
GUARDIAN = "李奶奶"
PHONE = "13912345678"
ROSTER = Attachment(AttachmentKind.document, "outbox/roster/1.xlsx", "1.xlsx")
FATHER_PHONE = "13887654321"
ADDRESS = "中和镇桃园村三组"
SECRETS = (NAME, GUARDIAN, PHONE, FATHER_PHONE, ADDRESS)
LEFT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def cli(guanai: Guanai, settings: Settings) -> Guanai:
    guanai.env.update(deployment(settings))
    return guanai


async def _a_child_with_a_past(
    sessionmaker: async_sessionmaker[AsyncSession], media_dir: Path
) -> tuple[int, int]:
    """李小花, paired, with a year of everything that can name her; and another child."""
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        p = await make_programme(s)
        child = await make_child(
            s,
            p.school,
            name=NAME,
            external_id="sfz-0123456789",
            address=ADDRESS,
            health="哮喘",
            personality="内向",
        )
        s.add_all(
            [
                Guardian(
                    child_id=child.id, name=GUARDIAN, relation="祖母", phone=PHONE, address=ADDRESS
                ),
                Parent(child_id=child.id, relation="father", work_place="东莞", phone=FATHER_PHONE),
            ]
        )
        pairing = await make_pairing(s, p.volunteer, child)
        checkin = await make_checkin(
            s,
            pairing,
            note=f"{NAME}今天很开心，奶奶电话{PHONE}",
            voice_file_id="VOICE-1",
            latitude=28.1,
            longitude=108.9,
            visit_answers={"meals": f"{GUARDIAN}做了饭"},
        )
        photo = await make_photo(
            s, checkin=checkin, status=PhotoStatus.stored, stored_path="checkins/1/1.jpg"
        )
        (media_dir / "checkins" / "1").mkdir(parents=True)
        (media_dir / photo.stored_path).write_bytes(b"\xff\xd8" + NAME.encode())  # type: ignore[operator]
        concern = Concern(
            child_id=child.id,
            kind=ConcernKind.mood,
            note=f"{NAME}情绪低落",
            raised_by=p.school_head.id,
            raised_at=LEFT - dt.timedelta(days=30),
            due_at=LEFT - dt.timedelta(days=27),
        )
        s.add(concern)
        escalation = Escalation(
            kind=EscalationKind.emergency,
            item_key=f"incident:{child.id}:x",
            child_id=child.id,
            details={"incident": "missing", "note": f"{NAME}走失", "media": ["PHOTO-9"]},
            opened_at=LEFT - dt.timedelta(days=20),
            resolution_note=f"在{ADDRESS}找到",
        )
        s.add(escalation)
        await s.flush()
        s.add(
            IncidentStep(
                escalation_id=escalation.id,
                kind="found",
                by_whom="村干部",
                place=ADDRESS,
                note=f"{NAME}已回家",
                recorded_at=LEFT - dt.timedelta(days=19),
            )
        )
        volunteer = await s.get_one(Person, p.volunteer.person_id)
        sent = await outbox.enqueue(
            s,
            to=(await tg_of(s, volunteer)),
            content=Content.lines([f"提醒：{NAME}本月还需家访。监护人电话 {PHONE}"]),
            not_before=LEFT - dt.timedelta(days=10),
        )
        assert sent is not None
        sent.status = OutboxStatus.sent
        roster = await outbox.enqueue(
            s,
            to=(await tg_of(s, p.district_head)),
            content=Content.lines(["本周名单"], attachment=ROSTER),
            not_before=LEFT - dt.timedelta(days=9),
        )
        assert roster is not None
        roster.status = OutboxStatus.sent
        (media_dir / "outbox" / "roster").mkdir(parents=True)
        (media_dir / "outbox" / "roster" / "1.xlsx").write_bytes(NAME.encode())
        other = await make_child(s, p.school, name="王小明")
        await uow.commit()
        return child.id, other.id


async def _found(sessionmaker: async_sessionmaker[AsyncSession], needle: str) -> list[str]:
    """Every text, varchar and jsonb column of every table holding `needle`, generically."""
    async with UnitOfWork(sessionmaker) as uow:
        columns = (
            await uow.session.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN "
                    "('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
                )
            )
        ).all()
        assert len(columns) > 40  # the search really covers the schema
        found = []
        for table, column in columns:
            count = await uow.session.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE :needle'),
                {"needle": f"%{needle}%"},
            )
            if count:
                found.append(f"{table}.{column}")
        return found


def _in_files(media_dir: Path, needle: str) -> list[str]:
    return [
        str(path.relative_to(media_dir))
        for path in media_dir.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


async def _everywhere(sessionmaker: async_sessionmaker[AsyncSession], media_dir: Path) -> set[str]:
    found: set[str] = set()
    for secret in SECRETS:
        found.update(await _found(sessionmaker, secret))
        found.update(_in_files(media_dir, secret))
    return found


async def tg_of(session: AsyncSession, person: Person) -> Address:
    return Address("telegram", (await telegram_account(session, person.id)).external_id)


async def test_a_year_after_leaving_nothing_personal_is_left_anywhere(
    cli: Guanai, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    media = settings.media_dir
    child_id, other_id = await _a_child_with_a_past(sessionmaker, media)
    assert {"children.name", "guardians.phone", "checkins.note", "outbox.content"} <= (
        await _everywhere(sessionmaker, media)
    )

    left = await cli("children", "leave", str(child_id), "--reason", "moved_away")
    assert left.code == 0, left.err
    assert "has left the programme (moved away); 1 pairings ended" in left.out
    async with UnitOfWork(sessionmaker) as uow:
        child = await uow.session.get_one(Child, child_id)
        assert child.left_reason is LeaveReason.moved_away and child.left_at is not None
        assert (
            await uow.session.scalar(
                select(func.count()).where(Pairing.child_id == child_id, Pairing.ended_at.is_(None))
            )
            == 0
        )
        left_at = child.left_at
        concern = await uow.session.scalar(select(Concern).where(Concern.child_id == child_id))
        assert concern is not None and concern.closed_at == left_at  # no must-visit climbs on

    # kept while the site's period (one year by default) runs
    almost = (left_at + dt.timedelta(days=364)).isoformat()
    ran = await cli("jobs", "run", "forget-leavers", "--now", almost)
    assert ran.code == 0, ran.err
    assert "forgotten 0" in ran.out
    assert "children.name" in await _found(sessionmaker, NAME)

    later = (left_at + dt.timedelta(days=366)).isoformat()
    ran = await cli("jobs", "run", "forget-leavers", "--now", later)
    assert ran.code == 0, ran.err
    assert "forgotten 1" in ran.out
    assert await _everywhere(sessionmaker, media) == set()

    # the anonymous history the reports count survives; the other child is untouched
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        child = await s.get_one(Child, child_id)
        assert child.forgotten_at is not None and child.left_reason is LeaveReason.moved_away
        assert await s.scalar(select(func.count()).where(CheckIn.child_id == child_id)) == 1
        assert await s.scalar(select(func.count()).where(Pairing.child_id == child_id)) == 1
        assert await s.scalar(select(func.count()).where(Concern.child_id == child_id)) == 1
        escalation = await s.scalar(select(Escalation).where(Escalation.child_id == child_id))
        assert escalation is not None and escalation.details == {"incident": "missing"}
        assert await s.scalar(select(func.count()).select_from(Photo)) == 0
        assert (await s.get_one(Child, other_id)).name == "王小明"
        actions = set(
            await s.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == child_id))
        )
        assert {"child.leave", "child.forget"} <= actions
        roster = await s.scalar(
            select(OutboxMessage).where(OutboxMessage.content["blocks"][0][0].astext == "本周名单")
        )
        assert roster is not None and "attachment" not in roster.content


async def test_forget_erases_at_once_and_refuses_bad_input_in_one_line(
    cli: Guanai, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    media = settings.media_dir
    child_id, _other = await _a_child_with_a_past(sessionmaker, media)

    ran = await cli("children", "forget", str(child_id))
    assert ran.code == 0, ran.err
    assert f"Erased child {child_id}'s personal data" in ran.out
    assert await _everywhere(sessionmaker, media) == set()
    async with UnitOfWork(sessionmaker) as uow:
        child = await uow.session.get_one(Child, child_id)
        assert child.left_reason is LeaveReason.other and child.forgotten_at is not None
    shown = await cli("children", "show", str(child_id))
    assert f"Child {child_id}: —" in shown.out and "Personal data erased on" in shown.out
    assert "Left the programme on" in shown.out and "(other)" in shown.out

    for args, says in (
        (("forget", str(child_id)), "has already been erased"),
        (("forget", "999999"), "No such child"),
        (("forget", "abc"), "an id is a number"),
        (("leave", str(child_id), "--reason", "other"), "has already been erased"),
        (("leave", str(child_id), "--reason", "bored"), "--reason cannot be 'bored'"),
    ):
        ran = await cli("children", *args)
        assert ran.code != 0 and says in ran.err, (args, ran.err)
        assert len(ran.err.strip().splitlines()) == 1, ran.err


async def test_a_site_keeps_data_for_the_period_it_sets(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        p = await make_programme(s)
        p.township.retention_days = 30  # the township's rule, inherited by its schools
        kept = await make_child(s, p.school)
        await leaving.take_out_many(
            s, [p.child.id, kept.id], reason=LeaveReason.finished_school, actor_id=None, at=LEFT
        )
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        day_29 = LEFT + dt.timedelta(days=29)
        assert await leaving.due_for_forgetting(uow.session, now=day_29) == []
        day_30 = LEFT + dt.timedelta(days=30)
        assert await leaving.due_for_forgetting(uow.session, now=day_30) == sorted(
            [p.child.id, kept.id]
        )


def test_masking_finds_every_needle_in_a_message_at_once_where_the_chat_was_told() -> None:
    automaton = leaving._automaton({"小花": {1}, "李小花": {1}, "13912345678": {2}})
    payload = {
        "text": "李小花和小花的电话13912345678",
        "reply_markup": {"inline_keyboard": [[{"text": "李小花", "callback_data": "c:1"}]]},
        "parse_mode": "HTML",
    }
    told = {1: frozenset({"telegram:10"}), 2: frozenset({"telegram:10", "telegram:20"})}
    assert leaving._masked(payload, automaton, leaving._to("telegram:10", told)) == {
        "text": "—和—的电话—",
        "reply_markup": {"inline_keyboard": [[{"text": "—", "callback_data": "c:1"}]]},
        "parse_mode": "HTML",
    }
    only_phone = leaving._masked(payload, automaton, leaving._to("telegram:20", told))
    assert only_phone["text"] == "李小花和小花的电话—"
    assert leaving._masked(payload, automaton, leaving._to("telegram:30", told)) == payload


async def test_a_namesakes_messages_at_another_site_are_left_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        s = uow.session
        here, there = await make_programme(s), await make_programme(s)
        child = await make_child(s, here.school, name=NAME)
        namesake = await make_child(s, there.school, name=NAME)
        for head, about in ((here.school_head, child), (there.school_head, namesake)):
            await outbox.enqueue(
                s,
                to=(await tg_of(s, head)),
                content=Content.lines([f"{about.name}需要家访"]),
                not_before=LEFT,
            )
        await leaving.take_out_many(s, [child.id], reason=LeaveReason.other, actor_id=None, at=LEFT)
        forgotten = await leaving.forget(s, [child.id], actor_id=None, at=LEFT, why="consent")
        assert forgotten.messages == 1
        rows = await s.scalars(select(OutboxMessage))
        texts = {row.target: outbox.content(row).text for row in rows}
        assert texts == {
            (await tg_of(s, here.school_head)).target: "—需要家访",
            (await tg_of(s, there.school_head)).target: f"{NAME}需要家访",
        }


async def test_a_coordinator_takes_a_child_out_in_chat_and_the_volunteer_is_told(
    running_bot: RunningBot,
) -> None:
    fake, sessionmaker = running_bot.fake, running_bot.sessionmaker
    child_id = await seed(sessionmaker, running_bot.clock.now())
    wang = fake.user(WANG)
    await _join(running_bot, wang, ZHANG, "张阿姨")
    async with UnitOfWork(sessionmaker) as uow:
        volunteer = await uow.session.scalar(
            select(Volunteer).join(Person).where(on_telegram(ZHANG))
        )
        assert volunteer is not None
        await pairings.pair(
            uow.session,
            volunteer_id=volunteer.id,
            child_id=child_id,
            scope_path="",
            actor_id=None,
            at=running_bot.clock.now() - dt.timedelta(days=30),
        )
        await uow.commit()

    screen = await _pair_screen(running_bot, wang)
    wang.press(screen.callback_data("退出帮扶"), screen)
    await fake.wait_until(lambda: "父母返乡" in " ".join(screen.button_texts()) or None)
    wang.press(screen.callback_data("父母返乡，不再留守"), screen)
    await fake.wait_until(lambda: "确定" in " ".join(screen.button_texts()) or None)
    assert "确定让李小花退出帮扶（父母返乡，不再留守）吗" in (screen.text or "")
    wang.press(screen.callback_data("确定"), screen)

    async def left(session: AsyncSession) -> Child | None:
        child = await session.get_one(Child, child_id)
        return child if child.left_at is not None else None

    child = await committed(sessionmaker, left)
    assert child.left_reason is LeaveReason.parents_returned
    told = await committed(sessionmaker, lambda s: _some(running_bot, ZHANG))
    assert "您和李小花的结对已结束" in told[-1]
    await fake.wait_until(lambda: "已退出帮扶" in (screen.text or "") or None)
