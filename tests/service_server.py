"""A local HTTP server (127.0.0.1, a free port) that answers as the OpenAI and Anthropic APIs do, with response
bodies and SSE streams of the recorded shapes (the SDKs' own types parse them), for tests/test_instrument.py and
the service docs. It records each request body it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_USAGE = {
    "prompt_tokens": 2422,
    "completion_tokens": 120,
    "total_tokens": 2542,
    "prompt_tokens_details": {"cached_tokens": 2304, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
ANTHROPIC_USAGE = {
    "input_tokens": 21,
    "cache_creation_input_tokens": 2051,
    "cache_read_input_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 2051, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 503,
    "service_tier": "standard",
}
STREAMED_TEXT = ["The capital", " of France", " is Paris."]


def chat_completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris.", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": CHAT_USAGE,
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }


def chat_chunks(model: str, include_usage: bool) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1741569952, "model": model}
    first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    chunks = [{**base, "choices": [first]}]
    for piece in STREAMED_TEXT:
        chunks.append(
            {**base, "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}]}
        )
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if include_usage:
        for c in chunks:
            c["usage"] = None
        chunks.append({**base, "choices": [], "usage": CHAT_USAGE})
    return chunks


def response_object(model: str) -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Paris.", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 328,
            "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 0},
            "output_tokens": 52,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 380,
        },
    }


def response_events(model: str) -> list[dict[str, Any]]:
    """A streamed Responses call: the events of https://platform.openai.com/docs/api-reference/responses-streaming
    in their order — the output item and its content part announced, the text, each closed, the response completed
    (the SDK's `responses.stream` helper checks this order, openai/lib/streaming/responses/_responses.py)."""
    final = response_object(model)
    message = final["output"][0]
    text = message["content"][0]
    where = {"item_id": message["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**final, "status": "in_progress", "usage": None, "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {**text, "text": ""}},
        {"type": "response.output_text.delta", **where, "delta": text["text"], "logprobs": []},
        {"type": "response.output_text.done", **where, "text": text["text"], "logprobs": []},
        {"type": "response.content_part.done", **where, "part": text},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": final},
    ]
    return [{**e, "sequence_number": n} for n, e in enumerate(events)]


def anthropic_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Paris."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }


def anthropic_events(model: str) -> list[tuple[str, dict[str, Any]]]:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    message = {**anthropic_message(model), "content": [], "stop_reason": None, "usage": start_usage}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for piece in STREAMED_TEXT:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
        events.append(("content_block_delta", delta))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 503},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: Any) -> None:
        pass

    def _send_json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events: list[tuple[str | None, dict[str, Any] | str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            head = f"event: {name}\n" if name else ""
            self.wfile.write(f"{head}data: {text}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        model = body.get("model", "")
        stream = body.get("stream", False)
        if self.path.endswith("/chat/completions"):
            if not stream:
                return self._send_json(chat_completion(model))
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks: list[tuple[str | None, dict[str, Any] | str]] = [(None, c) for c in chat_chunks(model, include)]
            return self._send_sse([*chunks, (None, "[DONE]")])
        if self.path.endswith("/responses"):
            if not stream:
                return self._send_json(response_object(model))
            return self._send_sse([(e["type"], e) for e in response_events(model)])
        if self.path.endswith("/messages"):
            if not stream:
                return self._send_json(anthropic_message(model))
            return self._send_sse(list(anthropic_events(model)))
        self.send_response(404)
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, dict[str, Any]]]


@contextmanager
def serve() -> Iterator[Server]:
    """The server on a free port of 127.0.0.1, stopped afterwards."""
    server = Server(("127.0.0.1", 0), Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def base_url(server: Server, path: str = "") -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{path}"
