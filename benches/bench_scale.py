"""Scale-out overhead: 1M log lines (the sample gateway logs over and over, a plain JSON Lines file) and a 1M-row
usage table, priced by Spark (local[N]), Dask (a LocalCluster of N worker processes) and Ray Data (N CPUs) through
``tokenprice.spark`` / ``.dask`` / ``.ray``, against one process on the same cores (``price_logs(path, by=...,
keep_rows=False)`` and ``price_table``).

For each engine: the time of the engine path (totals by tenant and feature, rejects by reason; the usage table
priced and its total summed, both as ``price()`` gives it — two frames of one cached, persisted or materialized
computation — and as ``price(split=False)`` — one lazy frame, summed in one pass), the time of a no-op over the
same input in the same engine (the same byte ranges read and dropped, their newlines counted; the table's batches
passed through) — what the engine itself costs — and the engine path with 1 worker (scaling). Every engine's
totals are checked against the single process's, to the last digit. Each engine runs in its own process, after a
warm-up job (session start-up is not counted). ``--only logs`` or ``--only table`` times one part.

Usage: python benches/bench_scale.py [--rows 1000000] [--engines spark,dask,ray] [--only logs|table] [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
BY = ["tenant", "feature"]


def make_data(folder: Path, rows: int) -> tuple[Path, Path]:
    """The log file (rows lines) and the usage table (rows rows, Parquet)."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "tests"))
    from scale_cases import usage_table

    with gzip.open(ROOT / "examples" / "logs" / "gateway.jsonl.gz", "rt", encoding="utf-8") as f:
        sample = [line.rstrip("\n") for line in f if line.strip()]
    logs = folder / "logs.jsonl"
    with logs.open("w", encoding="utf-8") as out:
        for i in range(rows):
            out.write(sample[i % len(sample)] + "\n")
    table = folder / "usage.parquet"
    pq.write_table(usage_table(rows), table)
    return logs, table


def timed(job: Callable[[], Any], repeat: int = 2) -> tuple[float, Any]:
    """The best of `repeat` runs (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = job()
        best = min(best, time.perf_counter() - start)
    return best, out


def single(logs: Path, table_path: Path, only: str | None) -> dict[str, Any]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import tokenprice

    out: dict[str, Any] = {}
    if only in (None, "logs"):
        t_logs, priced = timed(lambda: tokenprice.price_logs(str(logs), by=BY, keep_rows=False, num_threads=2))
        out.update(logs_s=t_logs, logs_total=str(priced.total_cost))
    if only in (None, "table"):
        table = pq.read_table(table_path)
        t_table, done = timed(lambda: tokenprice.price_table(table, num_threads=2))
        out.update(table_s=t_table, table_total=str(pc.sum(done.column("total_cost")).as_py()))
    return out


def _noop_range(path: str, start: int, end: int) -> int:
    """What any reader of a task's byte range does before parsing: its bytes read and its newlines counted."""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start).count(b"\n")


def _noop_lines(batches: Iterator[Any]) -> Iterator[Any]:
    """The no-op task: the bytes of each byte range read and dropped (only their newlines counted)."""
    import pyarrow as pa

    for batch in batches:
        n = 0
        for path, start, end in zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True):
            n += _noop_range(path, start, end)
        yield pa.RecordBatch.from_pydict({"n": [n]})


