"""Versioned schemas: a new database comes up at the newest revision, an old one is upgraded in place.

The upgrade test runs the previous release itself (built from git history into
a throw-away virtualenv) to leave reports queued in its outbox and stored in
its intake, then serves and forwards them with this code.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from support.cli import succeeds
from support.procs import ROOT, System, wait_until
from support.servers import database, postgres  # noqa: F401  (fixtures)
from support.venvs import clean_venv

from iwf_widget import migrations
from iwf_widget import outbox as outbox_module
from iwf_widget.db import create_engine
from iwf_widget.intake import store
from iwf_widget.intake.store import Store
from iwf_widget.outbox import Outbox

#: The last release whose schemas were made with ``create_all``, without a version table.
PREVIOUS_RELEASE = "b428095"

SCHEMAS = [(migrations.OUTBOX, outbox_module.metadata), (migrations.INTAKE, store.metadata)]


def _version(url: str, schema: migrations.Schema) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migrations.current(conn, schema)
    finally:
        engine.dispose()


def _at_baseline_without_version(url: str, schema: migrations.Schema) -> None:
    """What the previous release left: the baseline's tables, and no version table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        migrations._run(conn, schema, schema.baseline)
        conn.exec_driver_sql(f"DROP TABLE {schema.version_table}")
    engine.dispose()


def test_a_new_outbox_and_intake_start_at_the_newest_revision(tmp_path):
    url = f"sqlite:///{tmp_path}/both.db"
    box = Outbox(url)
    intake = Store(url)  # one database may hold both: the version tables differ
    assert box.migrated and intake.migrated
    box.close(), intake.close()
    assert _version(url, migrations.OUTBOX) == migrations.head(migrations.OUTBOX)
    assert _version(url, migrations.INTAKE) == migrations.head(migrations.INTAKE)
    assert Outbox(url).migrated == [] and Store(url).migrated == []  # the second start has nothing to do


@pytest.mark.parametrize(("schema", "metadata"), SCHEMAS, ids=["outbox", "intake"])
def test_the_newest_revision_is_the_schema_the_code_uses(tmp_path, schema, metadata):
    url = f"sqlite:///{tmp_path}/{schema.name}.db"
    engine = create_engine(url)
    migrations.upgrade(engine, schema)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": schema.version_table})
        drift = [
            d
            for d in compare_metadata(context, metadata)
            if d[0] != "remove_table" or d[1].name != schema.version_table
        ]
    engine.dispose()
    assert drift == [], "add a revision for this change (docs/DEPLOYMENT.md, Upgrades)"


def test_a_database_from_before_versioning_is_stamped_at_baseline_then_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    for schema, _ in SCHEMAS:
        _at_baseline_without_version(url, schema)
    box = Outbox(url)
    assert box.migrated[0].startswith("outbox: tables from before schema versioning found; stamped at 0001")
    intake = Store(url)
    assert intake.migrated[0].startswith("intake: tables from before schema versioning found; stamped at 0001")
    box.close(), intake.close()
    assert _version(url, migrations.OUTBOX) == migrations.head(migrations.OUTBOX)


@pytest.mark.slow  # waits on real locks, workers or a large body: not in --fast
def test_migrate_command_says_what_it_did(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IWF_WIDGET_OUTBOX_URL": f"sqlite:///{tmp_path}/o.db",
        "IWF_INTAKE_DB_URL": f"sqlite:///{tmp_path}/i.db",
    }

    def migrate(*args: str) -> str:
        return succeeds(env, "migrate", *args).stdout

    assert "outbox: upgraded empty database -> " in migrate()
    assert "nothing to do" in migrate()
    assert "intake: upgraded empty database -> " in migrate("--intake")
    _at_baseline_without_version(f"sqlite:///{tmp_path}/legacy.db", migrations.OUTBOX)
    env["IWF_WIDGET_OUTBOX_URL"] = f"sqlite:///{tmp_path}/legacy.db"
    assert "stamped at 0001" in migrate()


