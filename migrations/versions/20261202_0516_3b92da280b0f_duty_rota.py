"""Duty rota: who is on duty at a site's children's home on each weekday (值班表).

Revision ID: 3b92da280b0f
Revises: 4c6ebebe351e
Create Date: 2026-12-02 05:16:23.878812
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b92da280b0f"
down_revision: str | None = "4c6ebebe351e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_rota",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_duty_rota_weekday")),
        sa.ForeignKeyConstraint(["set_by"], ["people.id"], name=op.f("fk_duty_rota_set_by_people")),
        sa.ForeignKeyConstraint(
            ["site_id"], ["regions.id"], name=op.f("fk_duty_rota_site_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_duty_rota_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_rota")),
        sa.UniqueConstraint("site_id", "weekday", name=op.f("uq_duty_rota_site_id_weekday")),
    )


def downgrade() -> None:
    op.drop_table("duty_rota")
