"""Where the intake keeps reports: once each, by partner and id, one transaction per batch.

The table holds what the person wrote and what routing needs (partner,
language, minute-precision times) and nothing that could identify them: no
IP address, User-Agent, referrer or cookie column exists to be filled.
"""

from __future__ import annotations

import json
import time
import typing as t
from datetime import datetime, timezone

import sqlalchemy as sa

from .. import migrations
from ..db import create_engine, reader
from ..protocol import ACCEPTED, DUPLICATE, Result
from ..reference import for_report
from .validate import Report

metadata = sa.MetaData()

reports = sa.Table(
    "iwf_intake_reports",
    metadata,
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("locale", sa.String(8), nullable=False),
    # Both times to the minute: an exact time helps link a report to a person.
    # 64 bits on every database (PostgreSQL's INTEGER would end in 2038).
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False),
    sa.Column("urls", sa.Text, nullable=False),  # a JSON list
    sa.Column("content_kind", sa.String(16), nullable=False),
    sa.Column("where_seen", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("contact_email", sa.String(254), nullable=False),
    # The reference the person was given (compact, 12 characters): what they and a case system quote.
    sa.Column("reference", sa.String(12), nullable=True),
    # Ids are the partner's own: one partner's id never blocks, or reveals, another's report.
    sa.PrimaryKeyConstraint("partner", "id", name="iwf_intake_reports_pkey"),
    sa.Index("iwf_intake_received", "received", "id"),
    sa.Index("iwf_intake_reference", "reference"),
)

