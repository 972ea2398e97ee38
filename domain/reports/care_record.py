"""The monthly care record (关爱留守儿童记录表), compiled from check-ins.

Schools compile the surrogate parents' records each month and submit them to the
township by the 25th (a site setting). Nobody fills paper here: on the day before the
site's deadline its coordinators get the record as a workbook — one row per key child
and surrogate parent, the month's activities and dates, the home-visit answers, the
concerns raised and their outcome, and what is missing — and on the day before the
township's deadline its coordinators get a one-page summary of its sites.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.care import sample
from domain.care.sample import Figures
from domain.delivery import robots
from domain.delivery.messaging import Outgoing, Recipient, queue, recipients
from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    ConcernKind,
    Coordinator,
    Guardian,
    Guardianship,
    OutboxMessage,
    Pairing,
    PairingRole,
    Person,
    Photo,
    Priority,
    Region,
    RegionKind,
    ReviewStatus,
    Sex,
    Volunteer,
)
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import outside_quiet_hours, site_days

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConcernOutcome:
    kind: ConcernKind
    raised_on: dt.date
    closed: bool
    closed_on: dt.date | None = None

    @classmethod
    def of(
        cls,
        kind: ConcernKind,
        raised_at: dt.datetime,
        closed_at: dt.datetime | None,
        tz: ZoneInfo,
    ) -> ConcernOutcome:
        """A must-visit as the record shows it: the local days it was raised and closed."""
        closed_on = closed_at.astimezone(tz).date() if closed_at else None
        return cls(kind, raised_at.astimezone(tz).date(), closed_at is not None, closed_on)


@dataclass
class RecordRow:
    """A key child with one surrogate parent (or none: then everything is missing).

    `required` and `missing` hold what falls due this month: a semester's item (the letter
    to the parents) is required and can be missing only in the semester's last month.
    """

    child_name: str
    volunteer_name: str | None
    required: dict[Activity, int] = field(default_factory=dict)
    done: dict[Activity, list[dt.date]] = field(default_factory=dict)
    visit_answers: dict[str, str] = field(default_factory=dict)
    concerns: list[ConcernOutcome] = field(default_factory=list)
    missing: list[Activity] = field(default_factory=list)
    sex: Sex | None = None
    grade: str | None = None
    class_name: str | None = None
    notes: list[tuple[dt.date, str]] = field(default_factory=list)  # the visitor's, by day
    photos: int = 0

    @property
    def complete(self) -> bool:
        return self.volunteer_name is not None and not self.missing

    def count_due(self, item: due.DueItem, month_end: dt.datetime) -> None:
        """What falls due by the month's end is required of it (the semester's letter only
        in the semester's last month), and missing while not done."""
        if item.due_at <= month_end:
            self.required[item.activity] = item.required
            if item.missing:
                self.missing.append(item.activity)

    def add_visit(
        self,
        occurred_at: dt.datetime,
        answers: object,
        note: str | None,
        tz: ZoneInfo,
    ) -> None:
        """A check-in's home-visit answers (a later visit's win) and its note, by local day;
        answers that are not an object (JSON null) are no answers."""
        if isinstance(answers, dict):
            self.visit_answers.update(answers)
        if note and note.strip():
            self.notes.append((occurred_at.astimezone(tz).date(), note.strip()))


@dataclass(frozen=True)
class SiteRecord:
    site_id: int
    site_name: str
    month: Month
    rows: Sequence[RecordRow]
    township_name: str | None = None  # the region above the site
    made_on: dt.date | None = None  # 填表日期: the day it was compiled, in the site's zone
    # children in an entrusted guardian's care whose responsibility letter is not signed
    letters_missing: tuple[str, ...] = ()
    # 回访抽查 of the month before's home visits (drawn on this month's 1st, phoned in it)
    sample: Figures = field(default_factory=Figures)


