"""The escalation ladder: what is overdue climbs site → township → district.

Each run (the `escalations` job) does, in one transaction:

1. opens an escalation for every item whose deadline has passed: a pairing with
   something missing in the month just ended, a must-visit concern past its deadline;
2. closes the ones that settled themselves (the missing check-in arrived, the concern
   was visited), so the climb stops at once;
3. decides the steps now due by the kind's delays and writes one `EscalationStep` row
   per step and recipient together with the outbox message that tells them.

The step row is unique per (escalation, step, recipient) and written in the same
transaction as its message, and runs hold one advisory lock: a rerun or a second worker
finds the rows and sends nothing twice. Acknowledging, reassigning or resolving an
escalation (the coordinators' buttons) stops the climb.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from domain.care import review
from domain.care.emergencies import (
    SENSITIVE,
    Contact,
    contacts,
    level_of,
    repeat_every,
    round_of,
    urgent_steps_due,
)
from domain.delivery import robots
from domain.delivery.messaging import Outgoing, Recipient, queue_many, recipients
from domain.models import (
    Activity,
    CheckIn,
    Child,
    Concern,
    ConcernKind,
    Coordinator,
    Escalation,
    EscalationKind,
    EscalationStep,
    Pairing,
    Person,
    Region,
    ReviewItem,
    Volunteer,
)
from domain.schedule import due
from domain.schedule.calendar import Month
from domain.schedule.deadlines import ancestor_ids, days_late, due_day, outside_quiet_hours
from domain.schedule.escalations import concern_key, missed_month_key

log = logging.getLogger(__name__)

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class LadderRule:
    """Step n is due at the item's deadline + offsets[n - 1]."""

    offsets: tuple[dt.timedelta, ...]
    quiet_hours: bool = True  # wait for the morning; emergencies do not


# The defaults of DOMAIN.md: a missed month starts at the site on the 1st and climbs
# slowly; a must-visit starts at its deadline and climbs fast; an emergency or a drop-out
# reaches every level at once, day or night.
LADDER_RULES: Mapping[EscalationKind, LadderRule] = {
    EscalationKind.missed_monthly: LadderRule((0 * DAY, 3 * DAY, 7 * DAY)),
    EscalationKind.must_visit: LadderRule((0 * DAY, 1 * DAY, 2 * DAY)),
    EscalationKind.dropout: LadderRule((0 * DAY, 0 * DAY, 0 * DAY), quiet_hours=False),
    EscalationKind.emergency: LadderRule((0 * DAY, 0 * DAY, 0 * DAY), quiet_hours=False),
    # a check-in nobody has reviewed for a week (审核) climbs as slowly as a missed month
    EscalationKind.review_waiting: LadderRule((0 * DAY, 3 * DAY, 7 * DAY)),
}

# More new steps than this for one person in one run arrive as one digest: each recipient
# gets one message per run (emergencies and drop-outs aside).
DIGEST_ABOVE = 1

# Emergencies one person gets in one run as messages of their own; more come as a digest.
URGENT_ALONE = 5

_URGENT_KINDS = [kind for kind, rule in LADDER_RULES.items() if not rule.quiet_hours]

# Runs of the ladder take turns: the second one sees what the first one wrote.
_LOCK = 0x4C41444445520001

# Lists of ids longer than this are sent in chunks (PostgreSQL allows 32767 parameters).
_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class EscalationNotice:
    """What an escalation message says: which child, what, how long overdue."""

    escalation_id: int
    step: int
    kind: EscalationKind
    child_name: str
    site_name: str
    deadline: dt.datetime
    overdue: dt.timedelta
    month: Month | None  # a missed month
    missing: tuple[Activity, ...]  # … and what is missing in it
    concern: ConcernKind | None  # a must-visit
    volunteers: tuple[str, ...]  # who should have done it
    unreachable: tuple[str, ...]  # people on the way the bot cannot reach
    due_day: dt.date | None = None  # the local day it was due by
    days_late: int = 0  # whole local days since then
    child_id: int = 0
    # an emergency or a drop-out: what happened, who reported it, whom to call
    incident: str | None = None
    note: str | None = None
    reported_by: str | None = None
    contacts: tuple[Contact, ...] = ()
    round: int = 0  # 0 the first time; 1, 2, … each time it is sent again, nobody taking it
    attachments: int = 0  # photos and voice notes sent with the report (on its page)


@dataclass(frozen=True)
class AreaCount:
    """One school (for a township) or one township (for a district) in an area digest."""

    name: str
    children: int  # children with something newly overdue there
    missed: int  # … a month not done
    must_visits: int  # … a must-visit not made


