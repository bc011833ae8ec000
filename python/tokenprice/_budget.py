"""Spend limits and rate limits per label (tenant, feature, ...), held across a service's processes.

`Budget.check(labels, estimate)` reserves the estimate against every limit that applies, atomically (all or
none), and says allowed or denied with what remains and when the window resets; `Budget.record(decision, cost)`
settles the reservation with the actual cost (the difference is added or given back). So concurrent callers
never overshoot a limit by more than the sum of (actual − estimate) of the calls in flight.

Amounts are integers: money in nano-USD (10⁻⁹; a cost with more decimals is rounded up, never down), tokens and
requests as counts. Amounts are never negative, a decision is recorded once, and a limit is at most 2⁵³ − 1 of its
unit (`MAX_LIMIT`: what Redis's Lua numbers hold exactly), so a budget never holds more than its limit. Windows
are fixed (reset at each period boundary, UTC epoch-aligned) or sliding (the previous window's count weighted by the
part of it still inside the period, as rate limiters of gateways do).

Stores: `MemoryStore` (one process, thread-safe: the core's `budget` module, where the whole check runs) and
`RedisStore` (many processes: one Lua script per check, one
round trip; keys expire with their window). When Redis cannot be reached, `on_error="closed"` (the default)
raises `BudgetStoreError` from `check`; `on_error="open"` allows the call, logs the error and marks the decision
`degraded=True`. `record` never raises for an unreachable store: it logs and the spend is lost.
"""

from __future__ import annotations

import functools
import logging
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple, Protocol

from tokenprice._core import BudgetStoreError, InvalidArgumentError, InvalidTypeError
from tokenprice._core import Decision as Decision
from tokenprice._core import MemoryStore as MemoryStore
from tokenprice._core import _Limiter as _Core
from tokenprice._labels import LabelValue, current_labels

log = logging.getLogger("tokenprice")

NANO_PER_USD = 10**9
# The largest limit, in its unit (nano-USD, tokens, requests): the core's `budget::MAX_LIMIT`, the largest integer a
# double (Redis's Lua numbers) holds exactly. In USD: 9,007,199.254740991.
MAX_LIMIT = 2**53 - 1
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
Window = Literal["fixed", "sliding"]


