"""The monthly care record (关爱留守儿童记录表), compiled from check-ins.

Schools compile the surrogate parents' records each month and submit them to the
township by the 25th (a site setting). Nobody fills paper here: on the day before the
site's deadline its coordinators get the record as a workbook — one row per key child
and surrogate parent, the month's activities and dates, the home-visit answers, the
concerns raised and their outcome, and what is missing — and on the day before the
township's deadline its coordinators get a one-page summary of its sites.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import due
from domain.calendar import Month
from domain.deadlines import outside_quiet_hours, site_days
from domain.messaging import Outgoing, Recipient, queue, recipients
from domain.models import (
    Activity,
    CheckIn,
    CheckInActivity,
    Child,
    Concern,
    ConcernKind,
    Coordinator,
    OutboxMessage,
    Pairing,
    PairingRole,
    Person,
    Priority,
    Region,
    RegionKind,
    Volunteer,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConcernOutcome:
    kind: ConcernKind
    raised_on: dt.date
    closed: bool


@dataclass
class RecordRow:
    """A key child with one surrogate parent (or none: then everything is missing)."""

    child_name: str
    volunteer_name: str | None
    required: dict[Activity, int] = field(default_factory=dict)
    done: dict[Activity, list[dt.date]] = field(default_factory=dict)
    visit_answers: dict[str, str] = field(default_factory=dict)
    concerns: list[ConcernOutcome] = field(default_factory=list)
    missing: list[Activity] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.volunteer_name is not None and not self.missing


@dataclass(frozen=True)
class SiteRecord:
    site_id: int
    site_name: str
    month: Month
    rows: Sequence[RecordRow]


@dataclass(frozen=True)
class SiteSummary:
    site_name: str
    key_children: int
    with_surrogate: int
    complete: int
    incomplete: int
    concerns: int
    open_concerns: int


class RecordText(Protocol):
    def care_record(self, to: Recipient, record: SiteRecord) -> list[Outgoing]: ...

    def township_summary(
        self, to: Recipient, township: str, month: Month, sites: Sequence[SiteSummary]
    ) -> list[Outgoing]: ...


async def compile_records(
    session: AsyncSession, *, month: Month, tz: ZoneInfo, scope_path: str
) -> list[SiteRecord]:
    """The month's record of every site in the scope."""
    start, end = month.start(tz), month.end(tz)
    sites = {
        row.id: row.name
        for row in await session.execute(
            select(Region.id, Region.name)
            .where(
                Region.path.startswith(scope_path),
                Region.kind.in_([k for k in RegionKind if k.is_site]),
            )
            .order_by(Region.path)
        )
    }
    children = (
        await session.execute(
            select(Child.id, Child.name, Child.site_id)
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
                row = row_of[item.pairing_id]
                row.required[item.activity] = item.required
                if item.missing:
                    row.missing.append(item.activity)
    for done in await session.execute(
        select(CheckInActivity.pairing_id, CheckInActivity.activity, CheckInActivity.occurred_at)
        .where(
            CheckInActivity.pairing_id.in_(pairing_ids),
            CheckInActivity.occurred_at >= start,
            CheckInActivity.occurred_at < end,
        )
        .order_by(CheckInActivity.occurred_at)
    ):
        if done.pairing_id in row_of:
            dates = row_of[done.pairing_id].done.setdefault(done.activity, [])
            dates.append(done.occurred_at.astimezone(tz).date())
    for visit in await session.execute(
        select(CheckIn.pairing_id, CheckIn.visit_answers)
        .where(
            CheckIn.pairing_id.in_(pairing_ids),
            CheckIn.occurred_at >= start,
            CheckIn.occurred_at < end,
            CheckIn.visit_answers.is_not(None),
        )
        .order_by(CheckIn.occurred_at)
    ):
        if visit.pairing_id in row_of:
            row_of[visit.pairing_id].visit_answers.update(visit.visit_answers)  # latest wins
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
            ConcernOutcome(
                concern.kind,
                concern.raised_at.astimezone(tz).date(),
                concern.closed_at is not None,
            )
        )

    by_site: dict[int, list[RecordRow]] = defaultdict(list)
    for child in children:
        rows = rows_of_child.get(child.id) or [RecordRow(child_name="", volunteer_name=None)]
        for row in rows:
            row.child_name = child.name
            row.concerns = concerns.get(child.id, [])
            by_site[child.site_id].append(row)
    return [
        SiteRecord(site_id, name, month, by_site.get(site_id, []))
        for site_id, name in sites.items()
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
    )


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
    for region in due_tomorrow:
        reachable = [people[p] for p in heads.get(region.id, []) if people[p].reachable]
        keys = {to.person_id: f"care-record:{month}:{region.id}:{to.person_id}" for to in reachable}
        waiting = [to for to in reachable if not await _queued(session, f"{keys[to.person_id]}:0")]
        if not waiting:
            continue
        records = await compile_records(session, month=month, tz=tz, scope_path=region.path)
        for to in waiting:
            if region.kind is RegionKind.township:
                messages = text.township_summary(
                    to, region.name, month, [summarise(r) for r in records]
                )
            else:
                messages = text.care_record(to, records[0])
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
    log.info("care records of %s: %d messages queued", month, queued)
    return queued