@dataclass(frozen=True)
class AreaDigest:
    """What a coordinator above the sites gets per run: counts per area just below theirs,
    and (for the level right above the sites) the worst cases, with buttons."""

    area_name: str
    below: tuple[AreaCount, ...]
    worst: tuple[EscalationNotice, ...]
    total: int
    unreachable: tuple[str, ...]


# A township's digest shows this many of the worst cases; a district's, none.
WORST_CASES = 5


class EscalationText(Protocol):
    def escalation(self, to: Recipient, notice: EscalationNotice) -> Outgoing: ...

    def escalation_digest(self, to: Recipient, notices: Sequence[EscalationNotice]) -> Outgoing: ...

    def area_digest(self, to: Recipient, digest: AreaDigest) -> Outgoing: ...

    async def settled_by_themselves(
        self, session: AsyncSession, escalation_ids: Sequence[int], *, at: dt.datetime, tz: ZoneInfo
    ) -> int:
        """Every sent copy of these escalations, closed because what was due is now
        recorded, says so and loses its buttons; returns how many edits were queued."""
        ...


def worst_first(notice: EscalationNotice) -> tuple[int, int, str]:
    """Must-visits before missed months, then the longest overdue."""
    return (
        0 if notice.kind is EscalationKind.must_visit else 1,
        -notice.days_late,
        notice.child_name,
    )


def area_digest(
    area_name: str,
    entries: Sequence[tuple[str, EscalationNotice]],
    *,
    with_worst: bool,
) -> AreaDigest:
    """Counts per area below (entries are (area below, notice)), worst cases if asked."""
    children: dict[str, set[int]] = defaultdict(set)
    missed: dict[str, int] = defaultdict(int)
    visits: dict[str, int] = defaultdict(int)
    for below, notice in entries:
        children[below].add(notice.child_id)
        if notice.kind is EscalationKind.must_visit:
            visits[below] += 1
        else:
            missed[below] += 1
    counts = sorted(
        (AreaCount(name, len(kids), missed[name], visits[name]) for name, kids in children.items()),
        key=lambda c: (-c.children, c.name),
    )
    notices = [notice for _, notice in entries]
    worst = sorted(notices, key=worst_first)[:WORST_CASES] if with_worst else []
    unreachable = sorted({name for n in notices for name in n.unreachable})
    return AreaDigest(area_name, tuple(counts), tuple(worst), len(notices), tuple(unreachable))


@dataclass
class LadderReport:
    opened: int = 0
    closed: int = 0
    steps: int = 0
    messages: int = 0
    edited: int = 0  # copies of escalations closed by themselves, edited to say so


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


class _Missing:
    """What each pairing of the scope still misses in a month, computed once per run: one
    set-based query for the whole scope is cheaper than asking about thousands of ids."""

    def __init__(self, session: AsyncSession, tz: ZoneInfo, scope_path: str | None) -> None:
        self._session, self._tz, self._scope_path = session, tz, scope_path
        self._months: dict[Month, tuple[dict[int, list[Activity]], dict[int, int]]] = {}

    async def of(self, month: Month) -> tuple[dict[int, list[Activity]], dict[int, int]]:
        """(pairing → missing activities, pairing → child) of the month: what fell due by
        its end (the semester's letter is not missed before the semester's last month)."""
        if month not in self._months:
            missing: dict[int, list[Activity]] = defaultdict(list)
            child_of: dict[int, int] = {}
            month_end = month.end(self._tz)
            async for batch in due.due_batches(
                self._session,
                month=month,
                tz=self._tz,
                selection=due.Selection(scope_path=self._scope_path),
                only_missing=True,
            ):
                for item in batch:
                    if item.due_at > month_end:
                        continue
                    missing[item.pairing_id].append(item.activity)
                    child_of[item.pairing_id] = item.child_id
            self._months[month] = (missing, child_of)
        return self._months[month]


