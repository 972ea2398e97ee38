"""Merge the two heads main has now (quality of care, outbox content), so the tests
migrate; the lead may drop it when re-chaining.

Revision ID: 336f17cd1457
Revises: c4e1a7d2f816, c0a7e5d1f4b2
Create Date: 2026-12-02 14:09:23.607044
"""

from collections.abc import Sequence

revision: str = "336f17cd1457"
down_revision: str | Sequence[str] | None = ("c4e1a7d2f816", "c0a7e5d1f4b2")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
