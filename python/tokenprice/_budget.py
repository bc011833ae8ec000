"""Spend limits and rate limits per label (tenant, feature, ...), held across a service's processes.

`Budget.check(labels, estimate)` reserves the estimate against every limit that applies, atomically (all or
none), and says allowed or denied with what remains and when the window resets; `Budget.record(decision, cost)`
settles the reservation with the actual cost (the difference is added or given back). So concurrent callers
never overshoot a limit by more than the sum of (actual − estimate) of the calls in flight.

Amounts are integers: money in nano-USD (10⁻⁹; a cost with more decimals is rounded up, never down), tokens and
requests as counts. Windows are fixed (reset at each period boundary, UTC epoch-aligned) or sliding (the previous
window's count weighted by the part of it still inside the period, as rate limiters of gateways do).

Stores: `MemoryStore` (one process, thread-safe) and `RedisStore` (many processes: one Lua script per check, one
round trip; keys expire with their window). When Redis cannot be reached, `on_error="closed"` (the default)
raises `BudgetStoreError` from `check`; `on_error="open"` allows the call, logs the error and marks the decision
`degraded=True`. `record` never raises for an unreachable store: it logs and the spend is lost.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple, Protocol

from tokenprice._core import BudgetStoreError, Cost, Estimate
from tokenprice._labels import LabelValue, current_labels

log = logging.getLogger("tokenprice")

NANO_PER_USD = 10**9
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
Window = Literal["fixed", "sliding"]


def _nano(amount: Decimal) -> int:
    """USD as whole nano-USD, rounded up (a limit is never passed by rounding)."""
    return int((amount * NANO_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def _usd(nano: int) -> Decimal:
    return Decimal(nano) / NANO_PER_USD


def _money(value: Any, what: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise TypeError(f"{what}: expected an amount in USD as a Decimal, int or decimal text, got {value!r}")


def _parse_limit(text: str, what: str) -> tuple[Decimal, int]:
    """'50.00/day' → (Decimal('50.00'), 86400)."""
    amount, sep, period = text.partition("/")
    seconds = _PERIODS.get(period.strip().lower())
    if not sep or seconds is None:
        raise ValueError(f"{what}={text!r}: expected 'AMOUNT/PERIOD' with PERIOD one of {', '.join(_PERIODS)}")
    value = _money(amount.strip(), what)
    if value < 0:
        raise ValueError(f"{what}={text!r}: a limit is never negative")
    return value, seconds


class Slot(NamedTuple):
    """One limit as the store sees it: its key (without the window), its size, its period, the amount asked."""

    key: str
    limit: int
    period_ms: int
    sliding: bool
    amount: int


class Store(Protocol):
    """Where limits are counted. `reserve` is atomic over all slots: every one allows and each gets its amount
    added, or none does. It returns (allowed, index of the first slot that denied or -1, remaining per slot: after
    the reservation when allowed, before it when denied)."""

    def reserve(self, slots: Sequence[Slot], now_ms: int) -> tuple[bool, int, list[int]]: ...

    def settle(self, entries: Sequence[tuple[str, int, int]]) -> None:
        """Adds each (window key, period in ms, delta) — the difference between actual and reserved."""
        ...


def window_keys(slot: Slot, now_ms: int) -> tuple[str, str]:
    """The keys of the slot's current and previous windows."""
    w = now_ms // slot.period_ms
    return f"{slot.key}:{w}", f"{slot.key}:{w - 1}"


