"""A local stand-in for Cloudflare AI Gateway's Logs API, for the pull's tests (tests/test_pull_cloudflare.py).

It answers ``GET /client/v4/accounts/{account_id}/ai-gateway/gateways/{gateway_id}/logs`` on 127.0.0.1 (a free
port) as the API documents it:

- the query: ``page``, ``per_page``, ``order_by`` (``created_at``), ``order_by_direction`` (``asc``/``desc``),
  ``start_date`` / ``end_date`` (ISO 8601; taken here as inclusive bounds) and the scalar filters (``provider``,
  ``model``, ``success``, ``cached``) of ``LogListParams`` (cloudflare/cloudflare-python
  ``src/cloudflare/types/ai_gateway/log_list_params.py``; cloudflare/cloudflare-typescript
  ``src/resources/ai-gateway/logs.ts``, ``list()`` → ``/accounts/${account_id}/ai-gateway/gateways/${gatewayId}/logs``);
- the items: ``LogListResponse`` (cloudflare-python ``types/ai_gateway/log_list_response.py``: ``id``, ``cached``,
  ``created_at``, ``duration``, ``model``, ``path``, ``provider``, ``success``, ``tokens_in`` / ``tokens_out``
  (nullable), ``cost``, ``custom_cost``, ``metadata`` (a JSON string), ``model_type``, ``request_content_type``,
  ``request_type``, ``response_content_type``, ``status_code``, ``step``);
- the envelope: the v4 list envelope ``{"success": true, "errors": [], "messages": [], "result": [...],
  "result_info": {"page", "per_page", "count", "total_count"}}`` (cloudflare-typescript ``src/pagination.ts``
  ``V4PagePaginationArrayResponse``: ``result`` and ``result_info.page`` / ``per_page``; ``count`` and
  ``total_count`` as the v4 API's result_info carries them), and the error envelope ``{"success": false, "errors":
  [{"code", "message"}], "messages": [], "result": null}`` with HTTP 400/401 (developers.cloudflare.com/api
  ``ai_gateway/subresources/logs/methods/list``: 400 ``{"errors": [{"message"}], "result": {}, "success"}``);
- rate limits: HTTP 429 with ``Retry-After`` in whole seconds (developers.cloudflare.com
  ``fundamentals/api/reference/limits/``: 1200 requests per five minutes; ``retry-after``: "the number of seconds,
  rounded up, until more capacity is available").

Faults are scripted per request number (``faults={3: "429", 5: "500", 7: "truncated", 9: "html", 11: "redirect"}``), a hook runs
before each answer (records created while a pull runs), and ``delay`` slows each answer (a pull to kill mid-run).
The records themselves are built by ``gateway_records``: the documented item shape, with metadata labels, gateway
cache hits, provider errors, a fallback step and a success logged without usage (cloudflare/ai#491).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/client/v4"
MODELS = [("openai", "gpt-4o-mini", "chat/completions"), ("anthropic", "claude-sonnet-4-5", "v1/messages")]
# Per-million prices of the two models in the default book (checked by the tests through price_logs, not here).
TENANTS = ["acme", "globex", "initech"]


def stamp(at: datetime) -> str:
    """``created_at`` as the API writes it: UTC, milliseconds, ``Z``."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def gateway_records(n: int, start: datetime, step: timedelta, *, first_id: int = 0) -> list[dict[str, Any]]:
    """``n`` Logs API items, one per ``step`` from ``start`` (so they cross days when asked), every kind a gateway
    logs: priced calls with labels, cache hits, provider errors, a fallback, a success without usage."""
    out = []
    for i in range(n):
        k = first_id + i
        provider, model, path = MODELS[k % 2]
        at = start + i * step
        item: dict[str, Any] = {
            "id": f"01KCF{k:021d}",
            "cached": False,
            "created_at": stamp(at),
            "duration": 300 + (k * 37) % 900,
            "model": model,
            "path": path,
            "provider": provider,
            "success": True,
            "tokens_in": 200 + (k * 131) % 5000,
            "tokens_out": 10 + (k * 17) % 700,
            "cost": None,
            "custom_cost": False,
            "metadata": json.dumps({"tenant": TENANTS[k % 3], "feature": "search" if k % 2 else "chat"}),
            "model_type": "chat",
            "request_content_type": "application/json",
            "request_type": "stream" if k % 4 == 0 else "sync",
            "response_content_type": "application/json",
            "status_code": 200,
            "step": 0,
        }
        # The gateway's own estimate, as the API sends it: a JSON number (Python float text).
        per_in, per_out = (0.15, 0.6) if provider == "openai" else (3, 15)
        item["cost"] = round((item["tokens_in"] * per_in + item["tokens_out"] * per_out) / 1e6, 9)
        if k % 11 == 5:  # a gateway cache hit: answered by the gateway, logged with the tokens it replayed
            item["cached"] = True
        if k % 13 == 7:  # the provider refused: no tokens, no cost
            item.update(success=False, status_code=429, tokens_in=None, tokens_out=None, cost=None)
        if k % 17 == 3:  # a fallback step
            item["step"] = 1
        if k % 29 == 11:  # a success logged without usage (cloudflare/ai#491): rejected when priced, never a free call
            item.update(tokens_in=None, tokens_out=None, cost=None)
        out.append(item)
    return out


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return (item["created_at"], item["id"])


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LogsApi:
    """The server: ``records`` is the gateway's log (mutable while it runs), ``requests`` the queries it answered."""

    def __init__(
        self,
        records: list[dict[str, Any]],
        *,
        account: str = "0123456789abcdef0123456789abcdef",
        gateway: str = "prod",
        token: str = "cf-test-token",
        faults: dict[int, str] | None = None,
        before: Callable[[int, dict[str, list[str]]], None] | None = None,
        delay: float = 0.0,
        echo_token_in_errors: bool = False,
        retry_after: int = 3,
        cap: int | None = None,
        unordered: bool = False,
        ignore_start: bool = False,
    ) -> None:
        self.unordered, self.ignore_start = unordered, ignore_start
        self.retry_after = retry_after
        self.cap = cap
        self.records = list(records)
        self.account, self.gateway, self.token = account, gateway, token
        self.faults = dict(faults or {})
        self.before = before
        self.delay = delay
        self.echo = echo_token_in_errors
        self.requests: list[dict[str, list[str]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def __enter__(self) -> LogsApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def add(self, items: list[dict[str, Any]]) -> None:
        with self.lock:
            self.records.extend(items)

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The list's answer to ``query``, as the API pages it."""
        one = {k: v[-1] for k, v in query.items()}
        with self.lock:
            items = list(self.records)
        if "start_date" in one and not self.ignore_start:
            lo = _parse(one["start_date"])
            items = [r for r in items if _parse(r["created_at"]) >= lo]
        if "end_date" in one:
            hi = _parse(one["end_date"])
            items = [r for r in items if _parse(r["created_at"]) <= hi]
        for name in ("provider", "model"):
            if name in one:
                items = [r for r in items if r[name] == one[name]]
        for name in ("success", "cached"):
            if name in one:
                items = [r for r in items if r[name] == (one[name] == "true")]
        items.sort(key=_key, reverse=one.get("order_by_direction", "asc") == "desc")
        page, per_page = int(one.get("page", "1")), int(one.get("per_page", "20"))
        # ``cap``: a server that gives fewer per page than asked, and says the size asked (total_count tells).
        size = min(per_page, self.cap or per_page)
        chunk = items[(page - 1) * size : page * size]
        if self.unordered:  # a page in no particular order (the pages themselves in order)
            chunk = chunk[1::2] + chunk[0::2]
        return {
            "success": True,
            "errors": [],
            "messages": [],
            "result": chunk,
            "result_info": {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int = -1) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length < 0 else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
                body = {
                    "success": False,
                    "errors": [{"code": code, "message": message}],
                    "messages": [],
                    "result": None,
                }
                self._send(status, json.dumps(body).encode(), headers)

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                with api.lock:
                    api.requests.append(query)
                    n = len(api.requests)
                    fault = api.faults.pop(n, None)
                if api.delay:
                    time.sleep(api.delay)
                expected = f"{PREFIX}/accounts/{api.account}/ai-gateway/gateways/{api.gateway}/logs"
                if parts.path != expected:
                    self._error(404, 7003, f"Could not route to {parts.path}")
                    return
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {api.token}":
                    said = f" (got {auth!r})" if api.echo else ""
                    self._error(401, 10000, f"Authentication error{said}")
                    return
                if fault == "429":
                    self._error(
                        429,
                        971,
                        "Please wait and consider throttling your request speed",
                        {"Retry-After": str(api.retry_after)},
                    )
                    return
                if fault == "500":
                    self._error(500, 10001, "Internal server error")
                    return
                if fault == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{api.server.server_address[1]}/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "html":
                    self._send(200, b"<html><body>502 Bad Gateway</body></html>")
                    return
                if api.before is not None:
                    api.before(n, query)
                body = json.dumps(api.page(query)).encode()
                if fault == "truncated":
                    # The status and the length of the whole page, then half of it and the connection closes.
                    self._send(200, body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                    return
                self._send(200, body)

        return Handler