@pytest.mark.postgres
def test_servers_starting_together_on_postgresql_migrate_once(database):  # noqa: F811
    outbox_url, intake_url = database("outbox"), database("intake")
    script = (
        "import sys\n"
        "from iwf_widget.outbox import Outbox\nfrom iwf_widget.intake.store import Store\n"
        "o, i = Outbox(sys.argv[1]), Store(sys.argv[2])\n"
        "print(len(o.migrated), len(i.migrated))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, outbox_url, intake_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    did = [tuple(map(int, out.split())) for out, _ in results]
    assert sum(o for o, _ in did) == 1 and sum(i for _, i in did) == 1  # one process did the work, once
    for url, schema in ((outbox_url, migrations.OUTBOX), (intake_url, migrations.INTAKE)):
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT version_num FROM {schema.version_table}")).all()
        engine.dispose()
        assert [r[0] for r in rows] == [migrations.head(schema)]


# -- the previous release, then this one -----------------------------------------


@pytest.fixture(scope="module")
def previous_release() -> t.Iterator[str]:
    """The previous release's ``python``: its code from git, installed into a temporary venv."""
    folder = Path(tempfile.mkdtemp(prefix="iwf-previous-"))
    source, venv = folder / "src", folder / "venv"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE], capture_output=True, timeout=60)
    if archive.returncode:
        pytest.skip(f"the previous release is not in this checkout's history: {archive.stderr.decode()[:200]}")
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True, timeout=60)
    python = clean_venv(venv)
    wheels = folder / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        timeout=300,
    )
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl"))], check=True, timeout=300
    )
    where = subprocess.run(
        [python, "-c", "import iwf_widget; print(iwf_widget.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
        cwd=folder,
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # the old code, not this checkout
    yield python
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.slow
def test_reports_queued_by_the_previous_release_are_delivered_once_after_the_upgrade(
    tmp_path, keypair, previous_release
):
    # The previous release: two reports delivered, three left queued (its forwarder off).
    old = System(tmp_path, keypair, python=previous_release)
    try:
        old.start_intake()
        old.start_widget()
        delivered = [old.submit() for _ in range(2)]
        assert len(old.wait_for_reports(2)) == 2
        old.procs.pop("widget").stop()
        old.widget_env["IWF_WIDGET_FORWARDER"] = "off"
        old.start_widget()
        queued = [old.submit() for _ in range(3)]
        assert old.health()["outbox_pending"] == 3
    finally:
        old.stop_all()
    assert migrations.OUTBOX.version_table not in _tables(tmp_path / "outbox.db")
    assert migrations.INTAKE.version_table not in _tables(tmp_path / "intake.db")

    # This release on the same files: both schemas upgraded in place, the queue delivered.
    new = System(tmp_path, keypair)
    try:
        new.start_intake()
        new.start_widget()
        assert wait_until(lambda: new.health()["outbox_pending"] == 0, timeout=30)
        stored = new.export()
        assert sorted(r["reference"] for r in stored) == sorted(delivered + queued)  # every report, once
        assert len({r["id"] for r in stored}) == 5
        assert new.health()["outbox_failed"] == 0
        assert migrations.OUTBOX.version_table in _tables(tmp_path / "outbox.db")
        assert migrations.INTAKE.version_table in _tables(tmp_path / "intake.db")
        assert "outbox: tables from before schema versioning found; stamped at 0001" in new.procs["widget"].output()
        assert "intake: tables from before schema versioning found; stamped at 0001" in new.procs["intake"].output()
    finally:
        new.stop_all()


@pytest.mark.postgres
def test_an_intake_on_postgresql_at_0001_is_rekeyed_per_partner_with_its_reports_intact(database):  # noqa: F811
    url = database("intake")
    engine = create_engine(url)
    with engine.begin() as conn:
        migrations._run(conn, migrations.INTAKE, "0001")
        key = sa.inspect(conn).get_pk_constraint(store.reports.name)
        assert key["constrained_columns"] == ["id"]  # 0001's key, under PostgreSQL's own name
        row = {
            "partner": "partner-a",
            "locale": "fr",
            "created": 1767225600,
            "received": 1767225600,
            "urls": "[]",
            "content_kind": "videos",
            "where_seen": "forum",
            "description": "",
            "contact_email": "",
        }
        conn.execute(store.reports.insert(), [{**row, "id": f"{n:032x}"} for n in range(3)])
    engine.dispose()

    intake = Store(url)
    assert intake.migrated and intake.migrated[0].startswith("intake: upgraded 0001 -> ")
    assert [r["id"] for r in intake.export()] == [f"{n:032x}" for n in range(3)]
    engine = create_engine(url)
    with engine.begin() as conn:
        assert sa.inspect(conn).get_pk_constraint(store.reports.name)["constrained_columns"] == ["partner", "id"]
        # Another partner may now use an id partner-a has used; partner-a may not use it twice.
        conn.execute(store.reports.insert(), {**row, "partner": "partner-b", "id": f"{0:032x}"})
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(store.reports.insert(), {**row, "id": f"{0:032x}"})
    engine.dispose()
    intake.close()


def _migrate(url: str, schema: migrations.Schema, target: str, down: bool = False) -> None:
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = schema.config()
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, target)
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_daily_counters_from_0005_keep_their_counts_and_queued_reports_stay_queued(tmp_path, request, kind):
    url = f"sqlite:///{tmp_path}/outbox.db" if kind == "sqlite" else request.getfixturevalue("database")("outbox")
    _migrate(url, migrations.OUTBOX, "0005")
    engine = create_engine(url)
    with engine.begin() as conn:
        queued = sa.Table("iwf_outbox", sa.MetaData(), autoload_with=conn)
        conn.execute(
            queued.insert().values(
                id="r1", partner="p", created=0.0, sealed=b"x", state="pending", attempts=0, next_attempt_at=0.0
            )
        )
        counts = sa.Table("iwf_daily_counts", sa.MetaData(), autoload_with=conn)
        conn.execute(
            counts.insert(),
            [
                {"day": "2026-11-30", "name": "report:fr", "count": 3},
                {"day": "2026-11-30", "name": "exit:adult:js", "count": 1},
            ],
        )
    engine.dispose()

    box = Outbox(url)
    try:
        assert box.migrated == ["outbox: upgraded 0005 -> 0006 (0006)"]
        before = [("2026-11-30", "exit:adult:js", 1), ("2026-11-30", "report:fr", 3)]
        assert box.daily() == before and box.daily("") == before, "counted before partners were kept apart"
        assert box.daily("p") == []
        with box.engine.begin() as conn:
            outbox_module._add_counts(conn, {("p", "report:fr"): 2}, now=1796040000)  # 2026-11-30, 12:00 UTC
        assert box.daily() == [("2026-11-30", "exit:adult:js", 1), ("2026-11-30", "report:fr", 5)]
        assert box.daily("p") == [("2026-11-30", "report:fr", 2)]
        assert box.stats()["outbox_pending"] == 1
    finally:
        box.close()

    # Back to 0005: one counter per day and name again, the partners' counts added up.
    _migrate(url, migrations.OUTBOX, "0005", down=True)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT day, name, count FROM iwf_daily_counts ORDER BY name")).all()
        assert [tuple(r) for r in rows] == [("2026-11-30", "exit:adult:js", 1), ("2026-11-30", "report:fr", 5)]
        assert conn.execute(sa.text("SELECT count(*) FROM iwf_outbox")).scalar() == 1
    engine.dispose()
