"""Model-name resolution under threads: a table in which 0.5% of rows name fine-tuned or unknown models.

A million usage rows as an Arrow table: 99.5% name common models, 0.5% fine-tuned ids (some the price book
prices, like ``ft:gpt-4o-mini-2024-07-18:…``, some it does not) and typos, 200 distinct such names. Each round
uses names never seen before (the round number is in them), so every round resolves them afresh — misses
included — as a new table would. Timed: ``price_table`` with 1 and with 2 threads, taking turns, best of the
rounds; the ratio 2 threads / 1 thread must not exceed 1 (it was 3.3 when misses were resolved again for every
chunk under the book's write lock). genai-prices' ``calc_price`` prices a sample of the same rows, extrapolated.

Results are printed and written to ``benches/RESULTS.md`` (the resolution section).

Usage: python benches/bench_resolve.py [--rows 1000000] [--rounds 5] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import tokenprice

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
COMMON = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "o3"]
DISTINCT_ODD = 200


def odd_name(i: int, round_: int) -> str:
    """The i-th fine-tuned or unknown name of a round."""
    if i % 4 == 0:
        return f"ft:gpt-4o-mini-2024-07-18:acme:r{round_}:{i}"  # priced (ft:gpt-4o-mini)
    if i % 4 == 1:
        return f"ft:gpt-4.1-mini-2025-04-14:acme:r{round_}:{i}"  # not priced
    if i % 4 == 2:
        return f"gpt-4o-minii-r{round_}-{i}"  # a typo
    return f"acme/in-house-{round_}-{i}"


def make_table(rows: int, round_: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    names = np.array(COMMON, dtype=object)[rng.integers(0, len(COMMON), size=rows)]
    odd = rng.random(rows) < 0.005
    odd_names = np.array([odd_name(i, round_) for i in range(DISTINCT_ODD)], dtype=object)
    names[odd] = odd_names[rng.integers(0, DISTINCT_ODD, size=int(odd.sum()))]
    start = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc).timestamp()
    seconds = (start + rng.uniform(0, 90 * 86400, size=rows)).astype(np.int64)
    return pa.table(
        {
            "model": pa.array(names, type=pa.string()),
            "timestamp": pa.array(seconds * 1_000_000, type=pa.timestamp("us", tz="UTC")),
            "input_tokens": pa.array(rng.integers(50, 20_000, size=rows), type=pa.int64()),
            "output_tokens": pa.array(rng.integers(1, 4_000, size=rows), type=pa.int64()),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import genai_prices

    best = {1: float("inf"), 2: float("inf")}
    rejected = 0
    for round_ in range(args.rounds):
        for threads in (1, 2):
            table = make_table(args.rows, round_ * 2 + threads)  # names new to the book in every timing
            t = time.perf_counter()
            result = tokenprice.price_table(table, keep_columns=False, num_threads=threads)
            best[threads] = min(best[threads], time.perf_counter() - t)
            rejected = len(result) - result.column("status").null_count
    ratio = best[2] / best[1]

    # genai-prices per row on a sample of the same rows, extrapolated.
    sample = make_table(args.rows, 999).slice(0, args.sample).to_pylist()
    t = time.perf_counter()
    for row in sample:
        usage = genai_prices.Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"])
        try:
            genai_prices.calc_price(usage, row["model"], genai_request_timestamp=row["timestamp"])
        except LookupError:
            pass
    t_gp = (time.perf_counter() - t) * args.rows / len(sample)

    m = args.rows / 1e6
    gp_version = importlib.metadata.version("genai-prices")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table_md = "\n".join(
        [
            "| measurement | time | ratio |",
            "|---|---|---|",
            f"| tokenprice `price_table`, {m:g}M rows, 1 thread | {best[1]:.3f} s | 1x |",
            f"| tokenprice `price_table`, {m:g}M rows, 2 threads | {best[2]:.3f} s | **{ratio:.2f}x** (2 / 1 thread) |",
            f"| genai-prices `calc_price` per row ({len(sample):,} rows timed, extrapolated) | {t_gp:.0f} s | "
            f"**{t_gp / best[2]:,.0f}x** (theirs / tokenprice, 2 threads) |",
        ]
    )
    section = (
        f"## Model-name resolution under threads (issue 13) — {dt.date.today().isoformat()}\n\n"
        f"`python benches/bench_resolve.py` on {machine}, genai-prices {gp_version}. Table: {args.rows:,} rows, 0.5% "
        f"naming {DISTINCT_ODD} fine-tuned or unknown models (new names in every timing, so misses are resolved "
        f"afresh), {rejected:,} rows rejected as unknown models. Best of {args.rounds} rounds, 1 and 2 threads "
        f"taking turns. Before the fix (every miss resolved again, with its closest-name search, under the book's "
        f"write lock): 2 threads 3x slower than 1.\n\n{table_md}\n"
    )
    print(section)
    print(f"2-thread / 1-thread ratio: {ratio:.2f}", file=sys.stderr)
    if not args.no_write:
        text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
        pattern = re.compile(r"## Model-name resolution under threads \(issue 13\).*?(?=\n## |\Z)", re.S)
        text = pattern.sub(section.rstrip() + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
