"""Emergencies and drop-outs end to end through the fake Bot API: raised in three taps,
every level told in one ladder run, re-sent at 03:00 when nobody takes it, taken and shown
to all, followed on its page; must-visits raised by a teacher; bullying kept from the site."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.callbacks import ChildOpen, ChildView, EmergencyStart, IncidentPage
from bot.telegram.front import TelegramFront
from bot.telegram.sender import Sender
from domain.db import UnitOfWork
from domain.models import (
    AuditEntry,
    Child,
    Concern,
    Coordinator,
    Escalation,
    Guardian,
    Guardianship,
    IncidentStep,
    Parent,
    Priority,
    Region,
    RegionKind,
    VolunteerKind,
)
from domain.reports import overview
from domain.schedule import ladder
from domain.schedule.calendar import Month
from domain.wording.notices import Notices
from tests.conftest import SHANGHAI, RunningBot, forget_queued_jobs
from tests.factories import make_child, make_pairing, make_person, make_site, make_volunteer
from tests.test_coordinator_chat import committed
from tests.volunteering import latin_words, settled
from workers import jobs
from workers.context import Deps

SCHOOL, TOWNSHIP, DISTRICT = 9401, 9402, 9403
# EMERGENCY_REPORTS=<folder> keeps the last report there, to render and look at
REPORTS = os.environ.get("EMERGENCY_REPORTS")
VOLUNTEER, OTHER_VOLUNTEER, TEACHER = 9410, 9411, 9412


@dataclass
class Seeded:
    child_id: int  # 李小花, paired with VOLUNTEER
    unpaired_id: int  # 张小明, at the same school, paired with OTHER_VOLUNTEER
    elsewhere_id: int  # 陈小军, at another school


async def _seed(running_bot: RunningBot) -> Seeded:
    now = running_bot.clock.now()
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        s = uow.session
        district = await make_site(s, kind=RegionKind.district, name="秀山区")
        township = await make_site(s, parent=district, kind=RegionKind.township, name="中和镇")
        school = await make_site(s, parent=township, name="中和小学")
        other_school = await make_site(s, parent=township, name="石堤小学")
        for region, telegram_id, name in (
            (school, SCHOOL, "王校长"),
            (township, TOWNSHIP, "镇负责人"),
            (district, DISTRICT, "区关工委"),
        ):
            head = await make_person(s, telegram_id=telegram_id, name=name)
            s.add(Coordinator(person_id=head.id, region_id=region.id))
        child = await make_child(s, school, name="李小花", priority=Priority.key)
        s.add_all(
            [
                Guardian(child_id=child.id, name="李奶奶", relation="奶奶", phone="13800000001"),
                Parent(child_id=child.id, relation="mother", phone="+8613900000002"),
            ]
        )
        unpaired = await make_child(s, school, name="张小明")
        elsewhere = await make_child(s, other_school, name="陈小军")
        volunteer = await make_volunteer(
            s,
            school,
            kind=VolunteerKind.surrogate,
            person=await make_person(s, telegram_id=VOLUNTEER, name="赵阿姨"),
        )
        other = await make_volunteer(
            s,
            school,
            kind=VolunteerKind.surrogate,
            person=await make_person(s, telegram_id=OTHER_VOLUNTEER, name="钱叔叔"),
        )
        await make_volunteer(
            s,
            school,
            kind=VolunteerKind.teacher,
            person=await make_person(s, telegram_id=TEACHER, name="孙老师"),
        )
        await make_pairing(s, volunteer, child, started_at=now - dt.timedelta(days=5))
        await make_pairing(s, other, unpaired, started_at=now - dt.timedelta(days=5))
        await uow.commit()
    return Seeded(child.id, unpaired.id, elsewhere.id)


async def _climb(running_bot: RunningBot, tmp_path: Path) -> ladder.LadderReport:
    """One run of the ladder job, then the sender's."""
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        report = await ladder.climb(
            uow.session,
            now=running_bot.clock.now(),
            tz=SHANGHAI,
            text=Notices(),
            media_dir=tmp_path,
        )
        await uow.commit()
    await Sender(running_bot.bot, running_bot.sessionmaker, media_dir=tmp_path).drain(
        running_bot.clock
    )
    return report


