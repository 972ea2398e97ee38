"""Emergencies and drop-outs (应急机制 / 控辍保学, DOMAIN.md practice 9).

"Child, school, guardian and government must reach each other at once on an incident."
An incident is an escalation of kind `emergency` (or `dropout`) that the ladder sends to
every level at once, day or night, and again every site interval until someone takes
it. It stays open until closed with an outcome; each step of following it (registered,
persuasion visits 劝返, returned to school, found, handed to the police, an entrusted
guardian named) is an `IncidentStep` with who and when.

A drop-out follows 控辍保学: registered the day it is reported; the head teacher and the
village cadre try to bring the child back (劝返复学); "if that fails it reports in writing
to the county education bureau and township government" — after the site's deadline.

A report of bullying or abuse is sensitive: the reporter and the coordinators above the
site (township, district) see it, not the site's volunteers; every view is audited.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ChildOutOfScope, EscalationOutOfScope, UnknownChild, UnknownEscalation
from domain.models import (
    Child,
    Coordinator,
    Escalation,
    EscalationKind,
    Guardian,
    Guardianship,
    IncidentStep,
    Pairing,
    Parent,
    Person,
    Region,
    RegionKind,
    Volunteer,
    VolunteerKind,
)
from domain.people import audit, regions
from domain.schedule.escalations import open_once

DEFAULT_REPEAT_MINUTES = 30  # "not taken within 30 minutes → sent again"
DEFAULT_REPORT_DAYS = 15  # persuasion (劝返) before the written report
LEVELS = 3  # site, township, district: one round of an emergency reaches all three


class Incident(enum.StrEnum):
    dropout = "dropout"  # 辍学或不愿上学
    missing = "missing"  # 离家出走或失联
    injury = "injury"  # 意外伤害或重病
    unsupervised = "unsupervised"  # 无人监护
    bullying = "bullying"  # 受欺凌或侵害
    other = "other"  # 其他紧急情况


SENSITIVE = frozenset({Incident.bullying})


class StepKind(enum.StrEnum):
    registered = "registered"  # 登记
    persuasion = "persuasion"  # 劝返: by whom, the day, the result
    returned = "returned"  # 返校复学 (closes)
    report = "report"  # 情况报告 made
    found = "found"  # found: the day, where (closes)
    police = "police"  # handed to the police: the day, the station (closes)
    guardian = "guardian"  # entrusted guardian named, letter signed (closes)
    note = "note"  # anything else worth recording
    closed = "closed"  # closed with an outcome


# The steps that close an incident with their outcome.
CLOSING = frozenset(
    {StepKind.returned, StepKind.found, StepKind.police, StepKind.guardian, StepKind.closed}
)

# The steps that fit each incident (besides note and closed, which fit all).
FITTING: dict[Incident, tuple[StepKind, ...]] = {
    Incident.dropout: (StepKind.persuasion, StepKind.returned),
    Incident.missing: (StepKind.found, StepKind.police),
    Incident.unsupervised: (StepKind.guardian,),
}


def escalation_kind(incident: Incident) -> EscalationKind:
    return EscalationKind.dropout if incident is Incident.dropout else EscalationKind.emergency


def incident_of(escalation: Escalation) -> Incident | None:
    value = (escalation.details or {}).get("incident")
    return Incident(value) if isinstance(value, str) and value in Incident.__members__ else None


# rules ------------------------------------------------------------------------------


def may_raise(
    site_path: str,
    *,
    paired: bool,
    teacher_site_paths: Iterable[str] = (),
    scope_paths: Iterable[str] = (),
) -> bool:
    """A volunteer for their children, a teacher for any child of their site, a
    coordinator for any child in their scope."""
    return (
        paired
        or any(site_path == path for path in teacher_site_paths)
        or any(regions.within(site_path, path) for path in scope_paths)
    )


def may_see(
    incident: Incident | None,
    site_path: str,
    *,
    viewer_id: int,
    reporter_id: int | None,
    scope_paths: Iterable[str],
    paired: bool = False,
) -> bool:
    """Who may see an incident: anyone responsible for the child; a sensitive one only
    the reporter and the coordinators above the site (township, district)."""
    if viewer_id == reporter_id:
        return True
    scopes = list(scope_paths)
    if incident in SENSITIVE:
        return any(
            regions.within(site_path, path) and len(path) < len(site_path) for path in scopes
        )
    return paired or any(regions.within(site_path, path) for path in scopes)


def urgent_steps_due(
    *, last_step: int, last_sent_at: dt.datetime | None, now: dt.datetime, every: dt.timedelta
) -> list[int]:
    """The ladder's steps due now for an emergency nobody has taken: the first round
    reaches all levels at once (steps 1-3); each later round r (steps 3r+1 … 3r+3) is
    due `every` after the previous one was sent, day or night."""
    if last_step == 0 or last_sent_at is None:
        return list(range(1, LEVELS + 1))
    if now < last_sent_at + every:
        return []
    first = (round_of(last_step) + 1) * LEVELS + 1
    return list(range(first, first + LEVELS))


def level_of(step: int) -> int:
    """The level (1 site, 2 township, 3 district) a step of an emergency goes to."""
    return (step - 1) % LEVELS + 1


def round_of(step: int) -> int:
    return (step - 1) // LEVELS


def report_due(
    *, opened_on: dt.date, today: dt.date, days: int, returned: bool, reported: bool
) -> bool:
    """控辍保学: the written report is due once persuasion has not brought the child back
    within the site's deadline."""
    return not returned and not reported and today >= opened_on + dt.timedelta(days=days)


