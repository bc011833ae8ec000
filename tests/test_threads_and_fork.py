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


def _outcome_of_child(pid: int, timeout: float) -> str:
    """How a forked child ended: "ok" (exit 0), "wrong" (exit 3: a wrong answer), "died", or "hung" (still running
    after `timeout` seconds: killed)."""
    import os
    import signal

    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "ok" if code == 0 else "wrong" if code == 3 else "died"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "hung"
        time.sleep(0.002)


def fork_while_pricing(forks: int, child_timeout: float = 30.0) -> dict[str, int]:
    """Forks `forks` times while another thread runs `price_table` over and over (GIL released), each run with
    new unknown and fine-tuned model names (so the price book's caches are being written at the forks). Each
    child prices one usage and a small table (with an unknown model), checks them and exits; a child that does
    not finish within `child_timeout` seconds is counted as hung and killed. Returns the counts of outcomes."""
    import datetime as dt
    import os
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
                outcomes[_outcome_of_child(pid, child_timeout)] += 1
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


def fork_during_first_use(forks: int, child_timeout: float = 30.0) -> dict[str, int]:
    """For a fresh interpreter, right after `import tokenprice`: forks `forks` times while other threads make their
    first calls — the first `count_tokens` of several encodings (each built, and each thread's piece cache made),
    the first `price_table`, `price` and `extract_usage` (the Decimal and datetime classes looked up), and threads
    that count once and exit, over and over (per-thread state made and torn down at every fork). Each child counts
    on a new thread, prices and reads a record under `child_timeout`. Returns the counts of outcomes."""
    import datetime as dt
    import os
    import warnings

    import pyarrow as pa

    at = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    table = pa.table({"model": ["gpt-4o", "no-such-model"], "input_tokens": [1_000_000, 5], "output_tokens": [0, 5]})
    usage = tokenprice.Usage(input_tokens=1_000_000)
    record = {"model": "gpt-4o", "created": 1748736000, "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0}}
    stop = threading.Event()

    def counts_once(name: str) -> None:
        tokenprice.count_tokens(["hello world", "more text"], encoding=name, num_threads=2)

    def churn() -> None:  # short-lived threads: each makes its own per-thread state, then drops it on exit
        names = ["cl100k_base", "o200k_base", "r50k_base", "p50k_base"]
        i = 0
        while not stop.is_set():
            t = threading.Thread(target=counts_once, args=(names[i % 4],))
            t.start()
            t.join()
            i += 1

    def prices() -> None:
        while not stop.is_set():
            tokenprice.price_table(table, default_at=at, num_threads=2)
            tokenprice.price(usage, "gpt-4o", at=at)
            assert tokenprice.extract_usage(record).timestamp == at

    def check() -> int:
        out: list[int] = []
        thread = threading.Thread(target=lambda: out.append(tokenprice.count_tokens("hello world", model="gpt-4o")))
        thread.start()
        thread.join()
        got = tokenprice.price_table(table, default_at=at, num_threads=2)
        total = got.column("total_cost")[0].as_py()
        one = tokenprice.price(usage, "gpt-4o", at=at).total
        when = tokenprice.extract_usage(record).timestamp
        counted = tokenprice.get_encoding("cl100k_base").count_batch(["hello world"] * 3, num_threads=2)
        right = out == [2] and one == total == 2.5 and when == at and counted == [2, 2, 2]
        return 0 if right else 3

    outcomes = {"ok": 0, "wrong": 0, "hung": 0, "died": 0}
    workers = [threading.Thread(target=f, daemon=True) for f in (churn, churn, prices)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "fork() in a multi-threaded process": the point
        try:
            for w in workers:
                w.start()
            for i in range(forks):
                time.sleep(0.0005 * (i % 7))  # the first forks land inside the first calls
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        code = check()
                    finally:
                        os._exit(code)
                outcomes[_outcome_of_child(pid, child_timeout)] += 1
        finally:
            stop.set()
            for w in workers:
                w.join()
    return outcomes