async def climb(
    session: AsyncSession,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: EscalationText,
    media_dir: Path,
    scope_path: str | None = None,
) -> LadderReport:
    """One run of the ladder at `now`; safe to repeat and to run in two workers at once."""
    await session.execute(select(func.pg_advisory_xact_lock(_LOCK)))
    report = LadderReport()
    months = _Missing(session, tz, scope_path)
    report.opened = await _open_missed_month(session, months, now=now, tz=tz)
    report.opened += await _open_overdue_concerns(session, now=now, scope_path=scope_path)
    report.opened += await _open_waiting_reviews(session, now=now, scope_path=scope_path)
    missing, closed = await _close_settled(session, months, now=now, scope_path=scope_path)
    report.closed = len(closed)
    if closed:
        report.edited = await text.settled_by_themselves(session, closed, at=now, tz=tz)
    due_steps = await _due_steps(session, now=now, tz=tz, scope_path=scope_path)
    if due_steps:
        report.steps, report.messages = await _send_steps(
            session, due_steps, missing=missing, now=now, tz=tz, text=text, media_dir=media_dir
        )
    log.info(
        "ladder at %s: %d opened, %d closed, %d steps, %d messages",
        now.isoformat(),
        report.opened,
        report.closed,
        report.steps,
        report.messages,
    )
    return report


def _in_scope(scope_path: str | None):  # type: ignore[no-untyped-def]
    """Children of the scope (all when None), as a filter on Child.site_id."""
    if scope_path is None:
        return Child.id.is_not(None)
    return Child.site_id.in_(select(Region.id).where(Region.path.startswith(scope_path)))


async def _open_missed_month(
    session: AsyncSession, months: _Missing, *, now: dt.datetime, tz: ZoneInfo
) -> int:
    """One escalation per pairing with something missing in the month just ended."""
    month = Month.of(now, tz).previous()
    missing, child_of = await months.of(month)
    known = set(
        await session.scalars(
            select(Escalation.item_key).where(
                Escalation.kind == EscalationKind.missed_monthly,
                Escalation.period_start == month.first_day(),
            )
        )
    )
    new = [
        (pairing_id, key, activities)
        for pairing_id, activities in sorted(missing.items())
        if (key := missed_month_key(pairing_id, month)) not in known
    ]
    if new:
        # one statement over arrays: a district's 1st is ~20,000 rows, row by row seconds
        await session.execute(
            insert(Escalation)
            .from_select(
                [
                    "kind",
                    "item_key",
                    "child_id",
                    "pairing_id",
                    "period_start",
                    "details",
                    "opened_at",
                ],
                select(
                    literal(EscalationKind.missed_monthly.value),
                    _unnest("keys", String, [key for _, key, _ in new]),
                    _unnest("child_ids", Integer, [child_of[p] for p, _, _ in new]),
                    _unnest("pairing_ids", Integer, [p for p, _, _ in new]),
                    literal(month.first_day(), Date),
                    cast(
                        _unnest(
                            "details",
                            Text,
                            [
                                json.dumps({"missing": [a.value for a in acts]})
                                for _, _, acts in new
                            ],
                        ),
                        JSONB,
                    ),
                    literal(now, DateTime(timezone=True)),
                ),
            )
            .on_conflict_do_nothing(index_elements=[Escalation.item_key])
        )
    return len(new)


async def _open_overdue_concerns(
    session: AsyncSession, *, now: dt.datetime, scope_path: str | None
) -> int:
    """A must-visit not visited by its deadline escalates from the deadline on."""
    overdue = (
        await session.execute(
            select(Concern.id, Concern.child_id, Concern.kind)
            .join(Child, Child.id == Concern.child_id)
            .where(
                Concern.closed_at.is_(None),
                Concern.due_at <= now,
                _in_scope(scope_path),
                ~select(Escalation.id).where(Escalation.concern_id == Concern.id).exists(),
            )
            .order_by(Concern.id)
        )
    ).all()
    if overdue:
        await session.execute(
            insert(Escalation).on_conflict_do_nothing(index_elements=[Escalation.item_key]),
            [
                {
                    "kind": EscalationKind.must_visit,
                    "item_key": concern_key(row.id),
                    "child_id": row.child_id,
                    "concern_id": row.id,
                    "details": {"concern": row.kind.value},
                    "opened_at": now,
                }
                for row in overdue
            ],
        )
    return len(overdue)


async def _open_waiting_reviews(
    session: AsyncSession, *, now: dt.datetime, scope_path: str | None
) -> int:
    """A check-in in the review queue for more than a week escalates like any overdue item."""
    waiting = (
        await session.execute(
            select(
                ReviewItem.checkin_id,
                CheckIn.child_id,
                func.min(ReviewItem.opened_at).label("since"),
                func.min(ReviewItem.reason).label("reason"),
            )
            .join(CheckIn, CheckIn.id == ReviewItem.checkin_id)
            .join(Child, Child.id == CheckIn.child_id)
            .where(ReviewItem.state.in_(review.OPEN), _in_scope(scope_path))
            .group_by(ReviewItem.checkin_id, CheckIn.child_id)
            .having(func.min(ReviewItem.opened_at) <= now - review.WAITING_TOO_LONG)
            .order_by(ReviewItem.checkin_id)
        )
    ).all()
    if not waiting:
        return 0
    result = await session.execute(
        insert(Escalation)
        .on_conflict_do_nothing(index_elements=[Escalation.item_key])
        .returning(Escalation.id),
        [
            {
                "kind": EscalationKind.review_waiting,
                "item_key": review_key(row.checkin_id),
                "child_id": row.child_id,
                "details": {"checkin_id": row.checkin_id, "reason": row.reason},
                "opened_at": now,
            }
            for row in waiting
        ],
    )
    return len(result.all())


