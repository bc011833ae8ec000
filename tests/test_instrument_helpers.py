"""instrument(client) through the SDKs' other doors, sync and async, against the local replay server
(tests/service_server.py): OpenAI's `with_raw_response` and `with_streaming_response` (openai/_legacy_response.py,
openai/_response.py: the wrappers call the resource's `create`), `chat.completions.stream` and `responses.stream`
(openai/lib/_chat_completion_resources.py, _response_resources.py: they call `create(stream=True)`), Anthropic's
`messages.stream` (anthropic/resources/messages/messages.py: it posts itself; anthropic/lib/streaming/_messages.py
iterates the raw stream) and `messages.with_raw_response`. Each call is priced once with its labels, and the
caller's objects are the SDK's own: the same types and the same chunks and events as an uninstrumented client's."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest

import tokenprice

from service_server import ANTHROPIC_USAGE, STREAMED_TEXT, Server, base_url, serve

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = {"input_tokens": 2422, "cache_read_tokens": 2304, "output_tokens": 120}
RESPONSES = {"input_tokens": 328, "cache_read_tokens": 128, "output_tokens": 52}
_u = ANTHROPIC_USAGE
MESSAGES_USAGE = {
    "input_tokens": _u["input_tokens"] + _u["cache_creation_input_tokens"] + _u["cache_read_input_tokens"],
    "cache_read_tokens": _u["cache_read_input_tokens"],
    "cache_write_tokens": _u["cache_creation_input_tokens"],
    "output_tokens": _u["output_tokens"],
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve() as s:
        yield s


def clients(server: Server, kind: str, asynchronous: bool) -> tuple[Any, Any, list[tokenprice.PricedCall]]:
    """A plain client and an instrumented one of the same kind, and the calls the instrumented one priced."""
    calls: list[tokenprice.PricedCall] = []
    if kind == "openai":
        cls: Any = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        make = lambda: cls(api_key="test", base_url=base_url(server, "/v1"), max_retries=0)  # noqa: E731
    else:
        cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        make = lambda: cls(api_key="test", base_url=base_url(server), max_retries=0)  # noqa: E731
    instrumented = make()
    # A view made before instrument() is made again with the instrumented create.
    _ = instrumented.chat.completions.with_raw_response if kind == "openai" else instrumented.messages.with_raw_response
    return make(), tokenprice.instrument(instrumented, calls.append), calls


def priced(calls: list[tokenprice.PricedCall], usage: dict[str, int], model: str) -> None:
    [call] = calls
    assert call.labels == {"tenant": "acme"} and not call.counted
    want = tokenprice.price(tokenprice.Usage(**usage), model=model, at=call.timestamp).total
    assert call.total == want and call.total > Decimal(0)


def same(plain: list[Any], observed: list[Any]) -> None:
    """The same objects: types and contents, chunk by chunk."""
    assert [type(x) for x in observed] == [type(x) for x in plain]
    dump = lambda x: x.model_dump() if hasattr(x, "model_dump") else x  # noqa: E731
    assert [dump(x) for x in observed] == [dump(x) for x in plain]


def run(asynchronous: bool, sync: Callable[[], Any], coro: Callable[[], Any]) -> Any:
    return asyncio.run(coro()) if asynchronous else sync()


def through_helper(
    asynchronous: bool, plain: Any, client: Any, helper: Callable[[Any], Any], final: str
) -> tuple[list[Any], Any, Any]:
    """Runs a stream helper (`with helper(client) as stream`) on both clients, the instrumented one with labels;
    checks both give the same type and events; returns the events and both final objects (`stream.<final>()`)."""

    def sync(c: Any) -> Any:
        with helper(c) as stream:
            return type(stream), list(stream), getattr(stream, final)()

    async def coro(c: Any) -> Any:
        async with helper(c) as stream:
            return type(stream), [e async for e in stream], await getattr(stream, final)()

    with tokenprice.labels(tenant="acme"):
        kind, events, got = run(asynchronous, lambda: sync(client), lambda: coro(client))
    their_kind, theirs, their_final = run(asynchronous, lambda: sync(plain), lambda: coro(plain))
    assert kind is their_kind
    same(theirs, events)
    return events, got, their_final


@pytest.mark.parametrize("asynchronous", [False, True])
def test_openai_with_raw_response(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}

    def sync(c: Any) -> Any:
        raw = c.chat.completions.with_raw_response.create(**kwargs)
        return raw, raw.parse()

    async def coro(c: Any) -> Any:
        raw = await c.chat.completions.with_raw_response.create(**kwargs)
        return raw, raw.parse()

    with tokenprice.labels(tenant="acme"):
        raw, parsed = run(asynchronous, lambda: sync(client), lambda: coro(client))
    theirs_raw, theirs = run(asynchronous, lambda: sync(plain), lambda: coro(plain))
    assert type(raw) is type(theirs_raw) and raw.headers["content-type"] == "application/json"
    same([theirs], [parsed])
    assert raw.parse() is parsed  # the SDK keeps what parse() gave; tokenprice read that same object
    priced(calls, CHAT, "gpt-4o")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_openai_with_raw_response_streamed(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)
    kwargs: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    def sync(c: Any) -> Any:
        stream = c.chat.completions.with_raw_response.create(**kwargs).parse()
        return type(stream), list(stream)

    async def coro(c: Any) -> Any:
        stream = (await c.chat.completions.with_raw_response.create(**kwargs)).parse()
        return type(stream), [chunk async for chunk in stream]

    with tokenprice.labels(tenant="acme"):
        kind, chunks = run(asynchronous, lambda: sync(client), lambda: coro(client))
    their_kind, theirs = run(asynchronous, lambda: sync(plain), lambda: coro(plain))
    assert kind is their_kind and kind in (openai.Stream, openai.AsyncStream)
    same(theirs, chunks)
    assert chunks[-1].choices == []  # the caller asked for the usage chunk: it is theirs
    priced(calls, CHAT, "gpt-4o")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_openai_with_streaming_response(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}

    def sync(c: Any) -> Any:
        with c.chat.completions.with_streaming_response.create(**kwargs) as response:
            return type(response), response.parse()

    async def coro(c: Any) -> Any:
        async with c.chat.completions.with_streaming_response.create(**kwargs) as response:
            return type(response), await response.parse()

    with tokenprice.labels(tenant="acme"):
        kind, parsed = run(asynchronous, lambda: sync(client), lambda: coro(client))
    their_kind, theirs = run(asynchronous, lambda: sync(plain), lambda: coro(plain))
    assert kind is their_kind
    same([theirs], [parsed])
    priced(calls, CHAT, "gpt-4o")


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_chat_completions_stream_helper(server: Server, asynchronous: bool, include_usage: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)
    kwargs: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    if include_usage:
        kwargs["stream_options"] = {"include_usage": True}

    helper = lambda c: c.chat.completions.stream(**kwargs)  # noqa: E731
    _, final, their_final = through_helper(asynchronous, plain, client, helper, "get_final_completion")
    same([their_final], [final])
    assert final.choices[0].message.content == "".join(STREAMED_TEXT)
    if include_usage:
        priced(calls, CHAT, "gpt-4o")
    else:  # no usage in the stream: the request and the streamed text counted
        [call] = calls
        assert call.counted and call.usage.output_tokens == tokenprice.count_tokens("".join(STREAMED_TEXT), "gpt-4o")
        assert call.usage.input_tokens == tokenprice.count_message_tokens(MESSAGES, "gpt-4o")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_openai_responses_stream_helper(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)
    kwargs: dict[str, Any] = {"model": "gpt-4.1", "input": "What is the capital of France?"}

    helper = lambda c: c.responses.stream(**kwargs)  # noqa: E731
    _, final, their_final = through_helper(asynchronous, plain, client, helper, "get_final_response")
    assert final.usage.model_dump() == their_final.usage.model_dump()
    priced(calls, RESPONSES, "gpt-4.1")


@pytest.mark.parametrize("asynchronous", [False, True])
def test_anthropic_messages_stream_helper(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "anthropic", asynchronous)
    model = "claude-sonnet-4-5-20250929"
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": MESSAGES}

    helper = lambda c: c.messages.stream(**kwargs)  # noqa: E731
    _, final, their_final = through_helper(asynchronous, plain, client, helper, "get_final_message")
    same([their_final], [final])
    assert final.content[0].text == "".join(STREAMED_TEXT)
    priced(calls, MESSAGES_USAGE, model)


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_with_raw_response(server: Server, asynchronous: bool, stream: bool) -> None:
    plain, client, calls = clients(server, "anthropic", asynchronous)
    model = "claude-sonnet-4-5-20250929"
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 1024, "messages": MESSAGES, "stream": stream}

    def sync(c: Any) -> Any:
        parsed = c.messages.with_raw_response.create(**kwargs).parse()
        return type(parsed), list(parsed) if stream else [parsed]

    async def coro(c: Any) -> Any:
        parsed = (await c.messages.with_raw_response.create(**kwargs)).parse()  # a coroutine: anthropic/_response.py
        parsed = await parsed if inspect.isawaitable(parsed) else parsed
        return type(parsed), [e async for e in parsed] if stream else [parsed]

    with tokenprice.labels(tenant="acme"):
        kind, got = run(asynchronous, lambda: sync(client), lambda: coro(client))
    their_kind, theirs = run(asynchronous, lambda: sync(plain), lambda: coro(plain))
    assert kind is their_kind
    same(theirs, got)
    priced(calls, MESSAGES_USAGE, model)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_openai_parse_helpers(server: Server, asynchronous: bool) -> None:
    plain, client, calls = clients(server, "openai", asynchronous)

    def sync(c: Any) -> Any:
        chat = c.chat.completions.parse(model="gpt-4o", messages=MESSAGES)
        return [chat, c.responses.parse(model="gpt-4.1", input="What is the capital of France?")]

    async def coro(c: Any) -> Any:
        chat = await c.chat.completions.parse(model="gpt-4o", messages=MESSAGES)
        return [chat, await c.responses.parse(model="gpt-4.1", input="What is the capital of France?")]

    with tokenprice.labels(tenant="acme"):
        got = run(asynchronous, lambda: sync(client), lambda: coro(client))
    same(run(asynchronous, lambda: sync(plain), lambda: coro(plain)), got)
    priced(calls[:1], CHAT, "gpt-4o")
    priced(calls[1:], RESPONSES, "gpt-4.1")
