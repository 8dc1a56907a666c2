"""Start-up failures as one line that names the cause and the fix.

A partner who mistypes a database URL or starts a second server on a busy port
should read what to change, not a forty-line traceback. The command line turns
a :class:`StartupError` into that line on stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import typing as t

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .settings import ConfigError, database_url


class StartupError(RuntimeError):
    """Why a command cannot start, and what to do about it, in one line."""


def hidden(url: str) -> str:
    """A database URL fit for a message: the password replaced by ``***``."""

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def check_database_url(url: str, key: str, must_exist: bool = False) -> None:
    """Refuse a URL of a backend the package does not run on, or (``must_exist``) a missing SQLite file.

    A command that only reads (``outbox``, ``intake-export``) must not create an
    empty database and then report that nothing is in it.
    """

    database_url(key, url)
    parsed = make_url(url)
    if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = os.path.abspath(parsed.database)
        if not os.path.exists(path):
            raise StartupError(f"{key}: there is no database at {path}; point {key} at the one the server uses")


def describe(error: BaseException, database_key: str | None = None) -> str | None:
    """The one line for a failure at start-up, or None when it is not one this module knows."""

    if isinstance(error, StartupError):
        return str(error)
    if isinstance(error, ConfigError):
        fix = " (`iwf-widget init` writes a settings file with every required key)" if "required" in str(error) else ""
        return f"{error}{fix}"
    if isinstance(error, SQLAlchemyError):
        cause = getattr(error, "orig", None) or error
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        if "database is locked" in reason:  # SQLite: another process holds a lock that readers wait for too
            return f"cannot open the database ({reason}); another process holds it locked: try again when it is done"
        where = database_key or "the database URL"
        return f"cannot open the database ({reason}); start the database or fix {where}"
    if isinstance(error, ImportError):
        name = getattr(error, "name", None) or str(error)
        return (
            f"a module is missing ({name}); install the extra that needs it, "
            "e.g. pip install 'iwf-widget[postgres,redis]'"
        )
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return f"{error.strerror or 'address already in use'}; stop the program using that port or pass --port"
    if isinstance(error, OSError):
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    if isinstance(error, RuntimeError) and str(error):  # e.g. a database driver that is not installed
        return str(error).splitlines()[0]
    return None


@contextlib.contextmanager
def starting(database_key: str | None = None) -> t.Iterator[None]:
    """Turn what fails while a command starts into a :class:`StartupError` of one line."""
    try:
        yield
    except StartupError:
        raise
    except Exception as e:
        line = describe(e, database_key)
        if line is None:
            raise
        raise StartupError(line) from None
