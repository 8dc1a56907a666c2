"""Daily counters for the partner's statistics: reports per language, scope-step exits by kind.

One row per day and counter, never one per report: the day is the finest time
kept, and nothing in a row says who was counted.

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iwf_daily_counts",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("name", sa.String(48), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "name", name="iwf_daily_counts_pkey"),
    )


def downgrade() -> None:
    op.drop_table("iwf_daily_counts")