def review_key(checkin_id: int) -> str:
    return f"review:{checkin_id}"


async def _close_settled(
    session: AsyncSession, months: _Missing, *, now: dt.datetime, scope_path: str | None
) -> tuple[dict[int, tuple[Activity, ...]], list[int]]:
    """Close what needs no one any more; returns what is still missing per escalation,
    and the ids of those closed."""
    open_months = (
        await session.execute(
            select(Escalation.id, Escalation.pairing_id, Escalation.period_start)
            .join(Child, Child.id == Escalation.child_id)
            .where(
                Escalation.kind == EscalationKind.missed_monthly,
                Escalation.closed_at.is_(None),
                _in_scope(scope_path),
            )
        )
    ).all()
    still_missing: dict[int, tuple[Activity, ...]] = {}
    done: list[int] = []
    for row in open_months:
        missing, _ = await months.of(Month(row.period_start.year, row.period_start.month))
        if row.pairing_id in missing:
            still_missing[row.id] = tuple(missing[row.pairing_id])
        else:
            done.append(row.id)
    closed: list[int] = []
    for chunk in _chunks(sorted(done)):
        closed += await session.scalars(
            update(Escalation)
            .where(Escalation.id.in_(chunk), Escalation.closed_at.is_(None))
            .values(closed_at=now, resolution="done")
            .returning(Escalation.id)
        )
    closed += await session.scalars(
        update(Escalation)
        .where(
            Escalation.kind == EscalationKind.must_visit,
            Escalation.closed_at.is_(None),
            Escalation.concern_id == Concern.id,
            Concern.closed_at.is_not(None),
            Escalation.child_id.in_(select(Child.id).where(_in_scope(scope_path))),
        )
        .values(closed_at=now, resolution="done")
        .returning(Escalation.id)
        .execution_options(synchronize_session=False)
    )
    still_open = select(ReviewItem.id).where(
        ReviewItem.checkin_id == Escalation.details["checkin_id"].as_integer(),
        ReviewItem.state.in_(review.OPEN),
    )
    closed += await session.scalars(
        update(Escalation)
        .where(
            Escalation.kind == EscalationKind.review_waiting,
            Escalation.closed_at.is_(None),
            ~still_open.exists(),
            Escalation.child_id.in_(select(Child.id).where(_in_scope(scope_path))),
        )
        .values(closed_at=now, resolution="done")
        .returning(Escalation.id)
        .execution_options(synchronize_session=False)
    )
    return still_missing, closed


@dataclass(frozen=True, slots=True)
class _DueStep:
    escalation_id: int
    kind: EscalationKind
    step: int
    child_id: int
    pairing_id: int | None
    concern_id: int | None
    concern: ConcernKind | None
    month: Month | None
    deadline: dt.datetime
    details: Mapping[str, object] | None = None


def deadline_of(
    kind: EscalationKind,
    *,
    period_start: dt.date | None,
    concern_due: dt.datetime | None,
    opened_at: dt.datetime,
    tz: ZoneInfo,
) -> dt.datetime:
    """What the ladder counts from: a missed month's end, a must-visit's deadline, or
    (an emergency, a drop-out) when it was raised."""
    if kind is EscalationKind.missed_monthly and period_start is not None:
        return _month_end(period_start, tz)
    if kind is EscalationKind.must_visit and concern_due is not None:
        return concern_due
    return opened_at