# settings inherited up the region tree -----------------------------------------------


def regions_ids(path: str) -> list[int]:
    return [int(part) for part in path.split("/") if part]


async def repeat_every(session: AsyncSession, site_paths: Iterable[str]) -> dict[str, dt.timedelta]:
    minutes = await regions.inherited(
        session, site_paths, "emergency_repeat_minutes", DEFAULT_REPEAT_MINUTES
    )
    return {path: dt.timedelta(minutes=m) for path, m in minutes.items()}


async def report_days(session: AsyncSession, site_path: str) -> int:
    return (
        await regions.inherited(session, [site_path], "dropout_report_days", DEFAULT_REPORT_DAYS)
    )[site_path]


# raising and following -----------------------------------------------------------------


async def raise_incident(
    session: AsyncSession,
    *,
    child_id: int,
    incident: Incident,
    note: str | None,
    reporter_id: int,
    now: dt.datetime,
    tz: ZoneInfo,
    media: Sequence[dict[str, str]] = (),
) -> Escalation:
    """Open an incident (the caller has checked `may_raise`); it is registered today and
    the ladder's next run tells every level."""
    escalation = await open_once(
        session,
        kind=escalation_kind(incident),
        item_key=f"incident:{child_id}:{uuid.uuid4().hex}",
        child_id=child_id,
        at=now,
        details={
            "incident": incident.value,
            "note": note,
            "reported_by": reporter_id,
            "media": list(media),  # Telegram file ids of photos and voice notes
        },
    )
    session.add(
        IncidentStep(
            escalation_id=escalation.id,
            kind=StepKind.registered.value,
            on_day=now.astimezone(tz).date(),
            note=note,
            actor_id=reporter_id,
            recorded_at=now,
        )
    )
    audit.record(
        session,
        at=now,
        action="incident.raise",
        actor_id=reporter_id,
        subject_type="escalation",
        subject_id=escalation.id,
        details={"child_id": child_id, "incident": incident.value},
    )
    return escalation


async def record_step(
    session: AsyncSession,
    escalation: Escalation,
    *,
    kind: StepKind,
    actor_id: int,
    now: dt.datetime,
    on_day: dt.date | None = None,
    by_whom: str | None = None,
    place: str | None = None,
    note: str | None = None,
    close: bool = True,
) -> IncidentStep:
    """One step of following the incident (the caller has checked it may be seen); a
    closing step closes it with that outcome and stops the re-sending."""
    step = IncidentStep(
        escalation_id=escalation.id,
        kind=kind.value,
        on_day=on_day,
        by_whom=by_whom,
        place=place,
        note=note,
        actor_id=actor_id,
        recorded_at=now,
    )
    session.add(step)
    if kind in CLOSING and close and escalation.closed_at is None:
        if escalation.acknowledged_by is None:
            escalation.acknowledged_by = actor_id
            escalation.acknowledged_at = now
        escalation.closed_at = now
        escalation.resolution = kind.value
        escalation.resolution_note = note
    await session.flush()
    audit.record(
        session,
        at=now,
        action=f"incident.{kind.value}",
        actor_id=actor_id,
        subject_type="escalation",
        subject_id=escalation.id,
        details={"child_id": escalation.child_id, "step_id": step.id},
    )
    return step


