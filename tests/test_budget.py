"""Budgets and rate limits per label: reservations checked and settled atomically, in one process (MemoryStore)
and across processes through a real redis-server (Debian's package, started on a free port by the fixture and
stopped after; with CI=true a missing server fails the run). Concurrent callers never overshoot a limit by more
than the sum of (actual − estimate); windows reset; an unreachable Redis fails closed or open as chosen."""

from __future__ import annotations

import multiprocessing
import random
import re
import shutil
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from redis_server import RedisServer

import tokenprice
from tokenprice import Budget, MemoryStore, RateLimit, RedisStore


def redis_exe() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        # Under CI=true the skip becomes a failure (tests/conftest.py): the Makefile installs redis-server.
        pytest.skip("redis-server is not installed (apt-get install -y redis-server; `make test` does it)")
    return exe


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(redis_exe(), tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


class Stores:
    """Fresh stores of one kind: in process (the core's) or Redis (the Lua script), with a prefix of their own."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.request = request
        self.n = 0

    def __call__(self) -> dict[str, Any]:
        self.n += 1
        if self.kind == "memory":
            return {"store": MemoryStore()}
        server: RedisServer = self.request.getfixturevalue("redis_server")
        return {"store": RedisStore(server.client()), "prefix": f"{self.request.node.name}:{self.n}"}


@pytest.fixture(params=["memory", "redis"])
def stores(request: pytest.FixtureRequest) -> Stores:
    """Every case below runs on both stores: the same decisions, reservation for reservation."""
    return Stores(request.param, request)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_reservation_is_checked_then_settled_with_the_actual_cost(stores: Stores) -> None:
    budget = Budget({"tenant": "1.00/day", ("tenant", "feature"): "0.50/hour"}, **stores())
    acme = {"tenant": "acme", "feature": "search"}
    first = budget.check(acme, Decimal("0.40"))
    assert first and first.remaining == Decimal("0.10") and first.limit == "tenant+feature 0.50/hour"
    denied = budget.check(acme, Decimal("0.20"))
    assert not denied and denied.remaining == Decimal("0.10")
    assert denied.resets_at is not None and denied.resets_at.minute == 0 and denied.resets_at.second == 0
    budget.record(first, Decimal("0.25"))  # 0.15 given back
    assert budget.check(acme, Decimal("0.20")).remaining == Decimal("0.05")
    # Another feature has its own hourly limit but shares the tenant's day.
    other = budget.check({"tenant": "acme", "feature": "chat"}, Decimal("0.50"))
    assert other and other.remaining == Decimal(0) and other.limit == "tenant+feature 0.50/hour"
    day = budget.check({"tenant": "acme", "feature": "rerank"}, Decimal("0.10"))
    assert not day and day.remaining == Decimal("0.05") and day.limit == "tenant 1.00/day"
    # No limit applies without the labels it names.
    assert budget.check({"user": "u1"}, Decimal("100")).remaining is None


def test_estimates_and_costs_are_taken_as_they_come(stores: Stores) -> None:
    budget = Budget({"tenant": "0.01/day"}, **stores())
    e = tokenprice.estimate({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100})
    assert e.high is not None
    d = budget.check({"tenant": "t"}, e)
    assert d.remaining == Decimal("0.01") - e.high.total
    budget.record(d, e.low)
    assert budget.check({"tenant": "t"}, Decimal(0)).remaining == Decimal("0.01") - e.low.total
    no_limit = tokenprice.estimate({"model": "gpt-4o", "messages": []})
    assert no_limit.high is not None  # the context window bounds it
    with pytest.raises(TypeError, match="estimate="):
        budget.check({"tenant": "t"})


def test_a_fixed_window_resets_and_a_sliding_window_fades(stores: Stores) -> None:
    clock = Clock(time.time() // 3600 * 3600 + 1800)  # half past this hour (Redis expires keys by its own clock)
    fixed = Budget({"tenant": "1.00/hour"}, clock=clock, **stores())
    assert fixed.check({"tenant": "a"}, Decimal("1.00"))
    assert not fixed.check({"tenant": "a"}, Decimal("0.01"))
    clock.t += 1800  # the next hour
    assert fixed.check({"tenant": "a"}, Decimal("1.00"))

    clock = Clock(time.time() // 3600 * 3600 + 3599)  # the last second of an hour
    sliding = Budget({"tenant": "1.00/hour"}, window="sliding", clock=clock, **stores())
    assert sliding.check({"tenant": "a"}, Decimal("1.00"))
    clock.t += 1  # a new window, but the previous one still weighs fully
    assert not sliding.check({"tenant": "a"}, Decimal("0.01"))
    clock.t += 1800  # half of the previous window left
    d = sliding.check({"tenant": "a"}, Decimal("0.40"))
    assert d and d.remaining == Decimal("0.10")


def test_memory_store_under_threads_never_overshoots() -> None:
    budget = Budget({"tenant": "5.00/day"}, MemoryStore())
    spent, over = [], []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(500):
            est = Decimal(rng.randint(1, 100)) / 1000
            d = budget.check({"tenant": "acme"}, est)
            if d:
                actual = est * Decimal(rng.randint(0, 150)) / 100
                budget.record(d, actual)
                with lock:
                    spent.append(actual)
                    over.append(max(actual - est, Decimal(0)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(spent) <= Decimal("5.00") + sum(over)
    assert sum(spent) > Decimal("4")  # the limit was reached, not avoided


def test_rate_limits_count_tokens_and_requests(stores: Stores) -> None:
    clock = Clock(time.time() // 60 * 60)
    rl = RateLimit("tenant", tokens_per_minute=1000, requests_per_minute=3, window="fixed", clock=clock, **stores())
    d = rl.check({"tenant": "a"}, tokens=600)
    assert d and d.remaining == 2 and d.limit == "tenant 3 requests/minute"
    rl.record(d, tokens=100)  # 500 tokens given back
    assert rl.check({"tenant": "a"}, tokens=800).remaining == 1
    assert not rl.check({"tenant": "a"}, tokens=200)  # 900 + 200 tokens > 1000
    third = rl.check({"tenant": "a"}, tokens=0)
    assert third and not rl.check({"tenant": "a"}, tokens=0)  # the fourth request
    clock.t += 60
    assert rl.check({"tenant": "a"}, tokens=1000)


def _redis_worker(port: int, seed: int, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    client = redis.Redis(host="127.0.0.1", port=port)
    budget = Budget({"tenant": "2.00/day", ("tenant", "feature"): "1.50/day"}, RedisStore(client), prefix="t8")
    rng = random.Random(seed)
    spent = over = Decimal(0)
    for _ in range(n):
        est = Decimal(rng.randint(1, 400)) / 1_000_000
        d = budget.check({"tenant": "acme", "feature": "search"}, est)
        if d:
            actual = est * Decimal(rng.randint(0, 200)) / 100
            budget.record(d, actual)
            spent += actual
            over += max(actual - est, Decimal(0))
    out.put((str(spent), str(over)))


def test_eight_processes_through_redis_never_exceed_the_limit_by_more_than_the_overruns(
    redis_server: RedisServer,
) -> None:
    redis_server.client().config_resetstat()  # the cases run on both stores used this server too
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_redis_worker, args=(redis_server.port, i, 1000, out)) for i in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    spent = sum(Decimal(s) for s, _ in results)
    over = sum(Decimal(o) for _, o in results)
    assert spent <= Decimal("1.50") + over
    assert spent > Decimal("1.0")  # the 8,000 calls reached the limit
    # One script call per check: the server saw at most 8,000 EVALSHA (plus a few EVAL the first time).
    stats = redis_server.client().info("commandstats")
    evals = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    assert 8000 <= evals <= 8000 + 8 * 2


def test_a_redis_window_resets(redis_server: RedisServer) -> None:
    budget = Budget({"tenant": "0.01/second"}, RedisStore(redis_server.client()), prefix="reset")
    first = budget.check({"tenant": "a"}, Decimal("0.01"))
    assert first and not budget.check({"tenant": "a"}, Decimal("0.001"))
    assert first.resets_at is not None
    time.sleep(max(0.0, first.resets_at.timestamp() - time.time()) + 0.01)
    assert budget.check({"tenant": "a"}, Decimal("0.01"))
    # Keys expire with their window.
    keys = redis_server.client().keys("reset:*")
    assert keys and all(0 < redis_server.client().pttl(k) <= 2000 for k in keys)


def test_redis_killed_mid_run_fails_closed_or_open_as_chosen(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer(redis_exe(), tmp_path)
    closed = Budget({"tenant": "1.00/day"}, RedisStore(server.client(), on_error="closed"), prefix="k")
    opened = Budget({"tenant": "1.00/day"}, RedisStore(server.client(), on_error="open"), prefix="k")
    d = closed.check({"tenant": "a"}, Decimal("0.10"))
    assert d and opened.check({"tenant": "a"}, Decimal("0.10")).remaining == Decimal("0.80")
    server.stop()
    with pytest.raises(tokenprice.BudgetStoreError, match="fails closed"):
        closed.check({"tenant": "a"}, Decimal("0.10"))
    allowed = opened.check({"tenant": "a"}, Decimal("0.10"))
    assert allowed and allowed.degraded and "failing open" in caplog.text
    closed.record(d, Decimal("0.05"))  # never raises: logged
    assert "could not settle" in caplog.text


def test_negative_amounts_are_refused_and_a_decision_is_recorded_once(stores: Stores) -> None:
    budget = Budget({"tenant": "1.00/day"}, **stores())
    acme = {"tenant": "acme"}
    # However small, a negative estimate would raise the budget past its limit.
    for bad in (Decimal("-1"), -1, "-0.5", Decimal("-0.0000000001"), "-1E-12"):
        with pytest.raises(tokenprice.InvalidArgumentError, match=r"estimate=.*never negative"):
            budget.check(acme, bad)
    d = budget.check(acme, Decimal("0.40"))
    assert d.remaining == Decimal("0.60")
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"cost=Decimal\('-5'\).*never negative"):
        budget.record(d, Decimal("-5"))
    budget.record(d, Decimal("0.10"))  # the refused record did not settle the decision
    assert budget.check(acme, Decimal(0)).remaining == Decimal("0.90")
    with pytest.raises(tokenprice.InvalidArgumentError, match="already recorded"):
        budget.record(d, Decimal("0.10"))
    with pytest.raises(tokenprice.InvalidArgumentError, match="already recorded"):
        budget.record(d, Decimal("0"))
    assert budget.check(acme, Decimal(0)).remaining == Decimal("0.90")
    assert not budget.check(acme, Decimal("0.91"))
    # A denied decision holds nothing; it too is recorded once.
    denied = budget.check(acme, Decimal("5.50"))
    assert not denied
    budget.record(denied, Decimal(0))
    with pytest.raises(tokenprice.InvalidArgumentError, match="already recorded"):
        budget.record(denied, Decimal(0))

    rl = RateLimit("tenant", tokens_per_minute=1000, **stores())
    with pytest.raises(tokenprice.InvalidArgumentError, match="tokens=-1: .*never negative"):
        rl.check(acme, tokens=-1)
    with pytest.raises(tokenprice.InvalidTypeError, match="tokens=1.5"):
        rl.check(acme, tokens=1.5)  # type: ignore[arg-type]
    t = rl.check(acme, tokens=600)
    with pytest.raises(tokenprice.InvalidArgumentError, match="tokens=-5: .*never negative"):
        rl.record(t, -5)
    rl.record(t, 100)
    with pytest.raises(tokenprice.InvalidArgumentError, match="already recorded"):
        rl.record(t, 100)
    assert rl.check(acme, tokens=0).remaining == 900


def test_remaining_never_rises_above_the_limit(stores: Stores) -> None:
    budget = Budget({"tenant": "1.00/day"}, **stores())
    rng = random.Random(7)
    decisions = []
    for _ in range(300):
        est = Decimal(rng.randint(-50, 50)) / 1000
        try:
            d = budget.check({"tenant": "a"}, est)
        except tokenprice.InvalidArgumentError:
            assert est < 0
            continue
        # Below 0 when calls cost more than their estimates; never above the limit.
        assert d.remaining is not None and d.remaining <= Decimal("1.00")
        decisions.append(d)
        # Settle one of the decisions so far, perhaps again, perhaps with a negative cost.
        pick = rng.choice(decisions)
        try:
            budget.record(pick, Decimal(rng.randint(-50, 50)) / 1000)
        except tokenprice.InvalidArgumentError:
            pass
    left = budget.check({"tenant": "a"}, Decimal(0)).remaining
    assert left is not None and left <= Decimal("1.00")


def test_limits_that_are_not_limits_raise_the_library_errors_naming_them() -> None:
    for spec, says in [
        ("-5/day", "a limit is never negative"),
        ("NaN/day", "expected an amount in USD"),
        ("inf/day", "expected an amount in USD"),
        ("-Infinity/day", "expected an amount in USD"),
        ("$5/day", "expected an amount in USD"),
        ("5/fortnight", "expected 'AMOUNT/PERIOD' with PERIOD one of second"),
        ("5", "expected 'AMOUNT/PERIOD'"),
        ("9999999999999/day", r"the largest limit is 9007199.254740991 USD"),
    ]:
        with pytest.raises(tokenprice.InvalidArgumentError, match=rf"limits\['tenant'\]='{re.escape(spec)}': {says}"):
            Budget({"tenant": spec})
    with pytest.raises(tokenprice.InvalidTypeError, match=r"limits\['tenant'\]=5: expected a limit as text"):
        Budget({"tenant": 5})  # type: ignore[dict-item]
    for kw, error, says in [
        ({"tokens_per_minute": -1}, tokenprice.InvalidArgumentError, "tokens_per_minute=-1: .*never negative"),
        ({"tokens_per_minute": 1.5}, tokenprice.InvalidTypeError, r"tokens_per_minute=1.5: expected a whole number"),
        ({"tokens_per_minute": "x"}, tokenprice.InvalidTypeError, "tokens_per_minute='x': expected a whole number"),
        ({"tokens_per_minute": True}, tokenprice.InvalidTypeError, "tokens_per_minute=True: expected a whole number"),
        ({"requests_per_minute": 2**64}, tokenprice.InvalidArgumentError, "the largest limit is 9007199254740991"),
        ({"requests_per_minute": 2**53}, tokenprice.InvalidArgumentError, "the largest limit is 9007199254740991"),
        ({}, tokenprice.InvalidArgumentError, "needs tokens_per_minute= or requests_per_minute="),
    ]:
        with pytest.raises(error, match=says):
            RateLimit("tenant", **kw)
    # A numpy integer (a count read from a frame) is a whole number.
    import numpy as np

    limit = RateLimit("tenant", tokens_per_minute=np.int64(1000))
    assert limit.check({"tenant": "a"}, tokens=np.int64(10)).allowed


def test_the_largest_limit_is_counted_exactly_and_one_unit_more_is_refused(stores: Stores) -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="the largest limit"):
        Budget({"tenant": "9007199.254740992/day"}, **stores())
    budget = Budget({"tenant": "9007199.254740991/day"}, **stores())
    d = budget.check({"tenant": "a"}, Decimal("9007199.254740990"))
    assert d and d.remaining == Decimal("0.000000001")
    assert budget.check({"tenant": "a"}, Decimal("0.000000001")).remaining == Decimal(0)
    assert not budget.check({"tenant": "a"}, Decimal("0.000000001"))
    rl = RateLimit("tenant", requests_per_minute=2**53 - 1, window="fixed", **stores())
    assert rl.check({"tenant": "a"}).remaining == 2**53 - 2
