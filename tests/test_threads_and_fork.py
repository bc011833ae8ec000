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
