"""Pricing Logpush objects from a local S3 server (moto's, 127.0.0.1, in a process of its own) against pricing the
same files locally, and tokenprice's throughput from S3 against a plain GET of the same objects from the same server,
in the same run.

    python benches/bench_storage.py [--days 3] [--per-day 12] [--lines 3000] [--rounds 3] [--bodies short|full]

Each side runs in turn, best of ``--rounds``. The answers are checked equal first (total cost and rows, S3 vs
local). The plain GET reads every byte of every object and does nothing with them: with boto3 one object after
another, and in four threads (what tokenprice fetches with) with pyarrow.fs and with obstore (what tokenprice fetches
with when the `s3` extra is installed: both are measured, tokenprice with it and without it). The issue's target:
tokenprice from S3 at least 80% of the plain GET's throughput.

``--bodies short``: each answer is "ok" and the lines differ only in their counts, so the objects compress 30:1;
``full``: answers of a realistic length and random ids (``storage_cases.full_record``), about 3:1 as real logs do.

The server runs on the same two cores as the pricing, so each row also gives the CPU time of this process and of
the server's: where their sum over the cores exceeds the GET's time, the GET's throughput is out of reach on this
machine whatever the fetching does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from storage_cases import full_record, logpush_objects, put, s3_client, s3_server_process, storage_options  # noqa: E402

import tokenprice  # noqa: E402
from tokenprice import _storage  # noqa: E402


def cpu_of(pid: int) -> float:
    """CPU seconds (user and system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best(rounds: int, run: Callable[[], Any], server: int) -> tuple[float, float, float]:
    """The best of ``rounds`` runs: (seconds, this process's CPU seconds, the server's CPU seconds)."""
    runs = []
    for _ in range(rounds):
        mine, theirs, start = own_cpu(), cpu_of(server), time.perf_counter()
        run()
        runs.append((time.perf_counter() - start, own_cpu() - mine, cpu_of(server) - theirs))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=12)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bodies", choices=["short", "full"], default="short")
    args = parser.parse_args()
    import obstore
    from obstore.store import S3Store

    days = [dt.date(2026, 3, 1) + dt.timedelta(days=d) for d in range(args.days)]
    make = full_record if args.bodies == "full" else None
    objects = logpush_objects("gateway/", days, args.per_day, args.lines, make=make)
    size = sum(len(b) for b in objects.values())
    records = len(objects) * args.lines
    keys = sorted(objects)
    with tempfile.TemporaryDirectory() as tmp, s3_server_process() as (endpoint, server):
        for key, body in objects.items():
            path = Path(tmp) / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        raw = sum(len(gzip.decompress(b)) for b in objects.values())
        client = s3_client(endpoint)
        client.create_bucket(Bucket="logs")
        put(client, "logs", objects)
        options = storage_options(endpoint)
        url, pattern = "s3://logs/gateway/**/*.log.gz", str(Path(tmp) / "gateway" / "**" / "*.log.gz")
        with_obstore = _storage.fetcher

        def from_s3() -> Any:
            _storage.fetcher = with_obstore
            return tokenprice.price_logs(url, storage_options=options, by="tenant", keep_rows=False)

        def from_s3_pyarrow() -> Any:
            _storage.fetcher = lambda *_: None
            try:
                return tokenprice.price_logs(url, storage_options=options, by="tenant", keep_rows=False)
            finally:
                _storage.fetcher = with_obstore

        def from_files() -> Any:
            return tokenprice.price_logs(pattern, by="tenant", keep_rows=False)

        def get_boto3() -> int:
            return sum(len(client.get_object(Bucket="logs", Key=k)["Body"].read()) for k in keys)

        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            access_key=options["key"],
            secret_key=options["secret"],
            endpoint_override=endpoint.split("://")[1],
            scheme="http",
            region="us-east-1",
        )
        store = S3Store(
            "logs",
            access_key_id=options["key"],
            secret_access_key=options["secret"],
            endpoint=endpoint,
            region="us-east-1",
            client_options={"allow_http": True},
        )

        def one_pyarrow(key: str) -> int:
            with fs.open_input_stream(f"logs/{key}", compression=None) as f:
                return len(f.read())

        def get_pyarrow() -> int:
            with ThreadPoolExecutor(4) as pool:
                return sum(pool.map(one_pyarrow, keys))

        def get_obstore() -> int:
            with ThreadPoolExecutor(4) as pool:
                return sum(pool.map(lambda k: len(obstore.get(store, k).bytes()), keys))

        s3_result, local_result = from_s3(), from_files()
        assert s3_result.rows_read == local_result.rows_read == records, (s3_result.rows_read, records)
        assert s3_result.total_cost == local_result.total_cost == from_s3_pyarrow().total_cost
        assert get_boto3() == size == get_pyarrow() == get_obstore()
        timings = {}
        for name, run in (
            ("tokenprice from S3 (obstore fetches)", from_s3),
            ("tokenprice from S3 (pyarrow fetches, without the s3 extra)", from_s3_pyarrow),
            ("tokenprice from local files", from_files),
            ("plain GET, boto3, sequential", get_boto3),
            ("plain GET, pyarrow.fs, 4 threads", get_pyarrow),
            ("plain GET, obstore, 4 threads", get_obstore),
        ):
            timings[name] = best(args.rounds, run, server)
    cores = os.cpu_count() or 1
    print(
        f"{len(objects)} objects, {records:,} records, {size / 1e6:.1f} MB gzip ({raw / size:.0f}:1, "
        f"{args.bodies} bodies); best of {args.rounds}; {cores} cores, the server's among them"
    )
    print("| run | seconds | MB/s (gzip) | records/s | CPU s, this process | CPU s, the server |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (t, mine, theirs) in timings.items():
        print(f"| {name} | {t:.3f} | {size / t / 1e6:.1f} | {records / t:,.0f} | {mine:.3f} | {theirs:.3f} |")
    print()
    local = timings["tokenprice from local files"][0]
    for s3_name in (
        "tokenprice from S3 (obstore fetches)",
        "tokenprice from S3 (pyarrow fetches, without the s3 extra)",
    ):
        s3, mine, theirs = timings[s3_name]
        print(f"{s3_name}: {local / s3:.2f}x the local throughput")
        for name in (
            "plain GET, boto3, sequential",
            "plain GET, pyarrow.fs, 4 threads",
            "plain GET, obstore, 4 threads",
        ):
            print(f"  vs {name}: {timings[name][0] / s3:.0%} of its throughput")
        print(
            f"  CPU of the run and the server, {mine + theirs:.3f} s over {cores} cores: at least "
            f"{(mine + theirs) / cores:.3f} s on this machine"
        )


if __name__ == "__main__":
    main()