def _nano(amount: Decimal) -> int:
    """USD as whole nano-USD, rounded up (a limit is never passed by rounding)."""
    return int((amount * NANO_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def _parse_limit(text: Any, what: str) -> tuple[Decimal, int]:
    """'50.00/day' → (Decimal('50.00'), 86400); anything else raises InvalidArgumentError (InvalidTypeError for
    what is not text) naming `what` and the value."""
    if not isinstance(text, str):
        raise InvalidTypeError(f"{what}={text!r}: expected a limit as text, 'AMOUNT/PERIOD' such as '50.00/day'")
    amount, sep, period = text.partition("/")
    seconds = _PERIODS.get(period.strip().lower())
    if not sep or seconds is None:
        raise InvalidArgumentError(
            f"{what}={text!r}: expected 'AMOUNT/PERIOD' with PERIOD one of {', '.join(_PERIODS)}"
        )
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidArgumentError(f"{what}={text!r}: expected an amount in USD as decimal text, such as '50.00'")
    if value < 0:
        raise InvalidArgumentError(f"{what}={text!r}: a limit is never negative")
    if _nano(value) > MAX_LIMIT:
        raise InvalidArgumentError(
            f"{what}={text!r}: the largest limit is {Decimal(MAX_LIMIT).scaleb(-9)} USD per period (2**53 - 1 "
            "nano-USD, the largest count a RedisStore's Lua script holds exactly)"
        )
    return value, seconds


def _count(value: Any, what: str, unit: str, limit: int | None = None) -> int:
    """A count of `unit` (an int, never negative; at most `limit`), or InvalidTypeError / InvalidArgumentError naming
    `what` and the value."""
    # operator.index takes what is a whole number (an int, numpy's and pandas' integers), not 1.5 nor "5".
    whole: int | None = None
    if not isinstance(value, bool):
        try:
            whole = operator.index(value)
        except TypeError:
            pass
    if whole is None:
        raise InvalidTypeError(f"{what}={value!r}: expected a whole number of {unit} (an int)")
    value = whole
    if value < 0:
        raise InvalidArgumentError(f"{what}={value}: a number of {unit} is never negative")
    if limit is not None and value > limit:
        raise InvalidArgumentError(
            f"{what}={value}: the largest limit is {limit} {unit} (2**53 - 1, the largest count a RedisStore's Lua "
            "script holds exactly)"
        )
    if value >= 2**63:
        raise InvalidArgumentError(f"{what}={value}: too many {unit} (at most {2**63 - 1})")
    return whole


class Slot(NamedTuple):
    """One limit as a store sees it: its key (without the window), its size, its period, the amount asked."""

    key: str
    limit: int
    period_ms: int
    sliding: bool
    amount: int


class Store(Protocol):
    """Where limits are counted. `reserve` is atomic over all slots: every one allows and each gets its amount
    added, or none does. It returns (allowed, index of the first slot that denied or -1, remaining per slot: after
    the reservation when allowed, before it when denied). The rules (which window, how a sliding one weighs the
    previous) are the core's `budget` module's, which `MemoryStore` runs and `RedisStore`'s script restates."""

    def reserve(self, slots: Sequence[Slot], now_ms: int) -> tuple[bool, int, list[int]]: ...

    def settle(self, entries: Sequence[tuple[str, int, int]]) -> None:
        """Adds each (window key, period in ms, delta) — the difference between actual and reserved."""
        ...


def window_keys(slot: Slot, now_ms: int) -> tuple[str, str]:
    """The keys of the slot's current and previous windows."""
    w = now_ms // slot.period_ms
    return f"{slot.key}:{w}", f"{slot.key}:{w - 1}"


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
            raise InvalidArgumentError(f"on_error={on_error!r}: expected 'closed' or 'open'")
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


class _Limiter:
    """Rules and a store: the core's limiter (`_core._Limiter`) does the reservation protocol, whole in the core
    for a `MemoryStore`; for a store in Python (Redis) it says what to reserve and reads the store's answer, and
    what an unreachable store means is decided here."""

    def __init__(
        self, rules: list[_Rule], store: Store | None, window: Window, prefix: str, clock: Callable[[], float]
    ) -> None:
        if window not in ("fixed", "sliding"):
            raise InvalidArgumentError(f"window={window!r}: expected 'fixed' or 'sliding'")
        self.rules = rules
        self.store: Store = store if store is not None else MemoryStore()
        memory = self.store if isinstance(self.store, MemoryStore) else None
        self.core = _Core(
            [(list(r.labels), r.measure, r.limit, r.period_s * 1000, r.text) for r in rules],
            window == "sliding",
            prefix,
            memory,
            None if clock is time.time else clock,
        )
        self.in_core = memory is not None

    def check(
        self, labels: Mapping[str, LabelValue] | None, usd: Any = None, tokens: int = 0, requests: int = 0
    ) -> Decision:
        labels = current_labels() if labels is None else labels
        if self.in_core:
            return self.core.check(labels, usd, tokens, requests)
        pending = self.core.slots_for(labels, usd, tokens, requests)
        slots = [Slot(*s) for s in pending.slots]
        if not slots:
            return self.core.decide(pending, True, -1, [])
        try:
            allowed, denied, remaining = self.store.reserve(slots, pending.now_ms)
        except Exception as e:
            if not isinstance(e, _store_errors()):
                raise
            if getattr(self.store, "on_error", "closed") == "open":
                log.error("tokenprice: the budget store is unreachable (%s); failing open: the call is allowed", e)
                return Decision._degraded()
            raise BudgetStoreError(
                f"the budget store is unreachable ({e}); it fails closed, so the call is not allowed "
                "(RedisStore(..., on_error='open') allows calls while it is down)"
            ) from e
        return self.core.decide(pending, allowed, denied, list(remaining))

    def settle(self, decision: Decision, usd: Any = None, tokens: int | None = None) -> None:
        entries = self.core.settle(decision, usd, tokens)
        if not entries:
            return
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
        limiter = self._limiter
        if limiter.in_core:  # the whole check in the core: no Python between here and the store
            return limiter.core.check(current_labels() if labels is None else labels, estimate)
        return limiter.check(labels, estimate)

    def record(self, decision: Decision, cost: Any) -> None:
        """Settles ``decision``'s reservation with the actual ``cost`` (a `Cost`, a `PricedCall` or USD, never
        negative): the difference is added to (or given back from) the window the reservation was made in. A
        decision is recorded once: recording it again raises `InvalidArgumentError` and changes nothing."""
        self._limiter.settle(decision, cost)


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
        for measure, value in (("tokens", tokens_per_minute), ("requests", requests_per_minute)):
            if value is not None:
                n = _count(value, f"{measure}_per_minute", measure, MAX_LIMIT)
                rules.append(_Rule(names, measure, n, 60, f"{'+'.join(names)} {n} {measure}/minute"))
        if not rules:
            raise InvalidArgumentError("RateLimit needs tokens_per_minute= or requests_per_minute=")
        self._limiter = _Limiter(rules, store, window, prefix, clock)

    def check(self, labels: Mapping[str, LabelValue] | None = None, tokens: int = 0) -> Decision:
        return self._limiter.check(labels, None, _count(tokens, "tokens", "tokens"), 1)

    def record(self, decision: Decision, tokens: int) -> None:
        """Settles ``decision``'s reservation with the tokens used; once per decision, as `Budget.record`."""
        self._limiter.settle(decision, None, _count(tokens, "tokens", "tokens"))