#: One assessment outcome per report, with the day it was set (no finer time) and a number
#: that only grows: a partner fetches the outcomes of its reports after the last number it saw.
outcomes = sa.Table(
    "iwf_intake_outcomes",
    metadata,
    sa.Column("partner", sa.String(64), nullable=False),
    sa.Column("id", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("partner", "id", name="iwf_intake_outcomes_pkey"),
    sa.UniqueConstraint("seq", name="iwf_intake_outcomes_seq"),
    sa.Index("iwf_intake_outcomes_partner_seq", "partner", "seq"),
)

#: What an analyst may conclude about a report (protocol.OUTCOMES).
OUTCOME_LOCK = 0x69776F  # "iwo": outcome writers take turns on PostgreSQL


class Ambiguous(LookupError):
    """Two stored reports share a reference (55 bits: rare, but possible); name the partner."""

    def __init__(self, reference: str, partners: t.Sequence[str]) -> None:
        self.partners = list(partners)
        super().__init__(reference)


class Store:
    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open the intake's database, bringing its schema up to date (see migrations).

        ``create=False`` refuses a SQLite file that is not there (db.MissingDatabase).
        """
        self.engine = create_engine(url, create=create)
        self.reads = reader(self.engine)
        self.migrated = migrations.upgrade(self.engine, migrations.INTAKE, self.reads)

    def put(
        self, partner: str, batch: t.Sequence[Report], adjusted: t.Container[str] = frozenset()
    ) -> dict[str, Result]:
        """Store what is new in one transaction; say per id whether it was new.

        A report already held for the same partner is a ``duplicate`` (a retry);
        an id is the partner's own, so the same id from another partner is a
        different report, stored beside the first.
        ``adjusted`` names reports whose ``created`` the intake replaced with the
        minute it received them (the partner's clock was wrong).
        """
        if not batch:
            return {}
        received = int(time.time() // 60 * 60)
        for attempt in range(3):
            try:
                return self._put(partner, batch, received, adjusted)
            except sa.exc.IntegrityError:
                # Another batch stored one of these ids between our read and insert
                # (databases that do not serialize writers): read again and redo.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _put(
        self, partner: str, batch: t.Sequence[Report], received: int, adjusted: t.Container[str]
    ) -> dict[str, Result]:
        ids = [r.id for r in batch]
        results: dict[str, Result] = {}
        with self.engine.begin() as conn:
            held = _held(conn, partner, ids)
            rows = []
            for r in batch:
                if r.id in held:
                    results[r.id] = Result(r.id, DUPLICATE)
                    continue
                rows.append(_row(r, received, r.id in adjusted))
                results[r.id] = Result(r.id, ACCEPTED)
            if rows:
                conn.execute(reports.insert(), rows)
        return results

    def held(self, partner: str, ids: t.Sequence[str]) -> set[str]:
        """Which of ``ids`` this partner has already delivered (cheap: the primary key)."""
        if not ids:
            return set()
        with self.engine.connect() as conn:
            return _held(conn, partner, ids)

    def find(self, code: str, partner: str | None = None) -> tuple[str, str] | None:
        """``(partner, id)`` of the report whose compact reference is ``code``; None if unknown.

        Raises :class:`Ambiguous` when reports of several partners share it and
        ``partner`` does not choose one.
        """
        c = reports.c
        query = sa.select(c.partner, c.id).where(c.reference == code)
        if partner is not None:
            query = query.where(c.partner == partner)
        with self.engine.connect() as conn:
            rows = [(r[0], r[1]) for r in conn.execute(query.limit(10))]
        if len(rows) > 1:
            raise Ambiguous(code, sorted({r[0] for r in rows}))
        return rows[0] if rows else None

    def set_outcome(self, partner: str, report_id: str, outcome: str, now: float | None = None) -> int:
        """Record (or change) a report's outcome; its new sequence number.

        Writers take turns (SQLite's write lock; an advisory lock on PostgreSQL), so
        numbers are committed in order and a partner reading after number N never
        misses one committed later with a smaller number.
        """
        day = iso(int(time.time() if now is None else now))[:10]
        o = outcomes.c
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(OUTCOME_LOCK)))
            seq = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(o.seq), 0))).scalar() or 0) + 1
            changed = conn.execute(
                outcomes.update()
                .where(o.partner == partner, o.id == report_id)
                .values(outcome=outcome, day=day, seq=seq)
            )
            if not changed.rowcount:
                conn.execute(outcomes.insert().values(partner=partner, id=report_id, outcome=outcome, day=day, seq=seq))
        return seq

    def outcome(self, partner: str, report_id: str) -> tuple[str, str] | None:
        """``(outcome, day)`` of one report, if one was set."""
        o = outcomes.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(o.outcome, o.day).where(o.partner == partner, o.id == report_id)).first()
        return (row[0], row[1]) if row else None

    def outcomes_since(self, partner: str, since: int, limit: int) -> list[tuple[int, str, str, str]]:
        """``(seq, id, outcome, day)`` of this partner's outcomes numbered after ``since``, in order."""
        o = outcomes.c
        query = (
            sa.select(o.seq, o.id, o.outcome, o.day)
            .where(o.partner == partner, o.seq > since)
            .order_by(o.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(query)]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(reports)).scalar() or 0)

    def figures(self) -> t.Iterator[tuple[str, str, int, int]]:
        """(partner, locale, created, received) of every stored report, for the statistics."""
        c = reports.c
        with self.reads.connect() as conn:
            result = conn.execution_options(yield_per=5000).execute(
                sa.select(c.partner, c.locale, c.created, c.received)
            )
            for row in result:
                yield (row[0], row[1], int(row[2]), int(row[3]))

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def export(self, batch: int = 1000) -> t.Iterator[dict[str, t.Any]]:
        """Every stored report, oldest first, as plain JSON-ready dicts."""
        from ..addresses import readable

        c = reports.c
        query = sa.select(reports).order_by(c.received, c.id)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(query)
            for row in result.mappings():
                yield {
                    "id": row["id"],
                    "reference": for_report(row["id"]),
                    "partner": row["partner"],
                    "locale": row["locale"],
                    "created": iso(row["created"]),
                    "received": iso(row["received"]),
                    "urls": (urls := json.loads(row["urls"])),
                    # International domains as people read them; "urls" holds what browsers request.
                    "urls_readable": [readable(u) for u in urls],
                    "content_kind": row["content_kind"],
                    "where_seen": row["where_seen"],
                    "description": row["description"],
                    "contact_email": row["contact_email"],
                }

    def close(self) -> None:
        self.engine.dispose()
        self.reads.dispose()


def _held(conn: sa.Connection, partner: str, ids: t.Sequence[str]) -> set[str]:
    """Which of ``ids`` this partner has already delivered (the primary key answers it)."""
    c = reports.c
    return set(conn.execute(sa.select(c.id).where(c.partner == partner, c.id.in_(list(ids)))).scalars())


def _row(r: Report, received: int, adjusted: bool = False) -> dict[str, t.Any]:
    return {
        "id": r.id,
        "partner": r.partner,
        "locale": r.locale,
        "created": r.created,
        "received": received,
        "urls": json.dumps(r.urls, ensure_ascii=False),
        "content_kind": r.content_kind,
        "where_seen": r.where_seen,
        "description": r.description,
        "contact_email": r.contact_email,
        "reference": for_report(r.id).replace("-", ""),
    }


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