class MemoryStore:
    """Limits counted in this process (thread-safe). For a service of several processes use `RedisStore`."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}  # window key → (count, expires at ms)
        self._lock = threading.Lock()
        self._ops = 0

    def _get(self, key: str, now_ms: int) -> int:
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now_ms:
            return 0
        return entry[0]

    def reserve(self, slots: Sequence[Slot], now_ms: int) -> tuple[bool, int, list[int]]:
        remaining: list[int] = []
        counts = self._counts
        with self._lock:
            keys = [f"{s.key}:{now_ms // s.period_ms}" for s in slots]
            for i, (s, cur) in enumerate(zip(slots, keys, strict=True)):
                entry = counts.get(cur)
                used = entry[0] if entry is not None and entry[1] > now_ms else 0
                if s.sliding:
                    prev = self._get(f"{s.key}:{now_ms // s.period_ms - 1}", now_ms)
                    used += prev * (s.period_ms - now_ms % s.period_ms) // s.period_ms
                if used + s.amount > s.limit:
                    return False, i, [*remaining, s.limit - used]
                remaining.append(s.limit - used - s.amount)
            for s, cur, left in zip(slots, keys, remaining, strict=True):
                counts[cur] = (s.limit - left, (now_ms // s.period_ms + 2) * s.period_ms)
            self._ops += 1
            if self._ops % 4096 == 0:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now_ms}
        return True, -1, remaining

    def settle(self, entries: Sequence[tuple[str, int, int]]) -> None:
        now_ms = int(time.time() * 1000)
        with self._lock:
            for key, period_ms, delta in entries:
                count, expires = self._counts.get(key, (0, now_ms + 2 * period_ms))
                self._counts[key] = (count + delta, expires)


# KEYS: per slot its current and previous window keys. ARGV: now_ms, then per slot limit, period_ms, sliding, amount.
# Integers below 2^53 are exact in Lua's numbers (9 million USD in nano-USD); INCRBY keeps them as integers.
_RESERVE_LUA = """
local now = tonumber(ARGV[1])
local n = #KEYS / 2
local remaining = {}
for i = 1, n do
  local base = 1 + (i - 1) * 4
  local limit = tonumber(ARGV[base + 1])
  local period = tonumber(ARGV[base + 2])
  local amount = tonumber(ARGV[base + 4])
  local used = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if ARGV[base + 3] == '1' then
    local prev = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    used = used + math.floor(prev * (period - now % period) / period)
  end
  if used + amount > limit then
    remaining[i] = limit - used
    return {0, i, unpack(remaining)}
  end
  remaining[i] = limit - used - amount
end
for i = 1, n do
  local period = tonumber(ARGV[1 + (i - 1) * 4 + 2])
  redis.call('INCRBY', KEYS[2 * i - 1], ARGV[1 + (i - 1) * 4 + 4])
  redis.call('PEXPIRE', KEYS[2 * i - 1], 2 * period)
end
return {1, 0, unpack(remaining)}
"""


class RedisStore:
    """Limits counted in Redis, shared by every process that uses the same server and prefix: one Lua script per
    `reserve` (atomic, one round trip), one pipeline per `settle`; each window's key expires two periods after it
    starts. `client` is a `redis.Redis`. `on_error`: what `reserve` does when Redis cannot be reached —
    "closed" raises `BudgetStoreError`, "open" allows the call (and the decision says `degraded`)."""

    def __init__(self, client: Any, *, on_error: Literal["closed", "open"] = "closed") -> None:
        if on_error not in ("closed", "open"):
            raise ValueError(f"on_error={on_error!r}: expected 'closed' or 'open'")
        self.client = client
        self.on_error = on_error
        self._script = client.register_script(_RESERVE_LUA)

    def reserve(self, slots: Sequence[Slot], now_ms: int) -> tuple[bool, int, list[int]]:
        keys: list[str] = []
        args: list[int] = [now_ms]
        for s in slots:
            keys.extend(window_keys(s, now_ms))
            args.extend((s.limit, s.period_ms, 1 if s.sliding else 0, s.amount))
        out = self._script(keys=keys, args=args)
        allowed, index, *remaining = (int(x) for x in out)
        return bool(allowed), index - 1 if not allowed else -1, remaining

    def settle(self, entries: Sequence[tuple[str, int, int]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, period_ms, delta in entries:
            if delta:
                pipe.incrby(key, delta)
                pipe.pexpire(key, 2 * period_ms, nx=True)
        pipe.execute()


@functools.cache
def _store_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable store raises (redis is imported only when a store error is being looked at)."""
    try:
        import redis.exceptions
    except ImportError:
        return (ConnectionError, TimeoutError, OSError)
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)


@dataclass(frozen=True)
class _Rule:
    """A limit on a label combination: ("tenant",) or ("tenant", "feature")."""

    labels: tuple[str, ...]
    measure: str  # "usd", "tokens" or "requests"
    limit: int
    period_s: int
    text: str

    def key(self, prefix: str, labels: Mapping[str, LabelValue]) -> str | None:
        try:
            values = ",".join([f"{name}={labels[name]}" for name in self.labels])
        except KeyError:
            return None
        return f"{prefix}:{self.measure}:{self.period_s}:{values}"


