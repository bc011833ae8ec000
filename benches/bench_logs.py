"""The main job at scale: a generated 1 GB JSON Lines file of Cloudflare AI Gateway logs, priced and summarized
by tenant and feature — tokenprice against the same job written by hand with pandas and with DuckDB, in one run.

- tokenprice: ``price_logs(path, by=["tenant", "feature"], keep_rows=False)`` (streamed in blocks on all cores,
  every record at the price in force at its timestamp, each line added to its group's exact totals as it is
  priced) — the same job as the other two, which give totals only;
- tokenprice with rows: ``price_logs(path, spill=True)`` (every priced line kept: spilled to disk as Arrow IPC,
  memory-mapped back as ``.table``) + ``.summary(["tenant", "feature"])``;
- pandas: ``read_json(lines=True)`` + labels parsed from the metadata JSON + ``merge`` with a flat price table +
  ``groupby``, floats, today's prices;
- DuckDB: ``read_json`` + ``json_extract_string`` for the labels + a join with the flat price table +
  ``GROUP BY``, floats, today's prices.

Each runs in its own process so its peak memory (max RSS) is its own. The records are Logs API items (the flat
shape all three can read); the totals are compared after the run (they differ where prices changed over time,
which only tokenprice accounts for). Results go to ``benches/RESULTS.md``.

Usage: python benches/bench_logs.py [--gb 1.0] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(HERE.parent / "examples"))

# A flat price table (per million tokens, today's list prices), as the hand-written jobs use.
FLAT = {
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "o3": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gemini-2.5-flash": (0.3, 2.5),
    "deepseek-chat": (0.28, 0.42),
}


def corpus(name: str, gigabytes: float = 0.0, rows: int | None = None) -> Path:
    """The generated log file `name` under benches/corpus/: `gigabytes` of lines, or its first `rows` lines (the
    same lines either way: one seed). Made once, kept for the next run."""
    path = HERE / "corpus" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        partial = path.with_suffix(".tmp")
        generate(partial, gigabytes, rows)
        partial.rename(path)
        print(f"generated {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def generate(path: Path, gigabytes: float, rows: int | None = None) -> None:
    from generate_logs import FEATURES, MODELS, START, TENANTS, logs_item

    models = [m for m in MODELS if m[1] in FLAT]
    rng = random.Random(7)
    target = int(gigabytes * 1e9)
    size, i = 0, 0
    span = (datetime(2026, 10, 31, tzinfo=timezone.utc) - START).total_seconds()
    with path.open("w") as out:
        while (i < rows) if rows is not None else (size < target):
            chunk = []
            for _ in range(10_000 if rows is None else min(10_000, rows - i)):
                when = START + timedelta(seconds=rng.uniform(0, span))
                labels = {
                    "tenant": rng.choice(TENANTS),
                    "feature": rng.choice(FEATURES),
                    "conversation": f"c{rng.randint(1, 90000)}",
                }
                item = logs_item(rng, i, when, labels, rng.choice(models))
                # A realistic log line also carries the request path, headers and sizes the gateway records.
                item["request_head"] = json.dumps(
                    {
                        "content-type": "application/json",
                        "user-agent": "app/1.0",
                        "x-request-id": f"{rng.getrandbits(64):x}",
                    }
                )
                item["request_size"] = rng.randint(200, 20_000)
                item["response_size"] = rng.randint(100, 8_000)
                chunk.append(json.dumps(item, separators=(",", ":")))
                i += 1
            text = "\n".join(chunk) + "\n"
            out.write(text)
            size += len(text)


# Each job imports its library before the clock starts (DuckDB's engine loads with `import duckdb`; tokenprice's
# results are pyarrow tables, so pyarrow is imported first).
TOKENPRICE = """
import sys, time, tokenprice, pyarrow
t = time.perf_counter()
logs = tokenprice.price_logs(sys.argv[1], by=["tenant", "feature"], keep_rows=False)
s = logs.last_summary
elapsed = time.perf_counter() - t
print(elapsed, logs.rows_read, logs.rows_priced, logs.rows_rejected, logs.total_cost)
"""

TOKENPRICE_ROWS = """
import sys, time, tokenprice, pyarrow
t = time.perf_counter()
logs = tokenprice.price_logs(sys.argv[1], spill=True)
s = logs.summary(["tenant", "feature"])
elapsed = time.perf_counter() - t
print(elapsed, logs.rows_read, logs.rows_priced, logs.rows_rejected, logs.total_cost)
"""

PANDAS = """
import sys, time, json
import pandas as pd
flat = json.loads(sys.argv[2])
t = time.perf_counter()
df = pd.read_json(sys.argv[1], lines=True)
labels = pd.json_normalize(df["metadata"].map(json.loads))
df = pd.concat([df, labels[["tenant", "feature"]]], axis=1)
prices = pd.DataFrame([(m, p[0], p[1]) for m, p in flat.items()], columns=["model", "p_in", "p_out"])
df = df.merge(prices, on="model", how="left")
df["cost"] = (df["tokens_in"].fillna(0) * df["p_in"] + df["tokens_out"].fillna(0) * df["p_out"]) / 1e6
df.loc[df["cached"], "cost"] = 0.0
s = df.groupby(["tenant", "feature"])["cost"].sum()
elapsed = time.perf_counter() - t
print(elapsed, len(df), s.sum())
"""

DUCKDB = """
import sys, time, json
import duckdb
flat = json.loads(sys.argv[2])
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO 2")
# Newer DuckDB releases draw a progress bar on stdout for long queries; it would garble the figures printed below.
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE prices (model VARCHAR, p_in DOUBLE, p_out DOUBLE)")
con.executemany("INSERT INTO prices VALUES (?, ?, ?)", [(m, p[0], p[1]) for m, p in flat.items()])
rows = con.execute(f'''
  SELECT json_extract_string(metadata, '$.tenant') AS tenant, json_extract_string(metadata, '$.feature') AS feature,
         count(*) AS n,
         sum(CASE WHEN cached THEN 0
                  ELSE (coalesce(tokens_in, 0) * p_in + coalesce(tokens_out, 0) * p_out) / 1e6 END) AS cost
  FROM read_json('{sys.argv[1]}', format = 'newline_delimited') l JOIN prices USING (model)
  GROUP BY ALL''').fetchall()
