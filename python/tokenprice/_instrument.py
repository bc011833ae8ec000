"""`instrument(client, sink)`: every call an `openai` or `anthropic` SDK client makes is priced with the labels in
force when it was made and handed to the sinks. The call itself is never changed or broken: its result (or
stream) is returned as the SDK made it, and a failure to price or to deliver is logged, not raised.

Instrumented: `chat.completions.create` / `.parse` and `responses.create` / `.parse` (OpenAI, `OpenAI` /
`AsyncOpenAI` and the Azure clients), `messages.create` (Anthropic, `Anthropic` / `AsyncAnthropic`), each streaming
or not, and what goes through them: `with_raw_response`, `with_streaming_response` and the `.stream()` helpers
(OpenAI's, and Anthropic's `messages.stream`, wrapped itself). An SDK stream is observed in place (its chunk
iterator), so the caller keeps the SDK's own objects. A stream is
priced when it ends (exhausted or closed), from its usage chunk or events; an OpenAI chat stream without usage
(the default: `stream_options.include_usage` off) is priced by counting the request and the streamed text, marked
`counted` (and `approximate` for a model whose tokenizer is not public). `include_usage=True` turns the usage chunk
on for streams that did not ask for it and keeps that extra chunk (`choices: []`) from the caller.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from tokenprice import _core
from tokenprice._calls import PricedCall, Sink, _now, price_call
from tokenprice._core import PriceBook
from tokenprice._count import ApproximateCount, count_tokens
from tokenprice._labels import LabelValue, current_labels
from tokenprice._sinks import as_sinks, deliver

log = logging.getLogger("tokenprice")

C = TypeVar("C")

# Arguments of the SDKs' create() that are not part of the request body.
_NOT_BODY = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
# Stream events that carry the usage, whichever API.
_USAGE_EVENTS = frozenset(
    {"message_start", "message_delta", "response.completed", "response.incomplete", "response.failed"}
)
_MARK = "__tokenprice_instrumented__"
# The last call priced in this context (asyncio task, thread): set where the call ran, so its caller sees it.
_LAST: contextvars.ContextVar[PricedCall | None] = contextvars.ContextVar("tokenprice_last_call", default=None)


def last_call() -> PricedCall | None:
    """The `PricedCall` of the last instrumented call made in the current context (asyncio task or thread), or
    None; a stream's is set when the stream ends."""
    return _LAST.get()


class _Call:
    """One observed call: what is needed to price it when it ends."""

    __slots__ = ("endpoint", "request", "labels", "start", "sinks", "book", "done")

    def __init__(self, endpoint: str, request: dict[str, Any], sinks: tuple[Sink, ...], book: PriceBook | None):
        self.endpoint = endpoint
        self.request = request
        self.labels: Mapping[str, LabelValue] = current_labels()
        self.start = time.perf_counter()
        self.sinks = sinks
        self.book = book
        self.done = False

    def _elapsed(self) -> Decimal:
        return Decimal(round((time.perf_counter() - self.start) * 1e6)) / 1000

    def finish(self, response: Any) -> None:
        """Prices a whole response (or the usage-bearing chunks of a stream) and delivers it; never raises."""
        if self.done:
            return
        self.done = True
        try:
            # pydantic's own JSON (in Rust) is several times faster than walking the object from Python.
            dump = getattr(response, "model_dump_json", None)
            call = price_call(
                dump() if callable(dump) else response,
                book=self.book,
                labels=self.labels,
                duration_ms=self._elapsed(),
                endpoint=self.endpoint,
            )
        except Exception:
            log.exception("tokenprice: could not price a %s call; the call itself is unaffected", self.endpoint)
            return
        _LAST.set(call)
        deliver(call, self.sinks)

    def finish_counted(self, model: str | None, text: str) -> None:
        """Prices a stream that reported no usage: the request counted by `estimate`'s rules, the streamed text
        by the model's tokenizer (approximate where it is not public)."""
        if self.done:
            return
        self.done = True
        try:
            model = model or self.request.get("model")
            est = _core.estimate(self.request, model=model, book=self.book)
            out = _count_text(text, est.model)
            usage = _core.Usage(input_tokens=est.input_tokens, output_tokens=int(out))
            when = _now()
            cost = _core.price(usage, model=est.model, at=when, book=self.book)
            call = PricedCall(
                cost=cost,
                usage=usage,
                labels=dict(self.labels),
                timestamp=when,
                duration_ms=self._elapsed(),
                endpoint=self.endpoint,
                counted=True,
                approximate=est.approximate or getattr(out, "approximate", False),
            )
        except Exception:
            log.exception("tokenprice: could not count a %s stream; the call itself is unaffected", self.endpoint)
            return
        _LAST.set(call)
        deliver(call, self.sinks)


