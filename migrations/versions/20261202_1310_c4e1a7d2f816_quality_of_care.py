"""Quality of care: the review queue, the monthly verification sample, the child's home
location and the sites' review and sample settings.

Revision ID: c4e1a7d2f816
Revises: 5d1e7a0c9b42
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c4e1a7d2f816"
down_revision: str | None = "5d1e7a0c9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("regions", sa.Column("review_distance_m", sa.Integer(), nullable=True))
    op.add_column("regions", sa.Column("review_days_back", sa.SmallInteger(), nullable=True))
    op.add_column("regions", sa.Column("sample_percent", sa.Float(), nullable=True))
    op.add_column("children", sa.Column("home_latitude", sa.Float(), nullable=True))
    op.add_column("children", sa.Column("home_longitude", sa.Float(), nullable=True))
    op.add_column("children", sa.Column("home_set_by", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_children_home_set_by_people"), "children", "people", ["home_set_by"], ["id"]
    )
    op.add_column(
        "checkins",
        sa.Column("uncertain", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "checkin_activities",
        sa.Column("counted", sa.Boolean(), server_default="true", nullable=False),
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "waiting",
                "asked",
                "approved",
                "rejected",
                name="review_state",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_voice_file_id", sa.String(length=255), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_review_items_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_review_items_site_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["people.id"], name=op.f("fk_review_items_decided_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("checkin_id", "reason", name=op.f("uq_review_items_checkin_id_reason")),
    )
    op.create_index(
        "ix_review_items_open",
        "review_items",
        ["site_id", "opened_at"],
        unique=False,
        postgresql_where=sa.text("state IN ('waiting', 'asked')"),
    )
    # check-ins already awaiting review join the queue
    op.execute(
        "INSERT INTO review_items (checkin_id, site_id, reason, state, opened_at) "
        "SELECT checkins.id, children.site_id, coalesce(checkins.review_reason, 'other'), "
        "CASE checkins.review WHEN 'questioned' THEN 'asked' ELSE 'waiting' END, "
        "checkins.created_at FROM checkins JOIN children ON children.id = checkins.child_id "
        "WHERE checkins.review IN ('pending', 'questioned')"
    )
    op.create_table(
        "sample_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_draws")),
        sa.UniqueConstraint("month", name=op.f("uq_sample_draws_month")),
    )
    op.create_table(
        "sample_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "confirmed",
                "unreachable",
                "not_happened",
                name="sample_outcome",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["sample_draws.id"],
            name=op.f("fk_sample_checks_draw_id_sample_draws"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_sample_checks_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_sample_checks_site_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_sample_checks_volunteer_id_volunteers"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["people.id"], name=op.f("fk_sample_checks_recorded_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_checks")),
        sa.UniqueConstraint("checkin_id", name=op.f("uq_sample_checks_checkin_id")),
    )
    op.create_index(
        "ix_sample_checks_site_draw", "sample_checks", ["site_id", "draw_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sample_checks_site_draw", table_name="sample_checks")
    op.drop_table("sample_checks")
    op.drop_table("sample_draws")
    op.drop_index("ix_review_items_open", table_name="review_items")
    op.drop_table("review_items")
    op.drop_column("checkin_activities", "counted")
    op.drop_column("checkins", "uncertain")
    op.drop_constraint(op.f("fk_children_home_set_by_people"), "children", type_="foreignkey")
    op.drop_column("children", "home_set_by")
    op.drop_column("children", "home_longitude")
    op.drop_column("children", "home_latitude")
    op.drop_column("regions", "sample_percent")
    op.drop_column("regions", "review_days_back")
    op.drop_column("regions", "review_distance_m")
