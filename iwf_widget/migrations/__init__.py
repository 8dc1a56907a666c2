"""Versioned schemas: the outbox's and the intake's, each its own Alembic history.

Every process that opens a database brings it to the newest revision before
using it (:func:`upgrade`), and ``iwf-widget migrate`` does the same on
demand. The check is a plain read when the database is already current, so a
start-up never waits behind a writer for nothing; only an actual change takes
the lock (a transaction-scoped advisory lock on PostgreSQL, SQLite's write
lock via ``BEGIN IMMEDIATE``), and whoever gets it second finds the work done.

A database made before schemas were versioned has the tables but no version
table: it is stamped at the baseline revision (which is exactly that schema)
and then upgraded like any other.

To change a schema, add a revision to ``outbox/versions/`` or
``intake/versions/`` (see docs/DEPLOYMENT.md, "Upgrades").
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

#: Any constant shared by every process that migrates (``iwf`` in ASCII).
SCHEMA_LOCK = 0x697766

log = logging.getLogger(__name__)
# Alembic narrates every step at INFO; what was done is logged here, once, instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

#: Alembic's ``context`` and ``op`` are module-level proxies: one migration at a time per process.
_alembic = threading.Lock()

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Schema:
    name: str
    #: Distinct per schema, so an outbox and an intake may share one database.
    version_table: str
    #: A table the baseline created: present without a version table means "made before versioning".
    marker_table: str
    baseline: str

    @property
    def folder(self) -> str:
        return os.path.join(HERE, self.name)

    def config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", self.folder)
        config.attributes["schema"] = self
        return config

    def scripts(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())


OUTBOX = Schema("outbox", "iwf_outbox_version", "iwf_outbox", "0001")
INTAKE = Schema("intake", "iwf_intake_version", "iwf_intake_reports", "0001")
SCHEMAS = {s.name: s for s in (OUTBOX, INTAKE)}


def current(connection: sa.Connection, schema: Schema) -> str | None:
    """The revision the database is at; None when it has no version table."""
    context = MigrationContext.configure(connection, opts={"version_table": schema.version_table})
    return context.get_current_revision()


def head(schema: Schema) -> str:
    revision = schema.scripts().get_current_head()
    assert revision is not None
    return revision


def upgrade(engine: sa.Engine, schema: Schema, reads: sa.Engine | None = None) -> list[str]:
    """Bring the database to the newest revision; say what was done (empty: nothing to do).

    ``reads`` (db.reader's engine for the same database) checks the revision
    first without waiting for any writer; the lock is taken only when work is due.
    """
    newest = head(schema)
    with (reads or engine).connect() as conn:
        at = current(conn, schema)
        conn.rollback()
    if at == newest:
        return []
    with _alembic, engine.begin() as conn:
        # SQLite: db.py begins writers with BEGIN IMMEDIATE, which is the lock.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        done = _upgrade_locked(conn, schema, newest)
    for line in done:
        # Creating a new database is routine (a first start); changing an existing one is news.
        log.log(logging.DEBUG if "empty database" in line else logging.INFO, "%s", line)
    return done


def _upgrade_locked(conn: sa.Connection, schema: Schema, newest: str) -> list[str]:
    done: list[str] = []
    at = current(conn, schema)  # again: another process may have migrated while we waited
    if at == newest:
        return done
    if at is None and sa.inspect(conn).has_table(schema.marker_table):
        _stamp(conn, schema, schema.baseline)
        done.append(f"{schema.name}: tables from before schema versioning found; stamped at {schema.baseline}")
        at = schema.baseline
        if at == newest:
            return done
    scripts = schema.scripts()
    steps = [s.revision for s in reversed(list(scripts.iterate_revisions(newest, at or "base")))]
    _run(conn, schema, newest)
    done.append(f"{schema.name}: upgraded {at or 'empty database'} -> {newest} ({', '.join(steps)})")
    return done


def _stamp(conn: sa.Connection, schema: Schema, revision: str) -> None:
    context = MigrationContext.configure(conn, opts={"version_table": schema.version_table})
    context.stamp(schema.scripts(), revision)


def _run(conn: sa.Connection, schema: Schema, target: str) -> None:
    config = schema.config()
    config.attributes["connection"] = conn  # env.py runs in the caller's locked transaction
    command.upgrade(config, target)
