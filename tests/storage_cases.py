"""Logpush-shaped objects and local S3 and GCS servers, for tests/test_object_storage.py and benches/bench_storage.py.

The records are Cloudflare AI Gateway Logpush `ai_gateway_events` lines, in the shape of
tests/fixtures/sources/cloudflare/gateway_records.json (cloudflare-docs
`ai-gateway/observability/logging/logpush.mdx`: Timestamp, Gateway, Endpoint, Provider, Model, StatusCode, Cached,
RateLimited, Metrics, Metadata, ResponseBody as the provider's own JSON text). Objects are laid out as Logpush
writes them: a `{DATE}` folder (`YYYYMMDD`, cloudflare-docs `logs/logpush/logpush-job/api-configuration.mdx`) and
gzip JSON Lines named `<start>_<end>_<hash>.log.gz`.

The servers run on 127.0.0.1 and a free port: moto's S3 in server mode (`ThreadedMotoServer`),
gcp-storage-emulator's GCS (its JSON API, objects in memory), and tests/azure_blob_server.py's Azure Blob service
(written here from Azure's REST reference; blobs in memory). Each is given to the tests as a `Store`: a bucket
(container) `logs`, the storage_options that reach it, and how to put and delete objects through the server's own
API.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import random
import socket
import string
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

KEY, SECRET = "AKIDTOKENPRICETEST", "s3cr3t/TokenPrice+Test=Value"
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]


def record(i: int, at: dt.datetime, tenant: str = "acme") -> dict[str, Any]:
    """One Logpush line: an OpenAI chat completion through the gateway (usage inside ResponseBody)."""
    prompt, completion = 100 + i % 900, 10 + i % 300
    body = {
        "id": f"chatcmpl-{i}",
        "object": "chat.completion",
        "model": MODELS[i % len(MODELS)],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }
    return {
        "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Gateway": "prod",
        "Endpoint": "chat/completions",
        "Provider": "openai",
        "Model": MODELS[i % len(MODELS)],
        "StatusCode": 200,
        "Cached": False,
        "RateLimited": False,
        "Metrics": {"cost": 0, "durationMs": 400 + i % 1000},
        "Metadata": json.dumps({"tenant": tenant}),
        "ResponseBody": json.dumps(body),
    }


# Words for the answers of `full_record`: 2,000 made-up words of 2 to 9 letters (the same every run).
_WORDS = ["".join(random.Random(w).choices(string.ascii_lowercase, k=2 + w % 8)) for w in range(2000)]


def full_record(i: int, at: dt.datetime, tenant: str = "acme") -> dict[str, Any]:
    """`record` with what a real line also carries, so that its objects compress as real ones do (about 3:1, not
    30:1): an answer of about three words per token, and a random completion id, conversation id and
    `system_fingerprint` (OpenAI's chat completion object: `id`, `created`, `system_fingerprint`)."""
    rng = random.Random(i)
    line = record(i, at, tenant)
    body = json.loads(line["ResponseBody"])
    words = body["usage"]["completion_tokens"] * 3 // 4
    body["id"] = "chatcmpl-" + "".join(rng.choices(string.ascii_letters + string.digits, k=29))
    body["created"] = int(at.timestamp())
    body["system_fingerprint"] = "fp_" + "".join(rng.choices("0123456789abcdef", k=10))
    body["choices"][0]["message"]["content"] = " ".join(rng.choices(_WORDS, k=words))
    conversation = "".join(rng.choices("0123456789abcdef", k=16))
    return {
        **line,
        "Metadata": json.dumps({"tenant": tenant, "conversation": conversation}),
        "ResponseBody": json.dumps(body),
    }


def stamp(t: dt.datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def logpush_objects(
    prefix: str,
    days: list[dt.date],
    per_day: int,
    lines: int,
    extra: list[str] | None = None,
    make: Callable[[int, dt.datetime, str], dict[str, Any]] | None = None,
) -> dict[str, bytes]:
    """``per_day`` objects of ``lines`` records in each day's folder: {key: gzip bytes}. ``extra`` lines (bad
    ones, to be rejected) go into the first object. ``make`` makes each record (`record` by default)."""
    make = make or record
    out: dict[str, bytes] = {}
    n = 0
    for day in days:
        for k in range(per_day):
            start = dt.datetime(day.year, day.month, day.day, 1 + k, 0, tzinfo=dt.timezone.utc)
            end = start + dt.timedelta(seconds=30)
            rows = []
            for j in range(lines):
                rows.append(json.dumps(make(n, start + dt.timedelta(seconds=j % 30), "acme" if n % 3 else "globex")))
                n += 1
            if extra and not out:
                rows[1:1] = extra
            digest = hashlib.sha1(f"{day}{k}".encode()).hexdigest()[:8]
            name = f"{prefix}{day:%Y%m%d}/{stamp(start)}_{stamp(end)}_{digest}.log.gz"
            out[name] = gzip.compress(("\n".join(rows) + "\n").encode(), compresslevel=6)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 and a free port, stopped after: yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def s3_server_process() -> Iterator[tuple[str, int]]:
    """moto's S3 server in a process of its own (as a real store is: its work not in this process), on 127.0.0.1
    and a free port, stopped after: yields its endpoint URL and its process id."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"moto's server stopped with {server.returncode}") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("moto's server did not answer in 30 s")
        yield endpoint, server.pid
    finally:
        server.terminate()
        server.wait()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
    )


def storage_options(endpoint: str) -> dict[str, str]:
    return {"key": KEY, "secret": SECRET, "endpoint_url": endpoint, "region": "us-east-1"}


def put(client: Any, bucket: str, objects: dict[str, bytes]) -> None:
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


@dataclass
class Store:
    """A bucket `logs` on a local server: its URL scheme, the storage_options that reach it, and how to put and
    delete an object (through the server's own API, not tokenprice's)."""

    scheme: str
    options: dict[str, Any]
    put: Callable[[str, bytes], Any]
    delete: Callable[[str], Any]
    # Credentials in `options` that no error may show, and the server object when it is one of ours
    # (tests/azure_blob_server.py's: the requests it was sent, and those it refused as not implemented).
    secrets: tuple[str, ...] = ()
    server: Any = None


@contextmanager
def s3_store() -> Iterator[Store]:
    """moto's S3 server holding an empty bucket `logs`."""
    with s3_server() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="logs")
        yield Store(
            "s3",
            storage_options(endpoint),
            lambda key, body: client.put_object(Bucket="logs", Key=key, Body=body),
            lambda key: client.delete_object(Bucket="logs", Key=key),
            (KEY, SECRET),
        )


@contextmanager
def gcs_server(bucket: str = "logs") -> Iterator[str]:
    """gcp-storage-emulator's GCS server on 127.0.0.1 and a free port, objects in memory, with an empty `bucket`;
    stopped after: yields its endpoint URL."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def gcs_request(endpoint: str, method: str, path: str, body: bytes | None = None) -> bytes:
    """One request to the GCS JSON API (cloud.google.com/storage/docs/json_api: objects insert with
    `uploadType=media`, objects delete)."""
    request = urllib.request.Request(endpoint + path, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return bytes(answer.read())


@contextmanager
def gcs_store() -> Iterator[Store]:
    """gcp-storage-emulator's GCS server holding an empty bucket `logs` (no credentials: `anon`)."""
    with gcs_server("logs") as endpoint:
        yield Store(
            "gs",
            {"anon": True, "endpoint_url": endpoint},
            lambda key, body: gcs_request(
                endpoint, "POST", f"/upload/storage/v1/b/logs/o?uploadType=media&name={quote(key, safe='')}", body
            ),
            lambda key: gcs_request(endpoint, "DELETE", f"/storage/v1/b/logs/o/{quote(key, safe='')}"),
        )


@contextmanager
def azure_store(page_size: int = 2) -> Iterator[Store]:
    """tests/azure_blob_server.py's Blob service holding an empty container `logs`, reached as pyarrow reaches
    Azurite: the emulator's well-known account and key (Shared Key), the endpoint path-style. Listings answer
    ``page_size`` entries a page, so reading a folder follows ``NextMarker``."""
    from azure_blob_server import ACCOUNT, ACCOUNT_KEY, BlobServer

    with BlobServer(page_size) as server:
        server.create_container("logs")
        yield Store(
            "az",
            {"account_name": ACCOUNT, "account_key": ACCOUNT_KEY, "endpoint_url": server.endpoint},
            lambda key, body: server.put("logs", key, body),
            lambda key: server.delete("logs", key),
            (ACCOUNT_KEY,),
            server,
        )
