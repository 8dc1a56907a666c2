"""Each retry keeps the delay that was chosen for it; every stored time is a whole minute.

The delay lets a forwarder see that a retry time lies further ahead than it
could have been set (the clock that set it has since gone back) and send the
report now. Times written by earlier releases to the second or finer (retry
times, leases, spent-token expiries, the last forward) are rounded the way the
code now writes them: retry times and the last forward down, leases and
expiries up (never sooner than promised). Queued reports are kept as they are.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _down(value: float) -> float:
    return float(math.floor(value / 60) * 60)


def _up(value: float) -> float:
    return float(math.ceil(value / 60) * 60)


def upgrade() -> None:
    with op.batch_alter_table("iwf_outbox") as batch:
        batch.add_column(sa.Column("retry_delay", sa.Float, nullable=True))
    conn = op.get_bind()
    outbox = sa.table(
        "iwf_outbox",
        sa.column("id", sa.String),
        sa.column("next_attempt_at", sa.Float),
        sa.column("lease_until", sa.Float),
    )
    for row in conn.execute(sa.select(outbox.c.id, outbox.c.next_attempt_at, outbox.c.lease_until)).all():
        due = _down(row.next_attempt_at)
        lease = None if row.lease_until is None else _up(row.lease_until)
        if due != row.next_attempt_at or lease != row.lease_until:
            conn.execute(outbox.update().where(outbox.c.id == row.id).values(next_attempt_at=due, lease_until=lease))
    tokens = sa.table("iwf_spent_tokens", sa.column("nonce", sa.String), sa.column("expires", sa.Float))
    for spent in conn.execute(sa.select(tokens.c.nonce, tokens.c.expires)).all():
        if _up(spent.expires) != spent.expires:
            conn.execute(tokens.update().where(tokens.c.nonce == spent.nonce).values(expires=_up(spent.expires)))
    state = sa.table("iwf_forward_state", sa.column("name", sa.String), sa.column("value", sa.Float))
    for entry in conn.execute(sa.select(state.c.name, state.c.value)).all():
        if _down(entry.value) != entry.value:
            conn.execute(state.update().where(state.c.name == entry.name).values(value=_down(entry.value)))


def downgrade() -> None:
    with op.batch_alter_table("iwf_outbox") as batch:
        batch.drop_column("retry_delay")
