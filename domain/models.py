"""The care model of DOMAIN.md as tables.

Names follow the brief: a `Region` is any node of the tree (district → township →
school / village / community site); children belong to a site; volunteers are paired
with children; check-ins record what was done; concerns (五必访) and missed items
escalate up the region tree. All datetimes are timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    literal,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# the command line's choices, light to import; re-exported here with the other enums
from domain.kinds import Channel as Channel
from domain.kinds import InvitationRole as InvitationRole
from domain.kinds import LeaveReason as LeaveReason
from domain.kinds import RegionKind as RegionKind
from domain.kinds import RobotKind as RobotKind
from domain.kinds import VolunteerKind as VolunteerKind

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Enums are stored as their values in VARCHAR columns so adding a kind needs no DDL."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


def _now() -> Any:
    return mapped_column(server_default=func.now())


class Priority(enum.StrEnum):
    key = "key"  # 重点留守儿童
    normal = "normal"


class Guardianship(enum.StrEnum):
    guardian = "guardian"  # 监护人 at home
    entrusted = "entrusted"  # 委托监护人 with a signed responsibility letter
    none = "none"  # 无人监护


class Sex(enum.StrEnum):
    male = "male"
    female = "female"


class PairingRole(enum.StrEnum):
    surrogate = "surrogate"  # the stand-in parent the key-child rule counts
    mentor = "mentor"  # any other paired volunteer


class Activity(enum.StrEnum):
    """What a check-in records; the cadence rules say how often each is due."""

    home_visit = "home_visit"  # 家访
    talk = "talk"  # 谈心
    homework_check = "homework_check"  # 检查作业
    tutoring = "tutoring"  # 作业辅导
    family_meal = "family_meal"  # 亲情晚餐
    parent_call = "parent_call"  # phone call with the parents (三个一)
    family_call = "family_call"  # the child's call with the parents (亲情电话)
    parent_letter = "parent_letter"  # letter to the parents each semester
    other = "other"


class Period(enum.StrEnum):
    month = "month"
    semester = "semester"


class ConcernKind(enum.StrEnum):
    """The five must-visits (五必访), plus other."""

    mood = "mood"
    health = "health"
    grades = "grades"
    late_or_early = "late_or_early"
    quarrel = "quarrel"
    other = "other"


class ReviewStatus(enum.StrEnum):
    none = "none"
    pending = "pending"
    approved = "approved"
    questioned = "questioned"
    rejected = "rejected"  # the coordinator found it wanting: it no longer counts


class PhotoStatus(enum.StrEnum):
    pending = "pending"
    stored = "stored"
    failed = "failed"


class EscalationKind(enum.StrEnum):
    missed_monthly = "missed_monthly"
    must_visit = "must_visit"
    dropout = "dropout"
    emergency = "emergency"
    review_waiting = "review_waiting"  # a check-in in the review queue for over a week


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    uncertain = "uncertain"  # the send timed out: Telegram may or may not have it
    failed = "failed"


class Region(Base):
    """A node of the region tree; `path` ("1/4/17/") makes "everything under" one index scan."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RegionKind] = mapped_column(_enum(RegionKind, "region_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    path: Mapped[str] = mapped_column(String(255))
    must_visit_days: Mapped[int | None] = mapped_column(SmallInteger)
    record_due_day: Mapped[int | None] = mapped_column(SmallInteger)
    reminder_day: Mapped[int | None] = mapped_column(SmallInteger)
    # 应急机制: an emergency nobody has taken is sent again every this many minutes
    emergency_repeat_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    # 控辍保学: days of persuasion (劝返) before the written report is due
    dropout_report_days: Mapped[int | None] = mapped_column(SmallInteger)
    # quality of care: a check-in this many metres from the child's home goes for review
    review_distance_m: Mapped[int | None] = mapped_column(Integer)
    # back-dated by more days than this, a check-in goes for review
    review_days_back: Mapped[int | None] = mapped_column(SmallInteger)
    # 回访抽查: the share (in %) of last month's home visits drawn for a phone check
    sample_percent: Mapped[float | None] = mapped_column(Float)
    # PIPL: a child's personal data is erased this many days after they leave the programme
    retention_days: Mapped[int | None] = mapped_column(SmallInteger)
    # the new school year: grades move up on this day, as month·100 + day (901: 1 September)
    school_year_start: Mapped[int | None] = mapped_column(SmallInteger)
    promoted_on: Mapped[dt.date | None] = mapped_column(Date)  # a site's last move up
    created_at: Mapped[dt.datetime] = _now()

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    __table_args__ = (
        Index("ix_regions_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        CheckConstraint("record_due_day BETWEEN 1 AND 28", name="record_due_day"),
        CheckConstraint("reminder_day BETWEEN 1 AND 28", name="reminder_day"),
        CheckConstraint("retention_days >= 0", name="retention_days"),
        CheckConstraint(
            "school_year_start % 100 BETWEEN 1 AND 28 AND school_year_start / 100 BETWEEN 1 AND 12",
            name="school_year_start",
        ),
    )


class Person(Base):
    """Anyone who talks to the bot: volunteers and coordinators alike."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    consented_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = _now()


class Account(Base):
    """A person's address on one channel (their Telegram user, their Matrix user): who
    they are when a message comes in, where one goes out. What belongs to the channel,
    not the person, is kept here: someone who blocked the bot on one channel may still
    be reached on another."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(255))  # "123456789", "@wang:county.example"
    unreachable_at: Mapped[dt.datetime | None]  # the person blocked the bot (403) here
    created_at: Mapped[dt.datetime] = _now()

    person: Mapped[Person] = relationship()

    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        UniqueConstraint("person_id", "channel"),  # one address per channel to send to
    )


