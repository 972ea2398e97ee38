"""The care model, with the programme's default cadences as data.

The defaults are those of the reports (DOMAIN.md): the monthly "six ones" for
surrogate parents, the "three ones" for every paired volunteer, and a monthly family
call for key children. Sites override them with rows of their own.

Revision ID: 34a51dfff986
Revises:
Create Date: 2026-11-23 21:38:00.269692
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "34a51dfff986"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "uncertain",
                "failed",
                name="outbox_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["not_before"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_people_telegram_id")),
    )
    op.create_index(op.f("ix_people_phone"), "people", ["phone"], unique=False)
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "district",
                "township",
                "school",
                "village",
                "community",
                name="region_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("must_visit_days", sa.SmallInteger(), nullable=True),
        sa.Column("record_due_day", sa.SmallInteger(), nullable=True),
        sa.Column("reminder_day", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "record_due_day BETWEEN 1 AND 28", name=op.f("ck_regions_record_due_day")
        ),
        sa.CheckConstraint("reminder_day BETWEEN 1 AND 28", name=op.f("ck_regions_reminder_day")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["regions.id"], name=op.f("fk_regions_parent_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    op.create_index(
        "ix_regions_path",
        "regions",
        ["path"],
        unique=False,
        postgresql_ops={"path": "varchar_pattern_ops"},
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["people.id"], name=op.f("fk_audit_log_actor_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_id", "at"], unique=False)
    op.create_index(
        "ix_audit_log_subject", "audit_log", ["subject_type", "subject_id"], unique=False
    )
    op.create_table(
        "cadence_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column(
            "volunteer_kind",
            sa.Enum(
                "wulao", "surrogate", "teacher", name="volunteer_kind", native_enum=False, length=32
            ),
            nullable=True,
        ),
        sa.Column(
            "activity",
            sa.Enum(
                "home_visit",
                "talk",
                "homework_check",
                "tutoring",
                "family_meal",
                "parent_call",
                "family_call",
                "parent_letter",
                "other",
                name="activity",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "period",
            sa.Enum("month", "semester", name="period", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("times", sa.SmallInteger(), nullable=False),
        sa.Column("key_children_only", sa.Boolean(), nullable=False),
        sa.CheckConstraint("times >= 0", name=op.f("ck_cadence_rules_times")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_cadence_rules_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadence_rules")),
        sa.UniqueConstraint(
            "region_id",
            "volunteer_kind",
            "activity",
            "period",
            name=op.f("uq_cadence_rules_region_id_volunteer_kind_activity_period"),
        ),
    )
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "sex",
            sa.Enum("male", "female", name="sex", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("school", sa.String(length=200), nullable=True),
        sa.Column("grade", sa.String(length=32), nullable=True),
        sa.Column("class_name", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column(
            "priority",
            sa.Enum("key", "normal", name="priority", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "guardianship",
            sa.Enum(
                "guardian", "entrusted", "none", name="guardianship", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("study", sa.Text(), nullable=True),
        sa.Column("health", sa.Text(), nullable=True),
        sa.Column("personality", sa.Text(), nullable=True),
        sa.Column("interests", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_children_site_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
    )
    op.create_index(
        "ix_children_match_key", "children", ["name", "birth_date", "school"], unique=False
    )
    op.create_index("ix_children_priority_site", "children", ["site_id", "priority"], unique=False)
    op.create_index(op.f("ix_children_site_id"), "children", ["site_id"], unique=False)
    op.create_index(
        "uq_children_site_external_id",
        "children",
        ["site_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "coordinators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_coordinators_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_coordinators_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinators")),
    )
    op.create_index(op.f("ix_coordinators_person_id"), "coordinators", ["person_id"], unique=False)
    op.create_index(op.f("ix_coordinators_region_id"), "coordinators", ["region_id"], unique=False)
    op.create_index(
        "uq_coordinators_person_region_active",
        "coordinators",
        ["person_id", "region_id"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "volunteer", "coordinator", name="invitation_role", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "volunteer_kind",
            sa.Enum(
                "wulao", "surrogate", "teacher", name="volunteer_kind", native_enum=False, length=32
            ),
            nullable=True,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_invitations_created_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_invitations_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["people.id"], name=op.f("fk_invitations_used_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_table(
        "rosters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["people.id"], name=op.f("fk_rosters_recipient_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_rosters_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rosters")),
        sa.UniqueConstraint(
            "iso_week",
            "recipient_id",
            "region_id",
            name=op.f("uq_rosters_iso_week_recipient_id_region_id"),
        ),
    )
    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "wulao", "surrogate", "teacher", name="volunteer_kind", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("is_core", sa.Boolean(), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_volunteers_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_volunteers_site_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
    )
    op.create_index(op.f("ix_volunteers_person_id"), "volunteers", ["person_id"], unique=False)
    op.create_index(op.f("ix_volunteers_site_id"), "volunteers", ["site_id"], unique=False)
    op.create_index(
        "uq_volunteers_person_site_active",
        "volunteers",
        ["person_id", "site_id"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "duty_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_duty_shifts_site_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_duty_shifts_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shifts")),
        sa.UniqueConstraint(
            "site_id", "day", "volunteer_id", name=op.f("uq_duty_shifts_site_id_day_volunteer_id")
        ),
    )
    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("age", sa.SmallInteger(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("entrusted", sa.Boolean(), nullable=False),
        sa.Column("letter_signed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_guardians_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardians")),
    )
    op.create_index(op.f("ix_guardians_child_id"), "guardians", ["child_id"], unique=False)
    op.create_table(
        "pairings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("surrogate", "mentor", name="pairing_role", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_pairings_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_pairings_created_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_pairings_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairings")),
    )
    op.create_index(
        "ix_pairings_child_active",
        "pairings",
        ["child_id"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_pairings_volunteer_started", "pairings", ["volunteer_id", "started_at"], unique=False
    )
    op.create_index(
        "uq_pairings_active",
        "pairings",
        ["volunteer_id", "child_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "parents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("work_place", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name=op.f("fk_parents_child_id_children"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parents")),
    )
    op.create_index(op.f("ix_parents_child_id"), "parents", ["child_id"], unique=False)
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pairing_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("voice_file_id", sa.String(length=255), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("visit_answers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "review",
            sa.Enum(
                "none",
                "pending",
                "approved",
                "questioned",
                name="review_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("review_reason", sa.String(length=64), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_checkins_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.id"], name=op.f("fk_checkins_pairing_id_pairings")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["people.id"], name=op.f("fk_checkins_reviewed_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_checkins_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_checkins_idempotency_key")),
    )
    op.create_index(
        "ix_checkins_child_occurred", "checkins", ["child_id", "occurred_at"], unique=False
    )
    op.create_index(
        "ix_checkins_pairing_occurred", "checkins", ["pairing_id", "occurred_at"], unique=False
    )
    op.create_index(
        "ix_checkins_review_pending",
        "checkins",
        ["child_id"],
        unique=False,
        postgresql_where=sa.text("review = 'pending'"),
    )
    op.create_table(
        "checkin_activities",
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column(
            "activity",
            sa.Enum(
                "home_visit",
                "talk",
                "homework_check",
                "tutoring",
                "family_meal",
                "parent_call",
                "family_call",
                "parent_letter",
                "other",
                name="activity",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("pairing_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_checkin_activities_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.id"], name=op.f("fk_checkin_activities_pairing_id_pairings")
        ),
        sa.PrimaryKeyConstraint("checkin_id", "activity", name=op.f("pk_checkin_activities")),
    )
    op.create_index(
        "ix_checkin_activities_pairing_time",
        "checkin_activities",
        ["pairing_id", "occurred_at", "activity"],
        unique=False,
    )
    op.create_table(
        "concerns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "mood",
                "health",
                "grades",
                "late_or_early",
                "quarrel",
                "other",
                name="concern_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("raised_by", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_checkin_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_concerns_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_checkin_id"],
            ["checkins.id"],
            name=op.f("fk_concerns_closed_by_checkin_id_checkins"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by"], ["people.id"], name=op.f("fk_concerns_raised_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concerns")),
    )
    op.create_index(
        "ix_concerns_open",
        "concerns",
        ["child_id", "due_at"],
        unique=False,
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=255), nullable=False),
        sa.Column("file_unique_id", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "stored", "failed", name="photo_status", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("stored_path", sa.String(length=255), nullable=True),
        sa.Column("phash", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_photos_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
    )
    op.create_index("ix_photos_checkin", "photos", ["checkin_id"], unique=False)
    op.create_index(op.f("ix_photos_file_unique_id"), "photos", ["file_unique_id"], unique=False)
    op.create_index(op.f("ix_photos_phash"), "photos", ["phash"], unique=False)
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "missed_monthly",
                "must_visit",
                "dropout",
                "emergency",
                name="escalation_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("item_key", sa.String(length=128), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("pairing_id", sa.Integer(), nullable=True),
        sa.Column("concern_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["people.id"], name=op.f("fk_escalations_acknowledged_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_escalations_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["concern_id"], ["concerns.id"], name=op.f("fk_escalations_concern_id_concerns")
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.id"], name=op.f("fk_escalations_pairing_id_pairings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("item_key", name=op.f("uq_escalations_item_key")),
    )
    op.create_index(op.f("ix_escalations_child_id"), "escalations", ["child_id"], unique=False)
    op.create_index(
        "ix_escalations_open",
        "escalations",
        ["opened_at"],
        unique=False,
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_steps_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_escalation_steps_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["people.id"], name=op.f("fk_escalation_steps_recipient_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_escalation_steps_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_steps")),
        sa.UniqueConstraint(
            "escalation_id",
            "step",
            "recipient_id",
            name=op.f("uq_escalation_steps_escalation_id_step_recipient_id"),
        ),
    )

    cadence_rules = sa.table(
        "cadence_rules",
        sa.column("region_id", sa.Integer),
        sa.column("volunteer_kind", sa.String),
        sa.column("activity", sa.String),
        sa.column("period", sa.String),
        sa.column("times", sa.SmallInteger),
        sa.column("key_children_only", sa.Boolean),
    )
    defaults = [
        # the six ones (六个一), per surrogate parent and child, monthly
        ("surrogate", "talk", "month", False),
        ("surrogate", "homework_check", "month", False),
        ("surrogate", "tutoring", "month", False),
        ("surrogate", "home_visit", "month", False),
        ("surrogate", "family_meal", "month", False),
        # the three ones (三个一), for every paired volunteer
        (None, "home_visit", "month", False),
        (None, "parent_call", "month", False),
        (None, "parent_letter", "semester", False),
        # key children call their parents at least monthly (亲情电话)
        ("surrogate", "family_call", "month", True),
    ]
    op.bulk_insert(
        cadence_rules,
        [
            {
                "region_id": None,
                "volunteer_kind": kind,
                "activity": activity,
                "period": period,
                "times": 1,
                "key_children_only": key_only,
            }
            for kind, activity, period, key_only in defaults
        ],
    )


def downgrade() -> None:
    op.drop_table("escalation_steps")
    op.drop_index(
        "ix_escalations_open",
        table_name="escalations",
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.drop_index(op.f("ix_escalations_child_id"), table_name="escalations")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_photos_phash"), table_name="photos")
    op.drop_index(op.f("ix_photos_file_unique_id"), table_name="photos")
    op.drop_index("ix_photos_checkin", table_name="photos")
    op.drop_table("photos")
    op.drop_index(
        "ix_concerns_open", table_name="concerns", postgresql_where=sa.text("closed_at IS NULL")
    )
    op.drop_table("concerns")
    op.drop_index("ix_checkin_activities_pairing_time", table_name="checkin_activities")
    op.drop_table("checkin_activities")
    op.drop_index(
        "ix_checkins_review_pending",
        table_name="checkins",
        postgresql_where=sa.text("review = 'pending'"),
    )
    op.drop_index("ix_checkins_pairing_occurred", table_name="checkins")
    op.drop_index("ix_checkins_child_occurred", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index(op.f("ix_parents_child_id"), table_name="parents")
    op.drop_table("parents")
    op.drop_index(
        "uq_pairings_active", table_name="pairings", postgresql_where=sa.text("ended_at IS NULL")
    )
    op.drop_index("ix_pairings_volunteer_started", table_name="pairings")
    op.drop_index(
        "ix_pairings_child_active",
        table_name="pairings",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_table("pairings")
    op.drop_index(op.f("ix_guardians_child_id"), table_name="guardians")
    op.drop_table("guardians")
    op.drop_table("duty_shifts")
    op.drop_index(
        "uq_volunteers_person_site_active",
        table_name="volunteers",
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.drop_index(op.f("ix_volunteers_site_id"), table_name="volunteers")
    op.drop_index(op.f("ix_volunteers_person_id"), table_name="volunteers")
    op.drop_table("volunteers")
    op.drop_table("rosters")
    op.drop_table("invitations")
    op.drop_index(
        "uq_coordinators_person_region_active",
        table_name="coordinators",
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.drop_index(op.f("ix_coordinators_region_id"), table_name="coordinators")
    op.drop_index(op.f("ix_coordinators_person_id"), table_name="coordinators")
    op.drop_table("coordinators")
    op.drop_index(
        "uq_children_site_external_id",
        table_name="children",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index(op.f("ix_children_site_id"), table_name="children")
    op.drop_index("ix_children_priority_site", table_name="children")
    op.drop_index("ix_children_match_key", table_name="children")
    op.drop_table("children")
    op.drop_table("cadence_rules")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(
        "ix_regions_path", table_name="regions", postgresql_ops={"path": "varchar_pattern_ops"}
    )
    op.drop_table("regions")
    op.drop_table("processed_updates")
    op.drop_index(op.f("ix_people_phone"), table_name="people")
    op.drop_table("people")
    op.drop_index(
        "ix_outbox_due", table_name="outbox", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("outbox")