class Decision:
    """What `check` decided. `remaining` is what is left under the tightest limit that applies (after this
    reservation when allowed; USD as a Decimal for budgets, a count for rate limits), `resets_at` when that
    limit's window ends, `limit` which limit it is (as given). `degraded`: the store could not be reached and the
    store fails open. Truthy when allowed."""

    __slots__ = ("allowed", "limit", "degraded", "_left", "_money", "_resets_ms", "_slots", "_keys", "_measures")

    def __init__(
        self,
        allowed: bool,
        limit: str | None = None,
        left: int | None = None,
        money: bool = False,
        resets_ms: int | None = None,
        degraded: bool = False,
        slots: Sequence[Slot] = (),
        keys: Sequence[str] = (),
        measures: Sequence[str] = (),
    ) -> None:
        self.allowed = allowed
        self.limit = limit
        self.degraded = degraded
        self._left = left
        self._money = money
        self._resets_ms = resets_ms
        self._slots = slots
        self._keys = keys
        self._measures = measures

    @property
    def remaining(self) -> Decimal | int | None:
        if self._left is None:
            return None
        return _usd(self._left) if self._money else self._left

    @property
    def resets_at(self) -> dt.datetime | None:
        if self._resets_ms is None:
            return None
        return dt.datetime.fromtimestamp(self._resets_ms / 1000, dt.timezone.utc)

    def __bool__(self) -> bool:
        return self.allowed

    def __repr__(self) -> str:
        return (
            f"Decision(allowed={self.allowed}, remaining={self.remaining!r}, resets_at={self.resets_at!r}, "
            f"limit={self.limit!r}{', degraded=True' if self.degraded else ''})"
        )