class Volunteer(Base):
    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[VolunteerKind] = mapped_column(_enum(VolunteerKind, "volunteer_kind"))
    is_core: Mapped[bool] = mapped_column(Boolean, default=False)  # 骨干
    joined_at: Mapped[dt.datetime] = _now()
    removed_at: Mapped[dt.datetime | None]

    person: Mapped[Person] = relationship()
    site: Mapped[Region] = relationship()

    __table_args__ = (
        Index(
            "uq_volunteers_person_site_active",
            "person_id",
            "site_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
    )


class Coordinator(Base):
    """A person who runs the programme for a region and everything under it."""

    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    created_at: Mapped[dt.datetime] = _now()
    removed_at: Mapped[dt.datetime | None]

    person: Mapped[Person] = relationship()
    region: Mapped[Region] = relationship()

    __table_args__ = (
        Index(
            "uq_coordinators_person_region_active",
            "person_id",
            "region_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
        ),
    )


class Child(Base):
    """A left-behind child's archive (档案 / 联系卡)."""

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[Sex | None] = mapped_column(_enum(Sex, "sex"))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    school: Mapped[str | None] = mapped_column(String(200))
    grade: Mapped[str | None] = mapped_column(String(32))
    class_name: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    priority: Mapped[Priority] = mapped_column(_enum(Priority, "priority"), default=Priority.normal)
    guardianship: Mapped[Guardianship] = mapped_column(
        _enum(Guardianship, "guardianship"), default=Guardianship.guardian
    )
    study: Mapped[str | None] = mapped_column(Text)
    health: Mapped[str | None] = mapped_column(Text)
    personality: Mapped[str | None] = mapped_column(Text)
    interests: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[dt.datetime | None]  # last full re-check (每半年全面核查)
    left_at: Mapped[dt.datetime | None]  # taken out of the programme, for `left_reason`
    left_reason: Mapped[LeaveReason | None] = mapped_column(_enum(LeaveReason, "leave_reason"))
    forgotten_at: Mapped[dt.datetime | None]  # personal data erased (domain/archive/leaving.py)
    # where the child lives: from the first home visit with a location, or set by a coordinator
    home_latitude: Mapped[float | None] = mapped_column(Float)
    home_longitude: Mapped[float | None] = mapped_column(Float)
    home_set_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    site: Mapped[Region] = relationship()
    guardians: Mapped[list[Guardian]] = relationship(
        back_populates="child", cascade="all, delete-orphan"
    )
    parents: Mapped[list[Parent]] = relationship(
        back_populates="child", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index(
            "uq_children_site_external_id",
            "site_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_children_match_key", "name", "birth_date", "school"),
        Index("ix_children_priority_site", "site_id", "priority"),
        Index(
            "ix_children_to_forget",
            "left_at",
            postgresql_where=text("left_at IS NOT NULL AND forgotten_at IS NULL"),
        ),
    )


class Guardian(Base):
    """The adult at home: grandparent, relative or entrusted guardian (委托监护人)."""

    __tablename__ = "guardians"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str | None] = mapped_column(String(32))
    age: Mapped[int | None] = mapped_column(SmallInteger)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(32))
    entrusted: Mapped[bool] = mapped_column(Boolean, default=False)
    letter_signed_on: Mapped[dt.date | None] = mapped_column(Date)  # 委托监护责任确认书

    child: Mapped[Child] = relationship(back_populates="guardians")


