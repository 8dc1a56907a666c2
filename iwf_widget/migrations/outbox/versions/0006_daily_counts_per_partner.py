"""Daily counters per partner: a hub's partners each see their own figures.

The counters gain the partner they were counted for. Rows from before this
revision counted every partner of the outbox together; they keep their
counts under the partner ``""``, which ``iwf-widget stats`` adds to the whole
deployment's figures and to no single partner's.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot change a primary key in place: batch mode copies the table.
    with op.batch_alter_table("iwf_daily_counts", recreate="always") as batch:
        batch.add_column(sa.Column("partner", sa.String(64), nullable=False, server_default=""))
        batch.drop_constraint("iwf_daily_counts_pkey", type_="primary")
        batch.create_primary_key("iwf_daily_counts_pkey", ["day", "partner", "name"])


def downgrade() -> None:
    conn = op.get_bind()
    counts = sa.table(
        "iwf_daily_counts",
        sa.column("day", sa.String),
        sa.column("partner", sa.String),
        sa.column("name", sa.String),
        sa.column("count", sa.BigInteger),
    )
    totals = conn.execute(
        sa.select(counts.c.day, counts.c.name, sa.func.sum(counts.c["count"])).group_by(counts.c.day, counts.c.name)
    ).all()
    conn.execute(counts.delete())
    with op.batch_alter_table("iwf_daily_counts", recreate="always") as batch:
        batch.drop_constraint("iwf_daily_counts_pkey", type_="primary")
        batch.drop_column("partner")
        batch.create_primary_key("iwf_daily_counts_pkey", ["day", "name"])
    plain = sa.table("iwf_daily_counts", sa.column("day"), sa.column("name"), sa.column("count"))
    if totals:
        conn.execute(plain.insert(), [{"day": d, "name": n, "count": int(c)} for d, n, c in totals])
