"""Accepted reports, kept until the intake has acknowledged them.

The outbox holds ciphertext plus only what forwarding needs (id, partner,
minute-precision time, attempt state): never an address, a description, an IP
or a User-Agent. The same table records spent form tokens, written in the same
transaction as the report, so "stored" and "token used" can never disagree.

Every time it stores is a whole minute (a report's, a retry's, a lease's, a
token's expiry, the last forward): a time to the second of a first forwarding
attempt would say when the report was sent. Expiries and leases are rounded up,
never ending sooner than promised; a forwarder keeps finer delays in memory.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from . import migrations
from .db import WRITER_BUSY_MS, conflict_insert, create_engine, open_private, reader, upsert
from .groupcommit import GroupCommit
from .report import minute_up
from .writehealth import FORWARDING, PURGING, STORING, WriteHealth

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

metadata = sa.MetaData()

reports = sa.Table(
    "iwf_outbox",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("partner", sa.String(64), nullable=False),
    # Minute precision: an exact time helps link a report to a person.
    # 64 bits on every database (PostgreSQL's INTEGER would end in 2038).
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False, default=0.0),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    # The delay chosen at the last retry: a retry time further ahead than that was set by
    # a clock that has since gone back, and is due now. NULL before the first retry.
    sa.Column("retry_delay", sa.Float, nullable=True),
    sa.Index("iwf_outbox_due", "state", "next_attempt_at"),
)

spent_tokens = sa.Table(
    "iwf_spent_tokens",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("expires", sa.Float, nullable=False, index=True),
    # "report:<id>" when the token carried a stored report, else why it was refused.
    sa.Column("outcome", sa.String(80), nullable=False),
)

forward_state = sa.Table(
    "iwf_forward_state",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

#: Per day and partner, how many: ``report:<lang>`` (reports accepted in that language) and
#: ``exit:<kind>:js`` / ``exit:<kind>:nojs`` (people the scope step sent to other help).
#: The day (UTC) is the finest time kept; nothing in a row is about one person. Partner
#: ``""``: counted before revision 0006, for every partner of the outbox together.
daily_counts = sa.Table(
    "iwf_daily_counts",
    metadata,
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("name", sa.String(48), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("partner", sa.String(64), nullable=False, server_default=""),
    sa.PrimaryKeyConstraint("day", "partner", "name", name="iwf_daily_counts_pkey"),
)

#: Per report, what its status page shows: the state and the day it began, under a keyed
#: hash of the reference (status.py). Nothing here names a report or holds its contents.
report_status = sa.Table(
    "iwf_report_status",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Index("iwf_report_status_day", "day"),
)


def _insert_new(conn: sa.Connection, table: sa.Table) -> t.Any:
    """An insert that skips rows whose key is taken (SQLite and PostgreSQL, the databases supported)."""
    insert = conflict_insert(conn)
    return table.insert() if insert is None else insert(table).on_conflict_do_nothing()


def _cursor_name(partner: str) -> str:
    """Each partner's place in its outcomes (a hub's partners share the outbox), in 32 characters."""
    return "outcomes:" + hashlib.sha256(partner.encode("utf-8")).hexdigest()[:23] if partner else "outcomes_cursor"


def _today(now: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).strftime("%Y-%m-%d")


#: Where the scope step sends someone whose case is not a report for the hotline.
EXIT_KINDS = ("danger", "self", "adult", "other")
#: Status lookups by what the person was shown: an answer, or "please wait" (the limits).
#: Lookups refused for a typing mistake or a bad token are not counted: they are retried.
LOOKUP_COUNTS = ("answered", "limited")


def _add_counts(conn: sa.Connection, counts: t.Mapping[tuple[str, str], int], now: float | None = None) -> None:
    """Add to today's counters, ``{(partner, name): n}``, in the caller's transaction."""
    day = _today(now)
    c = daily_counts.c
    insert = conflict_insert(conn)
    for (partner, name), n in counts.items():
        if insert is not None:
            statement = insert(daily_counts).values(day=day, partner=partner, name=name, count=n)
            conn.execute(
                statement.on_conflict_do_update(index_elements=[c.day, c.partner, c.name], set_={"count": c.count + n})
            )
            continue
        mine = (c.day == day, c.partner == partner, c.name == name)
        updated = conn.execute(daily_counts.update().where(*mine).values(count=c.count + n))
        if not updated.rowcount:
            conn.execute(daily_counts.insert().values(day=day, partner=partner, name=name, count=n))


#: A retry time or lease further ahead than its own length plus this was set by a clock since
#: turned back (or by another host whose clock is off by more): it is not waited for.
CLOCK_SLACK = 60.0
#: The longest delay a forwarder chooses (the highest IWF_WIDGET_BACKOFF_MAX): the ceiling for
#: a row whose delay is not recorded (retried before revision 0002).
MAX_DELAY = 86400.0
#: The longest lease a forwarder takes (4 x the highest IWF_WIDGET_FORWARD_TIMEOUT + 5 s).
MAX_LEASE = 4 * 300.0 + 5


def _due(now: float) -> sa.ColumnElement[bool]:
    """Pending, its retry time reached, and not leased; a retry time or lease that lies further
    ahead than it could have been set (a clock that has since gone back) is not waited for."""
    c = reports.c
    return sa.and_(
        c.state == "pending",
        sa.or_(
            c.next_attempt_at <= now,
            sa.and_(
                c.next_attempt_at > now + CLOCK_SLACK,  # lets the index find these too
                c.next_attempt_at - sa.func.coalesce(c.retry_delay, MAX_DELAY) > now + CLOCK_SLACK,
            ),
        ),
        sa.or_(c.lease_until.is_(None), c.lease_until < now, c.lease_until > now + MAX_LEASE + CLOCK_SLACK),
    )


def _attempted(conn: sa.Connection, success: bool = False) -> None:
    """Record the minute of this exchange with the intake (and of this success)."""
    now = minute()
    for name in ("last_attempt", "last_success") if success else ("last_attempt",):
        upsert(conn, forward_state, {"name": name, "value": now}, "name")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return int(now // 60 * 60)


@dataclass(frozen=True)
class Pending:
    id: str
    sealed: bytes
    attempts: int


class _Accepted(t.NamedTuple):
    id: str
    partner: str
    sealed: bytes
    nonce: str
    nonce_expires: float
    created: int
    lang: str | None = None
    status_key: str | None = None


class _WriterQueue:
    """Processes writing one SQLite outbox take turns here rather than in SQLite.

    SQLite's busy handler sleeps up to 100 ms between tries for its write lock, so
    under load a report could wait that long with the lock already free; a waiter
    here starts the moment the writer before it has committed.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1  # opened on first use in each process
        self._pid: int | None = None
        # A file lock is held by an open file, not by a thread: threads take turns first.
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._pid != os.getpid():  # after a fork, a file of this process's own
                self._fd = open_private(self.path, os.O_RDWR)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: t.Any) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _writer_queue(engine: sa.Engine) -> t.ContextManager[t.Any]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or fcntl is None:
        return contextlib.nullcontext()
    return _WriterQueue(os.path.abspath(database) + "-writers")


