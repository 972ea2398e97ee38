"""Seeds and chat walks shared by the volunteer-chat tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db import UnitOfWork
from domain.models import (
    Channel,
    Guardian,
    InvitationRole,
    Parent,
    Priority,
    Region,
    RegionKind,
    VolunteerKind,
)
from domain.people import identity, invitations
from tests.factories import make_child, make_pairing, make_person, make_site, make_volunteer
from tests.fakes.telegram import FakeUser, SentMessage

COORDINATOR = 9001
VOLUNTEER = 9100


@dataclass
class School:
    township: Region
    site: Region
    child_ids: list[int]
    volunteer_id: int | None = None


async def seed_school(
    sessionmaker: async_sessionmaker[AsyncSession],
    at: dt.datetime,
    *,
    children: int = 1,
    paired_with: int | None = VOLUNTEER,
    must_visit_days: int | None = None,
) -> School:
    """A township with a school, its coordinator, children with their archive, and (unless
    `paired_with` is None) a volunteer with that Telegram id paired with every child."""
    async with UnitOfWork(sessionmaker) as uow:
        session = uow.session
        township = await make_site(
            session, kind=RegionKind.township, name="中和镇", must_visit_days=must_visit_days
        )
        site = await make_site(session, parent=township, name="中和小学")
        await identity.add_coordinator(
            session,
            channel=Channel.telegram,
            external_id=str(COORDINATOR),
            name="王老师",
            scope_code=site.code,
            at=at,
        )
        kids = []
        for n in range(children):
            child = await make_child(
                session,
                site,
                name=["李小花", "张小明", "陈小军"][n],
                priority=Priority.key,
                grade="四年级",
                class_name="2班",
                address="中和村3组",
            )
            session.add_all(
                [
                    Guardian(
                        child_id=child.id, name="李奶奶", relation="奶奶", phone="13800000001"
                    ),
                    Parent(child_id=child.id, relation="father", work_place="广东东莞"),
                ]
            )
            kids.append(child)
        volunteer_id = None
        if paired_with is not None:
            person = await make_person(session, telegram_id=paired_with, name="赵阿姨")
            volunteer = await make_volunteer(
                session, site, kind=VolunteerKind.surrogate, person=person
            )
            volunteer_id = volunteer.id
            for child in kids:
                await make_pairing(session, volunteer, child, started_at=at - dt.timedelta(days=30))
        await uow.commit()
    return School(
        township=township,
        site=site,
        child_ids=[child.id for child in kids],
        volunteer_id=volunteer_id,
    )


async def invite(
    sessionmaker: async_sessionmaker[AsyncSession],
    site: Region,
    at: dt.datetime,
    *,
    role: InvitationRole = InvitationRole.volunteer,
) -> str:
    async with UnitOfWork(sessionmaker) as uow:
        new = await invitations.create(
            uow.session,
            region=site,
            role=role,
            volunteer_kind=VolunteerKind.surrogate,
            created_by=None,
            at=at,
        )
        await uow.commit()
    return new.token


async def settled(user: FakeUser) -> None:
    """Wait until the bot has finished (and committed) the user's earlier updates.

    Updates of one chat are handled one at a time, commit included, so the answer to a
    later /help means everything before it is in the database.
    """
    user.send_text("/help")
    await user.next_message()


async def answer_visit_questions(
    user: FakeUser, question: SentMessage, answers: Sequence[str]
) -> SentMessage:
    """Tap one answer per home-visit question; the question's message becomes each next
    question in turn, then the summary, which is returned."""
    for answer in answers:
        asked = question.text
        user.press(question.callback_data(answer), question)
        await user.fake.wait_until(lambda asked=asked: question.text != asked or None)  # type: ignore[misc]
    return question


def latin_words(text: str) -> list[str]:
    """English words in a Chinese message (file formats and commands are allowed)."""
    import re

    allowed = {"Excel", "CSV", "xlsx", "csv", "WPS"}
    return [word for word in re.findall(r"(?<![/.\w])[A-Za-z]{2,}", text) if word not in allowed]
