"""The coordinator's figures and overdue list, on real PostgreSQL in a rolled-back session."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.archive import lookup
from domain.care import pairings
from domain.clock import FixedClock
from domain.errors import (
    AmbiguousChild,
    ChildOutOfScope,
    EscalationOutOfScope,
    VolunteerOutOfScope,
)
from domain.models import (
    Activity,
    AuditEntry,
    Concern,
    ConcernKind,
    EscalationKind,
    EscalationStep,
    Guardian,
    Guardianship,
    Priority,
    RegionKind,
    VolunteerKind,
)
from domain.people import scopes
from domain.people.identity import Identity, Scope
from domain.people.regions import within
from domain.reports import overview
from domain.schedule import escalations, overdue
from domain.schedule.calendar import Month
from tests.conftest import SHANGHAI
from tests.factories import (
    make_checkin,
    make_child,
    make_pairing,
    make_person,
    make_site,
    make_volunteer,
    telegram_account,
)

LONG_AGO = dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)
OCTOBER_START = dt.datetime(2026, 10, 1, tzinfo=SHANGHAI)


def coordinator_of(person_id: int, *regions_: object) -> Identity:
    return Identity(
        person_id=person_id,
        name="王老师",
        language=None,
        scopes=tuple(
            Scope(region_id=r.id, code=r.code, name=r.name, path=r.path)  # type: ignore[attr-defined]
            for r in regions_
        ),
    )


async def test_the_overview_counts_a_scope_and_nothing_outside_it(
    session: AsyncSession, clock: FixedClock
) -> None:
    township = await make_site(session, kind=RegionKind.township)
    school = await make_site(session, parent=township)
    other = await make_site(session)
    busy = await make_volunteer(session, school, joined_at=LONG_AGO)
    idle = await make_volunteer(session, school, joined_at=LONG_AGO)
    await make_volunteer(session, school, joined_at=clock.now() - dt.timedelta(days=3))
    await make_volunteer(session, other, joined_at=LONG_AGO)
    covered = await make_child(session, school, priority=Priority.key)
    await make_child(session, school, priority=Priority.key)
    await make_child(session, school)
    await make_child(session, other, priority=Priority.key)
    pairing = await make_pairing(session, busy, covered, started_at=OCTOBER_START)
    await make_pairing(session, idle, await make_child(session, school), started_at=OCTOBER_START)
    await make_checkin(
        session, pairing, occurred_at=clock.now(), activities=(Activity.talk, Activity.home_visit)
    )
    raiser = await make_person(session)
    session.add(
        Concern(
            child_id=covered.id,
            kind=ConcernKind.mood,
            raised_by=raiser.id,
            raised_at=clock.now(),
            due_at=clock.now() + dt.timedelta(days=3),
        )
    )
    await escalations.open_once(
        session,
        kind=EscalationKind.missed_monthly,
        item_key="missed:x",
        child_id=covered.id,
        at=clock.now(),
    )

    figures = await overview.overview(
        session, scope_path=township.path, month=Month(2026, 11), tz=SHANGHAI, now=clock.now()
    )

    assert (figures.children, figures.key_children, figures.key_without_surrogate) == (4, 2, 1)
    assert (figures.volunteers, figures.inactive_volunteers) == (3, 1)
    # a surrogate parent owes five of the six ones; two pairings → ten, two done
    assert (figures.six_ones_done, figures.six_ones_required) == (2, 10)
    assert figures.six_ones_percent == 20
    assert (figures.open_must_visits, figures.open_escalations) == (1, 1)
    assert [r.id for r in await overview.sub_regions(session, township)] == [school.id]


async def test_overdue_lists_last_months_gaps_and_late_must_visits_most_urgent_first(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    elsewhere = await make_site(session)
    volunteer = await make_volunteer(session, school)
    teacher = await make_volunteer(session, school, kind=VolunteerKind.teacher)
    normal = await make_child(session, school)
    key = await make_child(session, school, priority=Priority.key)
    outside = await make_child(session, elsewhere)
    missed = await make_pairing(session, volunteer, normal, started_at=OCTOBER_START)
    await make_pairing(session, teacher, key, started_at=OCTOBER_START)
    await make_pairing(
        session,
        await make_volunteer(session, elsewhere),
        outside,
        started_at=OCTOBER_START,
    )
    await make_checkin(
        session,
        missed,
        occurred_at=dt.datetime(2026, 10, 10, tzinfo=SHANGHAI),
        activities=(Activity.home_visit, Activity.talk),
    )
    raiser = await make_person(session)
    late = Concern(
        child_id=key.id,
        kind=ConcernKind.health,
        raised_by=raiser.id,
        raised_at=clock.now() - dt.timedelta(days=5),
        due_at=clock.now() - dt.timedelta(days=2),
    )
    not_yet = Concern(
        child_id=normal.id,
        kind=ConcernKind.mood,
        raised_by=raiser.id,
        raised_at=clock.now(),
        due_at=clock.now() + dt.timedelta(days=3),
    )
    session.add_all([late, not_yet])
    await session.flush()

    items = await overdue.overdue(session, scope_path=school.path, now=clock.now(), tz=SHANGHAI)

    assert [(i.kind, i.child_id) for i in items] == [
        (overdue.OverdueKind.must_visit, key.id),  # a must-visit before monthly gaps
        (overdue.OverdueKind.missed, key.id),  # a key child before a normal one
        (overdue.OverdueKind.missed, normal.id),
    ]
    must_visit, teacher_gap, volunteer_gap = items
    assert must_visit.volunteer_id == teacher.id and must_visit.since == late.due_at
    assert Activity.home_visit not in volunteer_gap.activities
    assert Activity.talk not in volunteer_gap.activities
    assert Activity.tutoring in volunteer_gap.activities
    assert volunteer_gap.since == dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)
    assert volunteer_gap.item_key == escalations.missed_month_key(missed.id, Month(2026, 10))
    assert teacher_gap.volunteer_id == teacher.id

    # marked handled: the escalation of the item is closed, and it drops out
    coordinator = await make_person(session)
    me = coordinator_of(coordinator.id, school)
    escalation = await escalations.open_once(
        session,
        kind=EscalationKind.missed_monthly,
        item_key=volunteer_gap.item_key,
        child_id=normal.id,
        pairing_id=missed.id,
        at=clock.now(),
    )
    await escalations.resolve(session, escalation.id, me, clock.now(), note=None)
    after = await overdue.overdue(session, scope_path=school.path, now=clock.now(), tz=SHANGHAI)
    assert volunteer_gap.item_key not in {i.item_key for i in after}
    assert len(after) == 2


async def test_an_older_open_escalation_stays_on_the_list(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    volunteer = await make_volunteer(session, school)
    child = await make_child(session, school)
    pairing = await make_pairing(session, volunteer, child, started_at=LONG_AGO)
    september = Month(2026, 9)
    await escalations.open_once(
        session,
        kind=EscalationKind.missed_monthly,
        item_key=escalations.missed_month_key(pairing.id, september),
        child_id=child.id,
        pairing_id=pairing.id,
        period_start=september.first_day(),
        details={"missing": ["home_visit", "no_such_thing"]},
        at=dt.datetime(2026, 10, 3, tzinfo=SHANGHAI),
    )
    dropout = await escalations.open_once(
        session,
        kind=EscalationKind.dropout,
        item_key="dropout:1",
        child_id=child.id,
        at=clock.now(),
    )

    items = await overdue.overdue(session, scope_path=school.path, now=clock.now(), tz=SHANGHAI)

    assert items[0].escalation_id == dropout.id
    september_item = next(i for i in items if i.month == september)
    assert september_item.activities == (Activity.home_visit,)
    assert september_item.volunteer_id == volunteer.id


async def test_taking_an_escalation_is_once_and_a_second_coordinator_learns_who(
    session: AsyncSession, clock: FixedClock
) -> None:
    township = await make_site(session, kind=RegionKind.township)
    school = await make_site(session, parent=township)
    other = await make_site(session)
    child = await make_child(session, school)
    first, second, stranger = [await make_person(session) for _ in range(3)]
    first_me = coordinator_of(first.id, school)
    second_me = coordinator_of(second.id, township)
    escalation = await escalations.open_once(
        session, kind=EscalationKind.dropout, item_key="d:1", child_id=child.id, at=clock.now()
    )
    session.add(
        EscalationStep(
            escalation_id=escalation.id,
            step=1,
            region_id=school.id,
            recipient_id=first.id,
            decided_at=clock.now(),
        )
    )
    await session.flush()

    taken = await escalations.take(session, escalation.id, first_me, clock.now())
    clock.move(dt.timedelta(hours=1))
    late = await escalations.take(session, escalation.id, second_me, clock.now())
    late_resolve = await escalations.resolve(session, escalation.id, second_me, clock.now(), "x")

    assert taken.changed and not late.changed and not late_resolve.changed
    assert late.taken_by is not None and late.taken_by.name == first.name
    assert late.taken_by.at == clock.now() - dt.timedelta(hours=1)
    assert escalation.acknowledged_by == first.id and escalation.closed_at is None
    step = await session.scalar(select(EscalationStep))
    assert step is not None and step.acknowledged_at == late.taken_by.at
    with pytest.raises(EscalationOutOfScope):
        await escalations.take(
            session, escalation.id, coordinator_of(stranger.id, other), clock.now()
        )
    done = await escalations.resolve(session, escalation.id, first_me, clock.now(), "回家了")
    assert done.changed and escalation.resolution_note == "回家了"
    actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"escalation.take", "escalation.resolved"} <= actions


async def test_reassigning_an_escalation_moves_the_child(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    old, new = await make_volunteer(session, school), await make_volunteer(session, school)
    child = await make_child(session, school)
    pairing = await make_pairing(session, old, child, started_at=LONG_AGO)
    coordinator = await make_person(session)
    escalation = await escalations.open_once(
        session,
        kind=EscalationKind.missed_monthly,
        item_key="m:1",
        child_id=child.id,
        pairing_id=pairing.id,
        at=clock.now(),
    )

    outcome = await escalations.reassign(
        session,
        escalation.id,
        coordinator_of(coordinator.id, school),
        to_volunteer_id=new.id,
        at=clock.now(),
    )

    assert outcome.changed and escalation.resolution == "reassigned"
    assert pairing.ended_at == clock.now()
    assert [p.volunteer_id for p in await pairings.current(session, child.id)] == [new.id]


async def test_scopes_and_lookups_refuse_what_lies_outside(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    other = await make_site(session)
    mine = await make_child(session, school, name="李小花")
    await make_child(session, school, name="李小花")
    theirs = await make_child(session, other, name="张小明")
    volunteer = await make_volunteer(session, other)
    person = await make_person(session)
    me = coordinator_of(person.id, school)

    with pytest.raises(ChildOutOfScope):
        await scopes.child(session, me.scopes, theirs.id)
    with pytest.raises(VolunteerOutOfScope):
        await scopes.volunteer(session, me.scopes, volunteer.id)
    with pytest.raises(AmbiguousChild) as ambiguous:
        await lookup.child_by_ref(session, "李小花", scope_path=school.path)
    assert str(mine.id) in str(ambiguous.value) and school.name in str(ambiguous.value)
    with pytest.raises(ChildOutOfScope):
        await lookup.child_by_ref(session, "张小明", scope_path=school.path)
    hits = await lookup.search_children(session, scope_paths=[school.path], text="小")
    assert {h.child_id for h in hits} == {mine.id, mine.id + 1}
    assert within(school.path, school.path)


async def test_a_volunteer_is_found_by_phone_in_any_common_spelling(
    session: AsyncSession,
) -> None:
    school = await make_site(session)
    person = await make_person(session, phone="+8613800138000")
    volunteer = await make_volunteer(session, school, person=person)

    for spelling in ("138 0013 8000", "+86 138-0013-8000", "１３８００１３８０００"):
        found = await lookup.volunteer_by_ref(session, spelling, scope_path=school.path)
        assert found.id == volunteer.id
    account = await telegram_account(session, person.id)
    found = await lookup.volunteer_by_ref(session, account.external_id, scope_path="")
    assert found.id == volunteer.id


async def test_a_must_visit_known_by_its_escalation_keeps_its_concern_kind(
    session: AsyncSession, clock: FixedClock
) -> None:
    school = await make_site(session)
    volunteer = await make_volunteer(session, school)
    child = await make_child(session, school)
    await make_pairing(session, volunteer, child, started_at=LONG_AGO)
    raiser = await make_person(session)
    concern = Concern(
        child_id=child.id,
        kind=ConcernKind.mood,
        raised_by=raiser.id,
        raised_at=clock.now() - dt.timedelta(days=4),
        due_at=clock.now() + dt.timedelta(hours=1),  # moved later by the site, say
    )
    session.add(concern)
    await session.flush()
    await escalations.open_once(
        session,
        kind=EscalationKind.must_visit,
        item_key=escalations.concern_key(concern.id),
        child_id=child.id,
        concern_id=concern.id,
        at=clock.now() - dt.timedelta(days=1),
    )

    items = await overdue.overdue(session, scope_path=school.path, now=clock.now(), tz=SHANGHAI)

    [item] = [i for i in items if i.kind is overdue.OverdueKind.must_visit]
    assert item.concern_kind is ConcernKind.mood


async def test_entrusted_guardians_letters_missing_are_counted_and_listed(
    session: AsyncSession, clock: FixedClock
) -> None:
    township = await make_site(session, kind=RegionKind.township)
    school = await make_site(session, parent=township, name="中和小学")
    other = await make_site(session)
    signed = await make_child(session, school, name="甲", guardianship=Guardianship.entrusted)
    unsigned = await make_child(session, school, name="乙", guardianship=Guardianship.entrusted)
    await make_child(session, school, name="丙", guardianship=Guardianship.entrusted)  # nobody
    await make_child(session, school, name="丁", guardianship=Guardianship.none)
    await make_child(session, other, name="戊", guardianship=Guardianship.entrusted)
    session.add_all(
        [
            Guardian(
                child_id=signed.id,
                name="李桂兰",
                entrusted=True,
                letter_signed_on=dt.date(2026, 9, 1),
            ),
            Guardian(child_id=unsigned.id, name="王大伯", entrusted=True),
        ]
    )
    await session.flush()

    figures = await overview.overview(
        session, scope_path=township.path, month=Month(2026, 11), tz=SHANGHAI, now=clock.now()
    )

    assert (figures.unsupervised, figures.letters_missing) == (1, 2)
    listed = await overview.letters_missing(session, scope_path=township.path, limit=10)
    assert listed == [("丙", "中和小学"), ("乙", "中和小学")]