async def test_a_drop_out_in_three_taps_reaches_every_level_is_resent_at_3am_and_followed(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    fake, clock = running_bot.fake, running_bot.clock
    seeded = await _seed(running_bot)
    clock.move(dt.timedelta(hours=17))  # 03:00 on 17 November, Beijing time
    assert clock.now().astimezone(SHANGHAI).hour == 3
    user = fake.user(VOLUNTEER)
    user.send_text("👧 我的孩子")
    overview = await user.next_message()
    user.press(overview.callback_data("李小花"), overview)
    card = await user.next_message()

    user.press(card.callback_data("紧急情况"), card)  # tap 1
    kinds = await user.next_message()
    user.press(kinds.callback_data("辍学或不愿上学"), kinds)  # tap 2
    words = await user.next_message()
    user.press(words.callback_data("直接发送"), words)  # tap 3
    reported = await user.next_message()
    assert "已报告" in (reported.text or "") and "李小花" in (reported.text or "")

    # the ladder is asked to run now, not at its next tick: one run tells every level
    queue = running_bot.settings.arq_escalation_queue
    queued = [job.decode() for job in await running_bot.arq_redis.zrange(queue, 0, -1)]
    [job_id] = [job for job in queued if ":climb-now:" in job]
    await forget_queued_jobs(running_bot.arq_redis, queue)
    escalation_id = int(job_id.rsplit(":", 1)[1])
    deps = Deps(
        running_bot.settings,
        running_bot.sessionmaker,
        clock,
        TelegramFront(running_bot.settings, running_bot.sessionmaker),
    )
    report = await jobs.climb_ladder_now({"deps": deps}, escalation_id)
    assert report["steps"] == 3
    await Sender(running_bot.bot, running_bot.sessionmaker, media_dir=tmp_path).drain(clock)
    heads = [fake.user(SCHOOL), fake.user(TOWNSHIP), fake.user(DISTRICT)]
    first = [await head.next_message() for head in heads]
    for message in first:
        text = message.text or ""
        assert "李小花" in text and "辍学或不愿上学" in text and "赵阿姨" in text
        assert text.index("李奶奶") < text.index("母亲")
        assert "138 0000 0001" in text and "139 0000 0002" in text
        assert latin_words(text) == []

    clock.move(dt.timedelta(minutes=29))
    assert (await _climb(running_bot, tmp_path)).steps == 0
    clock.move(dt.timedelta(minutes=1))  # 03:30: nobody has taken it
    assert (await _climb(running_bot, tmp_path)).steps == 3
    again = [await head.next_message() for head in heads]
    for message in again:
        assert "仍无人接手" in (message.text or "") and "李小花" in (message.text or "")

    township = heads[1]
    township.press(again[1].callback_data("我来处理"), again[1])
    await committed(running_bot.sessionmaker, _acknowledged)
    await Sender(running_bot.bot, running_bot.sessionmaker, media_dir=tmp_path).drain(clock)
    for copy in (*first, again[0], again[2]):  # every other copy, the taker's first too
        assert "镇负责人已接手处理" in (copy.text or ""), copy.text
    clock.move(dt.timedelta(hours=1))
    assert (await _climb(running_bot, tmp_path)).steps == 0  # taken: no more re-sending

    # its page: every step with who and when; a persuasion visit recorded
    township.press(again[1].callback_data("处理记录"), again[1])
    page = await township.next_message()
    assert "登记" in (page.text or "") and "赵阿姨" in (page.text or "")
    assert "接手人：镇负责人" in (page.text or "")
    assert "12月2日前仍未返校" in (page.text or "")  # registered 17 November + 15 days
    township.press(page.callback_data("劝返"), page)
    await township.next_message()  # who, when, what result?
    township.send_text("班主任孙老师、村干部李主任 11月17日 家长同意下周一返校")
    page = await township.next_message()
    assert "劝返" in (page.text or "") and "班主任孙老师、村干部李主任" in (page.text or "")
    async with running_bot.sessionmaker() as session:
        steps = list(await session.scalars(select(IncidentStep).order_by(IncidentStep.id)))
    assert [s.kind for s in steps] == ["registered", "persuasion"]
    assert steps[0].on_day == dt.date(2026, 11, 17)
    assert steps[1].on_day == dt.date(2026, 11, 17) and steps[1].note == "家长同意下周一返校"

    # persuasion fails: before the site's deadline (15 days) the report is not yet due …
    update_id = township.press(page.callback_data("书面报告"), page)
    answer = await fake.wait_callback_answer(update_id)
    assert "12月2日" in str(answer.params.get("text")), answer.params
    clock.move(dt.timedelta(days=10))
    township.press(page.callback_data("劝返"), page)
    await township.next_message()
    township.send_text("班主任孙老师 11月27日 孩子仍在外地打工的父亲处，不愿回校")
    page = await township.next_message()
    clock.move(dt.timedelta(days=5))  # 2 December: 15 days since it was registered
    township.press(page.callback_data("书面报告"), page)
    sent = await township.next_message()
    assert sent.file is not None and (sent.file.file_name or "").endswith(".docx")
    text = docx_text(sent.file.data)
    for expected in (
        "秀山区教育局",
        "中和镇人民政府",
        "李小花",
        "2026年11月17日",
        "班主任孙老师、村干部李主任",
        "家长同意下周一返校",
        "2026年11月27日",
        "不愿回校",
        "15",
        "李奶奶",
        "138 0000 0001",
    ):
        assert expected in text, expected
    _keep(sent.file.data)  # rendered (soffice, pdftoppm) and looked at
    async with running_bot.sessionmaker() as session:
        kinds = list(await session.scalars(select(IncidentStep.kind).order_by(IncidentStep.id)))
    assert kinds == ["registered", "persuasion", "persuasion", "report"]
    assert seeded.child_id


def _keep(data: bytes) -> None:
    if REPORTS:
        Path(REPORTS).mkdir(parents=True, exist_ok=True)
        (Path(REPORTS) / "dropout-report.docx").write_bytes(data)


def docx_text(data: bytes) -> str:
    import io

    from docx import Document

    document = Document(io.BytesIO(data))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def _acknowledged(session: AsyncSession) -> Escalation | None:
    return await session.scalar(select(Escalation).where(Escalation.acknowledged_at.is_not(None)))


async def test_a_teacher_raises_a_must_visit_in_scope_and_is_refused_outside(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    fake = running_bot.fake
    seeded = await _seed(running_bot)
    teacher = fake.user(TEACHER)
    teacher.send_text("/sos")
    children = await teacher.next_message()
    assert "张小明" in children.button_texts() and "陈小军" not in children.button_texts()
    teacher.press(children.callback_data("张小明"), children)
    kinds = await teacher.next_message()
    teacher.press(kinds.callback_data("必访：成绩下降"), kinds)
    words = await teacher.next_message()
    teacher.send_text("期中考试退步很多")
    noted = await teacher.next_message()
    assert "钱叔叔" in (noted.text or "") and "11月19日" in (noted.text or "")

    await Sender(running_bot.bot, running_bot.sessionmaker, media_dir=tmp_path).drain(
        running_bot.clock
    )
    told = await fake.user(OTHER_VOLUNTEER).next_message()  # the paired volunteer, at once
    assert "孙老师" in (told.text or "") and "张小明" in (told.text or "")
    assert "11月19日" in (told.text or "") and "期中考试退步很多" in (told.text or "")

    # a child of another school: a clear refusal, nothing stored
    update_id = teacher.press(EmergencyStart(child_id=seeded.elsewhere_id).pack(), children)
    answer = await fake.wait_callback_answer(update_id)
    assert "没有这个孩子" in str(answer.params.get("text")), answer.params
    await settled(teacher)
    async with running_bot.sessionmaker() as session:
        concerns = list(await session.scalars(select(Concern)))
    assert [c.child_id for c in concerns] == [seeded.unpaired_id]
    assert words


async def test_bullying_is_kept_from_the_sites_volunteers_and_each_view_is_audited(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    fake = running_bot.fake
    seeded = await _seed(running_bot)
    user = fake.user(VOLUNTEER)
    user.send_text("/sos")
    children = await user.next_message()
    user.press(children.callback_data("李小花"), children)
    kinds = await user.next_message()
    user.press(kinds.callback_data("受欺凌或侵害"), kinds)
    words = await user.next_message()
    user.send_voice(b"OggS the child's own words")  # a voice note with it
    kept = await user.next_message()
    assert "1" in (kept.text or "")
    user.send_text("放学路上被高年级学生打")
    reported = await user.next_message()
    assert "仅他们可见" in (reported.text or "")

    await _climb(running_bot, tmp_path)
    assert fake.messages_to(SCHOOL) == []  # not the site
    to_township = await fake.user(TOWNSHIP).next_message()
    assert "放学路上被高年级学生打" in (to_township.text or "")
    assert "语音" in (to_township.text or "")
    assert await fake.user(DISTRICT).next_message()

    async with running_bot.sessionmaker() as session:
        escalation = await session.scalar(select(Escalation))
    assert escalation is not None
    forged = IncidentPage(escalation_id=escalation.id).pack()
    for outsider in (OTHER_VOLUNTEER, SCHOOL):  # another volunteer, the site's coordinator
        other = fake.user(outsider)
        other.send_text("/help")
        help_message = await other.next_message()
        update_id = other.press(forged, help_message)
        answer = await fake.wait_callback_answer(update_id)
        assert "李小花" not in str(answer.params.get("text"))
        assert all("放学路上" not in (m.text or "") for m in fake.messages_to(outsider))

    user.press(reported.callback_data("处理记录"), reported)  # the reporter may
    page = await user.next_message()
    assert "受欺凌或侵害" in (page.text or "")
    voice = await user.next_message()
    assert voice.file is not None and voice.file.data == b"OggS the child's own words"
    await settled(user)
    async with running_bot.sessionmaker() as session:
        views = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.view"))
        )
        refused = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action.like("%refus%")))
        )
    assert len(views) == 1 and views[0].subject_id == escalation.id
    assert len(refused) >= 2
    assert words and seeded