def _count_text(text: str, model: str) -> int:
    """Output tokens of the streamed text: the model's tokenizer, else `APPROXIMATION_ENCODING` (marked)."""
    if _core.lookup_model(model) is None:
        enc = _core.get_encoding(_core.APPROXIMATION_ENCODING)
        return ApproximateCount(enc.count(text), model=model, encoding=enc.name)
    return count_tokens(text, model=model, approximate=True)


class _Collector:
    """What a stream's chunks say, kept as they pass: the first chunk, the usage-bearing ones, the text."""

    __slots__ = ("call", "first", "usage_chunks", "text", "model", "hide_usage_chunk")

    def __init__(self, call: _Call, hide_usage_chunk: bool):
        self.call = call
        self.first: Any = None
        self.usage_chunks: list[Any] = []
        self.text: list[str] = []
        self.model: str | None = None
        self.hide_usage_chunk = hide_usage_chunk

    def see(self, chunk: Any) -> bool:
        """Records `chunk`; False when the caller must not see it (the usage chunk tokenprice asked for)."""
        try:
            if self.first is None:
                self.first = chunk
                self.model = getattr(chunk, "model", None)
            kind = getattr(chunk, "type", None)
            choices = getattr(chunk, "choices", None)
            if getattr(chunk, "usage", None) is not None or kind in _USAGE_EVENTS:
                self.usage_chunks.append(chunk)
                if self.hide_usage_chunk and choices == []:
                    return False
            if choices:
                for choice in choices:
                    delta = getattr(choice, "delta", None)
                    content = getattr(delta, "content", None)
                    if content:
                        self.text.append(content)
                    for tc in getattr(delta, "tool_calls", None) or ():
                        fn = getattr(tc, "function", None)
                        for piece in (getattr(fn, "name", None), getattr(fn, "arguments", None)):
                            if piece:
                                self.text.append(piece)
            elif kind == "content_block_delta":
                delta = getattr(chunk, "delta", None)
                piece = getattr(delta, "text", None) or getattr(delta, "partial_json", None)
                if piece:
                    self.text.append(piece)
            elif kind == "response.output_text.delta":
                self.text.append(getattr(chunk, "delta", "") or "")
        except Exception:
            log.exception("tokenprice: could not read a stream chunk; the stream itself is unaffected")
        return True

    def end(self) -> None:
        if self.call.done:
            return
        if self.usage_chunks:
            chunks = self.usage_chunks if self.first is self.usage_chunks[0] else [self.first, *self.usage_chunks]
            self.call.finish(chunks)
        elif self.first is not None:
            self.call.finish_counted(self.model, "".join(self.text))


