"""Scale-out on real PostgreSQL and Redis servers: several widget servers and forwarders, one intake.

What a large partner or a hub runs behind a load balancer must keep every
promise of a single server: each report at the intake exactly once, a form
token good for one report whichever server it reaches, limits that follow a
client from server to server, and nothing in Redis that names a client.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
import sqlalchemy as sa
from support.procs import wait_until
from support.servers import (
    REFERENCE,
    TOKEN,
    Deployment,
    answers,
    count_rows,
    database,  # noqa: F401  (fixture)
    postgres,  # noqa: F401  (fixture)
    redis_server,  # noqa: F401  (fixture)
    submit_all,
)

from iwf_widget.intake.store import Store
from iwf_widget.intake.validate import Report
from iwf_widget.outbox import Outbox, reports
from iwf_widget.ratelimit import ClientKeys, Limiter


def _stored(box: Outbox, n: int, prefix: str = "") -> list[str]:
    ids = [f"{prefix}{i:032x}"[-32:] for i in range(n)]
    for i, report_id in enumerate(ids):
        assert (
            box.accept(report_id, "test-partner", bytes([i % 256]) * 40, f"nonce-{prefix}{i}", time.time() + 600)
            is None
        )
    return ids


def _report(report_id: str) -> Report:
    return Report(report_id, "test-partner", "en", 1767225600, ["https://example.com/x"], "images", "website", "", "")


# -- the database layer on PostgreSQL -------------------------------------------


def test_plain_postgresql_urls_use_psycopg_3(database):
    box = Outbox(database("outbox"))
    assert box.engine.dialect.name == "postgresql"
    assert box.engine.dialect.driver == "psycopg"
    box.close()


def test_columns_read_back_as_written(database):
    """Bytes stay bytes, times keep their fraction, minutes go past 2038."""
    box = Outbox(database("outbox"))
    sealed = bytes(range(256)) * 3
    assert box.accept("a" * 32, "test-partner", sealed, "n-a", time.time() + 600) is None
    with box.engine.begin() as conn:
        conn.execute(reports.update().values(created=4102444800, next_attempt_at=1767225600.123456))
        row = conn.execute(sa.select(reports)).one()
    assert type(row.sealed) is bytes and row.sealed == sealed
    assert row.created == 4102444800 and type(row.created) is int
    assert row.next_attempt_at == 1767225600.123456
    with box.engine.begin() as conn:
        conn.execute(reports.update().values(next_attempt_at=0.0))
    claimed = box.claim("me", 10, 30)
    assert [(p.id, p.sealed, p.attempts) for p in claimed] == [("a" * 32, sealed, 0)]
    box.retry(["a" * 32], "me", "intake down", 0.0)
    assert box.entries()[0]["attempts"] == 1 and box.entries()[0]["last_error"] == "intake down"
    box.close()


def test_schema_is_created_once_when_servers_start_together(database):
    outbox_url, intake_url = database("outbox"), database("intake")
    barrier = threading.Barrier(8)

    def start(i: int) -> None:
        barrier.wait()
        (Outbox(outbox_url) if i % 2 else Store(intake_url)).close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(start, range(8)))  # raises if any start-up failed
    assert count_rows(outbox_url, "iwf_outbox") == 0 and count_rows(intake_url, "iwf_intake_reports") == 0


def test_a_claim_skips_rows_another_forwarder_holds(database):
    box = Outbox(database("outbox"))
    ids = _stored(box, 10)
    other = box.engine.connect()
    held = other.begin()
    other.execute(sa.select(reports.c.id).where(reports.c.id.in_(ids[:4])).with_for_update())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        claim = pool.submit(box.claim, "second", 10, 30)
        try:
            claimed = claim.result(timeout=10)  # does not wait for the locked rows
        finally:
            held.rollback()
            other.close()
    assert sorted(p.id for p in claimed) == sorted(ids[4:])
    assert sorted(p.id for p in box.claim("third", 10, 30)) == sorted(ids[:4])
    box.close()


def test_concurrent_claims_share_the_outbox_without_overlap(database):
    url = database("outbox")
    box = Outbox(url)
    ids = _stored(box, 300)
    boxes = [Outbox(url) for _ in range(6)]
    claimed: list[str] = []
    lock = threading.Lock()

    def forwarder(i: int) -> None:
        while True:
            got = boxes[i].claim(f"f{i}", 7, 30)
            if not got:
                return
            with lock:
                claimed.extend(p.id for p in got)
            boxes[i].ack([p.id for p in got])  # every forwarder records "last success" at once

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(forwarder, range(6)))
    assert sorted(claimed) == sorted(ids), "each report claimed by exactly one forwarder"
    assert box.stats()["outbox_pending"] == 0 and box.stats()["last_forward"]
    for b in [box, *boxes]:
        b.close()


def test_intake_stores_a_report_once_when_two_batches_race(database):
    url = database("intake")
    stores = [Store(url) for _ in range(4)]
    batch = [_report(f"{i:032x}") for i in range(50)]
    barrier = threading.Barrier(4)

    def put(store: Store) -> dict[str, str]:
        barrier.wait()
        return {k: r.status for k, r in store.put("test-partner", batch).items()}

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(put, stores))
    for report in batch:
        statuses = sorted(r[report.id] for r in results)
        assert statuses == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert stores[0].count() == 50
    for s in stores:
        s.close()


def test_a_token_spent_through_one_server_is_spent_for_all(database):
    url = database("outbox")
    first, second = Outbox(url), Outbox(url)
    assert first.accept("c" * 32, "test-partner", b"x", "shared-nonce", time.time() + 600) is None
    assert second.accept("d" * 32, "test-partner", b"y", "shared-nonce", time.time() + 600) == "report:" + "c" * 32
    assert second.spend("honeypot-nonce", time.time() + 600, "refused:honeypot") is None
    assert first.spent("honeypot-nonce") == "refused:honeypot"
    assert second.stats()["outbox_pending"] == 1
    first.close()
    second.close()


# -- Redis: shared hashing key and limits ---------------------------------------


def test_servers_hash_a_client_alike_through_redis(redis_server, monkeypatch):  # noqa: F811
    redis = redis_server.client()
    redis.flushdb()
    one, two = ClientKeys(redis_url=redis_server.url), ClientKeys(redis_url=redis_server.url)
    assert one("198.51.100.7") == two("198.51.100.7") != one("198.51.100.8")
    assert ClientKeys()("198.51.100.7") != one("198.51.100.7"), "without Redis each process has its own key"
    (name,) = redis.keys("iwf-widget:client-key:*")
    assert 0 < redis.ttl(name) <= 86400 + 300, "the key expires with its day"
    # Redis restarted without persistence: the servers agree on one key again.
    monkeypatch.setattr("iwf_widget.ratelimit.REFRESH_SECONDS", 0.0)
    redis.flushdb()
    before = one("198.51.100.7")
    assert two("198.51.100.7") == before == one("198.51.100.7")


def test_limits_allow_reports_while_redis_is_down():
    from support.ports import free_port

    limiter = Limiter("1/hour", "1/hour", "test-partner", storage_uri=f"redis://127.0.0.1:{free_port()}/0")
    assert limiter.hit("198.51.100.7") is None
    assert limiter.hit("198.51.100.7") is None


# -- real processes ---------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path, keypair, database):
    made: list[Deployment] = []

    def make(**widget_env: str) -> Deployment:
        d = Deployment(tmp_path, keypair, database("outbox"), database("intake"), **widget_env)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def test_two_servers_on_one_postgresql_outbox_deliver_200_reports_exactly_once(deployment):
    system = deployment()
    system.start_intake()
    widgets = system.start_widgets(2)  # each forwards in a thread of its own
    addresses = [f"https://example.com/pair/{i}" for i in range(200)]
    results = submit_all(widgets, addresses)
    assert [s for s, _ in results] == [200] * 200
    intake_db = system.intake_env["IWF_INTAKE_DB_URL"]
    assert wait_until(lambda: count_rows(intake_db, "iwf_intake_reports") >= 200, timeout=60), system.logs()
    rows = system.export()
    assert len(rows) == 200 and len({r["id"] for r in rows}) == 200
    assert sorted(r["urls"][0] for r in rows) == sorted(addresses)
    assert {r["reference"] for r in rows} == {ref for _, ref in results}
    outbox = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    assert wait_until(lambda: count_rows(outbox, "iwf_outbox") == 0, timeout=20)


def test_three_servers_three_forwarders_3000_reports_through_two_intake_restarts(deployment):
    system = deployment(IWF_WIDGET_FORWARDER="off")
    system.start_intake()
    widgets = system.start_widgets(3)
    system.start_forwarders(3, IWF_WIDGET_FORWARD_TIMEOUT="5")
    intake_db = system.intake_env["IWF_INTAKE_DB_URL"]
    outbox = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    restarts: list[int] = []
    done = threading.Event()

    def restart_twice() -> None:
        for threshold, hard in ((700, True), (1700, False)):
            while not done.is_set() and count_rows(intake_db, "iwf_intake_reports") < threshold:
                time.sleep(0.1)
            if done.is_set():
                return
            system.restart_intake(hard=hard)
            restarts.append(count_rows(intake_db, "iwf_intake_reports"))

    restarter = threading.Thread(target=restart_twice)
    restarter.start()
    try:
        addresses = [f"https://example.com/scale/{i}" for i in range(3000)]
        started = time.monotonic()
        results = submit_all(widgets, addresses, concurrency=50)
        submitted_in = time.monotonic() - started
        assert [s for s, _ in results].count(200) == 3000, sorted(set(s for s, _ in results))
        arrived = wait_until(lambda: count_rows(intake_db, "iwf_intake_reports") >= 3000, timeout=90, every=0.5)
        assert arrived, f"{count_rows(intake_db, 'iwf_intake_reports')} at the intake\n{system.logs()}"
    finally:
        done.set()
        restarter.join()
    assert len(restarts) == 2 and restarts[0] < 3000, f"the intake restarted at {restarts}"
    assert wait_until(lambda: count_rows(outbox, "iwf_outbox") == 0, timeout=30), "outbox not empty"
    rows = system.export()
    assert len(rows) == 3000
    assert len({r["id"] for r in rows}) == 3000, "no report twice"
    assert sorted(r["urls"][0] for r in rows) == sorted(addresses)
    assert {r["reference"] for r in rows} == {ref for _, ref in results}
    for url in widgets:
        assert system_health(url)["outbox_pending"] == 0
    print(f"3000 reports submitted in {submitted_in:.1f} s; intake restarted at {restarts}")


def system_health(widget_url: str) -> dict:
    import httpx

    return httpx.get(f"{widget_url}/healthz", timeout=10).json()


def test_a_token_used_on_one_server_is_refused_on_another(deployment):
    import httpx

    system = deployment(IWF_WIDGET_FORWARDER="off")
    one, two = system.start_widgets(2)
    outbox = system.widget_env["IWF_WIDGET_OUTBOX_URL"]
    with httpx.Client(timeout=10) as http:
        token = TOKEN.search(http.get(f"{one}/form").text).group(1)
        first = http.post(f"{one}/form", data=answers(token, "https://example.com/first"))
        reference = REFERENCE.search(first.text).group(1)
        replay = http.post(f"{two}/form", data=answers(token, "https://example.com/replayed"))
        assert replay.status_code == 200, "a double click is told its report is safe..."
        assert REFERENCE.search(replay.text).group(1) == reference, "...under the same reference"
        assert count_rows(outbox, "iwf_outbox") == 1, "the replay stored nothing"

        trap = TOKEN.search(http.get(f"{two}/form").text).group(1)
        caught = http.post(f"{two}/form", data=answers(trap, "https://example.com/bot", homepage="x"))
        assert caught.status_code == 400
        again = http.post(f"{one}/form", data=answers(trap, "https://example.com/bot"))
        assert again.status_code == 400 and not REFERENCE.search(again.text)
        assert count_rows(outbox, "iwf_outbox") == 1


def test_a_client_limited_on_one_server_is_limited_on_the_other(deployment, redis_server):  # noqa: F811
    import httpx

    redis = redis_server.client()
    redis.flushdb()
    system = deployment(
        IWF_WIDGET_FORWARDER="off",
        IWF_WIDGET_REDIS_URL=redis_server.url,
        IWF_WIDGET_RATE_LIMIT="8/hour",  # a report without proof-of-work counts 4
        IWF_WIDGET_PARTNER_RATE_LIMIT="1000/hour",
        IWF_WIDGET_TRUSTED_PROXIES="1",
    )
    one, two = system.start_widgets(2)
    person, other = "198.51.100.73", "203.0.113.201"

    def send(http: httpx.Client, widget: str, address: str) -> int:
        headers = {"X-Forwarded-For": address}
        token = TOKEN.search(http.get(f"{widget}/form", headers=headers).text).group(1)
        return http.post(f"{widget}/form", data=answers(token, "https://example.com/l"), headers=headers).status_code

    with httpx.Client(timeout=10) as http:
        assert send(http, one, person) == 200
        assert send(http, two, person) == 200
        assert send(http, one, person) == 429
        assert send(http, two, person) == 429, "the limit followed the client to the other server"
        assert send(http, two, other) == 200, "another client is not affected"
    keys = [k.decode() for k in redis.keys("*")]
    assert any("iwf-client" in k for k in keys) and any("iwf-partner" in k for k in keys)
    stored = " ".join(keys)
    for name in keys:
        kind = redis.type(name).decode()
        if kind == "list":
            stored += " " + " ".join(v.decode("latin-1") for v in redis.lrange(name, 0, -1))
        elif kind == "string":
            stored += " " + redis.get(name).decode("latin-1")
    for address in (person, other):
        assert address not in stored