async def test_a_coordinator_records_the_entrusted_guardians_letter_from_the_card(
    running_bot: RunningBot,
) -> None:
    fake, clock = running_bot.fake, running_bot.clock
    await _seed(running_bot)
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        child = await uow.session.scalar(select(Child).where(Child.name == "张小明"))
        assert child is not None
        child.guardianship = Guardianship.entrusted
        uow.session.add(Guardian(child_id=child.id, name="李桂兰", relation="姑姑", entrusted=True))
        school = await uow.session.get_one(Region, child.site_id)
        await uow.commit()

    async def missing() -> int:
        async with running_bot.sessionmaker() as session:
            figures = await overview.overview(
                session, scope_path=school.path, month=Month(2026, 11), tz=SHANGHAI, now=clock.now()
            )
        return figures.letters_missing

    assert await missing() == 1
    wang = fake.user(SCHOOL)
    wang.send_text("/help")
    help_message = await wang.next_message()
    wang.press(ChildOpen(child_id=child.id, view=ChildView.card).pack(), help_message)
    card = await wang.next_message()
    wang.press(card.callback_data("确认书"), card)
    await wang.next_message()  # which day?
    wang.send_text("不记得了")
    assert "请输入日期" in ((await wang.next_message()).text or "")
    wang.send_text("11月15日")
    assert "李桂兰于11月15日签订" in ((await wang.next_message()).text or "")
    assert await missing() == 0
    async with running_bot.sessionmaker() as session:
        signed = await session.scalar(select(Guardian.letter_signed_on).where(Guardian.entrusted))
    assert signed == dt.date(2026, 11, 15)