class Parent(Base):
    __tablename__ = "parents"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(16))  # father / mother
    work_place: Mapped[str | None] = mapped_column(String(200))  # 务工地
    phone: Mapped[str | None] = mapped_column(String(32))

    child: Mapped[Child] = relationship(back_populates="parents")


class Pairing(Base):
    """结对帮扶: one volunteer with one child, from `started_at` until `ended_at`."""

    __tablename__ = "pairings"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"))
    role: Mapped[PairingRole] = mapped_column(_enum(PairingRole, "pairing_role"))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    volunteer: Mapped[Volunteer] = relationship()
    child: Mapped[Child] = relationship()

    __table_args__ = (
        Index(
            "uq_pairings_active",
            "volunteer_id",
            "child_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_pairings_child_active", "child_id", postgresql_where=text("ended_at IS NULL")),
        Index("ix_pairings_volunteer_started", "volunteer_id", "started_at"),
    )


class CadenceRule(Base):
    """How often an activity is due: per region (inherited downward) and volunteer kind.

    A row with no region is the programme default; the nearest region up the tree wins.
    """

    __tablename__ = "cadence_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    volunteer_kind: Mapped[VolunteerKind | None] = mapped_column(
        _enum(VolunteerKind, "volunteer_kind")
    )
    activity: Mapped[Activity] = mapped_column(_enum(Activity, "activity"))
    period: Mapped[Period] = mapped_column(_enum(Period, "period"))
    times: Mapped[int] = mapped_column(SmallInteger, default=1)
    key_children_only: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("region_id", "volunteer_kind", "activity", "period"),
        CheckConstraint("times >= 0", name="times"),
    )


