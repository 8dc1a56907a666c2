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


def _rekey(columns: list[str]) -> None:
    old = sa.inspect(op.get_bind()).get_pk_constraint(TABLE).get("name")
    # SQLite's key has no name: batch mode copies the table under the new key instead.
    with op.batch_alter_table(TABLE) as batch:
        if old:
            batch.drop_constraint(old, type_="primary")
        batch.create_primary_key(KEY, columns)


def upgrade() -> None:
    _rekey(["partner", "id"])


def downgrade() -> None:
    _rekey(["id"])
