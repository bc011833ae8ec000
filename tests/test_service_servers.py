"""The JSON Lines sink under real pre-forking servers: gunicorn (sync workers, the app imported before the fork
with --preload, so every worker inherits the sink) and uvicorn (--workers, spawned processes), each with 3 worker
processes serving tests/service_app.py on a free local port. Many concurrent requests, each with its own labels,
call an instrumented OpenAI client against the local replay server; the server is stopped with SIGTERM; then the
sink's files, priced by `price_logs` with no options, hold exactly one whole line per request (none lost, torn or
written twice) and add up to exactly the costs the app answered, with files rotated per process (a small
rotation size) and no file written by two processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

import tokenprice

from service_server import base_url, serve

HERE = Path(__file__).resolve().parent
REQUESTS = 240
WORKERS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as r:
        answer: dict[str, object] = json.loads(r.read())
        return answer


SERVERS = {
    "gunicorn-sync": lambda port: [
        sys.executable, "-m", "gunicorn", "--preload", "--workers", str(WORKERS), "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20", "--chdir", str(HERE), "service_app:wsgi",
    ],
    "uvicorn-workers": lambda port: [
        sys.executable, "-m", "uvicorn", "--workers", str(WORKERS), "--host", "127.0.0.1", "--port", str(port),
        "--app-dir", str(HERE), "--no-access-log", "--timeout-graceful-shutdown", "20", "service_app:asgi",
    ],
}  # fmt: skip


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_pre_forking_server_writes_every_call_once_and_prices_back_exactly(server: str, tmp_path: Path) -> None:
    pytest.importorskip("gunicorn" if server.startswith("gunicorn") else "uvicorn")
    sink_dir = tmp_path / "calls"
    port = free_port()
    with serve() as upstream:
        env = {
            **os.environ,
            "TOKENPRICE_TEST_UPSTREAM": base_url(upstream, "/v1"),
            "TOKENPRICE_TEST_SINK": str(sink_dir),
            "TOKENPRICE_TEST_MAX_BYTES": "3000",  # a few lines per file: many rotations in every worker
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        log_path = tmp_path / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(SERVERS[server](port), env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            root = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(root + "?tenant=warmup&request=warmup")
                    break
                except OSError:
                    assert proc.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, f"{server} did not start:\n{log_path.read_text()}"
                    time.sleep(0.1)
            tenants = ["acme", "globex", "initech", "umbrella"]
            urls = [f"{root}?tenant={tenants[i % 4]}&stream={i % 3 == 0:d}&request=r{i}" for i in range(REQUESTS)]
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(get, urls))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{server} did not stop on SIGTERM:\n{log_path.read_text()}") from None
    assert code == 0, log_path.read_text()
    pids = Counter(a["pid"] for a in answers)
    assert len(pids) >= 2, f"the requests were served by one worker only: {pids}"
    costs = [Decimal(str(a["cost"])) for a in answers]
    assert all(c > 0 for c in costs)

    # Whole lines only, each request's exactly once (the warm-up call too), each file one process's.
    files = sorted(sink_dir.glob("tokenprice-*.jsonl"))
    seen: Counter[str] = Counter()
    writers: dict[str, set[int]] = {}
    for f in files:
        data = f.read_bytes()
        assert data.endswith(b"\n"), f"{f.name} ends in a torn line"
        assert len(data) <= 3000 or data.count(b"\n") == 1, f"{f.name} was not rotated at 3,000 bytes"
        pid = int(re.fullmatch(r"tokenprice-\d{8}-(\d+)-\d+\.jsonl", f.name).group(1))  # type: ignore[union-attr]
        for line in data.splitlines():
            row = json.loads(line)
            seen[row["labels"]["request"]] += 1
            writers.setdefault(f.name, set()).add(pid)
    assert seen == Counter({f"r{i}": 1 for i in range(REQUESTS)} | {"warmup": 1})
    assert all(len(p) == 1 for p in writers.values())
    by_pid = Counter(int(re.search(r"-(\d+)-\d+\.jsonl$", f.name).group(1)) for f in files)  # type: ignore[union-attr]
    assert set(by_pid) >= set(pids) and all(n >= 2 for p, n in by_pid.items() if pids[p] > 10), by_pid

    logs = tokenprice.price_logs(str(sink_dir / "tokenprice-*.jsonl"))
    assert logs.rows_read == logs.rows_priced == REQUESTS + 1
    warmup = logs.total_cost - sum(costs, Decimal(0))
    assert warmup == costs[1]  # the warm-up was a plain chat call, as request r1 is
    by_tenant = {r["tenant"]: r["total_cost"] for r in logs.summary("tenant").to_pylist()}
    for t in ("acme", "globex", "initech", "umbrella"):
        assert by_tenant[t] == sum(
            (c for i, c in enumerate(costs) if i % 4 == ["acme", "globex", "initech", "umbrella"].index(t)), Decimal(0)
        )