def run_spark(logs: Path, table_path: Path, workers: int, only: str | None) -> dict[str, Any]:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import tokenprice.spark
    from tokenprice import _batches

    spark = (
        SparkSession.builder.master(f"local[{workers}]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(workers))
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    split = logs.stat().st_size // (4 * workers) + 1
    table = spark.read.parquet(str(table_path)).cache()
    table.count()

    def logs_job() -> Any:
        # Spark finds a cached result by its plan: a repeat of the same job would be read from the last run's cache.
        spark.catalog.clearCache()
        totals, rejects = tokenprice.spark.price_logs(str(logs), by=BY, labels=BY, spark=spark, split_bytes=split)
        rejects.collect()
        return totals.toArrow()

    def noop_logs() -> Any:
        tasks = _batches.task_table(str(logs), split)
        frame = spark.createDataFrame(tasks).repartition(tasks.num_rows)
        return frame.mapInArrow(_noop_lines, "n long").agg(F.sum("n")).collect()

    def table_job() -> Any:
        spark.catalog.clearCache()
        table.cache().count()  # the input in memory, as for the no-op
        priced, _ = tokenprice.spark.price(table)
        return priced.agg(F.sum("total_cost")).collect()[0][0]

    def table_one_job() -> Any:
        spark.catalog.clearCache()  # else the plan would find table_job's cached priced frame
        table.cache().count()
        return tokenprice.spark.price(table, split=False).agg(F.sum("total_cost")).collect()[0][0]

    def table_one_count() -> Any:
        spark.catalog.clearCache()
        table.cache().count()
        return tokenprice.spark.price(table, split=False).agg(F.count("*")).collect()

    def noop_table() -> Any:
        spark.catalog.clearCache()
        table.cache().count()
        return table.mapInArrow(lambda it: it, table.schema).agg(F.count("*")).collect()

    out = _engine_times(only, logs_job, noop_logs, table_job, table_one_job, table_one_count, noop_table)
    spark.stop()
    return out


def _engine_times(
    only: str | None,
    logs_job: Callable[[], Any],
    noop_logs: Callable[[], Any],
    table_job: Callable[[], Any],
    table_one_job: Callable[[], Any],
    table_one_count: Callable[[], Any],
    noop_table: Callable[[], Any],
) -> dict[str, Any]:
    """The jobs timed, after a warm-up (the engine's start, its Python workers; with the table, each table job run
    once: on Ray the first run of a job could take seconds more, whatever ran before it): the logs' part, the
    table's part, or both. ``table_one_s`` is ``price(split=False)`` summed, the one computation;
    ``table_one_count_s`` the same frame counted, the no-op's own ending (an engine's sum of a decimal column costs
    more than its count: on Ray, 0.055 s over a million rows, more than the no-op itself)."""
    from tokenprice import _batches

    warm = [logs_job] if only in (None, "logs") else []
    warm += [table_job, table_one_job, table_one_count] if only != "logs" else []
    for job in warm:
        job()
    out: dict[str, Any] = {}
    if only in (None, "logs"):
        t_logs, totals = timed(logs_job)
        t_noop_logs, _ = timed(noop_logs)
        out.update(logs_s=t_logs, noop_logs_s=t_noop_logs, logs_total=str(_batches.total(totals)))
    if only in (None, "table"):
        t_table, table_total = timed(table_job)
        t_one, one_total = timed(table_one_job)
        t_count, _ = timed(table_one_count)
        t_noop_table, _ = timed(noop_table)
        assert one_total == table_total, (one_total, table_total)  # one frame or two, the same total
        out.update(table_s=t_table, table_one_s=t_one, table_one_count_s=t_count, noop_table_s=t_noop_table)
        out.update(table_total=str(table_total))
    return out


def run_dask(logs: Path, table_path: Path, workers: int, only: str | None) -> dict[str, Any]:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa
    from distributed import Client, LocalCluster

    import tokenprice.dask
    from tokenprice import _batches

    split = logs.stat().st_size // (4 * workers) + 1
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster):
        table = dd.read_parquet(str(table_path), dtype_backend="pyarrow").persist()

        def logs_job() -> Any:
            totals, rejects = tokenprice.dask.price_logs(str(logs), by=BY, labels=BY, split_bytes=split)
            rejects.compute()
            return pa.Table.from_pandas(totals.compute(), preserve_index=False)

        def noop_logs() -> Any:
            # A new nonce per run: Dask names a task by its inputs, and a repeat of the same graph can be handed the
            # result the scheduler still holds from the last run instead of running again.
            tasks = [{**t, "nonce": uuid.uuid4().hex} for t in _batches.task_table(str(logs), split).to_pylist()]
            frame = dd.from_map(
                lambda t: pd.DataFrame({"n": [_noop_range(t["path"], t["start"], t["end"])]}),
                tasks,
                meta=pd.DataFrame({"n": pd.Series([], dtype="int64")}),
            )
            return frame["n"].sum().compute()

        def total(priced: Any) -> Any:
            # Summed on the workers (pyarrow's exact decimal sum per partition), as the other engines sum: not a
            # million Decimals in the client. (Dask's own .sum() cannot tokenize an ArrowDtype decimal column.)
            column = priced["total_cost"]
            sums = column.map_partitions(lambda s: pd.Series([s.sum()], dtype=s.dtype), meta=column._meta)
            return sum(sums.compute())

        def table_job() -> Any:
            priced, _ = tokenprice.dask.price(table)
            return total(priced)

        def table_one_job() -> Any:
            return total(tokenprice.dask.price(table, split=False))

        def table_one_count() -> Any:
            return tokenprice.dask.price(table, split=False).shape[0].compute()

        def noop_table() -> Any:
            nonce = uuid.uuid4().hex
            return table.map_partitions(lambda p, nonce: p, nonce, meta=table._meta).shape[0].compute()

        return _engine_times(only, logs_job, noop_logs, table_job, table_one_job, table_one_count, noop_table)


def run_ray(logs: Path, table_path: Path, workers: int, only: str | None) -> dict[str, Any]:
    import pyarrow as pa
    import ray
    import ray.data

    import tokenprice.ray
    from tokenprice import _batches

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    split = logs.stat().st_size // (4 * workers) + 1
    table = ray.data.read_parquet(str(table_path)).materialize()

    def logs_job() -> Any:
        totals, rejects = tokenprice.ray.price_logs(str(logs), by=BY, labels=BY, split_bytes=split)
        rejects.take_all()
        return pa.concat_tables([pa.table(t) for t in ray.get(totals.to_arrow_refs())])

    def noop_logs() -> Any:
        tasks = _batches.task_table(str(logs), split)
        items = ray.data.from_arrow(tasks).repartition(tasks.num_rows)
        return items.map_batches(
            lambda t: pa.Table.from_batches(list(_noop_lines([t]))), batch_format="pyarrow", batch_size=1
        ).sum("n")

    def table_job() -> Any:
        priced, _ = tokenprice.ray.price(table)
        return priced.sum("total_cost")

    def table_one_job() -> Any:
        return tokenprice.ray.price(table, split=False).sum("total_cost")

    def table_one_count() -> Any:
        return tokenprice.ray.price(table, split=False).count()

    def noop_table() -> Any:
        return table.map_batches(lambda t: t, batch_format="pyarrow").count()

    out = _engine_times(only, logs_job, noop_logs, table_job, table_one_job, table_one_count, noop_table)
    ray.shutdown()
    return out


ENGINES = {"spark": run_spark, "dask": run_dask, "ray": run_ray}


def child(engine: str, logs: Path, table: Path, workers: int, only: str | None) -> None:
    result = single(logs, table, only) if engine == "single" else ENGINES[engine](logs, table, workers, only)
    print("RESULT " + json.dumps(result))


def spawn(engine: str, logs: Path, table: Path, workers: int, only: str | None) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", engine, "--logs", str(logs), "--table", str(table)]
    args += ["--only", only] if only else []
    proc = subprocess.run([*args, "--workers", str(workers)], capture_output=True, text=True, timeout=3600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{engine} (workers={workers}) failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="spark,dask,ray")
    parser.add_argument("--only", choices=["logs", "table"], help="time only the logs' part or the table's")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--logs")
    parser.add_argument("--table")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.logs), Path(args.table), args.workers, args.only)
        return
    with tempfile.TemporaryDirectory() as folder:
        logs, table = make_data(Path(folder), args.rows)
        base = spawn("single", logs, table, 2, args.only)
        rows = []
        for engine in args.engines.split(","):
            two = spawn(engine, logs, table, 2, args.only)
            one = spawn(engine, logs, table, 1, args.only)
            for r in (one, two):
                for key in ("logs_total", "table_total"):
                    assert r.get(key) == base.get(key), (engine, key, r.get(key), base.get(key))
            rows.append((engine, one, two))
            print(engine, json.dumps({"1 worker": one, "2 workers": two}), flush=True)
    report = render(args.rows, base, rows, args.only)
    print(report)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + report)


