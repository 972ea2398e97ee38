"""Outbox claim order: index (not_before, id) of pending rows.

The sender claims the oldest due row, `ORDER BY not_before, id`; with `id` in the index
the row is read straight off it instead of sorting every pending row on each claim
(40 ms per claim with 100,000 rows queued, against 0.1 ms).

Revision ID: 4c6ebebe351e
Revises: 34a51dfff986
Create Date: 2026-11-23 22:06:44.518433
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c6ebebe351e"
down_revision: str | None = "34a51dfff986"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox", postgresql_where=PENDING)
    op.create_index("ix_outbox_due", "outbox", ["not_before", "id"], postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox", postgresql_where=PENDING)
    op.create_index("ix_outbox_due", "outbox", ["not_before"], postgresql_where=PENDING)