class CheckIn(Base):
    """打卡: a volunteer's record of time spent with a paired child."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("pairings.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    occurred_at: Mapped[dt.datetime]  # when it happened (back-dating allowed)
    created_at: Mapped[dt.datetime] = _now()
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    voice_file_id: Mapped[str | None] = mapped_column(String(255))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    visit_answers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    review: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus, "review_status"), default=ReviewStatus.none
    )
    review_reason: Mapped[str | None] = mapped_column(String(64))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    activities: Mapped[list[CheckInActivity]] = relationship(
        back_populates="checkin", cascade="all, delete-orphan"
    )
    photos: Mapped[list[Photo]] = relationship(
        back_populates="checkin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_checkins_pairing_occurred", "pairing_id", "occurred_at"),
        Index("ix_checkins_child_occurred", "child_id", "occurred_at"),
        Index(
            "ix_checkins_review_pending", "child_id", postgresql_where=text("review = 'pending'")
        ),
    )


class CheckInActivity(Base):
    """One activity of a check-in; denormalised pairing and time keep "done this month" cheap."""

    __tablename__ = "checkin_activities"

    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), primary_key=True
    )
    activity: Mapped[Activity] = mapped_column(_enum(Activity, "activity"), primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("pairings.id"))
    occurred_at: Mapped[dt.datetime]
    # False once the check-in was rejected on review or found not to have happened
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")

    checkin: Mapped[CheckIn] = relationship(back_populates="activities")

    __table_args__ = (
        Index("ix_checkin_activities_pairing_time", "pairing_id", "occurred_at", "activity"),
    )


class Photo(Base):
    """A photo of a check-in: Telegram's ids at once, the stored copy and hash once fetched."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64), index=True)
    file_size: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[PhotoStatus] = mapped_column(
        _enum(PhotoStatus, "photo_status"), default=PhotoStatus.pending
    )
    stored_path: Mapped[str | None] = mapped_column(String(255))
    phash: Mapped[int | None] = mapped_column(BigInteger, index=True)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    error: Mapped[str | None] = mapped_column(String(255))

    checkin: Mapped[CheckIn] = relationship(back_populates="photos")

    __table_args__ = (Index("ix_photos_checkin", "checkin_id"),)


PHASH_QUARTERS = 4


def phash_quarter(quarter: int) -> ColumnElement[int]:
    """Bits 16·quarter … 16·quarter+15 of `photos.phash`, as its near-duplicate indexes hold them.

    Literal numbers (not bound parameters) so that a query's expression is the index's own.
    """
    shifted = Photo.phash.op(">>")(literal(16 * quarter, literal_execute=True))
    return shifted.op("&", return_type=BigInteger)(literal(0xFFFF, literal_execute=True))


# One index per quarter: two hashes within Hamming distance d share a quarter within d // 4
# bits, so a near-duplicate search is a few index probes (domain/care/photos.py says more). Not
# partial: PostgreSQL estimates from an expression index's statistics only when it has no
# WHERE, and without estimates it plans a costly parallel scan.
for _quarter in range(PHASH_QUARTERS):
    Index(f"ix_photos_phash_q{_quarter}", phash_quarter(_quarter))


class ReviewState(enum.StrEnum):
    waiting = "waiting"  # before the coordinator
    asked = "asked"  # the volunteer was asked a question
    approved = "approved"
    rejected = "rejected"