def render(
    n: int, base: dict[str, Any], rows: list[tuple[str, dict[str, Any], dict[str, Any]]], only: str | None = None
) -> str:
    def pct(a: float, b: float) -> str:
        return f"{(a / b - 1) * 100:+.0f}%"

    logs, tables = only in (None, "logs"), only in (None, "table")
    singles = ([f"logs {base['logs_s']:.2f} s"] if logs else []) + (
        [f"table {base['table_s']:.2f} s"] if tables else []
    )
    flag = f" --only {only}" if only else ""
    lines = [
        f"## Scale-out: Spark, Dask, Ray (issue 18) — {date.today().isoformat()}",
        "",
        f"`python benches/bench_scale.py --rows {n}{flag}` on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}); best of 2 after a warm-up. "
        + (f"Logs: {n:,} JSON lines, totals by tenant and feature, rejects by reason. " if logs else "")
        + (
            f"Table: {n:,} usage rows priced and summed, as `price()` gives them (two frames of one "
            "cached/persisted/materialized computation) and with `price(split=False)` (one lazy frame, one pass). "
            if tables
            else ""
        )
        + f"Single process (2 threads): {', '.join(singles)}. Every engine's totals equal the single "
        "process's to the last digit (checked). *Glue over no-op*: what the engine path takes beyond the single "
        "process's pricing of the same lines, over the no-op ((engine path − single process) / no-op − 1): the "
        "engine's cost for the tasks and the glue, the pricing itself taken out.",
        "",
    ]
    head: list[str] = ["engine"]
    if logs:
        head += ["logs, 2 workers", "no-op over the same lines", "engine path over no-op", "glue over no-op"]
        head += ["logs, 1 worker", "scaling 1→2"]
    if tables:
        head += ["table `price()`, 2 workers", "table `split=False`", "no-op over the table"]
        head += ["`price()` over no-op", "`split=False` over no-op", "`split=False` glue over no-op"]
        head += ["`split=False` counted, as the no-op ends", "counted: over no-op", "counted: glue over no-op"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for engine, one, two in rows:
        cells = [engine]
        if logs:
            cells += [f"{two['logs_s']:.2f} s", f"{two['noop_logs_s']:.2f} s", pct(two["logs_s"], two["noop_logs_s"])]
            cells += [pct(two["logs_s"] - base["logs_s"], two["noop_logs_s"]), f"{one['logs_s']:.2f} s"]
            cells += [f"{one['logs_s'] / two['logs_s']:.2f}x"]
        if tables:
            cells += [f"{two['table_s']:.2f} s", f"{two['table_one_s']:.2f} s", f"{two['noop_table_s']:.2f} s"]
            cells += [pct(two["table_s"], two["noop_table_s"]), pct(two["table_one_s"], two["noop_table_s"])]
            cells += [pct(two["table_one_s"] - base["table_s"], two["noop_table_s"])]
            cells += [f"{two['table_one_count_s']:.2f} s", pct(two["table_one_count_s"], two["noop_table_s"])]
            cells += [pct(two["table_one_count_s"] - base["table_s"], two["noop_table_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
