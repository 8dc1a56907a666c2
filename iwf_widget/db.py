"""One way to open a database, for the outbox and the intake alike.

SQLite gets WAL and ``synchronous=FULL`` (a report acknowledged to a person is
on disk). Writers begin with ``BEGIN IMMEDIATE`` so concurrent writers queue
instead of failing half-way; readers (:func:`reader`) begin deferred, which in
WAL mode never waits for a writer, and give up after a second if something
else holds the file (recovery, a tool with an exclusive lock) rather than 30.
A new SQLite file and the folder made for it are private to this user (0600
in 0700): SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the
database file's mode. PostgreSQL goes through psycopg 3 whatever driver the
URL names (a plain ``postgresql://`` URL would otherwise ask for psycopg2).
Schemas come from iwf_widget.migrations.
"""

from __future__ import annotations

import os
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

#: How long a SQLite writer waits for the write lock, and a reader for a busy file.
WRITER_BUSY_MS = 30000
READER_BUSY_MS = 1000


class MissingDatabase(FileNotFoundError):
    """``create=False`` and the SQLite file is not there."""


def create_engine(url: str, *, create: bool = True, busy_ms: int = WRITER_BUSY_MS) -> sa.Engine:
    """An engine for writing (and reading) ``url``; see :func:`reader` for reads alone.

    This is the one place a database comes into being: with ``create`` a
    missing SQLite file (and its folder) is made, privately; without it a
    missing file raises :class:`MissingDatabase`. ``busy_ms``: how long a SQLite writer
    waits for the write lock (a command a person runs may rather fail sooner).
    """
    # Parameters hold report content: keep them out of SQL logs and exception messages.
    parsed = make_url(url)
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return sa.create_engine(
            _psycopg(parsed), pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        path = os.path.abspath(parsed.database)
        if create:
            create_private_file(path)
        elif not os.path.exists(path):
            raise MissingDatabase(f"no database at {path}")
    return _sqlite_engine(url, begin="BEGIN IMMEDIATE", busy_ms=busy_ms)


def reader(engine: sa.Engine) -> sa.Engine:
    """An engine for reads only: on SQLite deferred and read-only (``query_only``), so it runs
    beside a writer and cannot become one; elsewhere ``engine``."""
    if engine.dialect.name != "sqlite":
        return engine
    return _sqlite_engine(engine.url, begin="BEGIN", busy_ms=READER_BUSY_MS, read_only=True)


def _sqlite_engine(url: str | URL, begin: str, busy_ms: int, read_only: bool = False) -> sa.Engine:
    engine = sa.create_engine(
        url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, hide_parameters=True
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let "begin" below decide
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        if read_only:
            cursor.execute("PRAGMA query_only=1")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)

    return engine


def private_folder(folder: str) -> None:
    """Make ``folder`` and any missing parents 0700, whatever the umask; an existing one is left as it is.

    Each missing folder is made with ``mkdir`` and then ``chmod`` (``mkdir``'s mode is
    cut by the umask); the process-wide umask is never changed, so other threads are
    unaffected.
    """
    folder = os.path.abspath(folder)
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            continue  # made meanwhile by another process: theirs to decide
        os.chmod(path, 0o700)


def create_private_file(path: str) -> None:
    """Create ``path`` empty, 0600 whatever the umask, in a private folder, unless it exists.

    SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files it makes beside a
    database the database file's own mode, so they are private too.
    """
    try:
        os.close(open_private(path, os.O_WRONLY | os.O_EXCL))
    except FileExistsError:
        return


def open_private(path: str, flags: int) -> int:
    """``os.open`` that creates a missing ``path`` 0600 whatever the umask, in a private folder.

    A file that already exists is opened as it is (``O_EXCL`` in ``flags``: refused).
    """
    private_folder(os.path.dirname(os.path.abspath(path)))
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if flags & os.O_EXCL:
            raise
        return os.open(path, flags)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        os.close(fd)
        raise
    return fd


def _psycopg(url: URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here; an explicit other driver is kept."""
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername == "postgresql+psycopg":
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            raise RuntimeError(
                f"a PostgreSQL database needs psycopg with libpq: pip install 'psycopg[binary]' ({e})"
            ) from None
    return url


def conflict_insert(conn: sa.Connection) -> t.Callable[[sa.Table], t.Any] | None:
    """The dialect's ``insert`` with ``ON CONFLICT`` (PostgreSQL's or SQLite's); None for others."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    return None


def upsert(conn: sa.Connection, table: sa.Table, values: t.Mapping[str, t.Any], key: str) -> None:
    """Insert a row, or update the one with the same ``key``, in one statement.

    Delete-then-insert is not enough when two writers run it at once: on
    PostgreSQL the second insert fails on the primary key.
    """
    insert = conflict_insert(conn)
    if insert is None:
        updated = conn.execute(table.update().where(table.c[key] == values[key]).values(**values))
        if not updated.rowcount:
            conn.execute(table.insert().values(**values))
        return
    statement = insert(table).values(**values)
    others = {name: statement.excluded[name] for name in values if name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=others))


def brief_error(error: BaseException) -> str:
    """A storage failure in one line fit for a public health check: the type, and SQLite's own
    message ("database is locked") or the system's ("No space left on device"); never SQL,
    parameters, file names or a database server's address."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, OSError):
        return f"{type(cause).__name__}: {cause.strerror or 'operating system error'}"
    if type(cause).__module__ == "sqlite3":
        lines = str(cause).strip().splitlines()
        if lines:
            return f"{type(error).__name__}: {lines[0][:200]}"
    return type(error).__name__