@functools.lru_cache(maxsize=64)
def _month_end(first_day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """A month's end, worked out once per run rather than once per escalation."""
    return Month(first_day.year, first_day.month).end(tz)


def steps_due(
    rule: LadderRule, *, deadline: dt.datetime, last_step: int, now: dt.datetime
) -> list[int]:
    """The steps after `last_step` whose time has come: step n at deadline + offsets[n-1]."""
    steps = []
    for step in range(last_step + 1, len(rule.offsets) + 1):
        if deadline + rule.offsets[step - 1] > now:
            break
        steps.append(step)
    return steps


async def _due_steps(
    session: AsyncSession, *, now: dt.datetime, tz: ZoneInfo, scope_path: str | None
) -> list[_DueStep]:
    """Steps of open, unacknowledged escalations whose time has come and not been taken."""
    last_step = (
        select(func.max(EscalationStep.step))
        .where(EscalationStep.escalation_id == Escalation.id)
        .correlate(Escalation)
        .scalar_subquery()
    )
    last_sent = (
        select(func.max(EscalationStep.decided_at))
        .where(EscalationStep.escalation_id == Escalation.id)
        .correlate(Escalation)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(
                Escalation.id,
                Escalation.kind,
                Escalation.child_id,
                Escalation.pairing_id,
                Escalation.concern_id,
                Escalation.period_start,
                Escalation.opened_at,
                Concern.due_at,
                Concern.kind.label("concern_kind"),
                func.coalesce(last_step, 0).label("last_step"),
                last_sent.label("last_sent"),
                # what an emergency or drop-out says; the ladder's own kinds need none
                # (read for a district's 1st, it was ~65,000 JSON documents decoded)
                case((Escalation.kind.in_(_URGENT_KINDS), Escalation.details), else_=None).label(
                    "details"
                ),
                Region.path.label("site_path"),
            )
            .join(Child, Child.id == Escalation.child_id)
            .join(Region, Region.id == Child.site_id)
            .outerjoin(Concern, Concern.id == Escalation.concern_id)
            .where(
                Escalation.closed_at.is_(None),
                Escalation.acknowledged_at.is_(None),
                _in_scope(scope_path),
            )
            .order_by(Escalation.id)
        )
    ).all()
    every = await repeat_every(
        session, {row.site_path for row in rows if not LADDER_RULES[row.kind].quiet_hours}
    )
    result = []
    for row in rows:
        kind = EscalationKind(row.kind)
        rule = LADDER_RULES[kind]
        deadline = deadline_of(
            kind,
            period_start=row.period_start,
            concern_due=row.due_at,
            opened_at=row.opened_at,
            tz=tz,
        )
        if rule.quiet_hours:
            steps = steps_due(rule, deadline=deadline, last_step=row.last_step, now=now)
        else:  # an emergency: every level at once, again and again until taken
            steps = urgent_steps_due(
                last_step=row.last_step,
                last_sent_at=row.last_sent,
                now=now,
                every=every[row.site_path],
            )
        for step in steps:
            result.append(
                _DueStep(
                    escalation_id=row.id,
                    kind=kind,
                    step=step,
                    child_id=row.child_id,
                    pairing_id=row.pairing_id,
                    concern_id=row.concern_id,
                    concern=ConcernKind(row.concern_kind) if row.concern_kind else None,
                    month=(
                        Month(row.period_start.year, row.period_start.month)
                        if row.period_start
                        else None
                    ),
                    deadline=deadline,
                    details=row.details,
                )
            )
    return result


def level_told(kind: EscalationKind, step: int, incident: object = None) -> int | None:
    """The level (1 the site, 2 the one above, …) a step goes to: a ladder's step n to
    level n; an emergency's to its level in the round. None for a sensitive incident's
    site level (bullying or abuse: the levels above the site only)."""
    if LADDER_RULES[kind].quiet_hours:
        return step
    level = level_of(step)
    if level == 1 and incident in SENSITIVE:
        return None
    return level


@dataclass(frozen=True)
class _Children:
    """What the messages need to know about the escalated children, loaded in bulk."""

    name: dict[int, str]
    site_name: dict[int, str]
    chain: dict[int, list[int]]  # child → region ids from the site up to the top
    volunteers: dict[int, list[int]]  # child → person ids of the active pairings
    pairing_person: dict[int, int]  # pairing → person id


async def _load_children(session: AsyncSession, steps: Sequence[_DueStep]) -> _Children:
    child_ids = sorted({s.child_id for s in steps})
    result = _Children({}, {}, {}, defaultdict(list), {})
    for chunk in _chunks(child_ids):
        for row in await session.execute(
            select(Child.id, Child.name, Region.name.label("site"), Region.path)
            .join(Region, Region.id == Child.site_id)
            .where(Child.id == any_(literal(list(chunk), ARRAY(Integer))))
        ):
            result.name[row.id] = row.name
            result.site_name[row.id] = row.site
            result.chain[row.id] = list(reversed(ancestor_ids(row.path)))
        for paired in await session.execute(
            select(Pairing.id, Pairing.child_id, Pairing.ended_at, Volunteer.person_id)
            .join(Volunteer, Volunteer.id == Pairing.volunteer_id)
            .where(Pairing.child_id == any_(literal(list(chunk), ARRAY(Integer))))
        ):
            result.pairing_person[paired.id] = paired.person_id
            if paired.ended_at is None:
                result.volunteers[paired.child_id].append(paired.person_id)
    return result


