"""Index each 16-bit quarter of a photo's perceptual hash, for the near-duplicate search.

Two hashes within Hamming distance d share at least one quarter within d // 4 bits, so
finding every earlier photo near a new one is a few probes of these indexes instead of a
scan of all photos (see domain/care/photos.py). Not partial indexes: PostgreSQL estimates
from an expression index's statistics only when the index has no WHERE.

Revision ID: 490f4e335514
Revises: 34a51dfff986
Create Date: 2026-11-23 22:06:11.938802
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "490f4e335514"
down_revision: str | None = "34a51dfff986"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUARTERS = range(4)


def upgrade() -> None:
    for quarter in QUARTERS:
        op.create_index(
            f"ix_photos_phash_q{quarter}",
            "photos",
            [sa.literal_column(f"((phash >> {16 * quarter}) & 65535)")],
            unique=False,
        )


def downgrade() -> None:
    for quarter in reversed(QUARTERS):
        op.drop_index(f"ix_photos_phash_q{quarter}", table_name="photos")
