"""Group robots: WeCom, DingTalk and Feishu webhooks of a region, and their shared pace.

`robots` holds each robot's webhook and secret (credentials, never logged), the mobiles
to @mention, whether children's names are masked there, and when and why it broke.
`robot_pace` holds the requests of each robot's last minute and a throttle's hold, in
the database's clock, so every sender keeps one platform limit.

Revision ID: 5f0c2a7d91e4
Revises: ae0b3af4d69a
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5f0c2a7d91e4"
down_revision: str | None = "ae0b3af4d69a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "robots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("mobiles", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("mask_child_names", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_robots_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["people.id"], name=op.f("fk_robots_added_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
        sa.UniqueConstraint("url", name=op.f("uq_robots_url")),
    )
    op.create_index(op.f("ix_robots_region_id"), "robots", ["region_id"])
    op.create_table(
        "robot_pace",
        sa.Column("robot_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recent", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["robot_id"],
            ["robots.id"],
            name=op.f("fk_robot_pace_robot_id_robots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("robot_id", name=op.f("pk_robot_pace")),
    )


def downgrade() -> None:
    op.drop_table("robot_pace")
    op.drop_index(op.f("ix_robots_region_id"), table_name="robots")
    op.drop_table("robots")
