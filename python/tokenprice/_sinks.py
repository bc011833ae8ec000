"""Where priced calls go: a JSON Lines file (`JsonlSink`), OpenTelemetry span attributes (`OpenTelemetrySink`), or
any callable. A sink never breaks the call it observes: `deliver` logs a sink's error instead of raising it.

`JsonlSink` writes off the request path: a call is put on a queue (no I/O, no JSON) and a background thread
writes it. Each process writes its own files (the process id is in the name), so pre-forking servers
(gunicorn, uvicorn workers) never share a file or race over a rotation; a child forked from a process with a
sink starts its own writer on its first call. Files rotate by size and by UTC day; everything queued is written
at exit (`atexit`) or by `flush()`.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import multiprocessing.util
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tokenprice._calls import PricedCall, Sink

log = logging.getLogger("tokenprice")


def deliver(call: PricedCall, sinks: Iterable[Sink]) -> None:
    """Hands `call` to each sink; an error in one is logged (with its traceback) and the others still run."""
    for sink in sinks:
        try:
            sink(call)
        except Exception:
            log.exception(
                "tokenprice: sink %r failed on a call to %s; the call itself is unaffected", sink, call.cost.model
            )


_LIVE: weakref.WeakSet[JsonlSink] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for sink in list(_LIVE):
        try:
            sink.close()
        except Exception:
            log.exception("tokenprice: could not flush %r at exit", sink)


class JsonlSink:
    """Writes each call as one JSON line (schema ``tokenprice`` 1, docs/service.md) under ``directory``, in files
    named ``{prefix}-{YYYYMMDD}-{pid}-{n}.jsonl``; a new file starts when the day (UTC) changes or the current one
    passes ``max_bytes``. ``price_logs(sink.glob)`` reads them back with no options.

    ``max_queue`` bounds the memory held for a slow disk: past it a call is dropped and logged, never waited for.
    ``clock`` (seconds since the epoch) says which day a file belongs to.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        prefix: str = "tokenprice",
        max_bytes: int = 64 * 1024 * 1024,
        max_queue: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes={max_bytes}: must be at least 1")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_queue = max_queue
        self.clock = clock
        self.dropped = 0
        self._lock = threading.Lock()
        self._pid = -1
        self._queue: queue.Queue[PricedCall | None] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._closed = False
        _LIVE.add(self)

    @property
    def glob(self) -> str:
        """A glob of every file this sink (in any process) writes: what ``price_logs`` takes."""
        return str(self.directory / f"{self.prefix}-*.jsonl")

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.directory)!r}, prefix={self.prefix!r})"

    def _start(self) -> None:
        # In a forked child the parent's thread does not exist and its queue may hold the parent's calls: start
        # afresh, with this process's own files.
        self._pid = os.getpid()
        self._queue = queue.Queue(self.max_queue)
        self._thread = threading.Thread(target=self._write_loop, name=f"tokenprice-jsonl-{self._pid}", daemon=True)
        self._thread.start()
        # A multiprocessing child ends with os._exit, which skips atexit: its finalizers still run.
        multiprocessing.util.Finalize(self, self.close, exitpriority=100)

    def __call__(self, call: PricedCall) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._start()
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            self.dropped += 1
            log.error(
                "tokenprice: %r is %d calls behind; a call to %s was not written", self, self.max_queue, call.cost.model
            )

    def flush(self) -> None:
        """Waits until every call handed over so far is written."""
        if self._pid == os.getpid() and self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Writes what is queued and stops the writer (also run at exit)."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._closed = True

    def _path(self, day: str, n: int) -> Path:
        return self.directory / f"{self.prefix}-{day}-{self._pid}-{n}.jsonl"

    def _write_loop(self) -> None:
        q = self._queue
        handle: Any = None
        day = ""
        n = 0
        size = 0
        try:
            while True:
                call = q.get()
                try:
                    if call is None:
                        return
                    data = (json.dumps(call.to_line(), separators=(",", ":"), ensure_ascii=False) + "\n").encode()
                    today = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).strftime("%Y%m%d")
                    if handle is None or today != day or size + len(data) > self.max_bytes and size > 0:
                        if handle is not None:
                            handle.close()
                        if today != day:
                            day, n = today, 0
                        # The next number free for this process and day (a restart with the same pid appends none).
                        while self._path(day, n).exists():
                            n += 1
                        handle = open(self._path(day, n), "ab", buffering=0)
                        size = 0
                    handle.write(data)
                    size += len(data)
                except Exception:
                    log.exception("tokenprice: %r could not write a call", self)
                finally:
                    q.task_done()
        finally:
            if handle is not None:
                handle.close()


class OpenTelemetrySink:
    """Sets a call's usage, cost and labels as attributes of the current OpenTelemetry span (or of a new span
    ``tokenprice.call`` when none is recording): ``gen_ai.provider.name``, ``gen_ai.request.model``,
    ``gen_ai.usage.input_tokens`` (cache included, as the conventions say), ``gen_ai.usage.output_tokens``,
    ``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.cache_creation.input_tokens``,
    ``gen_ai.usage.reasoning.output_tokens``, ``tokenprice.cost_usd`` (exact decimal text) and each label under its
    own name. Needs ``opentelemetry-api`` (the ``otel`` extra)."""

    def __init__(self, tracer: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError as e:  # pragma: no cover - exercised where OTel is absent
            raise ImportError("OpenTelemetrySink needs opentelemetry-api: pip install 'tokenprice[otel]'") from e
        self._trace = trace
        self._tracer = tracer if tracer is not None else trace.get_tracer("tokenprice")

    @staticmethod
    def attributes(call: PricedCall) -> dict[str, str | int | float | bool]:
        u = call.usage
        attrs: dict[str, str | int | float | bool] = {
            "gen_ai.provider.name": call.cost.provider,
            "gen_ai.request.model": call.cost.model,
            "gen_ai.usage.input_tokens": u.input_tokens,
            "gen_ai.usage.output_tokens": u.output_tokens,
            "tokenprice.cost_usd": str(call.cost.total),
        }
        for key, n in (
            ("gen_ai.usage.cache_read.input_tokens", u.cache_read_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", u.cache_write_tokens + u.cache_write_1h_tokens),
            ("gen_ai.usage.reasoning.output_tokens", u.reasoning_tokens),
        ):
            if n:
                attrs[key] = n
        attrs.update(call.labels)
        return attrs

    def __call__(self, call: PricedCall) -> None:
        attrs = self.attributes(call)
        span = self._trace.get_current_span()
        if span.is_recording():
            span.set_attributes(attrs)
            return
        with self._tracer.start_as_current_span("tokenprice.call", attributes=attrs):
            pass


def as_sinks(sink: Sink | Iterable[Sink] | None) -> tuple[Sink, ...]:
    """One sink, several, or none, as a tuple."""
    if sink is None:
        return ()
    if callable(sink):
        return (sink,)
    sinks = tuple(sink)
    for s in sinks:
        if not callable(s):
            raise TypeError(f"a sink is a callable taking a PricedCall; got {type(s).__name__}")
    return sinks
