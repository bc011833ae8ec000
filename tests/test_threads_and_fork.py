"""Batch work releases the GIL, uses the requested threads, and never deadlocks in forked workers."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import threading
import time

import pytest

import tokenprice

from conftest import CORPUS

DOCS = [t for t in CORPUS if t] * 40


def test_num_threads_gives_the_same_counts() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    one = enc.count_batch(DOCS, num_threads=1)
    assert enc.count_batch(DOCS, num_threads=2) == one
    assert enc.count_batch(DOCS, num_threads=7) == one
    assert enc.count_batch(DOCS) == one
    with pytest.raises(tokenprice.InvalidArgumentError, match="at least 1"):
        enc.count_batch(DOCS, num_threads=0)


def test_long_text_is_counted_in_parallel_exactly(reference) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(CORPUS) * 60  # > 1 MB: split across threads at safe places
    assert len(text.encode()) > 1 << 20
    enc = tokenprice.get_encoding("cl100k_base")
    expected = len(reference["cl100k_base"].encode_ordinary(text))
    assert enc.count(text, num_threads=2) == expected
    assert enc.count(text, num_threads=1) == expected


def test_the_gil_is_released_during_counting() -> None:
    # While one thread counts a large batch, another Python thread keeps running.
    enc = tokenprice.get_encoding("cl100k_base")
    big = DOCS * 30
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        enc.count_batch(big, num_threads=1)
    finally:
        done.set()
        t.join()
    assert ticks > 3, "the ticker thread never ran: counting held the GIL"


def _count_in_child(args: tuple[bytes, list[str]]) -> list[int | None]:
    enc = pickle.loads(args[0])
    return enc.count_batch(args[1], num_threads=2)  # type: ignore[no-any-return]


def test_forked_workers_do_not_deadlock() -> None:
    enc = tokenprice.get_encoding("o200k_base")
    expected = enc.count_batch(DOCS, num_threads=2)  # the parent's pool now exists
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        result = pool.map_async(_count_in_child, [(pickle.dumps(enc), DOCS)] * 4)
        got = result.get(timeout=120)  # a deadlock would time out here
    assert got == [expected] * 4


def test_encoding_pickles_by_name() -> None:
    enc = tokenprice.get_encoding("cl100k_base")
    clone = pickle.loads(pickle.dumps(enc))
    assert clone == enc and clone.name == "cl100k_base"
    assert clone.encode("hi") == enc.encode("hi")


def fork_while_pricing(forks: int, child_timeout: float = 30.0) -> dict[str, int]:
    """Forks `forks` times while another thread runs `price_table` over and over (GIL released), each run with
    new unknown and fine-tuned model names (so the price book's caches are being written at the forks). Each
    child prices one usage and a small table (with an unknown model), checks them and exits; a child that does
    not finish within `child_timeout` seconds is counted as hung and killed. Returns the counts of outcomes."""
    import datetime as dt
    import os
    import signal
    import warnings

    import pyarrow as pa

    rows = 100_000
    base = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash", "gpt-4o-mini"]
    names = [base[i % 4] for i in range(rows)]
    counts = pa.array(list(range(rows)), type=pa.int64())
    at = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    stop = threading.Event()
    runs = 0

    def price_forever() -> None:
        nonlocal runs
        while not stop.is_set():
            # 0.5% of rows: names never seen before (fine-tuned ids, typos), resolved and cached during the run.
            for k in range(0, rows, 200):
                names[k] = f"ft:gpt-4.1-mini:acme::{runs}-{k}" if k % 400 else f"gpt-4o-mini-{runs}-{k}"
            table = pa.table({"model": pa.array(names), "input_tokens": counts, "output_tokens": counts})
            tokenprice.price_table(table, default_at=at, keep_columns=False, num_threads=2)
            runs += 1

    small = pa.table({"model": ["gpt-4o", "no-such-model"], "input_tokens": [1_000_000, 5], "output_tokens": [0, 5]})
    usage = tokenprice.Usage(input_tokens=1_000_000)
    outcomes = {"ok": 0, "wrong": 0, "hung": 0, "died": 0}
    worker = threading.Thread(target=price_forever, daemon=True)
    worker.start()
    try:
        while runs == 0:  # the pool and the book's caches exist, and are in use from here on
            time.sleep(0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "fork() in a multi-threaded process": the point
            for _ in range(forks):
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        one = tokenprice.price(usage, "gpt-4o", at=at).total
                        got = tokenprice.price_table(small, default_at=at, num_threads=2)
                        status = got.column("status").to_pylist()
                        total = got.column("total_cost")[0].as_py()
                        code = 0 if one == total == 2.5 and status[0] is None and "no-such-model" in status[1] else 3
                    finally:
                        os._exit(code)
                deadline = time.monotonic() + child_timeout
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        code = os.waitstatus_to_exitcode(status)
                        outcomes["ok" if code == 0 else "wrong" if code == 3 else "died"] += 1
                        break
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        outcomes["hung"] += 1
                        break
                    time.sleep(0.002)
    finally:
        stop.set()
        worker.join()
    outcomes["runs"] = runs
    return outcomes


def test_children_forked_during_price_table_never_hang() -> None:
    # A fork while a worker held the price book's cache lock used to leave the child waiting for it forever (about
    # 1 fork in 200 here). In this process, 50 forks; `test_hostile_book.py` runs 200 in a child process.
    outcomes = fork_while_pricing(50, child_timeout=30.0)
    assert (outcomes["hung"], outcomes["died"], outcomes["wrong"]) == (0, 0, 0), outcomes
