"""Accounts, not a Telegram id: a person has an account on each channel they are reached
on, unique per (channel, external id); whether the bot is blocked is the account's.

Every person with a Telegram id gets a Telegram account, with their unreachable_at; the
downgrade puts the Telegram accounts back on people (accounts on other channels are lost).

Revision ID: ae0b3af4d69a
Revises: e3a9c4d17b20
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ae0b3af4d69a"
down_revision: str | None = "e3a9c4d17b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_accounts_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_accounts_channel_external_id")),
        sa.UniqueConstraint("person_id", "channel", name=op.f("uq_accounts_person_id_channel")),
    )
    op.execute(
        "INSERT INTO accounts (person_id, channel, external_id, unreachable_at, created_at) "
        "SELECT id, 'telegram', telegram_id::text, unreachable_at, created_at "
        "FROM people WHERE telegram_id IS NOT NULL ORDER BY id"
    )
    op.drop_constraint(op.f("uq_people_telegram_id"), "people", type_="unique")
    op.drop_column("people", "telegram_id")
    op.drop_column("people", "unreachable_at")


def downgrade() -> None:
    op.add_column("people", sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("people", sa.Column("telegram_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE people SET telegram_id = accounts.external_id::bigint, "
        "unreachable_at = accounts.unreachable_at "
        "FROM accounts WHERE accounts.person_id = people.id AND accounts.channel = 'telegram'"
    )
    op.create_unique_constraint(op.f("uq_people_telegram_id"), "people", ["telegram_id"])
    op.drop_table("accounts")