class ReviewItem(Base):
    """A check-in before its site's coordinator for one reason (审核): a photo like an
    earlier one, a home visit without a photo, far from the child's home, back-dated, marked
    uncertain by the volunteer, or a volunteer's visit found not to have happened."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    state: Mapped[ReviewState] = mapped_column(
        _enum(ReviewState, "review_state"), default=ReviewState.waiting
    )
    opened_at: Mapped[dt.datetime]
    asked_at: Mapped[dt.datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    answer_voice_file_id: Mapped[str | None] = mapped_column(String(255))
    answered_at: Mapped[dt.datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("checkin_id", "reason"),
        Index(
            "ix_review_items_open",
            "site_id",
            "opened_at",
            postgresql_where=text("state IN ('waiting', 'asked')"),
        ),
    )


class SampleOutcome(enum.StrEnum):
    confirmed = "confirmed"  # the guardian confirmed the visit
    unreachable = "unreachable"  # could not reach the guardian
    not_happened = "not_happened"  # the visit did not happen


class SampleDraw(Base):
    """回访抽查: the month's draw of home visits to confirm by phone; the seed makes it
    the same when drawn again."""

    __tablename__ = "sample_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, unique=True)  # first day of the visits' month
    seed: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[dt.datetime]


class SampleCheck(Base):
    """One home visit drawn for a phone call to the guardian, and what the call found."""

    __tablename__ = "sample_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"))
    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), unique=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    outcome: Mapped[SampleOutcome | None] = mapped_column(_enum(SampleOutcome, "sample_outcome"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_sample_checks_site_draw", "site_id", "draw_id"),)


class Concern(Base):
    """A must-visit (五必访): raised by anyone, due from the paired volunteer by `due_at`."""

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"))
    kind: Mapped[ConcernKind] = mapped_column(_enum(ConcernKind, "concern_kind"))
    note: Mapped[str | None] = mapped_column(Text)
    raised_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    raised_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    closed_by_checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id"))

    __table_args__ = (
        Index("ix_concerns_open", "child_id", "due_at", postgresql_where=text("closed_at IS NULL")),
    )


class Escalation(Base):
    """Something overdue climbing the chain; unique per item so it is opened once."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EscalationKind] = mapped_column(_enum(EscalationKind, "escalation_kind"))
    item_key: Mapped[str] = mapped_column(String(128), unique=True)  # e.g. "missed:pairing:month"
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    pairing_id: Mapped[int | None] = mapped_column(ForeignKey("pairings.id"))
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id"))
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    opened_at: Mapped[dt.datetime]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acknowledged_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))  # resolved / reassigned / done
    resolution_note: Mapped[str | None] = mapped_column(Text)

    steps: Mapped[list[EscalationStep]] = relationship(back_populates="escalation")

    __table_args__ = (
        Index("ix_escalations_open", "opened_at", postgresql_where=text("closed_at IS NULL")),
    )


class EscalationStep(Base):
    """One rung of the ladder, written in the same transaction that decides to send it."""

    __tablename__ = "escalation_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(SmallInteger)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[dt.datetime]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    acknowledged_at: Mapped[dt.datetime | None]

    escalation: Mapped[Escalation] = relationship(back_populates="steps")

    __table_args__ = (UniqueConstraint("escalation_id", "step", "recipient_id"),)


class IncidentStep(Base):
    """One step of following an emergency or a drop-out to its end: registered, a
    persuasion visit (劝返) with its result, returned to school, found, handed to the
    police, an entrusted guardian named, the written report made, closed."""

    __tablename__ = "incident_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    on_day: Mapped[dt.date | None] = mapped_column(Date)  # the day it happened
    by_whom: Mapped[str | None] = mapped_column(String(100))  # 班主任 王老师, 村干部 …
    place: Mapped[str | None] = mapped_column(String(200))  # where found, police station
    note: Mapped[str | None] = mapped_column(Text)  # the result, what was said
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[dt.datetime]


class Roster(Base):
    """A weekly roster sent to one recipient for one scope, made once per ISO week."""

    __tablename__ = "rosters"

    id: Mapped[int] = mapped_column(primary_key=True)
    iso_week: Mapped[str] = mapped_column(String(8))  # "2026-W48"
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (UniqueConstraint("iso_week", "recipient_id", "region_id"),)


class DutyShift(Base):
    """值班: the teacher on duty at a children's home (留守儿童之家) on a day."""

    __tablename__ = "duty_shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))

    __table_args__ = (UniqueConstraint("site_id", "day", "volunteer_id"),)


class DutyRota(Base):
    """值班表: who is on duty at a site's children's home on each weekday, week after week,
    as the site's coordinator set it in chat. `DutyShift` rows are days apart from it."""

    __tablename__ = "duty_rota"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 is Monday
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    set_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    set_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        UniqueConstraint("site_id", "weekday"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
    )


