"""The outbox as rows: queueing, claiming, and who is unreachable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from domain.db import UnitOfWork
from domain.delivery import outbox
from domain.delivery.content import Attachment, AttachmentKind, Content
from domain.models import OutboxMessage, OutboxStatus, RegionKind, Volunteer, VolunteerKind
from domain.people import regions
from tests.factories import make_person, telegram_account
from tests.outbox_support import chat_of, shown, text, tg


async def test_a_second_enqueue_with_the_same_key_is_a_no_op(
    session: AsyncSession, clock: FixedClock
) -> None:
    first = await outbox.enqueue(
        session,
        to=tg(7),
        content=Content.lines(["你好"]),
        not_before=clock.now(),
        dedupe_key="reminder:7:2026-11",
    )
    second = await outbox.enqueue(
        session,
        to=tg(7),
        content=Content.lines(["你好 again"]),
        not_before=clock.now(),
        dedupe_key="reminder:7:2026-11",
    )
    assert first is not None and first.status is OutboxStatus.pending
    assert second is None
    texts = (await session.scalars(select(OutboxMessage.content))).all()
    assert [shown(t)["text"] for t in texts] == ["你好"]


async def test_a_batch_queues_the_new_keys_in_order_and_skips_those_queued_before(
    session: AsyncSession, clock: FixedClock
) -> None:
    await outbox.enqueue(
        session, to=tg(7), content=text("before"), not_before=clock.now(), dedupe_key="k:2"
    )
    queued = await outbox.enqueue_many(
        session,
        [outbox.Enqueued(tg(7), text(f"m{n}"), clock.now(), f"k:{n}") for n in (1, 2, 3)],
    )
    assert list(queued) == ["k:1", "k:3"] and queued["k:1"] < queued["k:3"]
    rows = await session.execute(
        select(OutboxMessage.dedupe_key, OutboxMessage.content, OutboxMessage.status).order_by(
            OutboxMessage.dedupe_key
        )
    )
    assert [(key, shown(content)["text"], status) for key, content, status in rows] == [
        ("k:1", "m1", OutboxStatus.pending),
        ("k:2", "before", OutboxStatus.pending),
        ("k:3", "m3", OutboxStatus.pending),
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Content.lines([""]),
        lambda: Content(),
        lambda: Attachment(AttachmentKind.picture, "../etc/passwd", "x.png"),
        lambda: Attachment(AttachmentKind.picture, "/etc/passwd", "x.png"),
    ],
)
def test_content_a_front_could_not_send_is_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


async def test_claims_take_due_rows_oldest_first_one_per_chat_and_skip_held_ones(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    now = clock.now()
    async with UnitOfWork(sessionmaker) as uow:
        for chat, delay in ((1, 0), (2, -60), (3, 0), (4, 3600), (5, 0), (6, 0), (6, 0), (7, 0)):
            await outbox.enqueue(
                uow.session,
                to=tg(chat),
                content=Content.lines([f"to {chat}"]),
                not_before=now + dt.timedelta(seconds=delay),
            )
        await uow.commit()

    async with UnitOfWork(sessionmaker) as first, UnitOfWork(sessionmaker) as second:
        held = await outbox.claim(first.session, now=now, limit=1)
        # the first claim is not committed yet: the rows it looked at are locked (2, 1, 3),
        # so the second skips them; it was told to skip chat 5; 4 is not due yet
        others = await outbox.claim(second.session, now=now, limit=5, skip=[tg(5)])
        await first.commit()
        await second.commit()

    assert [chat_of(row) for row in held] == [2]
    assert [chat_of(row) for row in others] == [6, 7]  # one row of chat 6: they go in turn
    assert all(r.status is OutboxStatus.sending and r.attempts == 1 for r in held + others)
    async with UnitOfWork(sessionmaker) as uow:
        assert await outbox.has_due(uow.session, now=now)
        rest = await outbox.claim(uow.session, now=now, limit=5)
        # chat 6's second row waits until its first, on its way, is settled
        assert [(chat_of(r), shown(r)["text"]) for r in rest] == [
            (1, "to 1"),
            (3, "to 3"),
            (5, "to 5"),
        ]
        assert not await outbox.has_due(uow.session, now=now)


async def test_a_claim_left_behind_becomes_uncertain_only_after_the_timeout(
    session: AsyncSession, clock: FixedClock
) -> None:
    now = clock.now()
    for chat in (1, 2):
        await outbox.enqueue(
            session,
            to=tg(chat),
            content=Content.lines(["x"]),
            not_before=now,
        )
    old, fresh = await outbox.claim(session, now=now, limit=2)
    old.claimed_at = now - outbox.CLAIM_TIMEOUT - dt.timedelta(seconds=1)
    await session.flush()

    assert await outbox.expire_claims(session, now=now) == [old.id]

    await session.refresh(old)
    await session.refresh(fresh)
    assert old.status is OutboxStatus.uncertain
    assert fresh.status is OutboxStatus.sending


async def test_unreachable_people_are_listed_for_the_scope_that_holds_them(
    session: AsyncSession, clock: FixedClock
) -> None:
    now = clock.now()
    town = await regions.add_region(
        session, code="T1", name="镇", kind=RegionKind.township, parent_code=None, at=now
    )
    school = await regions.add_region(
        session, code="S1", name="小学", kind=RegionKind.school, parent_code="T1", at=now
    )
    other = await regions.add_region(
        session, code="S2", name="另一小学", kind=RegionKind.school, parent_code=None, at=now
    )
    people = [await make_person(session, telegram_id=100 + i) for i in range(3)]
    for person, site in zip(people, (school, school, other), strict=True):
        session.add(Volunteer(person_id=person.id, site_id=site.id, kind=VolunteerKind.wulao))
    earlier = now - dt.timedelta(days=30)
    (await telegram_account(session, people[1].id)).unreachable_at = earlier
    await session.flush()

    for n in range(3):
        row = await outbox.enqueue(
            session,
            to=tg(100 + n),
            content=Content.lines(["x"]),
            not_before=now,
        )
        assert row is not None
    for row in await outbox.claim(session, now=now, limit=3):
        await outbox.mark_blocked(
            session, row.id, to=outbox.address(row), at=now, error="Forbidden: bot was blocked"
        )

    since_last_week = await outbox.unreachable_since(
        session, region_path=town.path, since=now - dt.timedelta(days=7)
    )
    assert [u.person_id for u in since_last_week] == [people[0].id]
    assert since_last_week[0].since == now
    # the first time counts: someone unreachable for a month stays so since then
    whole_town = await outbox.unreachable_since(session, region_path=town.path, since=earlier)
    assert [u.person_id for u in whole_town] == [people[1].id, people[0].id]


async def test_the_pace_lets_one_claim_through_per_slot_and_a_429_pauses_every_sender(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock
) -> None:
    now = clock.now()
    async with UnitOfWork(sessionmaker) as uow:
        for chat in (1, 2):
            await outbox.enqueue(
                uow.session,
                to=tg(chat),
                content=Content.lines(["x"]),
                not_before=now,
            )
        await uow.commit()
    pace = {
        "channel": "telegram",
        "now": now,
        "rate": 2.0,
        "private_interval": 1.0,
        "group_interval": 3.0,
    }

    async with UnitOfWork(sessionmaker) as uow:
        first = await outbox.claim_next(uow.session, **pace)
        second = await outbox.claim_next(uow.session, **pace)  # any sender, the same slot
        await outbox.pause(uow.session, channel="telegram", seconds=30)
        paused = await outbox.claim_next(uow.session, **pace)
        await uow.commit()

    assert first.row is not None and chat_of(first.row) == 1
    assert first.wait is not None and 0.3 < first.wait <= 0.375  # 3/4 of half a second
    assert second.row is None and second.wait is not None and 0.2 < second.wait <= 0.375
    assert paused.row is None and paused.wait is not None and 29 < paused.wait <= 30


def test_at_most_the_burst_in_a_window_and_a_gap_between_two() -> None:
    at = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)
    seconds = [at + dt.timedelta(seconds=n / 29) for n in range(29)]
    free_at = seconds[-1] + dt.timedelta(seconds=0.02)
    # 29 in the window: the next waits until the first of them is a window old
    assert outbox.opens_at(free_at, seconds, 29) == at + dt.timedelta(seconds=outbox.WINDOW)
    # fewer: only the gap counts
    assert outbox.opens_at(free_at, seconds[1:], 29) == free_at