class _Passed:
    """An SDK stream passed through chunk by chunk (the base of `_Stream` and `_AsyncStream`): what it lacks is the
    stream's own, and what ends it prices what was seen."""

    def __init__(self, stream: Any, collector: _Collector):
        self._stream = stream
        self._collector = collector

    def _ending(self, name: str) -> Any:
        """Prices what was seen (once), and gives the stream's own method `name` (None when it has none)."""
        self._collector.end()
        return getattr(self._stream, name, None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Stream(_Passed):
    """The SDK's stream, passed through chunk by chunk; priced when it ends or is closed."""

    def __init__(self, stream: Any, collector: _Collector):
        super().__init__(stream, collector)
        self._iter: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = iter(self._stream)
        for chunk in self._iter:
            if self._collector.see(chunk):
                return chunk
        self._collector.end()
        raise StopIteration

    def __enter__(self) -> _Stream:
        enter = getattr(self._stream, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc: Any) -> Any:
        exit_ = self._ending("__exit__")
        return exit_(*exc) if exit_ is not None else None

    def close(self) -> None:
        close = self._ending("close")
        if close is not None:
            close()


class _AsyncStream(_Passed):
    """`_Stream` for the async clients."""

    def __init__(self, stream: Any, collector: _Collector):
        super().__init__(stream, collector)
        self._iter: AsyncIterator[Any] | None = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._stream.__aiter__()
        async for chunk in self._iter:
            if self._collector.see(chunk):
                return chunk
        self._collector.end()
        raise StopAsyncIteration

    async def __aenter__(self) -> _AsyncStream:
        enter = getattr(self._stream, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        exit_ = self._ending("__aexit__")
        return (await exit_(*exc)) if exit_ is not None else None

    async def close(self) -> None:
        close = self._ending("close")
        if close is not None:
            await close()


def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    # The SDKs' helpers (`.stream()`, `.parse()`) pass every argument, the unset ones as `omit` / `NOT_GIVEN`.
    return {k: v for k, v in kwargs.items() if k not in _NOT_BODY and type(v).__name__ not in _UNSET}


_UNSET = frozenset({"Omit", "NotGiven"})


def _hook(stream: Any, collector: _Collector) -> Any:
    """The SDK's own stream object, observed in place: its chunk iterator is replaced by one that shows each chunk
    to `collector` (and keeps back the usage chunk tokenprice asked for), and `close` prices what was seen. The
    caller gets the same object, of the same type, with the same chunks. A stream that is not the SDKs' kind (no
    `_iterator`) is wrapped instead."""
    inner = getattr(stream, "_iterator", None)
    if inner is None:
        return _AsyncStream(stream, collector) if hasattr(stream, "__aiter__") else _Stream(stream, collector)
    if hasattr(inner, "__anext__"):
        stream._iterator = _async_observed(inner, collector)
        close = stream.close

        async def aclose() -> None:
            collector.end()
            await close()

        stream.close = aclose
    else:
        stream._iterator = _observed(inner, collector)
        sync_close = stream.close

        def sclose() -> None:
            collector.end()
            sync_close()

        stream.close = sclose
    return stream


def _observed(inner: Iterator[Any], collector: _Collector) -> Iterator[Any]:
    try:
        for chunk in inner:
            if collector.see(chunk):
                yield chunk
    finally:
        collector.end()


async def _async_observed(inner: AsyncIterator[Any], collector: _Collector) -> AsyncIterator[Any]:
    try:
        async for chunk in inner:
            if collector.see(chunk):
                yield chunk
    finally:
        collector.end()


def _raw(result: Any) -> bool:
    """Whether `result` is an SDK's raw response (`with_raw_response` / `with_streaming_response`), whose `parse()`
    gives the object the call would have returned, kept by the response (a second `parse()` returns it again)."""
    return type(result).__name__ in ("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse") and hasattr(
        result, "http_response"
    )


def _finish(result: Any, call: _Call, stream: bool, added: bool) -> Any:
    """Observes what a create() returned and returns it unchanged: a response is priced now, a stream when it ends;
    a raw response through what its `parse()` gives (a stream's chunks are observed in place, so the caller's own
    `parse()` gets the same stream, priced as it is read)."""
    if _raw(result):
        try:
            parsed = result.parse()
        except Exception:
            log.exception("tokenprice: could not read a raw %s response; the call itself is unaffected", call.endpoint)
            return result
        if inspect.isawaitable(parsed):  # AsyncAPIResponse.parse is a coroutine: observed when the caller awaits it
            parsed.close()  # type: ignore[attr-defined]
            _observe_async_parse(result, call, stream, added)
            return result
        _finish(parsed, call, stream, added)
        return result
    if stream:
        return _hook(result, _Collector(call, added))
    call.finish(result)
    return result


def _with_usage(endpoint: str, kwargs: dict[str, Any], include_usage: bool) -> tuple[dict[str, Any], bool]:
    """The arguments with `stream_options.include_usage` on when asked and the caller left it unset; whether it
    was added (then the extra chunk is kept from the caller)."""
    if not (include_usage and endpoint == "chat.completions" and kwargs.get("stream")):
        return kwargs, False
    options = kwargs.get("stream_options") or {}
    if "include_usage" in options:
        return kwargs, False
    return {**kwargs, "stream_options": {**options, "include_usage": True}}, True


def _observe_async_parse(response: Any, call: _Call, stream: bool, added: bool) -> None:
    """The async `with_streaming_response`'s response: its `parse()` (a coroutine) is observed on this object
    (an instance attribute over the method; the object and its type are the caller's)."""
    parse = response.parse
    seen: list[Any] = []

    async def observed_parse(*args: Any, **kwargs: Any) -> Any:
        parsed = await parse(*args, **kwargs)
        if not args and not kwargs and not seen:  # the SDK keeps what parse() gave: observe it once
            seen.append(parsed)
            _finish(parsed, call, stream, added)
        return parsed

    response.parse = observed_parse


def _wrap(
    method: Callable[..., Any], endpoint: str, sinks: tuple[Sink, ...], book: PriceBook | None, include_usage: bool
) -> Callable[..., Any]:
    # The async clients' methods are not always coroutine functions (decorators hide it): what they return says.
    @functools.wraps(method)
    def create(*args: Any, **kwargs: Any) -> Any:
        kwargs, added = _with_usage(endpoint, kwargs, include_usage)
        call = _Call(endpoint, _request(kwargs), sinks, book)
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            return _finish_async(result, call, bool(kwargs.get("stream")), added)
        return _finish(result, call, bool(kwargs.get("stream")), added)

    setattr(create, _MARK, True)
    return create


async def _finish_async(pending: Awaitable[Any], call: _Call, stream: bool, added: bool) -> Any:
    return _finish(await pending, call, stream, added)


def _wrap_stream_helper(
    method: Callable[..., Any], endpoint: str, sinks: tuple[Sink, ...], book: PriceBook | None
) -> Callable[..., Any]:
    """Anthropic's `messages.stream(...)`, which posts without `create`: the manager it returns makes its request
    through a private callable (`__api_request`, sync) or awaitable (async), whose raw stream is observed in place
    (anthropic/lib/streaming/_messages.py: `MessageStreamManager.__enter__` calls it and wraps the raw stream in a
    `MessageStream`, which iterates the raw stream's chunks)."""

    @functools.wraps(method)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = method(*args, **kwargs)
        try:
            call = _Call(endpoint, _request({**kwargs, "stream": True}), sinks, book)
            name = next(k for k in vars(manager) if k.endswith("__api_request"))
            request = getattr(manager, name)
            if inspect.isawaitable(request):

                async def observed_async() -> Any:
                    return _hook(await request, _Collector(call, False))

                setattr(manager, name, observed_async())
            else:
                setattr(manager, name, lambda: _hook(request(), _Collector(call, False)))
        except Exception:
            log.exception("tokenprice: could not observe a %s stream; the call itself is unaffected", endpoint)
        return manager

    setattr(stream, _MARK, True)
    return stream


def _targets(client: Any) -> list[tuple[Any, str, str]]:
    """(resource, method name, endpoint) for each method instrumented on `client`. OpenAI's helpers
    (`chat.completions.stream`, `responses.stream`, `with_raw_response`, `with_streaming_response`) call the
    resource's own `create` or `parse` (openai/lib/_chat_completion_resources.py, _response_resources.py; the
    raw-response wrappers take them when first made, openai/_legacy_response.py), so instrumenting those covers them;
    Anthropic's `messages.stream` posts without `create` and is instrumented itself."""
    module = type(client).__module__.split(".")[0]
    if module == "openai":
        return [
            (client.chat.completions, "create", "chat.completions"),
            (client.responses, "create", "responses"),
            # The `parse()` helpers post themselves (openai/lib/_chat_completion_resources.py, _response_resources.py).
            (client.chat.completions, "parse", "chat.completions"),
            (client.responses, "parse", "responses"),
        ]
    if module == "anthropic":
        return [(client.messages, "create", "messages"), (client.messages, "stream", "messages")]
    raise TypeError(
        f"instrument() takes an openai or anthropic SDK client (OpenAI, AsyncOpenAI, Anthropic, AsyncAnthropic, ...); "
        f"got {type(client).__module__}.{type(client).__name__}"
    )


def instrument(
    client: C,
    sink: Sink | Iterable[Sink] | None = None,
    *,
    book: PriceBook | None = None,
    include_usage: bool = False,
) -> C:
    """Prices every call `client` makes and hands it (a `PricedCall`) to `sink` — a `JsonlSink`, an
    `OpenTelemetrySink`, any callable, or several. Returns the same client; instrumenting twice changes nothing."""
    sinks = as_sinks(sink)
    for resource, name, endpoint in _targets(client):
        method = getattr(resource, name)
        if getattr(method, _MARK, False):
            continue
        if name == "stream":
            setattr(resource, name, _wrap_stream_helper(method, endpoint, sinks, book))
            continue
        setattr(resource, name, _wrap(method, endpoint, sinks, book, include_usage))
        # The raw-response views take `create` when first made (cached properties): made before, they are made
        # again, now with the instrumented `create`.
        for view in ("with_raw_response", "with_streaming_response"):
            vars(resource).pop(view, None)
    return client
