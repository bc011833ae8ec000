"""instrument(client): the real openai and anthropic SDKs, sync and async, streaming and not, calling a local
HTTP server (tests/service_server.py) that answers with recorded shapes. Every call is priced with the labels in
force when it was made and handed to the sinks; the JSON Lines file prices back with price_logs to the exact sum
of the per-call costs; a failing sink never breaks the call."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import tokenprice

from service_server import ANTHROPIC_USAGE, CHAT_USAGE, STREAMED_TEXT, Server, base_url, serve

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve() as s:
        yield s


def openai_client(server: Server, cls: Any = openai.OpenAI) -> Any:
    return cls(api_key="test", base_url=base_url(server, "/v1"), max_retries=0)


def anthropic_client(server: Server, cls: Any = anthropic.Anthropic) -> Any:
    return cls(api_key="test", base_url=base_url(server), max_retries=0)


def expected(usage: dict[str, int], model: str, call: tokenprice.PricedCall) -> Decimal:
    return tokenprice.price(tokenprice.Usage(**usage), model=model, at=call.timestamp).total


def test_a_chat_completion_is_priced_with_its_labels(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), calls.append)
    with tokenprice.labels(tenant="acme", feature="search"):
        reply = client.chat.completions.create(model="gpt-4o-2024-08-06", messages=MESSAGES)
    assert reply.choices[0].message.content == "Paris."  # the SDK's own object, untouched
    [call] = calls
    assert tokenprice.last_call() is call
    assert call.labels == {"tenant": "acme", "feature": "search"}
    assert call.endpoint == "chat.completions" and not call.counted
    usage = {"input_tokens": 2422, "cache_read_tokens": 2304, "output_tokens": 120}
    assert call.total == expected(usage, "gpt-4o-2024-08-06", call)
    # Instrumenting twice wraps once.
    tokenprice.instrument(client, calls.append)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(calls) == 2


def test_a_stream_without_usage_is_counted_and_the_caller_sees_every_chunk(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), calls.append)
    with tokenprice.labels(tenant="acme"):
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == "".join(STREAMED_TEXT)
    assert "stream_options" not in server.requests[-1][1]  # not turned on by default
    [call] = calls
    assert call.counted and not call.approximate
    assert call.usage.input_tokens == tokenprice.count_message_tokens(MESSAGES, "gpt-4o")
    assert call.usage.output_tokens == tokenprice.count_tokens(text, model="gpt-4o")
    assert call.labels == {"tenant": "acme"}


def test_include_usage_prices_the_usage_chunk_and_keeps_it_from_the_caller(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), calls.append, include_usage=True)
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert server.requests[-1][1]["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)  # chunk.choices[0] works on every chunk the caller gets
    [call] = calls
    assert not call.counted
    assert call.usage.input_tokens == CHAT_USAGE["prompt_tokens"]
    assert call.usage.cache_read_tokens == CHAT_USAGE["prompt_tokens_details"]["cached_tokens"]
    # A caller who asks for the usage chunk gets it.
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert list(stream)[-1].choices == []
    assert len(calls) == 2 and calls[1].usage == call.usage


def test_responses_streamed_and_not(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), calls.append)
    client.responses.create(model="gpt-4.1", input="What is the capital of France?")
    events = list(client.responses.create(model="gpt-4.1", input="What is the capital of France?", stream=True))
    assert events[-1].type == "response.completed"
    assert len(calls) == 2 and calls[0].usage == calls[1].usage
    usage = {"input_tokens": 328, "cache_read_tokens": 128, "output_tokens": 52}
    assert calls[1].total == expected(usage, "gpt-4.1", calls[1])


def test_anthropic_sync_and_streamed_follow_anthropics_cache_rule(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(anthropic_client(server), calls.append)
    model = "claude-sonnet-4-5-20250929"
    message = client.messages.create(model=model, max_tokens=1024, messages=MESSAGES)
    assert message.content[0].text == "Paris."
    text = ""
    for event in client.messages.create(model=model, max_tokens=1024, messages=MESSAGES, stream=True):
        if event.type == "content_block_delta":
            text += event.delta.text
    assert text == "".join(STREAMED_TEXT)
    u = ANTHROPIC_USAGE
    whole = u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]
    usage = {
        "input_tokens": whole,
        "cache_read_tokens": u["cache_read_input_tokens"],
        "cache_write_tokens": u["cache_creation_input_tokens"],
        "output_tokens": u["output_tokens"],
    }
    assert len(calls) == 2
    for call in calls:
        assert call.usage.input_tokens == whole
        assert call.total == expected(usage, model, call)


def test_async_clients_price_calls_from_nested_tasks_with_their_own_labels(server: Server) -> None:
    calls: list[tokenprice.PricedCall] = []
    oa = tokenprice.instrument(openai_client(server, openai.AsyncOpenAI), calls.append)
    an = tokenprice.instrument(anthropic_client(server, anthropic.AsyncAnthropic), calls.append)

    async def conversation(tenant: str, cid: str) -> None:
        with tokenprice.labels(tenant=tenant, conversation=cid):

            async def turn(i: int) -> None:
                with tokenprice.labels(turn=i):
                    await oa.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                    stream = await an.messages.create(
                        model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, stream=True
                    )
                    async for _ in stream:
                        pass
                    s2 = await oa.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
                    async with s2:
                        async for _ in s2:
                            pass

            await asyncio.gather(*(asyncio.create_task(turn(i)) for i in range(3)))

    async def main() -> None:
        await asyncio.gather(*(conversation(t, f"c-{t}") for t in ("acme", "globex")))

    asyncio.run(main())
    assert len(calls) == 2 * 3 * 3
    for call in calls:
        tenant = call.labels["tenant"]
        assert call.labels["conversation"] == f"c-{tenant}" and call.labels["turn"] in (0, 1, 2)
    by_endpoint = {c.endpoint for c in calls}
    assert by_endpoint == {"chat.completions", "messages"}


def test_the_jsonl_sink_prices_back_to_the_exact_sum(server: Server, tmp_path: Path) -> None:
    sink = tokenprice.JsonlSink(tmp_path / "calls", max_bytes=2000)  # small: several files
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), [sink, calls.append])
    aclient = tokenprice.instrument(anthropic_client(server), [sink, calls.append])
    for i in range(12):
        with tokenprice.labels(tenant=("acme", "globex")[i % 2], feature="search"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            list(aclient.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, stream=True))
            list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    sink.flush()
    files = sorted((tmp_path / "calls").glob("*.jsonl"))
    assert len(files) > 1 and all(f"-{os.getpid()}-" in f.name for f in files)
    logs = tokenprice.price_logs(sink.glob)
    assert logs.rows_read == logs.rows_priced == len(calls) == 36
    assert logs.total_cost == sum((c.total for c in calls), Decimal(0)) == sum(calls[i].cost for i in range(36)).total
    by_tenant = {r["tenant"]: r["total_cost"] for r in logs.summary("tenant").to_pylist()}
    for tenant in ("acme", "globex"):
        assert by_tenant[tenant] == sum((c.total for c in calls if c.labels["tenant"] == tenant), Decimal(0))
    # The log's own cost (reported) matches tokenprice's on every line.
    assert logs.reconcile().reported_total == logs.reconcile().computed_total
    first = json.loads(files[0].read_text().splitlines()[0])
    assert first["tokenprice"] == 1 and first["labels"]["feature"] == "search"


def test_a_failing_sink_is_logged_and_the_call_returns(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    good: list[tokenprice.PricedCall] = []

    def broken(call: tokenprice.PricedCall) -> None:
        raise RuntimeError("disk full")

    client = tokenprice.instrument(openai_client(server), [broken, good.append])
    with caplog.at_level(logging.ERROR, logger="tokenprice"):
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "Paris."
    assert len(good) == 1
    assert "sink" in caplog.text and "disk full" in caplog.text


def test_a_call_that_cannot_be_priced_is_logged_and_returns(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), calls.append)
    with caplog.at_level(logging.ERROR, logger="tokenprice"):
        reply = client.chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
    assert reply.choices[0].message.content == "Paris."
    assert calls == [] and "could not price" in caplog.text


def test_the_opentelemetry_sink_sets_genai_attributes_cost_and_labels(server: Server) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    calls: list[tokenprice.PricedCall] = []
    client = tokenprice.instrument(openai_client(server), [tokenprice.OpenTelemetrySink(tracer), calls.append])
    with tokenprice.labels(tenant="acme"), tracer.start_as_current_span("handler"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [span] = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == CHAT_USAGE["prompt_tokens"]
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == CHAT_USAGE["prompt_tokens_details"]["cached_tokens"]
    assert Decimal(str(attrs["tokenprice.cost_usd"])) == calls[0].total
    assert attrs["tenant"] == "acme"
    # The span, exported as JSON, is read back by the otel format with the same usage.
    record = tokenprice.extract_usage({"name": span.name, "attributes": attrs})
    assert record.usage == calls[0].usage and record.metadata["tenant"] == "acme"


def _child_calls(directory: str, n: int) -> None:
    sink = _SINKS[directory]
    for _ in range(n):
        with tokenprice.labels(tenant=f"child-{os.getpid()}"):
            tokenprice.price_call(_BODY, sink=sink)


_SINKS: dict[str, tokenprice.JsonlSink] = {}
_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o",
    "choices": [],
    "usage": CHAT_USAGE,
}


def test_forked_workers_write_their_own_files_and_flush_at_exit(tmp_path: Path) -> None:
    import multiprocessing

    sink = tokenprice.JsonlSink(tmp_path)
    _SINKS[str(tmp_path)] = sink
    parent = [tokenprice.price_call(_BODY, sink=sink) for _ in range(5)]  # the parent's writer runs before the fork
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child_calls, args=(str(tmp_path), 50)) for _ in range(3)]
    for c in children:
        c.start()
    for c in children:
        c.join(timeout=60)
        assert c.exitcode == 0
    sink.flush()
    pids = {f.name.split("-")[2] for f in tmp_path.glob("*.jsonl")}
    assert pids == {str(os.getpid()), *(str(c.pid) for c in children)}
    logs = tokenprice.price_logs(sink.glob)
    assert logs.rows_priced == 5 + 3 * 50  # nothing lost at the children's exit, nothing written twice
    per_call = parent[0].total
    assert logs.total_cost == per_call * (5 + 150)


def test_the_jsonl_sink_starts_a_file_each_utc_day(tmp_path: Path) -> None:
    day = [1_780_000_000.0]  # 2026-05-28 UTC
    sink = tokenprice.JsonlSink(tmp_path, clock=lambda: day[0])
    calls = []
    for i in range(6):
        if i == 3:
            sink.flush()
            day[0] += 86_400
        calls.append(tokenprice.price_call(_BODY, sink=sink))
    sink.flush()
    names = sorted(f.name for f in tmp_path.glob("*.jsonl"))
    assert [n.split("-")[1] for n in names] == ["20260528", "20260529"]
    assert all(len(f.read_text().splitlines()) == 3 for f in tmp_path.glob("*.jsonl"))
    assert tokenprice.price_logs(sink.glob).total_cost == sum((c.total for c in calls), Decimal(0))