class Outbox:
    def __init__(self, url: str, *, create: bool = True, write_wait: float | None = None) -> None:
        """Open the outbox at ``url``, bringing its schema up to date (see migrations).

        ``create=False`` refuses a SQLite file that is not there (db.MissingDatabase).
        ``write_wait``: seconds a write waits for SQLite's write lock (default
        db.WRITER_BUSY_MS). Reads (:meth:`stats`, :meth:`entries`, :meth:`spent`) go
        through a deferred, read-only engine and never wait for a writer.
        """
        self.url = url
        busy = WRITER_BUSY_MS if write_wait is None else int(write_wait * 1000)
        self.engine = create_engine(url, create=create, busy_ms=busy)
        self.reads = reader(self.engine)
        self.migrated = migrations.upgrade(self.engine, migrations.OUTBOX, self.reads)
        #: This process's recent write failures, for the health check.
        self.health = WriteHealth()
        self._writers = _writer_queue(self.engine)
        self._accept_group: GroupCommit[_Accepted, str | None | Exception] = GroupCommit(self._accept_queued)

    @contextlib.contextmanager
    def _failing(self, kind: str) -> t.Iterator[None]:
        """Record any failure of what runs inside as a failed write of ``kind``, and re-raise it."""
        try:
            yield
        except Exception as error:
            self.health.failed(kind, error)
            raise

    # -- the widget side ----------------------------------------------------

    def accept(
        self,
        report_id: str,
        partner: str,
        sealed: bytes,
        nonce: str,
        nonce_expires: float,
        lang: str | None = None,
        status_key: str | None = None,
    ) -> str | None:
        """Store a report and spend its token in one transaction.

        Returns None when stored, or the earlier outcome when the token was
        already spent (a replay, a double click): nothing is stored twice.
        Anything else that prevents storing raises, and then nothing is stored.
        Reports accepted at the same moment by this process's threads share
        that transaction (see groupcommit.py); each call returns once its
        report is committed, and nothing runs after that commit. ``lang``, when
        given, is added to the day's count of reports in that language;
        ``status_key`` (the first of status.StatusKeys.for_report) starts its status at ``received``.
        """
        item = _Accepted(report_id, partner, sealed, nonce, minute_up(nonce_expires), minute(), lang, status_key)
        with self._failing(STORING):
            outcome = self._accept_group(item)
            if isinstance(outcome, Exception):
                raise outcome
        if outcome is None:
            self.health.succeeded(STORING)
        return outcome

    def _accept_queued(self, batch: list[_Accepted]) -> list[str | None | Exception]:
        with self._writers:
            return self._accept_many(batch)

    def _accept_many(self, batch: list[_Accepted]) -> list[str | None | Exception]:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    spent_tokens.insert(),
                    [{"nonce": a.nonce, "expires": a.nonce_expires, "outcome": f"report:{a.id}"} for a in batch],
                )
                conn.execute(
                    reports.insert(),
                    [
                        {
                            "id": a.id,
                            "partner": a.partner,
                            "created": a.created,
                            "sealed": a.sealed,
                            "state": "pending",
                            "attempts": 0,
                            "next_attempt_at": 0.0,
                        }
                        for a in batch
                    ],
                )
                statuses = [{"key": a.status_key, "state": "received", "day": _today()} for a in batch if a.status_key]
                if statuses:
                    # Two references alike (55 bits) must never cost a report: the first status stays.
                    conn.execute(_insert_new(conn, report_status), statuses)
                languages = collections.Counter((a.partner, f"report:{a.lang}") for a in batch if a.lang)
                if languages:
                    _add_counts(conn, languages)
        except sa.exc.IntegrityError as error:
            if len(batch) > 1:  # a replay among them: each alone, so the others are still stored
                return [self._accept_alone(a) for a in batch]
            earlier = self._outcome(batch[0].nonce)
            if earlier is None:  # not a spent token: something else refused the row, and nothing is stored
                return [error]
            return [earlier]
        return [None] * len(batch)

    def _accept_alone(self, item: _Accepted) -> str | None | Exception:
        """One report of a batch in its own transaction: its own outcome, whatever befalls the others."""
        try:
            return self._accept_many([item])[0]
        except Exception as error:  # noqa: BLE001  this report's failure, not its batch-mates'
            return error

    def spend(self, nonce: str, expires: float, outcome: str) -> str | None:
        """Mark a token used without a report (honeypot, too fast); the earlier outcome if any."""
        with self._failing(STORING):
            try:
                with self.engine.begin() as conn:
                    conn.execute(spent_tokens.insert().values(nonce=nonce, expires=minute_up(expires), outcome=outcome))
            except sa.exc.IntegrityError:
                earlier = self._outcome(nonce)
                if earlier is None:
                    raise
                return earlier
        self.health.succeeded(STORING)
        return None

    def spent(self, nonce: str) -> str | None:
        """The outcome recorded for a token still within its expiry, if any."""
        with self.reads.connect() as conn:
            return conn.execute(
                sa.select(spent_tokens.c.outcome).where(
                    spent_tokens.c.nonce == nonce, spent_tokens.c.expires >= time.time()
                )
            ).scalar()

    def _outcome(self, nonce: str) -> str | None:
        """The outcome recorded for a token, expired or not (it is what made an insert clash)."""
        with self.reads.connect() as conn:
            return conn.execute(sa.select(spent_tokens.c.outcome).where(spent_tokens.c.nonce == nonce)).scalar()

    def purge_tokens(self, now: float | None = None) -> int:
        """Forget spent tokens past their expiry (the forwarder runs this once a minute)."""
        now = time.time() if now is None else now
        with self._failing(PURGING), self.engine.begin() as conn:
            result = conn.execute(spent_tokens.delete().where(spent_tokens.c.expires < now))
        self.health.succeeded(PURGING)
        return result.rowcount or 0

    # -- the forwarder side -------------------------------------------------

    def claim(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        skip: t.Collection[str] = (),
        partner: str | None = None,
    ) -> list[Pending]:
        """Lease up to ``limit`` due reports to ``owner``; others skip them until the lease ends.

        The lease ends at a whole minute, at least ``lease_seconds`` from now; ``skip``
        names reports the caller holds back itself; ``partner``, when given, is whose
        reports (a forwarder signs as one partner, and a hub's partners share an outbox).
        """
        now = time.time()
        c = reports.c
        mine = [c.partner == partner] if partner is not None else []
        due = (
            sa.select(c.id, c.sealed, c.attempts)
            .where(_due(now), *mine, *([c.id.not_in(list(skip))] if skip else []))
            .order_by(c.created, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._failing(FORWARDING), self.engine.begin() as conn:
            rows = conn.execute(due).all()
            if not rows:
                return []
            conn.execute(
                reports.update()
                .where(c.id.in_([r.id for r in rows]))
                .values(lease_owner=owner, lease_until=minute_up(now + lease_seconds))
            )
        self.health.succeeded(FORWARDING)
        return [Pending(r.id, r.sealed, r.attempts) for r in rows]

    def leases(self) -> list[str]:
        """The owners holding a lease now (to release those of a forwarder that died)."""
        c = reports.c
        with self.reads.connect() as conn:
            query = sa.select(c.lease_owner).where(c.lease_owner.is_not(None), c.lease_until >= time.time())
            return list(conn.execute(query.distinct()).scalars())

    def release(self, owners: t.Collection[str]) -> int:
        """End the leases of ``owners`` (forwarders known to be gone): their reports are due again."""
        if not owners:
            return 0
        c = reports.c
        with self._failing(FORWARDING), self.engine.begin() as conn:
            result = conn.execute(
                reports.update().where(c.lease_owner.in_(list(owners))).values(lease_owner=None, lease_until=None)
            )
        self.health.succeeded(FORWARDING)
        return result.rowcount or 0

    def ack(self, ids: t.Iterable[str], status_keys: t.Iterable[str] = ()) -> int:
        """The intake has these: delete them, whoever holds the lease.

        ``status_keys`` (every hash of their references) move from ``received`` to
        ``delivered`` in the same transaction.
        """
        ids = list(ids)
        if not ids:
            return 0
        keys = list(status_keys)
        with self._failing(FORWARDING), self.engine.begin() as conn:
            result = conn.execute(reports.delete().where(reports.c.id.in_(ids)))
            if keys:
                s = report_status.c
                conn.execute(
                    report_status.update()
                    .where(s.key.in_(keys), s.state == "received")
                    .values(state="delivered", day=_today())
                )
            _attempted(conn, success=True)
        self.health.succeeded(FORWARDING)
        return result.rowcount or 0

    def retry(self, ids: t.Iterable[str], owner: str, error: str, delay: float) -> None:
        """Release a lease after a failed attempt; due again after ``delay`` seconds.

        The retry time stored is the minute it falls in (other forwarders may try up to
        a minute early; the forwarder that set it holds back for the whole delay itself).
        """
        ids = list(ids)
        if not ids:
            return
        c = reports.c
        with self._failing(FORWARDING), self.engine.begin() as conn:
            conn.execute(
                reports.update()
                .where(c.id.in_(ids), c.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    attempts=c.attempts + 1,
                    next_attempt_at=minute(time.time() + delay),
                    retry_delay=delay,
                    last_error=error[:500],
                )
            )
            _attempted(conn)
        self.health.succeeded(FORWARDING)

    def fail(self, reasons: t.Mapping[str, str]) -> None:
        """The intake refused these for good: keep them, marked, for a person to look at."""
        with self._failing(FORWARDING), self.engine.begin() as conn:
            for report_id, reason in reasons.items():
                conn.execute(
                    reports.update()
                    .where(reports.c.id == report_id)
                    .values(state="failed", lease_owner=None, lease_until=None, last_error=reason[:500])
                )
            _attempted(conn)
        self.health.succeeded(FORWARDING)

    def expedite(self) -> int:
        """Make reports that wait out a backoff due now: the intake has just answered again."""
        c = reports.c
        now = time.time()
        with self._failing(FORWARDING), self.engine.begin() as conn:
            result = conn.execute(
                reports.update()
                .where(c.state == "pending", c.next_attempt_at > now, c.lease_owner.is_(None))
                .values(next_attempt_at=minute(now), retry_delay=0.0)
            )
        self.health.succeeded(FORWARDING)
        return result.rowcount or 0

    def requeue_failed(self) -> int:
        """Send failed reports again (after the cause was fixed)."""
        with self._failing(FORWARDING), self.engine.begin() as conn:
            result = conn.execute(
                reports.update()
                .where(reports.c.state == "failed")
                .values(state="pending", next_attempt_at=0.0, retry_delay=None, attempts=0)
            )
        self.health.succeeded(FORWARDING)
        return result.rowcount or 0

    # -- report statuses ----------------------------------------------------

    def status(self, keys: t.Sequence[str]) -> tuple[str, str] | None:
        """``(state, day)`` stored under any of ``keys``, if any: one primary-key read."""
        s = report_status.c
        with self.reads.connect() as conn:
            row = conn.execute(sa.select(s.state, s.day).where(s.key.in_(list(keys))).limit(1)).first()
        return (row[0], row[1]) if row else None

    def record_outcomes(
        self, outcomes: t.Sequence[tuple[t.Sequence[str], str, str]], cursor: int, partner: str = ""
    ) -> None:
        """Set each ``(keys, outcome, day)`` and move the outcomes cursor on, in one transaction.

        A report without a status row (stored by an earlier release, or expired) gets one
        under the first of its keys: the person can still learn the outcome.
        """
        s = report_status.c
        with self._failing(FORWARDING), self.engine.begin() as conn:
            for keys, outcome, day in outcomes:
                done = conn.execute(report_status.update().where(s.key.in_(list(keys))).values(state=outcome, day=day))
                if not done.rowcount:
                    conn.execute(report_status.insert().values(key=keys[0], state=outcome, day=day))
            f = forward_state.c
            name = _cursor_name(partner)
            held = conn.execute(sa.select(f.value).where(f.name == name)).scalar()
            if held is None or cursor > held:
                upsert(conn, forward_state, {"name": name, "value": float(cursor)}, "name")
        self.health.succeeded(FORWARDING)

    def outcomes_cursor(self, partner: str = "") -> int:
        """The number of the last outcome fetched from the intake for ``partner`` (0: none yet)."""
        f = forward_state.c
        with self.reads.connect() as conn:
            value = conn.execute(sa.select(f.value).where(f.name == _cursor_name(partner))).scalar()
        return int(value or 0)

    def purge_statuses(self, days: int, now: float | None = None) -> int:
        """Forget statuses whose state began more than ``days`` days ago."""
        now = time.time() if now is None else now
        cutoff = _today(now - days * 86400)
        with self._failing(PURGING), self.engine.begin() as conn:
            result = conn.execute(report_status.delete().where(report_status.c.day < cutoff))
        self.health.succeeded(PURGING)
        return result.rowcount or 0

    # -- daily counters -----------------------------------------------------

    def count_exit(self, kind: str, js: bool, partner: str = "") -> None:
        """Someone left ``partner``'s scope step for other help of ``kind`` (with or without JavaScript)."""
        if kind not in EXIT_KINDS:
            raise ValueError(kind)
        with self._writers, self.engine.begin() as conn:
            _add_counts(conn, {(partner, f"exit:{kind}:{'js' if js else 'nojs'}"): 1})

    def count_lookup(self, result: str, partner: str = "") -> None:
        """Someone checked on a report at ``partner``'s status page: ``answered`` or ``limited`` (asked to wait)."""
        if result not in LOOKUP_COUNTS:
            raise ValueError(result)
        with self._writers, self.engine.begin() as conn:
            _add_counts(conn, {(partner, f"lookup:{result}"): 1})

    def daily(self, partner: str | None = None) -> list[tuple[str, str, int]]:
        """Every counter, as (day, name, count), oldest day first: ``partner``'s, or all partners' added up."""
        c = daily_counts.c
        total = sa.func.sum(c["count"])
        query = sa.select(c.day, c.name, total).group_by(c.day, c.name).order_by(c.day, c.name)
        if partner is not None:
            query = query.where(c.partner == partner)
        with self.reads.connect() as conn:
            rows = conn.execute(query).all()
        return [(r[0], r[1], int(r[2])) for r in rows]

    # -- what is waiting ----------------------------------------------------

    def stats(self) -> dict[str, t.Any]:
        """Counts and ages for health and ``iwf-widget outbox``.

        A report whose creation minute lies in the future (the clock ran fast when it was
        accepted) has an unknown age: it counts as a minute old, never as 0, and
        ``outbox_pending_future`` says how many there are.
        """
        c = reports.c
        now = time.time()
        this_minute = minute(now)
        future = c.created > this_minute
        with self.reads.connect() as conn:
            rows = conn.execute(
                sa.select(
                    c.state,
                    sa.func.count(),
                    sa.func.min(sa.case((future, sa.null()), else_=c.created)),
                    sa.func.sum(sa.case((future, 1), else_=0)),
                ).group_by(c.state)
            ).all()
            times = dict(
                conn.execute(
                    sa.select(forward_state.c.name, forward_state.c.value).where(
                        forward_state.c.name.in_(["last_success", "last_attempt"])
                    )
                ).all()
            )
        by_state = {r[0]: (int(r[1]), r[2], int(r[3] or 0)) for r in rows}
        pending, oldest, in_future = by_state.get("pending", (0, None, 0))
        failed = by_state.get("failed", (0, None, 0))[0]
        if not pending:
            age = 0
        elif oldest is None:  # every one of them dated in the future
            age = 60
        else:
            age = max(60, minute_up(now) - int(oldest))
        last, attempt = (None if times.get(k) is None else minute(times[k]) for k in ("last_success", "last_attempt"))
        return {
            "outbox_pending": pending,
            "outbox_pending_future": in_future,
            "outbox_failed": failed,
            "oldest_pending_age_s": age,
            "last_forward_at": last,
            "last_forward": _iso(last) if last is not None else None,
            "last_attempt_at": attempt,
            "last_attempt": _iso(attempt) if attempt is not None else None,
        }

    def entries(self, state: str | None = None) -> list[dict[str, t.Any]]:
        """Routing metadata only, for ``iwf-widget outbox``; never the sealed report.

        ``next_attempt_at`` is 0 for a report that is due now, whatever clock set it.
        """
        c = reports.c
        now = time.time()
        due = sa.case((_due(now), 0.0), else_=c.next_attempt_at)
        query = sa.select(c.id, c.partner, c.created, c.state, c.attempts, due.label("next_attempt_at"), c.last_error)
        if state:
            query = query.where(c.state == state)
        with self.reads.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(c.created, c.id))]

    def close(self) -> None:
        self.engine.dispose()
        self.reads.dispose()
