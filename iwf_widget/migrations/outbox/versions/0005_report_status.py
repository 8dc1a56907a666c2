"""What a status page needs to answer a reporter, and nothing more.

Per report: a keyed hash of its reference (the key is the partner's signing
key, so the table alone matches no reference), its state, and the day that
state began. No id, no time finer than the day, nothing of what was reported.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iwf_report_status",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
    )
    op.create_index("iwf_report_status_day", "iwf_report_status", ["day"])


def downgrade() -> None:
    op.drop_table("iwf_report_status")