async def _coordinators(session: AsyncSession, region_ids: set[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(Coordinator.region_id, Coordinator.person_id)
        .where(Coordinator.region_id.in_(region_ids), Coordinator.removed_at.is_(None))
        .order_by(Coordinator.person_id)
    )
    found: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        found[row.region_id].append(row.person_id)
    return found


class Reachable(Protocol):
    @property
    def reachable(self) -> bool: ...


R = TypeVar("R", bound=Reachable)


def recipients_of_step(
    chain: Sequence[int],
    step: int,
    coordinators: Mapping[int, Sequence[int]],
    people: Mapping[int, R],
) -> tuple[int, list[R], list[R]]:
    """Step n goes to the coordinators n - 1 levels above the site (`chain`: the site's
    region first, then those above it); a level nobody there can be reached by is passed
    over to the next one up, and its people are named. (region, reachable, passed over)"""
    skipped: list[R] = []
    for region_id in chain[min(step, len(chain)) - 1 :]:
        here = [people[p] for p in coordinators.get(region_id, [])]
        reachable = [r for r in here if r.reachable]
        skipped += [r for r in here if not r.reachable]
        if reachable:
            return region_id, reachable, skipped
    return chain[-1], [], skipped


def message_groups(steps: Sequence[tuple[int, EscalationKind]]) -> list[tuple[str, list[int]]]:
    """One recipient's new steps of a run, (step id, kind), as messages: (dedupe key, step
    ids). Each emergency its own message; beyond a handful in one run, the rest in one
    digest, so a district's coordinator hears of 100 within Telegram's per-chat pace; the
    ladder's other steps one message each, or one digest when there are several."""
    alone = [sid for sid, kind in steps if not LADDER_RULES[kind].quiet_hours]
    together = [sid for sid, kind in steps if LADDER_RULES[kind].quiet_hours]
    groups = [(f"escalation-step:{sid}", [sid]) for sid in alone[:URGENT_ALONE]]
    if len(alone) > URGENT_ALONE:
        rest = alone[URGENT_ALONE:]
        groups.append((f"escalation-digest:{rest[0]}", rest))
    if len(together) > DIGEST_ABOVE:
        groups.append((f"escalation-digest:{together[0]}", together))
    else:
        groups += [(f"escalation-step:{sid}", [sid]) for sid in together]
    return groups


async def _send_steps(
    session: AsyncSession,
    steps: Sequence[_DueStep],
    *,
    missing: dict[int, tuple[Activity, ...]],
    now: dt.datetime,
    tz: ZoneInfo,
    text: EscalationText,
    media_dir: Path,
) -> tuple[int, int]:
    children = await _load_children(session, steps)
    region_ids = {region for chain in children.chain.values() for region in chain}
    coordinators = await _coordinators(session, region_ids)
    people = await recipients(
        session,
        {p for ps in coordinators.values() for p in ps}
        | {p for ps in children.volunteers.values() for p in ps}
        | set(children.pairing_person.values()),
    )

    incidents = [s for s in steps if not LADDER_RULES[s.kind].quiet_hours]
    phone_book = await contacts(session, sorted({s.child_id for s in incidents}))
    reporter_ids = {int(str(r)) for s in incidents if (r := (s.details or {}).get("reported_by"))}
    reporters = {
        person_id: name
        for person_id, name in await session.execute(
            select(Person.id, Person.name).where(Person.id.in_(reporter_ids))
        )
    }

    planned: list[tuple[_DueStep, int, Recipient, EscalationNotice]] = []
    region_name: dict[int, str] = {}
    told: set[tuple[int, int, int]] = set()  # (escalation, round, person) of an emergency
    for due_step in steps:
        chain = children.chain[due_step.child_id]
        is_urgent = not LADDER_RULES[due_step.kind].quiet_hours
        level = level_told(due_step.kind, due_step.step, (due_step.details or {}).get("incident"))
        if level is None:
            continue
        region_id, heads, skipped = recipients_of_step(chain, level, coordinators, people)
        if is_urgent:  # a level passed over to the next one up is told once per round
            heads = [
                h
                for h in heads
                if (due_step.escalation_id, round_of(due_step.step), h.person_id) not in told
            ]
            told.update(
                (due_step.escalation_id, round_of(due_step.step), h.person_id) for h in heads
            )
            if not heads:
                continue
        if not heads:
            log.warning(
                "escalation %d step %d: nobody reachable up to region %d",
                due_step.escalation_id,
                due_step.step,
                region_id,
            )
            continue
        if due_step.pairing_id is not None:
            volunteer_ids = [children.pairing_person[due_step.pairing_id]]
        else:
            volunteer_ids = children.volunteers.get(due_step.child_id, [])
        volunteers = [people[p] for p in volunteer_ids]
        notice = EscalationNotice(
            escalation_id=due_step.escalation_id,
            step=due_step.step,
            kind=due_step.kind,
            child_name=children.name[due_step.child_id],
            site_name=children.site_name[due_step.child_id],
            deadline=due_step.deadline,
            overdue=now - due_step.deadline,
            due_day=due_day(due_step.deadline, tz),
            child_id=due_step.child_id,
            days_late=days_late(due_step.deadline, now, tz),
            month=due_step.month,
            missing=missing.get(due_step.escalation_id, ()),
            concern=due_step.concern,
            volunteers=tuple(v.name for v in volunteers),
            unreachable=tuple(r.name for r in [*skipped, *volunteers] if not r.reachable),
        )
        if is_urgent:
            details = due_step.details or {}
            reporter = details.get("reported_by")
            notice = replace(
                notice,
                incident=str(details.get("incident") or "other"),
                note=str(details["note"]) if details.get("note") else None,
                reported_by=reporters.get(int(str(reporter))) if reporter else None,
                contacts=tuple(phone_book.get(due_step.child_id, ())),
                round=round_of(due_step.step),
                attachments=len(details.get("media") or []),  # type: ignore[arg-type]
            )
        planned.extend((due_step, region_id, head, notice) for head in heads)

    planned.sort(key=lambda p: (p[0].escalation_id, p[0].step, p[2].person_id))
    # Runs hold the lock, so the steps not yet taken are known before writing: their ids
    # are drawn first, the messages (whose keys name them) queued, then each step written
    # once with its message's id (updating ~65,000 rows after was a second write of each).
    taken = await _steps_taken(session, sorted({p[0].escalation_id for p in planned}))
    planned = [p for p in planned if (p[0].escalation_id, p[0].step, p[2].person_id) not in taken]
    new_ids = sorted(
        []
        if not planned
        else await session.scalars(
            select(
                func.nextval(func.pg_get_serial_sequence(EscalationStep.__tablename__, "id"))
            ).select_from(func.generate_series(1, len(planned)))
        )
    )
    step_id = {
        (due_step.escalation_id, due_step.step, to.person_id): sid
        for (due_step, _, to, _), sid in zip(planned, new_ids, strict=True)
    }

    per_recipient: dict[int, list[tuple[int, _DueStep, EscalationNotice]]] = defaultdict(list)
    # steps a coordinator above the sites gets as counts: (step id, area below, notice)
    per_area: dict[tuple[int, int], list[tuple[int, int, EscalationNotice]]] = defaultdict(list)
    above_sites: set[int] = set()  # regions right above a site: townships, say
    for due_step, region_id, to, notice in planned:
        key = (due_step.escalation_id, due_step.step, to.person_id)
        if key not in step_id:
            continue
        chain = children.chain[due_step.child_id]
        if region_id != chain[0] and LADDER_RULES[due_step.kind].quiet_hours:
            below = chain[chain.index(region_id) - 1]
            per_area[(to.person_id, region_id)].append((step_id[key], below, notice))
            if below == chain[0]:
                above_sites.add(region_id)
        else:
            per_recipient[to.person_id].append((step_id[key], due_step, notice))
    if per_area:
        wanted = {r for _, r in per_area} | {
            b for entries in per_area.values() for _, b, _ in entries
        }
        region_name.update(
            (row.id, row.name)
            for row in await session.execute(
                select(Region.id, Region.name).where(Region.id.in_(wanted))
            )
        )

    batches: list[tuple[Recipient, dt.datetime, str, list[int], Outgoing]] = []
    for person_id, new_steps in per_recipient.items():
        to = people[person_id]
        urgent = any(not LADDER_RULES[s.kind].quiet_hours for _, s, _ in new_steps)
        not_before = now if urgent else outside_quiet_hours(now, tz)
        notice_of = {sid: notice for sid, _, notice in new_steps}
        for dedupe_key, step_ids in message_groups([(sid, s.kind) for sid, s, _ in new_steps]):
            notices = [notice_of[sid] for sid in step_ids]
            message = (
                text.escalation(to, notices[0])
                if len(notices) == 1
                else text.escalation_digest(to, notices)
            )
            batches.append((to, not_before, dedupe_key, step_ids, message))
    for (person_id, region_id), entries in per_area.items():
        to = people[person_id]
        digest = area_digest(
            region_name[region_id],
            [(region_name[below], notice) for _, below, notice in entries],
            with_worst=region_id in above_sites,
        )
        batches.append(
            (
                to,
                outside_quiet_hours(now, tz),
                f"escalation-area:{entries[0][0]}",
                [sid for sid, _, _ in entries],
                text.area_digest(to, digest),
            )
        )

    queued = await queue_many(
        session,
        [(to, message, not_before, key) for to, not_before, key, _, message in batches],
        media_dir=media_dir,
    )
    outbox_of = {
        sid: queued[key] for _, _, key, step_ids, _ in batches if key in queued for sid in step_ids
    }
    if planned:
        await session.execute(
            insert(EscalationStep)
            .from_select(
                [
                    "id",
                    "escalation_id",
                    "step",
                    "region_id",
                    "recipient_id",
                    "decided_at",
                    "outbox_id",
                ],
                select(
                    _unnest("ids", Integer, new_ids),
                    _unnest("escalation_ids", Integer, [p[0].escalation_id for p in planned]),
                    _unnest("steps", Integer, [p[0].step for p in planned]),
                    _unnest("region_ids", Integer, [p[1] for p in planned]),
                    _unnest("recipient_ids", Integer, [p[2].person_id for p in planned]),
                    literal(now, DateTime(timezone=True)),
                    _unnest("outbox_ids", Integer, [outbox_of.get(sid) for sid in new_ids]),
                ),
            )
            .on_conflict_do_nothing()
        )
    await _tell_robots(session, planned, step_id, now=now, tz=tz, text=text, media_dir=media_dir)
    return len(step_id), sum(1 for _, _, key, _, _ in batches if key in queued)


async def _steps_taken(
    session: AsyncSession, escalation_ids: Sequence[int]
) -> set[tuple[int, int, int]]:
    """(escalation, step, recipient) of the steps these escalations have already taken."""
    rows = await session.execute(
        select(
            EscalationStep.escalation_id, EscalationStep.step, EscalationStep.recipient_id
        ).where(EscalationStep.escalation_id == any_(literal(list(escalation_ids), ARRAY(Integer))))
    )
    return {(e, s, r) for e, s, r in rows}


def _unnest(name: str, item: type[TypeEngine[Any]], values: Sequence[object]) -> ColumnElement[Any]:
    """A column of `values` sent as one array: many rows in one statement."""
    return func.unnest(bindparam(name, values, type_=ARRAY(item)))


async def _tell_robots(
    session: AsyncSession,
    planned: Sequence[tuple[_DueStep, int, Recipient, EscalationNotice]],
    step_id: Mapping[tuple[int, int, int], int],
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    text: EscalationText,
    media_dir: Path,
) -> None:
    """The run's new steps reach the robots of the regions told, one message (or digest)
    per region: the first coordinator told is named with their phone and @mentioned. A
    group is a third party's server: no contacts' phones and no reporter's words."""
    per_region: dict[int, dict[tuple[int, int], tuple[_DueStep, Recipient, EscalationNotice]]]
    per_region = defaultdict(dict)
    for due_step, region_id, to, notice in planned:
        if (due_step.escalation_id, due_step.step, to.person_id) in step_id:
            told = replace(notice, contacts=(), note=None)
            per_region[region_id].setdefault(
                (due_step.escalation_id, due_step.step), (due_step, to, told)
            )
    for region_id, found in per_region.items():
        entries = list(found.values())
        notices = [notice for _, _, notice in entries]
        first, head, _ = entries[0]
        urgent = any(not LADDER_RULES[s.kind].quiet_hours for s, _, _ in entries)
        await robots.tell_robots(
            session,
            region_id=region_id,
            say=lambda reader, notices=notices: [  # type: ignore[misc]
                text.escalation(reader, notices[0])
                if len(notices) == 1
                else text.escalation_digest(reader, notices)
            ],
            key=f"escalation:{first.escalation_id}:{first.step}",
            not_before=now if urgent else outside_quiet_hours(now, tz),
            media_dir=media_dir,
            responsible=await robots.responsible_of(session, head.person_id),
            mention=True,
        )