elapsed = time.perf_counter() - t
print(elapsed, sum(r[2] for r in rows), sum(r[3] for r in rows))
"""


def machine(script: str) -> str:
    """The opening of a results section: the command and where it ran."""
    return (
        f"`python benches/{script}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}."
    )


def publish(heading: str, section: list[str], write: bool) -> None:
    """Prints `section` and, with `write`, puts it in RESULTS.md (see `write_section`)."""
    print("\n".join(section))
    if write:
        write_section(heading, section)


def write_section(heading: str, section: list[str]) -> None:
    """Puts `section` at the end of RESULTS.md in place of the section whose heading starts with `heading`."""
    text = RESULTS.read_text()
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + ("" if end < 0 else text[end + 1 :])
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section))


def best(fn: Callable[[], object], rounds: int = 3) -> float:
    """The best time of `rounds` calls of `fn`, in seconds (the machines are noisy: the best is the least
    disturbed)."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def command_line(**defaults: float) -> argparse.Namespace:
    """The benchmark's options parsed: one ``--name`` per keyword (its type and default the keyword's value), and
    ``--no-write`` (print only; leave RESULTS.md alone)."""
    parser = argparse.ArgumentParser()
    for name, default in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    return parser.parse_args()


def run(code: str, *args: str) -> tuple[list[str], float]:
    """Runs `code` in a fresh Python; returns its printed fields and its peak RSS in MB."""
    wrapper = code + "\nimport resource\nprint('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    rss = float(lines[-1].split()[1]) / 1024
    return lines[-2].split(), rss


def main() -> None:
    args = command_line(gb=1.0)
    path = corpus(f"gateway-{args.gb:g}g.jsonl", gigabytes=args.gb)
    mb = path.stat().st_size / 1e6
    flat = json.dumps(FLAT)
    results = {}
    # The machines are noisy (speed changes by 2x from minute to minute): the fast jobs run in turns, three rounds
    # (best time, highest peak memory), so both see the same spells; pandas runs once.
    jobs = {"tokenprice": TOKENPRICE, "DuckDB": DUCKDB, "tokenprice, every row kept (spilled)": TOKENPRICE_ROWS}
    rounds: dict[str, list[tuple[list[str], float]]] = {name: [] for name in jobs}
    for _ in range(3):
        for name, code in jobs.items():
            rounds[name].append(run(code, str(path), flat))
    rounds["pandas"] = [run(PANDAS, str(path), flat)]
    for name, runs in rounds.items():
        fields = min(runs, key=lambda r: float(r[0][0]))[0]
        rss = max(r[1] for r in runs)
        results[name] = (float(fields[0]), rss, fields[1:])
        print(
            f"{name}: {float(fields[0]):.2f} s, {mb / float(fields[0]):.0f} MB/s, peak RSS {rss:.0f} MB, {fields[1:]}"
        )
    ours = results["tokenprice"][0]
    rows = [
        f"| {name} | {t:.2f} s | {mb / t:.0f} MB/s | {rss:.0f} MB | {t / ours:.2f}x |"
        for name, (t, rss, _) in results.items()
    ]
    read, priced, rejected, total = results["tokenprice"][2]
    assert results["tokenprice, every row kept (spilled)"][2] == results["tokenprice"][2], "the two runs differ"
    section = [
        f"## Pricing logs (issue 5) — {time.strftime('%Y-%m-%d')}",
        "",
        f"{machine('bench_logs.py')} Input: {mb:,.0f} MB of generated Cloudflare AI Gateway Logs API items "
        f"(JSON Lines, {int(read):,} records), priced and summarized by tenant and feature. Each tool runs in its own "
        "process (peak memory is its max RSS) and imports its library before the clock starts; tokenprice and "
        "DuckDB: best of 3 runs taken in turns, pandas: 1. tokenprice totals each line as it is priced "
        "(`keep_rows=False`, as the CLI does without `--out`); the second tokenprice row keeps every priced line "
        "(spilled to disk, `.table`) and then summarizes. "
        "tokenprice prices every record at its own date, exactly "
        f"({priced} priced, {rejected} rejected, total {total} USD); pandas and DuckDB use a flat table of today's "
        "prices in floats.",
        "",
        "| job | time | throughput | peak memory | time vs tokenprice |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    publish("## Pricing logs (issue 5)", section, write=not args.no_write)


if __name__ == "__main__":
    main()
