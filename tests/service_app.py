"""A small service for tests/test_service_servers.py, run by real pre-forking servers (gunicorn's sync workers,
uvicorn's --workers): each request calls an instrumented OpenAI client (sync for WSGI, async for ASGI) against the
local replay server (tests/service_server.py), with the tenant of the request as a label, and answers the cost of
the call it made (`last_call()`), so the test can add up what the app priced and compare it with the sink's files.

Configured by the environment: TOKENPRICE_TEST_UPSTREAM (the replay server's /v1 URL), TOKENPRICE_TEST_SINK (the
JSON Lines directory), TOKENPRICE_TEST_MAX_BYTES (the sink's rotation size).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import openai

import tokenprice

SINK = tokenprice.JsonlSink(
    os.environ["TOKENPRICE_TEST_SINK"], max_bytes=int(os.environ.get("TOKENPRICE_TEST_MAX_BYTES", "4096"))
)
UPSTREAM = os.environ["TOKENPRICE_TEST_UPSTREAM"]
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
# Made at import: with gunicorn --preload, in the arbiter before it forks (each worker then starts its own writer).
SYNC_CLIENT = tokenprice.instrument(openai.OpenAI(api_key="test", base_url=UPSTREAM, max_retries=0), SINK)


def _answer(tenant: str, request: str, stream: bool, client_call: Callable[[], Any]) -> dict[str, Any]:
    with tokenprice.labels(tenant=tenant, feature="stream" if stream else "chat", request=request):
        client_call()
    call = tokenprice.last_call()
    return {"pid": os.getpid(), "cost": None if call is None else str(call.cost.total)}


def _chat_sync(stream: bool) -> None:
    if stream:
        for _ in SYNC_CLIENT.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass
    else:
        SYNC_CLIENT.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    tenant = query.get("tenant", ["none"])[0]
    stream = query.get("stream", ["0"])[0] == "1"
    request = query.get("request", ["none"])[0]
    body = json.dumps(_answer(tenant, request, stream, lambda: _chat_sync(stream))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


_ASYNC_CLIENT: openai.AsyncOpenAI | None = None


async def asgi(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    global _ASYNC_CLIENT
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if _ASYNC_CLIENT is None:  # one per worker process, made in its own event loop
        _ASYNC_CLIENT = tokenprice.instrument(
            openai.AsyncOpenAI(api_key="test", base_url=UPSTREAM, max_retries=0), SINK
        )
    client = _ASYNC_CLIENT
    query = parse_qs(scope.get("query_string", b"").decode())
    tenant = query.get("tenant", ["none"])[0]
    stream = query.get("stream", ["0"])[0] == "1"
    request = query.get("request", ["none"])[0]
    with tokenprice.labels(tenant=tenant, feature="stream" if stream else "chat", request=request):
        if stream:
            async for _ in await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
                pass
        else:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    call = tokenprice.last_call()
    body = json.dumps({"pid": os.getpid(), "cost": None if call is None else str(call.cost.total)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
