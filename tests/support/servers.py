"""Real PostgreSQL and Redis servers, and a scaled-out deployment of real processes.

The servers are Debian's (``apt-get install postgresql redis-server``), started
on free loopback ports in a temporary folder and removed afterwards. PostgreSQL
refuses to run as root, so as root its programs run as the ``postgres`` user.
Where the programs are missing the tests that need them are skipped, except in
CI (``CI=true``), where they must run.

A :class:`Deployment` is what a scaled-out partner runs: several ``iwf-widget
serve`` processes and ``iwf-widget forward --loop`` processes on one outbox,
and the reference intake, all through the command line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import httpx
import pytest

from support import partner
from support.browser import in_ci
from support.ports import free_port
from support.procs import FAST_FORWARDING, KEY, PARTNER, ROOT, Proc, wait_until

PG_USER = "postgres"
TOKEN = re.compile(r'name="iwf_token" value="([^"]+)"')
REFERENCE = re.compile(r'id="iwf-reference"[^>]*>([^<]+)<')


def unavailable(problem: str) -> t.NoReturn:
    """Skip here, fail in CI: there the servers are installed and the tests must run."""
    if in_ci():
        pytest.fail(f"cannot run in CI: {problem}")
    pytest.skip(problem)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's server programs (Debian keeps them off PATH)."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


class Postgres:
    """A throw-away PostgreSQL cluster: ``fsync`` off, for tests only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="iwf-pg-"))
        self.data = self.folder / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", PG_USER, "--", *args] if self.as_root else list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        done = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", PG_USER, "-E", "UTF8", "-N"
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr[-1000:]}")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        done = self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode:
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr[-500:]}\n{self.log()}")

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL (plain ``postgresql://``, as a deployment writes it)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class Redis:
    """A throw-away Redis that never writes to disk (``save ""``, ``appendonly no``) unless ``save`` is given."""

    def __init__(self, binary: str, save: str = "") -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="iwf-redis-"))
        log = open(self.folder / "server.log", "ab")
        self.popen = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                save,
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        client = self.client()
        if not wait_until(lambda: self._pings(client) or self.popen.poll() is not None, timeout=20):
            self.stop()
            raise RuntimeError("redis-server did not answer")
        if self.popen.poll() is not None:
            raise RuntimeError((self.folder / "server.log").read_text(errors="replace")[-1000:])

    @staticmethod
    def _pings(client: t.Any) -> bool:
        try:
            return bool(client.ping())
        except Exception:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> t.Any:
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _need_python(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        unavailable(f"the {module} package is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[Postgres]:
    """One PostgreSQL server for the session; each test makes its own databases."""
    _need_python("psycopg")
    bin_dir = postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL's server programs are not installed (apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        unavailable("running as root without runuser: PostgreSQL cannot be started")
    server = Postgres(bin_dir)
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


def redis_binary() -> str:
    _need_python("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    return binary


@pytest.fixture(scope="session")
def redis_server() -> t.Iterator[Redis]:
    server = Redis(redis_binary())
    yield server
    server.stop()


@pytest.fixture
def database(postgres, request):
    """A fresh PostgreSQL database for one test; call it with a name."""
    made = iter(range(100))

    def create(name: str) -> str:
        return postgres.create_database(f"{request.node.name[:40]}_{name}_{next(made)}".lower())

    return create


# -- a scaled-out deployment --------------------------------------------------


class Deployment:
    """Widget servers, forwarders and the intake as real processes sharing databases."""

    def __init__(
        self, tmp: Path, keypair: tuple[str, str], outbox_url: str, intake_db_url: str, **widget_env: str
    ) -> None:
        self.tmp = tmp
        self.intake_port = free_port()
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
        self.intake_env = {
            **base,
            "IWF_INTAKE_DB_URL": intake_db_url,
            "IWF_INTAKE_PRIVATE_KEY": keypair[0],
            "IWF_INTAKE_PARTNERS": json.dumps({PARTNER: [KEY]}),
        }
        self.widget_env = {
            **base,
            "IWF_WIDGET_PARTNER_ID": PARTNER,
            "IWF_WIDGET_INTAKE_URL": f"http://127.0.0.1:{self.intake_port}",
            "IWF_WIDGET_SIGNING_KEY": KEY,
            "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1],
            "IWF_WIDGET_OUTBOX_URL": outbox_url,
            "IWF_WIDGET_MIN_FILL_SECONDS": "0",
            "IWF_WIDGET_RATE_LIMIT": "off",
            "IWF_WIDGET_PARTNER_RATE_LIMIT": "off",
            **FAST_FORWARDING,
            **widget_env,
        }
        self.intake: Proc | None = None
        self.widgets: list[Proc] = []
        self.widget_urls: list[str] = []
        self.forwarders: list[subprocess.Popen[bytes]] = []
        self._logs: list[t.IO[bytes]] = []

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "iwf_widget.cli", *args]

    def start_intake(self) -> None:
        cmd = self._cli("intake", "--host", "127.0.0.1", "--port", str(self.intake_port))
        self.intake = Proc(
            "intake", cmd, self.intake_env, self.tmp / "intake.log", f"http://127.0.0.1:{self.intake_port}/healthz"
        )

    def restart_intake(self, hard: bool) -> None:
        """``kill -9`` (hard) or SIGTERM, then start it again on the same port."""
        assert self.intake is not None
        self.intake.kill() if hard else self.intake.stop()
        self.start_intake()

    def start_widgets(self, n: int, **env: str) -> list[str]:
        """``n`` more ``iwf-widget serve`` processes, started side by side; their /report URLs."""

        def one(i: int) -> tuple[Proc, str]:
            port = free_port()
            cmd = self._cli("serve", "--host", "127.0.0.1", "--port", str(port))
            url = f"http://127.0.0.1:{port}/report"
            return Proc(
                f"widget{i}", cmd, {**self.widget_env, **env}, self.tmp / f"widget{i}.log", f"{url}/healthz"
            ), url

        first = len(self.widgets)
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            started = list(pool.map(one, range(first, first + n)))
        self.widgets += [p for p, _ in started]
        self.widget_urls += [u for _, u in started]
        return [u for _, u in started]

    def start_forwarders(self, n: int, **env: str) -> None:
        """``n`` ``iwf-widget forward --loop`` processes on the same outbox."""
        for _ in range(n):
            log = open(self.tmp / f"forwarder{len(self.forwarders)}.log", "ab")
            self._logs.append(log)
            self.forwarders.append(
                subprocess.Popen(
                    self._cli("forward", "--loop"),
                    env={**self.widget_env, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=self.tmp,
                )
            )
        time.sleep(0.5)
        for p in self.forwarders:
            assert p.poll() is None, f"a forwarder exited: {self.logs()}"

    def logs(self) -> str:
        """The end of every process's log, for a failing assertion's message."""
        return "\n".join(
            f"== {path.name}\n{path.read_text(errors='replace')[-2000:]}" for path in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM to every process at once, then wait for each (SIGKILL after 15 s)."""
        servers = [*self.widgets, *([self.intake] if self.intake else [])]
        for popen in [*self.forwarders, *(proc.popen for proc in servers)]:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
        for p in self.forwarders:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for proc in servers:
            proc.stop()
        for log in self._logs:
            log.close()

    def export(self) -> list[dict[str, t.Any]]:
        """The intake's reports through ``iwf-widget intake-export``, as analysts get them."""
        out = subprocess.run(
            self._cli("intake-export"), env=self.intake_env, capture_output=True, text=True, timeout=120, cwd=self.tmp
        )
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def count_rows(url: str, table: str) -> int:
    """Rows in one table, read straight from the database (for polling)."""
    import psycopg

    with psycopg.connect(url) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- many reports at once -------------------------------------------------------


def answers(token: str, url: str, **over: str) -> dict[str, str]:
    return partner.answers(token, urls=url, **over)


async def _submit_all(
    widget_urls: t.Sequence[str], addresses: t.Sequence[str], concurrency: int
) -> list[tuple[int, str | None]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = [httpx.AsyncClient(base_url=u, timeout=60, limits=limits) for u in widget_urls]
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> tuple[int, str | None]:
        client = clients[i % len(clients)]
        async with gate:
            page = await client.get("/form", params={"lang": "en"})
            token = TOKEN.search(page.text)
            if token is None:
                return page.status_code, None
            r = await client.post("/form", params={"lang": "en"}, data=answers(token.group(1), addresses[i]))
            found = REFERENCE.search(r.text)
            return r.status_code, found.group(1).strip() if found else None

    try:
        return await asyncio.gather(*(one(i) for i in range(len(addresses))))
    finally:
        for c in clients:
            await c.aclose()


def submit_all(
    widget_urls: t.Sequence[str], addresses: t.Sequence[str], concurrency: int = 50
) -> list[tuple[int, str | None]]:
    """One report per address, spread over the servers, ``concurrency`` at a time; (status, reference) each."""
    return asyncio.run(_submit_all(widget_urls, addresses, concurrency))
