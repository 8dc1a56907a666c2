"""Baseline: the intake's table as the releases before versioning created it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iwf_intake_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("urls", sa.Text, nullable=False),
        sa.Column("content_kind", sa.String(16), nullable=False),
        sa.Column("where_seen", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
    )
    op.create_index("iwf_intake_received", "iwf_intake_reports", ["received", "id"])


def downgrade() -> None:
    op.drop_table("iwf_intake_reports")