@dataclass(frozen=True)
class Contact:
    role: str  # guardian / parent / head_teacher / supervisor
    name: str
    relation: str | None
    phone: str | None


async def contacts(session: AsyncSession, child_ids: Sequence[int]) -> dict[int, list[Contact]]:
    """Each child's contacts in the order an emergency calls them: guardians, parents,
    the head teacher (a paired teacher), the village supervisor (a village's coordinator)."""
    found: dict[int, list[Contact]] = defaultdict(list)
    if not child_ids:
        return found
    for guardian in await session.scalars(
        select(Guardian)
        .where(Guardian.child_id.in_(child_ids))
        .order_by(Guardian.child_id, Guardian.entrusted, Guardian.id)
    ):
        found[guardian.child_id].append(
            Contact("guardian", guardian.name, guardian.relation, guardian.phone)
        )
    for parent in await session.scalars(
        select(Parent).where(Parent.child_id.in_(child_ids)).order_by(Parent.child_id, Parent.id)
    ):
        found[parent.child_id].append(Contact("parent", "", parent.relation, parent.phone))
    for row in await session.execute(
        select(Pairing.child_id, Person.name, Person.phone)
        .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
        .join(Person, Person.id == Volunteer.person_id)
        .where(
            Pairing.child_id.in_(child_ids),
            Pairing.ended_at.is_(None),
            Volunteer.kind == VolunteerKind.teacher,
        )
        .order_by(Pairing.child_id, Pairing.id)
    ):
        found[row.child_id].append(Contact("head_teacher", row.name, None, row.phone))
    sites = {
        child_id: path
        for child_id, path in await session.execute(
            select(Child.id, Region.path)
            .join(Region, Region.id == Child.site_id)
            .where(Child.id.in_(child_ids))
        )
    }
    villages = (
        await session.execute(
            select(Region.path, Person.name, Person.phone)
            .join(Coordinator, Coordinator.region_id == Region.id)
            .join(Person, Person.id == Coordinator.person_id)
            .where(
                Region.id.in_({i for p in sites.values() for i in regions_ids(p)}),
                Region.kind == RegionKind.village,
                Coordinator.removed_at.is_(None),
            )
            .order_by(func.length(Region.path).desc(), Person.id)
        )
    ).all()
    for child_id, path in sites.items():
        for village_path, name, phone in villages:
            if regions.within(path, village_path):
                found[child_id].append(Contact("supervisor", name, None, phone))
    return found


@dataclass(frozen=True)
class PageStep:
    kind: StepKind
    recorded_at: dt.datetime
    on_day: dt.date | None
    by_whom: str | None
    place: str | None
    note: str | None
    actor: str | None


@dataclass(frozen=True)
class Page:
    """What an incident's page shows: the child, what happened, and every step."""

    escalation: Escalation
    incident: Incident
    child: Child
    site: Region
    reporter: str | None
    taken_by: str | None
    steps: tuple[PageStep, ...]
    report_days: int


async def page(session: AsyncSession, escalation: Escalation) -> Page:
    child = await session.get_one(Child, escalation.child_id)
    site = await session.get_one(Region, child.site_id)
    reporter_id = (escalation.details or {}).get("reported_by")
    reporter = await session.get(Person, reporter_id) if reporter_id else None
    taker = (
        await session.get(Person, escalation.acknowledged_by)
        if escalation.acknowledged_by
        else None
    )
    rows = await session.execute(
        select(IncidentStep, Person.name)
        .outerjoin(Person, Person.id == IncidentStep.actor_id)
        .where(IncidentStep.escalation_id == escalation.id)
        .order_by(IncidentStep.recorded_at, IncidentStep.id)
    )
    steps = tuple(
        PageStep(
            StepKind(step.kind),
            step.recorded_at,
            step.on_day,
            step.by_whom,
            step.place,
            step.note,
            name,
        )
        for step, name in rows
    )
    return Page(
        escalation=escalation,
        incident=incident_of(escalation) or Incident.other,
        child=child,
        site=site,
        reporter=reporter.name if reporter else None,
        taken_by=taker.name if taker else None,
        steps=steps,
        report_days=await report_days(session, site.path),
    )


