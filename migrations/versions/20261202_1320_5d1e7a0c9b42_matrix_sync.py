"""The Matrix front's bookkeeping: the event ids it handled, and where its sync stands.

Revision ID: 5d1e7a0c9b42
Revises: 5f0c2a7d91e4
Create Date: 2026-12-02 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e7a0c9b42"
down_revision: str | None = "5f0c2a7d91e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_matrix_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_matrix_events")),
    )
    op.create_table(
        "matrix_sync_state",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=True),
        sa.Column("next_batch", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_matrix_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("matrix_sync_state")
    op.drop_table("processed_matrix_events")