@dataclass(frozen=True)
class SiteSummary:
    site_name: str
    key_children: int
    with_surrogate: int
    complete: int
    incomplete: int
    concerns: int
    open_concerns: int
    made_on: dt.date | None = None
    letters_missing: int = 0
    sample: Figures = field(default_factory=Figures)


class RecordText(Protocol):
    def care_record(self, to: Recipient, record: SiteRecord) -> list[Outgoing]: ...

    def township_summary(
        self, to: Recipient, township: str, month: Month, sites: Sequence[SiteSummary]
    ) -> list[Outgoing]: ...

    def record_failed(self, to: Recipient, region: str, month: Month) -> Outgoing: ...


async def compile_records(
    session: AsyncSession, *, month: Month, tz: ZoneInfo, scope_path: str
) -> list[SiteRecord]:
    """The month's record of every site in the scope."""
    start, end = month.start(tz), month.end(tz)
    above = aliased(Region)
    sites = {
        row.id: (row.name, row.township)
        for row in await session.execute(
            select(Region.id, Region.name, above.name.label("township"))
            .outerjoin(above, above.id == Region.parent_id)
            .where(
                Region.path.startswith(scope_path),
                Region.kind.in_([k for k in RegionKind if k.is_site]),
            )
            .order_by(Region.path)
        )
    }
    children = (
        await session.execute(
            select(Child.id, Child.name, Child.site_id, Child.sex, Child.grade, Child.class_name)
            .join(Region, Region.id == Child.site_id)
            .where(
                Region.path.startswith(scope_path),
                Child.priority == Priority.key,
                Child.left_at.is_(None),
            )
            .order_by(Child.site_id, Child.name, Child.id)
        )
    ).all()
    key_children = (
        select(Child.id)
        .join(Region, Region.id == Child.site_id)
        .where(Region.path.startswith(scope_path), Child.priority == Priority.key)
    )
    pairings = (
        await session.execute(
            select(Pairing.id, Pairing.child_id, Person.name)
            .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
            .join(Person, Person.id == Volunteer.person_id)
            .where(
                Pairing.child_id.in_(key_children),
                Pairing.role == PairingRole.surrogate,
                Pairing.started_at < end,
                (Pairing.ended_at.is_(None)) | (Pairing.ended_at > start),
            )
            .order_by(Pairing.started_at, Pairing.id)
        )
    ).all()
    row_of: dict[int, RecordRow] = {}
    rows_of_child: dict[int, list[RecordRow]] = defaultdict(list)
    for pairing in pairings:
        row = RecordRow(child_name="", volunteer_name=pairing.name)
        row_of[pairing.id] = row
        rows_of_child[pairing.child_id].append(row)

    pairing_ids = select(Pairing.id).where(
        Pairing.child_id.in_(key_children), Pairing.role == PairingRole.surrogate
    )
    async for batch in due.due_batches(
        session, month=month, tz=tz, selection=due.Selection(scope_path=scope_path)
    ):
        for item in batch:
            if item.pairing_id in row_of:
                row_of[item.pairing_id].count_due(item, end)
    for done in await session.execute(
        select(CheckInActivity.pairing_id, CheckInActivity.activity, CheckInActivity.occurred_at)
        .where(
            CheckInActivity.pairing_id.in_(pairing_ids),
            CheckInActivity.counted,
            CheckInActivity.occurred_at >= start,
            CheckInActivity.occurred_at < end,
        )
        .order_by(CheckInActivity.occurred_at)
    ):
        if done.pairing_id in row_of:
            dates = row_of[done.pairing_id].done.setdefault(done.activity, [])
            dates.append(done.occurred_at.astimezone(tz).date())
    # A check-in that is not a home visit stores its answers as JSON null, which
    # `IS NOT NULL` does not skip: only objects are answers.
    for visit in await session.execute(
        select(CheckIn.pairing_id, CheckIn.occurred_at, CheckIn.visit_answers, CheckIn.note)
        .where(
            CheckIn.pairing_id.in_(pairing_ids),
            CheckIn.occurred_at >= start,
            CheckIn.occurred_at < end,
            CheckIn.review != ReviewStatus.rejected,
            (func.jsonb_typeof(CheckIn.visit_answers) == "object") | CheckIn.note.is_not(None),
        )
        .order_by(CheckIn.occurred_at, CheckIn.id)
    ):
        if (visited := row_of.get(visit.pairing_id)) is not None:
            visited.add_visit(visit.occurred_at, visit.visit_answers, visit.note, tz)
    for counted in await session.execute(
        select(CheckIn.pairing_id, func.count(Photo.id).label("photos"))
        .join(Photo, Photo.checkin_id == CheckIn.id)
        .where(
            CheckIn.pairing_id.in_(pairing_ids),
            CheckIn.occurred_at >= start,
            CheckIn.occurred_at < end,
            CheckIn.review != ReviewStatus.rejected,
        )
        .group_by(CheckIn.pairing_id)
    ):
        if counted.pairing_id in row_of:
            row_of[counted.pairing_id].photos = counted.photos
    concerns: dict[int, list[ConcernOutcome]] = defaultdict(list)
    for concern in await session.execute(
        select(Concern.child_id, Concern.kind, Concern.raised_at, Concern.closed_at)
        .where(
            Concern.child_id.in_(key_children),
            Concern.raised_at >= start,
            Concern.raised_at < end,
        )
        .order_by(Concern.raised_at)
    ):
        concerns[concern.child_id].append(
            ConcernOutcome.of(concern.kind, concern.raised_at, concern.closed_at, tz)
        )

    by_site: dict[int, list[RecordRow]] = defaultdict(list)
    for child in children:
        rows = rows_of_child.get(child.id) or [RecordRow(child_name="", volunteer_name=None)]
        for row in rows:
            row.child_name = child.name
            row.sex, row.grade, row.class_name = child.sex, child.grade, child.class_name
            row.concerns = concerns.get(child.id, [])
            by_site[child.site_id].append(row)
    unsigned: dict[int, list[str]] = defaultdict(list)
    for site_id, child_name in await session.execute(
        select(Child.site_id, Child.name)
        .join(Region, Region.id == Child.site_id)
        .where(
            Region.path.startswith(scope_path),
            Child.left_at.is_(None),
            Child.guardianship == Guardianship.entrusted,
            ~exists(
                select(Guardian.id).where(
                    Guardian.child_id == Child.id,
                    Guardian.entrusted,
                    Guardian.letter_signed_on.is_not(None),
                )
            ),
        )
        .order_by(Child.site_id, Child.name)
    ):
        unsigned[site_id].append(child_name)
    checked = await sample.figures(session, month=month.previous(), site_ids=sites)
    return [
        SiteRecord(
            site_id,
            name,
            month,
            by_site.get(site_id, []),
            township_name=township,
            letters_missing=tuple(unsigned.get(site_id, ())),
            sample=checked.get(site_id, Figures()),
        )
        for site_id, (name, township) in sites.items()
    ]


