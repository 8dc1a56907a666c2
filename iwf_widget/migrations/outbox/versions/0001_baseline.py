"""Baseline: the outbox as the releases before versioning created it.

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
        "iwf_outbox",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("iwf_outbox_due", "iwf_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "iwf_spent_tokens",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(80), nullable=False),
    )
    op.create_index("ix_iwf_spent_tokens_expires", "iwf_spent_tokens", ["expires"])
    op.create_table(
        "iwf_forward_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("iwf_forward_state")
    op.drop_table("iwf_spent_tokens")
    op.drop_table("iwf_outbox")
