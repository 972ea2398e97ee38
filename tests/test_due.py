"""What is due: cadences as data, per site and volunteer kind, counted per period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import FixedClock
from domain.models import Activity, CadenceRule, Period, Priority, RegionKind, VolunteerKind
from domain.schedule import due
from domain.schedule.calendar import Month, semester_bounds
from domain.schedule.due import Selection
from tests.conftest import SHANGHAI
from tests.factories import make_checkin, make_child, make_pairing, make_site, make_volunteer

NOVEMBER = Month(2026, 11)
SIX_ONES = {
    Activity.talk,
    Activity.homework_check,
    Activity.tutoring,
    Activity.home_visit,
    Activity.family_meal,
}


def _by_activity(items: list[due.DueItem]) -> dict[Activity, due.DueItem]:
    return {item.activity: item for item in items}


async def test_a_surrogate_parent_owes_the_six_ones_and_three_ones(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)
    volunteer = await make_volunteer(session, site, kind=VolunteerKind.surrogate)
    child = await make_child(session, site, priority=Priority.key)
    pairing = await make_pairing(session, volunteer, child, started_at=clock.now())

    items = _by_activity(
        await due.due_items(
            session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(pairing_ids=[pairing.id])
        )
    )

    assert SIX_ONES | {Activity.parent_call, Activity.parent_letter, Activity.family_call} == set(
        items
    )
    assert items[Activity.home_visit].required == 1  # six ones and three ones ask it once
    assert items[Activity.parent_letter].period is Period.semester
    assert items[Activity.talk].due_at == dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)


async def test_a_teacher_owes_the_three_ones_and_a_normal_child_no_family_call(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)
    teacher = await make_volunteer(session, site, kind=VolunteerKind.teacher)
    child = await make_child(session, site, priority=Priority.normal)
    pairing = await make_pairing(session, teacher, child, started_at=clock.now())

    items = await due.due_items(
        session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(pairing_ids=[pairing.id])
    )

    assert {i.activity for i in items} == {
        Activity.home_visit,
        Activity.parent_call,
        Activity.parent_letter,
    }


async def test_check_ins_count_in_their_own_month_and_semester(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)
    volunteer = await make_volunteer(session, site)
    child = await make_child(session, site)
    pairing = await make_pairing(
        session, volunteer, child, started_at=dt.datetime(2026, 9, 1, tzinfo=SHANGHAI)
    )
    await make_checkin(
        session,
        pairing,
        occurred_at=dt.datetime(2026, 11, 3, 15, tzinfo=SHANGHAI),
        activities=(Activity.home_visit, Activity.talk),
    )
    # the last evening of October, local time, belongs to October
    await make_checkin(
        session,
        pairing,
        occurred_at=dt.datetime(2026, 10, 31, 23, tzinfo=SHANGHAI),
        activities=(Activity.tutoring, Activity.parent_letter),
    )

    items = _by_activity(
        await due.due_items(
            session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(volunteer_ids=[volunteer.id])
        )
    )

    assert items[Activity.home_visit].done == 1 and items[Activity.home_visit].missing == 0
    assert items[Activity.talk].missing == 0
    assert items[Activity.tutoring].done == 0  # done in October
    assert items[Activity.parent_letter].done == 1  # same autumn semester
    missing = await due.due_items(
        session,
        month=NOVEMBER,
        tz=SHANGHAI,
        selection=Selection(volunteer_ids=[volunteer.id]),
        only_missing=True,
    )
    assert {i.activity for i in missing} == {
        Activity.homework_check,
        Activity.tutoring,
        Activity.family_meal,
        Activity.parent_call,
    }


async def test_a_site_with_rules_of_its_own_replaces_the_defaults_for_all_below_it(
    session: AsyncSession, clock: FixedClock
) -> None:
    township = await make_site(session, kind=RegionKind.township)
    school = await make_site(session, parent=township)
    other = await make_site(session)
    session.add(
        CadenceRule(
            region_id=township.id,
            volunteer_kind=None,
            activity=Activity.home_visit,
            period=Period.month,
            times=2,
        )
    )
    await session.flush()
    pairings = []
    for site in (school, other):
        volunteer = await make_volunteer(session, site)
        pairings.append(
            await make_pairing(
                session, volunteer, await make_child(session, site), started_at=clock.now()
            )
        )

    ruled = await due.due_items(
        session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(pairing_ids=[pairings[0].id])
    )
    default = await due.due_items(
        session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(pairing_ids=[pairings[1].id])
    )

    assert [(i.activity, i.required) for i in ruled] == [(Activity.home_visit, 2)]
    assert len(default) > 1


async def test_scope_and_pairing_history_decide_who_is_counted(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    elsewhere = await make_site(session)
    volunteer = await make_volunteer(session, school)
    ended = await make_pairing(
        session,
        volunteer,
        await make_child(session, school),
        started_at=dt.datetime(2026, 3, 1, tzinfo=SHANGHAI),
        ended_at=dt.datetime(2026, 10, 20, tzinfo=SHANGHAI),
    )
    current = await make_pairing(
        session, volunteer, await make_child(session, school), started_at=clock.now()
    )
    await make_pairing(
        session,
        await make_volunteer(session, elsewhere),
        await make_child(session, elsewhere),
        started_at=clock.now(),
    )

    november = {
        i.pairing_id
        for i in await due.due_items(
            session, month=NOVEMBER, tz=SHANGHAI, selection=Selection(scope_path=school.path)
        )
    }
    october = {
        i.pairing_id
        for i in await due.due_items(
            session, month=Month(2026, 10), tz=SHANGHAI, selection=Selection(scope_path=school.path)
        )
    }

    assert november == {current.id}
    assert october == {ended.id}  # the current pairing started in November


async def test_key_children_without_a_surrogate_are_found(
    session: AsyncSession, clock: FixedClock
) -> None:
    site = await make_site(session)
    alone = await make_child(session, site, priority=Priority.key)
    cared = await make_child(session, site, priority=Priority.key)
    only_teacher = await make_child(session, site, priority=Priority.key)
    await make_child(session, site, priority=Priority.normal)
    await make_pairing(session, await make_volunteer(session, site), cared, started_at=clock.now())
    await make_pairing(
        session,
        await make_volunteer(session, site, kind=VolunteerKind.teacher),
        only_teacher,
        started_at=clock.now(),
    )

    found = await due.key_children_without_surrogate(session, scope_path=site.path)

    assert {c.id for c in found} == {alone.id, only_teacher.id}


def test_months_and_semesters() -> None:
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    assert Month.parse("2026-11") == NOVEMBER
    assert semester_bounds(Month(2027, 1), SHANGHAI) == (
        dt.datetime(2026, 9, 1, tzinfo=SHANGHAI),
        dt.datetime(2027, 3, 1, tzinfo=SHANGHAI),
    )
    assert semester_bounds(Month(2027, 5), SHANGHAI)[0] == dt.datetime(2027, 3, 1, tzinfo=SHANGHAI)