def audit_view(
    session: AsyncSession, escalation: Escalation, viewer_id: int, at: dt.datetime
) -> None:
    audit.record(
        session,
        at=at,
        action="incident.view",
        actor_id=viewer_id,
        subject_type="escalation",
        subject_id=escalation.id,
        details={"child_id": escalation.child_id},
    )


# who is reporting -------------------------------------------------------------------


@dataclass(frozen=True)
class Reporter:
    """What the person reporting may do for this child."""

    child: Child
    site: Region
    may_raise_visits: bool  # a teacher of the site or a coordinator: must-visits too


async def reporter_for(
    session: AsyncSession,
    *,
    person_id: int,
    volunteer_ids: Sequence[int],
    scope_paths: Sequence[str],
    child_id: int,
) -> Reporter:
    """The child, if this person may report about them; else `ChildOutOfScope` (or
    `UnknownChild`), which the chat front answers with a clear refusal (audited)."""
    child = await session.get(Child, child_id)
    if child is None or child.left_at is not None:
        raise UnknownChild()
    site = await session.get_one(Region, child.site_id)
    paired = bool(volunteer_ids) and (
        await session.scalar(
            select(Pairing.id)
            .where(
                Pairing.child_id == child.id,
                Pairing.volunteer_id.in_(volunteer_ids),
                Pairing.ended_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )
    teacher_sites = (
        list(
            await session.scalars(
                select(Region.path)
                .join(Volunteer, Volunteer.site_id == Region.id)
                .where(
                    Volunteer.id.in_(volunteer_ids),
                    Volunteer.kind == VolunteerKind.teacher,
                    Volunteer.removed_at.is_(None),
                )
            )
        )
        if volunteer_ids
        else []
    )
    if not may_raise(
        site.path, paired=paired, teacher_site_paths=teacher_sites, scope_paths=scope_paths
    ):
        raise ChildOutOfScope(child.id)
    visits = site.path in teacher_sites or any(regions.within(site.path, p) for p in scope_paths)
    return Reporter(child=child, site=site, may_raise_visits=visits)


async def paired_volunteers(session: AsyncSession, child_id: int) -> list[Person]:
    """The people paired with the child now: the ones a must-visit is for."""
    return list(
        await session.scalars(
            select(Person)
            .join(Volunteer, Volunteer.person_id == Person.id)
            .join(Pairing, Pairing.volunteer_id == Volunteer.id)
            .where(Pairing.child_id == child_id, Pairing.ended_at.is_(None))
            .order_by(Pairing.id)
        )
    )


async def escalation_for(
    session: AsyncSession,
    escalation_id: int,
    *,
    viewer_id: int,
    volunteer_ids: Sequence[int],
    scope_paths: Sequence[str],
) -> Escalation:
    """An incident this person may see; else `EscalationOutOfScope` (audited by the
    front): a sensitive one only by its reporter and the levels above the site."""
    escalation = await session.get(Escalation, escalation_id)
    if escalation is None or escalation.kind not in (
        EscalationKind.emergency,
        EscalationKind.dropout,
    ):
        raise UnknownEscalation()
    child = await session.get_one(Child, escalation.child_id)
    site = await session.get_one(Region, child.site_id)
    paired = bool(volunteer_ids) and (
        await session.scalar(
            select(Pairing.id)
            .where(
                Pairing.child_id == child.id,
                Pairing.volunteer_id.in_(volunteer_ids),
                Pairing.ended_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )
    reporter = (escalation.details or {}).get("reported_by")
    if not may_see(
        incident_of(escalation),
        site.path,
        viewer_id=viewer_id,
        reporter_id=int(str(reporter)) if reporter is not None else None,
        scope_paths=scope_paths,
        paired=paired,
    ):
        raise EscalationOutOfScope(escalation.id)
    return escalation


_DAY = re.compile(r"(?:(\d{4})[年/.-])?(\d{1,2})[月/.-](\d{1,2})[日号]?")


def parse_step(kind: StepKind, words: str, *, today: dt.date) -> dict[str, Any]:
    """The fields of a step from one typed message: the first date in it (11月20日, 11/20,
    今天, 昨天; else today), and the words before and after it — who went (persuasion),
    where (found, police station) — the rest is the note."""
    text = " ".join(words.split())
    on_day, before, after = today, text, ""
    match = _DAY.search(text)
    if match:
        year = int(match.group(1)) if match.group(1) else today.year
        try:
            on_day = dt.date(year, int(match.group(2)), int(match.group(3)))
        except ValueError:
            match = None
        else:
            if on_day > today + dt.timedelta(days=31) and not match.group(
                1
            ):  # "12月30日" in January
                on_day = on_day.replace(year=year - 1)
            before, after = text[: match.start()].strip(), text[match.end() :].strip()
    if not match:
        for word, back in (("今天", 0), ("昨天", 1), ("前天", 2)):
            if word in text:
                on_day = today - dt.timedelta(days=back)
                before, _, after = (part.strip() for part in text.partition(word))
                break
    fields: dict[str, Any] = {"on_day": on_day}
    if kind is StepKind.persuasion:
        fields["by_whom"] = before[:100] or None
        fields["note"] = after or None
    elif kind in (StepKind.found, StepKind.police):
        fields["place"] = (after or before)[:200] or None
        fields["note"] = before if after and before else None
    else:
        fields["note"] = text or None
    return fields


async def children_to_report(
    session: AsyncSession,
    *,
    volunteer_ids: Sequence[int],
    scope_paths: Sequence[str],
    limit: int,
) -> list[tuple[int, str]]:
    """The children someone may report about, by name: their paired children, a
    teacher's school's children, a coordinator's (the first `limit`)."""
    conditions = []
    if volunteer_ids:
        conditions.append(
            Child.id.in_(
                select(Pairing.child_id).where(
                    Pairing.volunteer_id.in_(volunteer_ids), Pairing.ended_at.is_(None)
                )
            )
        )
        conditions.append(
            Child.site_id.in_(
                select(Volunteer.site_id).where(
                    Volunteer.id.in_(volunteer_ids),
                    Volunteer.kind == VolunteerKind.teacher,
                    Volunteer.removed_at.is_(None),
                )
            )
        )
    for path in scope_paths:
        conditions.append(Child.site_id.in_(select(Region.id).where(Region.path.startswith(path))))
    if not conditions:
        return []
    rows = await session.execute(
        select(Child.id, Child.name)
        .where(or_(*conditions), Child.left_at.is_(None))
        .order_by(Child.name, Child.id)
        .limit(limit)
    )
    return [(row.id, row.name) for row in rows]


@dataclass(frozen=True)
class ReportFacts:
    """What the written report on a drop-out (情况报告) says, from what was recorded."""

    page: Page
    township: str | None  # the township government it goes to
    county: str | None  # the county (district) whose education bureau it goes to
    guardians: tuple[Contact, ...]
    parents: tuple[tuple[str, str | None, str | None], ...]  # relation, work place, phone
    persuasions: tuple[PageStep, ...]
    registered_on: dt.date
    today: dt.date
    days: int  # since it was registered


async def report_facts(
    session: AsyncSession, escalation: Escalation, *, now: dt.datetime, tz: ZoneInfo
) -> ReportFacts:
    shown = await page(session, escalation)
    above = await session.execute(
        select(Region.kind, Region.name)
        .where(Region.id.in_(regions_ids(shown.site.path)))
        .order_by(func.length(Region.path).desc())
    )
    names: dict[RegionKind, str] = {}
    for kind, name in above:
        names.setdefault(kind, name)
    found = await contacts(session, [shown.child.id])
    guardians = tuple(c for c in found.get(shown.child.id, []) if c.role == "guardian")
    parents = tuple(
        (p.relation, p.work_place, p.phone)
        for p in await session.scalars(
            select(Parent).where(Parent.child_id == shown.child.id).order_by(Parent.id)
        )
    )
    registered = next(
        (s.on_day for s in shown.steps if s.kind is StepKind.registered and s.on_day),
        escalation.opened_at.astimezone(tz).date(),
    )
    today = now.astimezone(tz).date()
    return ReportFacts(
        page=shown,
        township=names.get(RegionKind.township),
        county=names.get(RegionKind.district),
        guardians=guardians,
        parents=parents,
        persuasions=tuple(s for s in shown.steps if s.kind is StepKind.persuasion),
        registered_on=registered,
        today=today,
        days=(today - registered).days,
    )


_PHONE = re.compile(r"^\+?\d[\d-]{6,}$")


@dataclass(frozen=True)
class EntrustedGuardian:
    name: str
    relation: str | None
    phone: str | None
    letter_signed_on: dt.date | None  # 委托监护责任确认书: None while not signed


def parse_guardian(words: str, *, today: dt.date) -> EntrustedGuardian | None:
    """“李桂兰 姑姑 13800000003 11月20日”: the name first, then the relation, a phone
    number and the day the letter was signed, in any order after the name; None without
    a name."""
    letter: dt.date | None = None
    text = " ".join(words.replace("，", " ").replace("、", " ").replace(",", " ").split())
    match = _DAY.search(text)
    if match:
        letter = parse_step(StepKind.note, match.group(0), today=today)["on_day"]
        text = (text[: match.start()] + " " + text[match.end() :]).strip()
    elif "今天" in text:
        letter, text = today, text.replace("今天", " ")
    tokens = text.split()
    phone = next((t for t in tokens if _PHONE.match(t)), None)
    rest = [t for t in tokens if t != phone and t not in ("签订", "签字", "已签")]
    if not rest:
        return None
    return EntrustedGuardian(
        name=rest[0][:100],
        relation=rest[1][:32] if len(rest) > 1 else None,
        phone=phone,
        letter_signed_on=letter,
    )


async def name_entrusted_guardian(
    session: AsyncSession,
    escalation: Escalation,
    guardian: EntrustedGuardian,
    *,
    actor_id: int,
    now: dt.datetime,
) -> IncidentStep:
    """无人监护: the entrusted guardian (委托监护人) is named; with the responsibility letter
    signed the child is in their care and the incident closes — until then the child
    still counts as 无人监护."""
    child = await session.get_one(Child, escalation.child_id)
    session.add(
        Guardian(
            child_id=child.id,
            name=guardian.name,
            relation=guardian.relation,
            phone=guardian.phone,
            entrusted=True,
            letter_signed_on=guardian.letter_signed_on,
        )
    )
    signed = guardian.letter_signed_on is not None
    if signed:
        child.guardianship = Guardianship.entrusted
    else:
        child.guardianship = Guardianship.none
    return await record_step(
        session,
        escalation,
        kind=StepKind.guardian,
        actor_id=actor_id,
        now=now,
        on_day=guardian.letter_signed_on,
        by_whom=" ".join(p for p in (guardian.relation, guardian.name) if p),
        close=signed,
    )


async def record_letter(
    session: AsyncSession, child: Child, *, signed_on: dt.date, actor_id: int, now: dt.datetime
) -> Guardian | None:
    """委托监护责任确认书 signed: recorded on the child's entrusted guardian (the latest one
    without it); None when the child has no entrusted guardian to sign it."""
    guardian = await session.scalar(
        select(Guardian)
        .where(Guardian.child_id == child.id, Guardian.entrusted)
        .order_by(Guardian.letter_signed_on.is_(None).desc(), Guardian.id.desc())
        .limit(1)
    )
    if guardian is None:
        return None
    guardian.letter_signed_on = signed_on
    child.guardianship = Guardianship.entrusted
    audit.record(
        session,
        at=now,
        action="guardian.letter",
        actor_id=actor_id,
        subject_type="child",
        subject_id=child.id,
        details={"guardian_id": guardian.id},
    )
    return guardian


def parse_day(words: str, *, today: dt.date) -> dt.date | None:
    """The first day named in the words (11月20日, 11/20, 今天, 昨天, 前天); None if none."""
    match = _DAY.search(words)
    if match or any(w in words for w in ("今天", "昨天", "前天")):
        return parse_step(StepKind.note, words, today=today)["on_day"]  # type: ignore[no-any-return]
    return None