class _Limiter:
    """Rules, a store, and the reservation protocol shared by `Budget` and `RateLimit`."""

    def __init__(
        self, rules: list[_Rule], store: Store | None, window: Window, prefix: str, clock: Callable[[], float]
    ) -> None:
        if window not in ("fixed", "sliding"):
            raise ValueError(f"window={window!r}: expected 'fixed' or 'sliding'")
        self.rules = rules
        self.store: Store = store if store is not None else MemoryStore()
        self.sliding = window == "sliding"
        self.prefix = prefix
        self.clock = clock

    def _check(self, labels: Mapping[str, LabelValue] | None, amounts: Mapping[str, int]) -> Decision:
        labels = current_labels() if labels is None else labels
        slots: list[Slot] = []
        rules: list[_Rule] = []
        for rule in self.rules:
            key = rule.key(self.prefix, labels)
            if key is not None:
                slots.append(Slot(key, rule.limit, rule.period_s * 1000, self.sliding, amounts[rule.measure]))
                rules.append(rule)
        if not slots:
            return Decision(True)
        now_ms = int(self.clock() * 1000)
        try:
            allowed, denied, remaining = self.store.reserve(slots, now_ms)
        except Exception as e:
            if not isinstance(e, _store_errors()):
                raise
            if getattr(self.store, "on_error", "closed") == "open":
                log.error("tokenprice: the budget store is unreachable (%s); failing open: the call is allowed", e)
                return Decision(True, degraded=True)
            raise BudgetStoreError(
                f"the budget store is unreachable ({e}); it fails closed, so the call is not allowed "
                "(RedisStore(..., on_error='open') allows calls while it is down)"
            ) from e
        i = denied if not allowed else (0 if len(slots) == 1 else remaining.index(min(remaining)))
        rule = rules[i]
        period_ms = slots[i].period_ms
        resets_ms = (now_ms // period_ms + 1) * period_ms
        money = rule.measure == "usd"
        if not allowed:
            return Decision(False, rule.text, remaining[i], money, resets_ms)
        keys = [f"{s.key}:{now_ms // s.period_ms}" for s in slots]
        measures = [r.measure for r in rules]
        return Decision(True, rule.text, remaining[i], money, resets_ms, False, slots, keys, measures)

    def _settle(self, decision: Decision, actual: Mapping[str, int], measures: Sequence[str]) -> None:
        if not decision.allowed or not decision._slots:
            return
        entries = []
        for slot, key, measure in zip(decision._slots, decision._keys, decision._measures, strict=True):
            if measure in measures:
                entries.append((key, slot.period_ms, actual[measure] - slot.amount))
        try:
            self.store.settle(entries)
        except Exception as e:
            if not isinstance(e, _store_errors()):
                raise
            log.error("tokenprice: could not settle a reservation in the budget store (%s); the spend is lost", e)


class Budget:
    """Spend limits per label combination: ``Budget(limits={"tenant": "50.00/day", ("tenant", "feature"):
    "5.00/hour"})``. A limit applies to a call whose labels have all its label names; each combination of values
    has its own count (tenant=acme and tenant=globex are counted apart).

    ``store``: `MemoryStore()` (the default; one process) or `RedisStore(redis.Redis(...))` (every process of the
    service); ``window``: "fixed" or "sliding"; ``prefix``: the store's key prefix; ``clock``: seconds since the
    epoch (`time.time`; the processes sharing a store should agree on it)."""

    def __init__(
        self,
        limits: Mapping[str | tuple[str, ...], str],
        store: Store | None = None,
        *,
        window: Window = "fixed",
        prefix: str = "tokenprice:budget",
        clock: Callable[[], float] = time.time,
    ) -> None:
        rules = []
        for names, text in limits.items():
            key = (names,) if isinstance(names, str) else tuple(names)
            amount, seconds = _parse_limit(text, f"limits[{names!r}]")
            rules.append(_Rule(key, "usd", _nano(amount), seconds, f"{'+'.join(key)} {text}"))
        self._limiter = _Limiter(rules, store, window, prefix, clock)

    @property
    def store(self) -> Store:
        return self._limiter.store

    def check(self, labels: Mapping[str, LabelValue] | None = None, estimate: Any = None) -> Decision:
        """Reserves ``estimate`` (an `Estimate`: its high end; a `Cost`; or USD as a Decimal) against every limit
        that applies to ``labels`` (default: the labels in force) and says whether the call may go ahead."""
        return self._limiter._check(labels, {"usd": _nano(_reservation(estimate))})

    def record(self, decision: Decision, cost: Any) -> None:
        """Settles ``decision``'s reservation with the actual ``cost`` (a `Cost`, a `PricedCall` or USD): the
        difference is added to (or given back from) the window the reservation was made in."""
        self._limiter._settle(decision, {"usd": _nano(_actual(cost))}, ("usd",))


def _reservation(estimate: Any) -> Decimal:
    if isinstance(estimate, Estimate):
        if estimate.high is None:
            raise ValueError(
                f"the estimate for {estimate.model} has no upper bound (the request sets no output limit and the "
                "price book knows no context window): set max_tokens, or pass an amount to reserve"
            )
        return estimate.high.total
    if isinstance(estimate, Cost):
        return estimate.total
    if estimate is None:
        raise TypeError("check() needs estimate=: an Estimate, a Cost or an amount in USD")
    return _money(estimate, "estimate")


def _actual(cost: Any) -> Decimal:
    if isinstance(cost, Cost):
        return cost.total
    total = getattr(cost, "total", None)
    if isinstance(total, Decimal):
        return total
    return _money(cost, "cost")


class RateLimit:
    """Tokens and requests per minute per label combination, like a gateway's rate limit but per tenant:
    ``RateLimit("tenant", tokens_per_minute=100_000, requests_per_minute=600)``. ``check(labels, tokens)``
    reserves the tokens (an estimate's prompt plus output limit, say) and one request; ``record(decision, tokens)``
    settles the tokens actually used. Sliding windows by default."""

    def __init__(
        self,
        per: str | Sequence[str],
        *,
        tokens_per_minute: int | None = None,
        requests_per_minute: int | None = None,
        store: Store | None = None,
        window: Window = "sliding",
        prefix: str = "tokenprice:rate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = (per,) if isinstance(per, str) else tuple(per)
        rules = []
        if tokens_per_minute is not None:
            rules.append(
                _Rule(
                    names, "tokens", int(tokens_per_minute), 60, f"{'+'.join(names)} {tokens_per_minute} tokens/minute"
                )
            )
        if requests_per_minute is not None:
            rules.append(
                _Rule(
                    names,
                    "requests",
                    int(requests_per_minute),
                    60,
                    f"{'+'.join(names)} {requests_per_minute} requests/minute",
                )
            )
        if not rules:
            raise ValueError("RateLimit needs tokens_per_minute= or requests_per_minute=")
        self._limiter = _Limiter(rules, store, window, prefix, clock)

    def check(self, labels: Mapping[str, LabelValue] | None = None, tokens: int = 0) -> Decision:
        return self._limiter._check(labels, {"tokens": int(tokens), "requests": 1})

    def record(self, decision: Decision, tokens: int) -> None:
        self._limiter._settle(decision, {"tokens": int(tokens), "requests": 1}, ("tokens",))
