"""Assessment outcomes, and each report's reference, so that a reference finds its report.

The reference is derived from the report id (reference.for_report), so the
reports already stored get theirs here. An outcome is kept per report, with the
day it was set and a sequence number: a partner asks for the outcomes of its
own reports set after the last number it saw.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from iwf_widget.reference import for_report

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("iwf_intake_reports") as batch:
        batch.add_column(sa.Column("reference", sa.String(12), nullable=True))
    conn = op.get_bind()
    reports = sa.table(
        "iwf_intake_reports", sa.column("partner", sa.String), sa.column("id", sa.String), sa.column("reference")
    )
    rows = conn.execute(sa.select(reports.c.partner, reports.c.id).where(reports.c.reference.is_(None))).all()
    for row in rows:
        conn.execute(
            reports.update()
            .where(reports.c.partner == row.partner, reports.c.id == row.id)
            .values(reference=for_report(row.id).replace("-", ""))
        )
    op.create_index("iwf_intake_reference", "iwf_intake_reports", ["reference"])
    op.create_table(
        "iwf_intake_outcomes",
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("partner", "id", name="iwf_intake_outcomes_pkey"),
        sa.UniqueConstraint("seq", name="iwf_intake_outcomes_seq"),
        sa.Index("iwf_intake_outcomes_partner_seq", "partner", "seq"),
    )


def downgrade() -> None:
    op.drop_table("iwf_intake_outcomes")
    op.drop_index("iwf_intake_reference", "iwf_intake_reports")
    with op.batch_alter_table("iwf_intake_reports") as batch:
        batch.drop_column("reference")
