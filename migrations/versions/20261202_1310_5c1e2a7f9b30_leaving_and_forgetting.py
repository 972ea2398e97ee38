"""The school year: why a child left, when their personal data was erased, each site's
retention period (PIPL), the day its grades move up and when they last did.

Revision ID: 5c1e2a7f9b30
Revises: c0a7e5d1f4b2
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e2a7f9b30"
down_revision: str | None = "c0a7e5d1f4b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("regions", sa.Column("retention_days", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(op.f("ck_regions_retention_days"), "regions", "retention_days >= 0")
    op.add_column("regions", sa.Column("school_year_start", sa.SmallInteger(), nullable=True))
    op.add_column("regions", sa.Column("promoted_on", sa.Date(), nullable=True))
    op.create_check_constraint(
        op.f("ck_regions_school_year_start"),
        "regions",
        "school_year_start % 100 BETWEEN 1 AND 28 AND school_year_start / 100 BETWEEN 1 AND 12",
    )
    op.add_column("children", sa.Column("left_reason", sa.String(length=32), nullable=True))
    op.add_column("children", sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_children_to_forget",
        "children",
        ["left_at"],
        unique=False,
        postgresql_where=sa.text("left_at IS NOT NULL AND forgotten_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_children_to_forget",
        table_name="children",
        postgresql_where=sa.text("left_at IS NOT NULL AND forgotten_at IS NULL"),
    )
    op.drop_column("children", "forgotten_at")
    op.drop_column("children", "left_reason")
    op.drop_constraint(op.f("ck_regions_school_year_start"), "regions", type_="check")
    op.drop_column("regions", "promoted_on")
    op.drop_column("regions", "school_year_start")
    op.drop_constraint(op.f("ck_regions_retention_days"), "regions", type_="check")
    op.drop_column("regions", "retention_days")