def summarise(record: SiteRecord) -> SiteSummary:
    children = {row.child_name for row in record.rows}
    covered = {row.child_name for row in record.rows if row.volunteer_name is not None}
    concerns = {(row.child_name, c) for row in record.rows for c in row.concerns}
    return SiteSummary(
        site_name=record.site_name,
        key_children=len(children),
        with_surrogate=len(covered),
        complete=sum(row.complete for row in record.rows),
        incomplete=sum(not row.complete for row in record.rows),
        concerns=len(concerns),
        open_concerns=sum(not c.closed for _, c in concerns),
        made_on=record.made_on,
        letters_missing=len(record.letters_missing),
        sample=record.sample,
    )


def _render(
    text: RecordText, to: Recipient, region: Any, month: Month, records: list[SiteRecord]
) -> list[Outgoing]:
    if region.kind is RegionKind.township:
        return text.township_summary(to, region.name, month, [summarise(r) for r in records])
    return text.care_record(to, records[0])


async def _queued(session: AsyncSession, dedupe_key: str) -> bool:
    found = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    )
    return found is not None


async def send_care_records(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: RecordText,
    media_dir: Path,
    scope_path: str | None = None,
) -> int:
    """Send the records due tomorrow; returns how many messages were queued."""
    tomorrow = now.astimezone(tz).date() + dt.timedelta(days=1)
    month = Month(tomorrow.year, tomorrow.month)
    regions = (
        await session.execute(
            select(Region.id, Region.name, Region.path, Region.kind).where(
                Region.path.startswith(scope_path or ""),
                Region.kind.in_([RegionKind.township, *(k for k in RegionKind if k.is_site)]),
            )
        )
    ).all()
    days = await site_days(session, [r.id for r in regions])
    due_tomorrow = [r for r in regions if days[r.id].record_due_day == tomorrow.day]
    if not due_tomorrow:
        return 0
    heads: dict[int, list[int]] = defaultdict(list)
    for head in await session.execute(
        select(Coordinator.region_id, Coordinator.person_id)
        .where(
            Coordinator.region_id.in_([r.id for r in due_tomorrow]),
            Coordinator.removed_at.is_(None),
        )
        .order_by(Coordinator.person_id)
    ):
        heads[head.region_id].append(head.person_id)
    people = await recipients(session, {p for ps in heads.values() for p in ps})

    queued = 0
    # a township's records are its sites' records: compiled once, townships first
    compiled: dict[int, SiteRecord] = {}
    due_tomorrow.sort(key=lambda r: r.kind is not RegionKind.township)
    for region in due_tomorrow:
        reachable = [people[p] for p in heads.get(region.id, []) if people[p].reachable]
        keys = {to.person_id: f"care-record:{month}:{region.id}:{to.person_id}" for to in reachable}
        waiting = [to for to in reachable if not await _queued(session, f"{keys[to.person_id]}:0")]
        if not waiting:
            continue
        try:
            if region.id in compiled:
                records = [compiled[region.id]]
            else:
                async with session.begin_nested():  # a failed query leaves the run intact
                    records = await compile_records(
                        session, month=month, tz=tz, scope_path=region.path
                    )
                made_on = now.astimezone(tz).date()
                records = [dataclasses.replace(r, made_on=made_on) for r in records]
                compiled.update((r.site_id, r) for r in records)
            made = [(to, _render(text, to, region, month, records)) for to in waiting]
        except Exception:
            # the operator learns from the log (ids only), the coordinators from the chat
            log.exception("care record of region %d for %s could not be made", region.id, month)
            for to in waiting:
                if await queue(
                    session,
                    to=to,
                    message=text.record_failed(to, region.name, month),
                    not_before=outside_quiet_hours(now, tz),
                    dedupe_key=f"care-record-failed:{month}:{region.id}:{to.person_id}",
                    media_dir=media_dir,
                ):
                    queued += 1
            continue
        for to, messages in made:
            for number, message in enumerate(messages):
                if await queue(
                    session,
                    to=to,
                    message=message,
                    not_before=outside_quiet_hours(now, tz),
                    dedupe_key=f"{keys[to.person_id]}:{number}",
                    media_dir=media_dir,
                ):
                    queued += 1

        def words(
            reader: Recipient, region: Any = region, records: Any = records
        ) -> list[Outgoing]:
            """The words only: the workbook names children and their guardians."""
            made = _render(text, reader, region, month, records)
            return [dataclasses.replace(message, file=None) for message in made]

        queued += await robots.tell_robots(
            session,
            region_id=region.id,
            say=words,
            key=f"care-record:{month}:{region.id}",
            not_before=outside_quiet_hours(now, tz),
            media_dir=media_dir,
        )
    log.info("care records of %s: %d messages queued", month, queued)
    return queued
