"""Emergencies and drop-outs: the sites' repeat interval and report deadline, and the
steps that follow an incident to its end (应急机制 / 控辍保学).

Revision ID: e3a9c4d17b20
Revises: b7d2e41c9a05
Create Date: 2026-12-02 06:17:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a9c4d17b20"
down_revision: str | None = "b7d2e41c9a05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "regions", sa.Column("emergency_repeat_minutes", sa.SmallInteger(), nullable=True)
    )
    op.add_column("regions", sa.Column("dropout_report_days", sa.SmallInteger(), nullable=True))
    op.create_table(
        "incident_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("on_day", sa.Date(), nullable=True),
        sa.Column("by_whom", sa.String(length=100), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_incident_steps_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["people.id"], name=op.f("fk_incident_steps_actor_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_steps")),
    )
    op.create_index(
        op.f("ix_incident_steps_escalation_id"), "incident_steps", ["escalation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_steps_escalation_id"), table_name="incident_steps")
    op.drop_table("incident_steps")
    op.drop_column("regions", "dropout_report_days")
    op.drop_column("regions", "emergency_repeat_minutes")
