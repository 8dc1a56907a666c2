"""Group commit: concurrent accepts share transactions, and each still learns its own outcome."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from iwf_widget.groupcommit import GroupCommit
from iwf_widget.outbox import Outbox


def run_threads(n: int, target) -> list:
    results: list = [None] * n
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = target(i)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return results


def test_concurrent_calls_are_batched_and_each_gets_its_own_result():
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        batches.append(items)
        time.sleep(0.02)  # a slow flush, during which others queue up
        return [i * 10 for i in items]

    group = GroupCommit(write)
    assert run_threads(20, group) == [i * 10 for i in range(20)]
    assert sorted(i for b in batches for i in b) == list(range(20))
    assert len(batches) < 20


def test_a_failed_write_fails_every_call_of_its_batch_and_only_those():
    calls = 0

    def write(items: list[int]) -> list[str]:
        nonlocal calls
        calls += 1
        time.sleep(0.01)
        if calls == 1:
            raise OSError("disk full")
        return ["ok"] * len(items)

    group = GroupCommit(write)
    results = run_threads(10, group)
    failed = [r for r in results if isinstance(r, OSError)]
    assert failed and all(r == "ok" for r in results if not isinstance(r, OSError))
    assert group(99) == "ok"  # the next call writes again


def test_batches_are_bounded_and_every_call_is_written():
    sizes: list[int] = []

    def write(items: list[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.005)
        return items

    group = GroupCommit(write, max_batch=3)
    assert run_threads(25, group) == list(range(25))
    assert max(sizes) <= 3


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(f"sqlite:///{tmp_path}/outbox.db")
    yield box
    box.close()


def test_concurrent_accepts_are_all_stored_once(outbox, tmp_path):
    expires = time.time() + 3600

    def accept(i: int):
        rid = f"{i:032x}"
        return outbox.accept(rid, "p", b"sealed-%d" % i, rid, expires)

    assert run_threads(40, accept) == [None] * 40
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("select count(*), count(distinct id) from iwf_outbox").fetchone() == (40, 40)
        assert db.execute("select count(*) from iwf_spent_tokens").fetchone() == (40,)


def test_a_replay_in_a_batch_spoils_nothing_for_the_others(outbox, tmp_path):
    """Half the threads send a token twice at the same moment (a double click)."""
    expires = time.time() + 3600

    def accept(i: int):
        rid = f"{i // 2:032x}" if i < 20 else f"{i:032x}"
        return outbox.accept(rid, "p", b"sealed", rid, expires)

    results = run_threads(40, accept)
    for pair in range(10):
        outcomes = sorted(results[2 * pair : 2 * pair + 2], key=str)
        assert outcomes[0] is None and outcomes[1] == f"report:{pair:032x}", outcomes
    assert results[20:] == [None] * 20
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("select count(*) from iwf_outbox").fetchone() == (30,)
    # and later replays still find the earlier outcome
    assert outbox.accept(f"{0:032x}", "p", b"again", f"{0:032x}", expires) == f"report:{0:032x}"


def _accept_from_process(url: str, first: int, count: int) -> None:
    box = Outbox(url)
    expires = time.time() + 3600
    ids = [f"{i:032x}" for i in range(first, first + count)]
    threads = [
        threading.Thread(target=lambda part=ids[k::4]: [box.accept(r, "p", b"s", r, expires) for r in part])
        for k in range(4)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    box.close()


@pytest.mark.slow
def test_processes_writing_one_outbox_take_turns_and_store_everything(tmp_path):
    import multiprocessing

    url = f"sqlite:///{tmp_path}/outbox.db"
    Outbox(url).close()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_accept_from_process, args=(url, n * 100, 100)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("select count(*), count(distinct id) from iwf_outbox").fetchone() == (300, 300)
