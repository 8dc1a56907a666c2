"""One way to open a database, for the outbox and the intake alike.

SQLite gets WAL and ``synchronous=FULL`` (a report acknowledged to a person is
on disk) and ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing
half-way. PostgreSQL goes through psycopg 3 whatever driver the URL names (a
plain ``postgresql://`` URL would otherwise ask for psycopg2), and creates its
schema under an advisory lock, so several servers may start at once.
"""
from __future__ import annotations

import os
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

#: Any constant shared by every process that creates the schema (``iwf`` in ASCII).
SCHEMA_LOCK = 0x697766


def create_engine(url: str) -> sa.Engine:
    # Parameters hold report content: keep them out of SQL logs and exception messages.
    parsed = make_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return sa.create_engine(
            _psycopg(parsed), pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        folder = os.path.dirname(os.path.abspath(parsed.database))
        os.makedirs(folder, mode=0o700, exist_ok=True)  # a new folder for reports admits no other user
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let "begin" below decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _psycopg(url: URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here; an explicit other driver is kept."""
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername == "postgresql+psycopg":
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            raise RuntimeError(
                f"a PostgreSQL database needs psycopg with libpq: pip install 'iwf-widget[postgres]' ({e})"
            ) from None
    return url


def create_schema(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Create missing tables and indexes; safe when several processes start at once.

    ``CREATE TABLE`` racing itself on PostgreSQL fails on a catalog unique
    index, so the first process takes an advisory lock for the length of the
    transaction and the others find the tables there when they get it.
    """
    if engine.dialect.name != "postgresql":
        metadata.create_all(engine)
        return
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        metadata.create_all(conn)


def upsert(conn: sa.Connection, table: sa.Table, values: t.Mapping[str, t.Any], key: str) -> None:
    """Insert a row, or update the one with the same ``key``, in one statement.

    Delete-then-insert is not enough when two writers run it at once: on
    PostgreSQL the second insert fails on the primary key.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:
        updated = conn.execute(table.update().where(table.c[key] == values[key]).values(**values))
        if not updated.rowcount:
            conn.execute(table.insert().values(**values))
        return
    statement = insert(table).values(**values)
    others = {name: statement.excluded[name] for name in values if name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=others))


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"
