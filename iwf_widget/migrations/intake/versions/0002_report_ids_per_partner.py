"""A report id is unique per partner: the primary key becomes (partner, id).

Under 0001 the id alone was the key, so a partner that knew (or guessed) an id
another partner had used could have its own report refused, and could learn
from the refusal that the id was taken. Stored reports are kept as they are:
every one of them already has a different id.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "iwf_intake_reports"
KEY = "iwf_intake_reports_pkey"


def _unkeyed() -> sa.Table:
    """The table as 0001 made it, without its key: what SQLite's batch mode copies."""
    return sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("urls", sa.Text, nullable=False),
        sa.Column("content_kind", sa.String(16), nullable=False),
        sa.Column("where_seen", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Index("iwf_intake_received", "received", "id"),
    )


def _rekey(columns: list[str]) -> None:
    old = sa.inspect(op.get_bind()).get_pk_constraint(TABLE).get("name")
    # SQLite's key has no name: batch mode copies the table under the new key instead.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(TABLE, copy_from=_unkeyed() if sqlite else None) as batch:
        if old:
            batch.drop_constraint(old, type_="primary")
        batch.create_primary_key(KEY, columns)


def upgrade() -> None:
    _rekey(["partner", "id"])


def downgrade() -> None:
    _rekey(["id"])
