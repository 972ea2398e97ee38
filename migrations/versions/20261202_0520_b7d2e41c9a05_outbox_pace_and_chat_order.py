"""Outbox: a pace shared by every sender, and each chat's unsettled rows by id.

`outbox_pace` holds when the senders may next write, bot-wide (`chat_id` 0) and per chat,
in the database's clock (and, bot-wide, when the last requests left): two sender
processes keep one rate between them instead of each its own. `ix_outbox_chat_unsettled`
lets a claim see cheaply whether an earlier row of the same chat is still waiting or on
its way, so a chat's messages go out in order.

Revision ID: b7d2e41c9a05
Revises: 3b92da280b0f
Create Date: 2026-12-02 05:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7d2e41c9a05"
down_revision: str | None = "3b92da280b0f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_table(
        "outbox_pace",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recent", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_outbox_pace")),
    )
    op.create_index(
        "ix_outbox_chat_unsettled", "outbox", ["chat_id", "id"], postgresql_where=UNSETTLED
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_chat_unsettled", table_name="outbox", postgresql_where=UNSETTLED)
    op.drop_table("outbox_pace")