class Invitation(Base):
    """A single-use join link; only the token's hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    role: Mapped[InvitationRole] = mapped_column(_enum(InvitationRole, "invitation_role"))
    volunteer_kind: Mapped[VolunteerKind | None] = mapped_column(
        _enum(VolunteerKind, "volunteer_kind")
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[dt.datetime | None]


class OutboxMessage(Base):
    """Every outgoing message, queued in the sender's transaction and drained under limits:
    to whom (an address: a channel and a target in it), what (`domain.delivery.content`,
    rendered by the channel's front at send time), and a dedupe key."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))  # which front sends it: "telegram" …
    target: Mapped[str] = mapped_column(String(255))  # a chat, a room, a group's robot
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.pending
    )
    not_before: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    sent_ref: Mapped[str | None] = mapped_column(String(255))  # the front's id of the message
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = _now()

    __table_args__ = (
        # (not_before, id) is the claim's order: the next row is read off the index, no sort
        Index(
            "ix_outbox_due",
            "not_before",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # an address's unsettled rows by id: a row goes only when no earlier one of it waits
        Index(
            "ix_outbox_chat_unsettled",
            "channel",
            "target",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )


class OutboxPace(Base):
    """When a channel's senders may next write: to a target, or at all (`target` '').

    Shared by every sender process, so together they keep the channel's limits. Times
    are the database's clock, the one clock all senders share.
    """

    __tablename__ = "outbox_pace"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(255), primary_key=True)
    free_at: Mapped[dt.datetime]
    # the channel-wide slot only: when the last requests left, oldest first
    recent: Mapped[list[dt.datetime] | None] = mapped_column(ARRAY(DateTime(timezone=True)))


class Robot(Base):
    """A custom robot of a WeCom, DingTalk or Feishu group: how a region's offices, who
    cannot read Telegram, hear what its coordinators hear. Only ever sends.

    `url` and `secret` are credentials: anyone holding them posts into the group. They
    are never logged and never shown back whole (`domain.delivery.robots.masked`).
    """

    __tablename__ = "robots"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[RobotKind] = mapped_column(_enum(RobotKind, "robot_kind"))
    url: Mapped[str] = mapped_column(Text, unique=True)
    secret: Mapped[str | None] = mapped_column(Text)  # DingTalk's 加签, Feishu's 签名校验
    # the people to @mention in that group, by mobile (WeCom and DingTalk resolve them)
    mobiles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    # a group is many readers on a third party's server: a region may want 张*明 there
    mask_child_names: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[dt.datetime]
    added_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # a permanent refusal (key invalid, robot removed, signature wrong): nothing is sent
    # until a test through it is taken again (`guanai robots test`)
    broken_at: Mapped[dt.datetime | None]
    broken_reason: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:  # never the url or the secret
        return f"Robot(id={self.id!r}, kind={self.kind!r}, region_id={self.region_id!r})"


class RobotPace(Base):
    """When a robot last sent and until when it must wait: shared by every sender process,
    in the database's clock, so two workers keep one platform limit between them."""

    __tablename__ = "robot_pace"

    robot_id: Mapped[int] = mapped_column(
        ForeignKey("robots.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # the requests of the last minute, oldest first
    recent: Mapped[list[dt.datetime]] = mapped_column(ARRAY(DateTime(timezone=True)), default=list)
    # a throttle answer holds the robot (DingTalk's 130101 blocks it for ten minutes)
    held_until: Mapped[dt.datetime | None]


class ProcessedUpdate(Base):
    """Telegram update ids already handled: a redelivered update is skipped."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[dt.datetime] = _now()


class ProcessedMatrixEvent(Base):
    """Matrix event ids already handled: an event synced again (after a restart from an
    older `since` token) is skipped. Event ids are unique across a homeserver's rooms."""

    __tablename__ = "processed_matrix_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[dt.datetime] = _now()


class MatrixSyncState(Base):
    """Where the Matrix front's sync stands, per bot account: the device it logged in as
    (its keys are in the encryption store under MATRIX_STORE_DIR) and the `since` token
    after the last sync whose events were all handled."""

    __tablename__ = "matrix_sync_state"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str | None] = mapped_column(String(255))
    next_batch: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class AuditEntry(Base):
    """Who saw or changed what, and when; details carry ids, never names or phones."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
        Index("ix_audit_log_actor_at", "actor_id", "at"),
    )
