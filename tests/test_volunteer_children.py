"""我的孩子 and the child's card: only children paired with me now, every look audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from domain.care import pairings
from domain.db import UnitOfWork
from domain.models import AuditEntry, Concern, ConcernKind, Person
from tests.conftest import RunningBot
from tests.factories import make_checkin, on_telegram
from tests.volunteering import VOLUNTEER, seed_school, settled


async def test_my_children_shows_what_is_due_and_the_most_urgent_first(
    running_bot: RunningBot,
) -> None:
    now = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, now, children=3)
    flower, ming, jun = school.child_ids
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        raiser = await uow.session.scalar(select(Person.id).where(on_telegram(VOLUNTEER)))
        assert raiser is not None
        uow.session.add_all(
            [
                Concern(
                    child_id=jun,
                    kind=ConcernKind.health,
                    raised_by=raiser,
                    raised_at=now - dt.timedelta(days=5),
                    due_at=now - dt.timedelta(days=2),
                ),
                Concern(
                    child_id=ming,
                    kind=ConcernKind.mood,
                    raised_by=raiser,
                    raised_at=now,
                    due_at=now + dt.timedelta(days=3),
                ),
            ]
        )
        await uow.commit()
    user = running_bot.fake.user(VOLUNTEER)

    user.send_text("👧 我的孩子")
    overview = await user.next_message()

    text = overview.text or ""
    assert text.index("陈小军") < text.index("张小明") < text.index("李小花")
    assert "已逾期 2 天" in text and "身体不好" in text and "情绪低落" in text
    assert "家访 0/1" in text and "谈心 0/1" in text
    assert [b.split(" ")[0] for b in overview.button_texts()] == ["陈小军", "张小明", "李小花"]
    assert flower  # paired, with nothing urgent: last


async def test_the_card_tells_what_a_visit_needs_and_is_audited(running_bot: RunningBot) -> None:
    now = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, now)
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        assert school.volunteer_id is not None
        pairing = await pairings.active_pairing(
            uow.session, school.volunteer_id, school.child_ids[0]
        )
        assert pairing is not None
        await make_checkin(uow.session, pairing, occurred_at=now - dt.timedelta(days=3))
        await uow.commit()
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("👧 我的孩子")
    overview = await user.next_message()
    assert "家访 1/1" in (overview.text or "")

    user.press(overview.callback_data("李小花"), overview)
    card = await user.next_message()

    text = card.text or ""
    for expected in (
        "四年级 2班",
        "岁",
        "李奶奶",
        "奶奶",
        "138 0000 0001",
        "中和村3组",
        "广东东莞",
    ):
        assert expected in text
    assert "父亲" in text and "father" not in text
    assert "11月13日 家访" in text
    assert {"✅ 打卡", "⚠️ 反映情况（五必访）", "🚨 紧急情况 / 辍学"} == set(card.button_texts())
    await settled(user)
    async with running_bot.sessionmaker() as session:
        views = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "child.view"))
        )
    assert [(v.subject_id, v.actor_id is not None) for v in views] == [(school.child_ids[0], True)]


async def test_a_forged_or_past_child_button_is_refused_and_audited(
    running_bot: RunningBot,
) -> None:
    now = running_bot.clock.now()
    school = await seed_school(running_bot.sessionmaker, now, children=2)
    other = await seed_school(running_bot.sessionmaker, now, paired_with=None)
    async with UnitOfWork(running_bot.sessionmaker) as uow:
        await pairings.unpair(
            uow.session,
            volunteer_id=school.volunteer_id or 0,
            child_id=school.child_ids[1],
            scope_path=school.site.path,
            actor_id=None,
            at=now,
        )
        await uow.commit()
    user = running_bot.fake.user(VOLUNTEER)
    user.send_text("👧 我的孩子")
    overview = await user.next_message()
    assert "张小明" not in (overview.text or "")  # a past pairing shows nothing

    refused = []
    for child_id in (other.child_ids[0], school.child_ids[1], 999_999):
        for data in (f"child:{child_id}", f"ci:{child_id}", f"cn:{child_id}"):
            update_id = user.press(data, overview)
            answer = await running_bot.fake.wait_callback_answer(update_id)
            refused.append(answer.params.get("text"))

    assert set(refused) == {"这个孩子没有和您结对。"}
    await settled(user)
    async with running_bot.sessionmaker() as session:
        audited = list(
            await session.scalars(
                select(AuditEntry.subject_id).where(AuditEntry.action == "scope.refused")
            )
        )
        views = await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "child.view"))
    assert sorted(audited) == sorted(
        [other.child_ids[0]] * 3 + [school.child_ids[1]] * 3 + [999_999] * 3
    )
    assert views is None
    assert len([m for m in user.messages if "李奶奶" in (m.text or "")]) == 0
