"""Pricing Logpush objects from a local S3 server (moto's, 127.0.0.1) against pricing the same files locally, and
tokenprice's throughput from S3 against a plain GET of the same objects from the same server, in the same run.

    python benches/bench_storage.py [--days 3] [--per-day 12] [--lines 3000] [--rounds 3]

Each side runs in turn, best of ``--rounds``. The answers are checked equal first (total cost and rows, S3 vs
local). The plain GET reads every byte of every object and does nothing with them: once with boto3, one object
after another, and once with pyarrow.fs in four threads (what tokenprice fetches with). The issue's target:
tokenprice from S3 at least 80% of the plain GET's throughput.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from storage_cases import logpush_objects, put, s3_client, s3_server, storage_options  # noqa: E402

import tokenprice  # noqa: E402


def best(rounds: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=12)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=d) for d in range(args.days)]
    objects = logpush_objects("gateway/", days, args.per_day, args.lines)
    size = sum(len(b) for b in objects.values())
    records = len(objects) * args.lines
    with tempfile.TemporaryDirectory() as tmp, s3_server() as endpoint:
        for key, body in objects.items():
            path = Path(tmp) / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        client = s3_client(endpoint)
        client.create_bucket(Bucket="logs")
        put(client, "logs", objects)
        options = storage_options(endpoint)
        url, pattern = "s3://logs/gateway/**/*.log.gz", str(Path(tmp) / "gateway" / "**" / "*.log.gz")

        def from_s3() -> Any:
            return tokenprice.price_logs(url, storage_options=options, by="tenant", keep_rows=False)

        def from_files() -> Any:
            return tokenprice.price_logs(pattern, by="tenant", keep_rows=False)

        def get_boto3() -> int:
            return sum(len(client.get_object(Bucket="logs", Key=k)["Body"].read()) for k in sorted(objects))

        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            access_key=options["key"],
            secret_key=options["secret"],
            endpoint_override=endpoint.split("://")[1],
            scheme="http",
            region="us-east-1",
        )

        def one(key: str) -> int:
            with fs.open_input_stream(f"logs/{key}", compression=None) as f:
                return len(f.read())

        def get_pyarrow() -> int:
            with ThreadPoolExecutor(4) as pool:
                return sum(pool.map(one, sorted(objects)))

        s3_result, local_result = from_s3(), from_files()
        assert s3_result.rows_read == local_result.rows_read == records, (s3_result.rows_read, records)
        assert s3_result.total_cost == local_result.total_cost
        assert get_boto3() == size == get_pyarrow()
        timings = {}
        for name, run in (
            ("tokenprice from S3", from_s3),
            ("tokenprice from local files", from_files),
            ("plain GET, boto3, sequential", get_boto3),
            ("plain GET, pyarrow.fs, 4 threads", get_pyarrow),
        ):
            timings[name], _ = best(args.rounds, run)
    print(f"{len(objects)} objects, {records:,} records, {size / 1e6:.1f} MB gzip; best of {args.rounds}")
    print("| run | seconds | MB/s (gzip) | records/s |")
    print("|---|---:|---:|---:|")
    for name, t in timings.items():
        print(f"| {name} | {t:.3f} | {size / t / 1e6:.1f} | {records / t:,.0f} |")
    s3 = timings["tokenprice from S3"]
    print()
    print(f"S3 vs local files: {timings['tokenprice from local files'] / s3:.2f}x the local throughput")
    for name in ("plain GET, boto3, sequential", "plain GET, pyarrow.fs, 4 threads"):
        print(f"tokenprice from S3 vs {name}: {timings[name] / s3:.0%} of its throughput")


if __name__ == "__main__":
    main()
