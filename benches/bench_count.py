"""Token counting: tokenprice against tiktoken, side by side in one run, on the same cores.

Measures, on the corpus `benches/corpus.py` builds (prose, code, CJK, emoji from this machine):

1. batch: ``tokenprice.count_tokens(list)`` vs tiktoken ``encode_ordinary_batch`` with the same thread count;
2. one long string: ``Encoding.count(text)`` vs ``len(encode_ordinary(text))`` (single-threaded both, and
   tokenprice with every core);
3. worst case, one repeated character: 100 KB, 1 MB and 10 MB for tokenprice; tiktoken on the sizes it finishes
   in seconds (its merge is superlinear on one long piece).

Every timing is the median of several rounds, with the two libraries interleaved so that machine noise hits both;
the ratios are what to read. Results are printed and written to ``benches/RESULTS.md`` (the counting section).

Usage: python benches/bench_count.py [--rounds 5] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import tiktoken

import tokenprice

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus" / "corpus.jsonl"
RESULTS = HERE / "RESULTS.md"


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median seconds of a and b, run alternately."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(median_seconds(a, 1))
        tb.append(median_seconds(b, 1))
    return statistics.median(ta), statistics.median(tb)


def load_corpus() -> list[str]:
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: run `python benches/corpus.py` (make corpus) first")
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    docs = load_corpus()
    mb = sum(len(d.encode()) for d in docs) / 1e6
    long_text = "".join(docs)
    rows: list[tuple[str, str, str, str, str]] = []
    print(f"corpus: {len(docs)} documents, {mb:.2f} MB; threads={args.threads}; rounds={args.rounds}")

    for name in ["cl100k_base", "o200k_base"]:
        ours, theirs = tokenprice.get_encoding(name), tiktoken.get_encoding(name)
        # Correctness first: the two must agree on every document.
        got = tokenprice.count_tokens(docs, encoding=name, num_threads=args.threads)
        want = [len(ids) for ids in theirs.encode_ordinary_batch(docs, num_threads=args.threads)]
        assert got == want, f"{name}: counts differ from tiktoken"
        t_ours, t_theirs = interleaved(
            lambda: tokenprice.count_tokens(docs, encoding=name, num_threads=args.threads),  # noqa: B023
            lambda: theirs.encode_ordinary_batch(docs, num_threads=args.threads),  # noqa: B023
            args.rounds,
        )
        rows.append(
            (
                f"batch {name} ({args.threads} threads)",
                f"{mb / t_ours:.1f} MB/s",
                f"{mb / t_theirs:.1f} MB/s",
                f"**{t_theirs / t_ours:.1f}x**",
                "count_tokens(list) vs encode_ordinary_batch",
            )
        )
        assert ours.count(long_text) == len(theirs.encode_ordinary(long_text))
        t_ours1, t_theirs1 = interleaved(
            lambda: ours.count(long_text, num_threads=1),  # noqa: B023
            lambda: theirs.encode_ordinary(long_text),  # noqa: B023
            max(3, args.rounds // 2),
        )
        rows.append(
            (
                f"one {mb:.1f} MB string, {name}, 1 thread",
                f"{mb / t_ours1:.1f} MB/s",
                f"{mb / t_theirs1:.1f} MB/s",
                f"**{t_theirs1 / t_ours1:.1f}x**",
                "Encoding.count vs len(encode_ordinary)",
            )
        )
        t_oursn = median_seconds(lambda: ours.count(long_text, num_threads=args.threads), 3)  # noqa: B023
        rows.append(
            (
                f"one {mb:.1f} MB string, {name}, {args.threads} threads",
                f"{mb / t_oursn:.1f} MB/s",
                f"{mb / t_theirs1:.1f} MB/s",
                f"**{t_theirs1 / t_oursn:.1f}x**",
                "tokenprice splits one text across cores; tiktoken cannot",
            )
        )

    worst: list[tuple[str, str, str]] = []
    enc, ref = tokenprice.get_encoding("cl100k_base"), tiktoken.get_encoding("cl100k_base")
    for size in [100_000, 1_000_000, 10_000_000]:
        text = "a" * size
        enc.count(text)  # first use loads the linear-time encoder
        t = median_seconds(lambda: enc.count(text, num_threads=1), 3)  # noqa: B023
        theirs_ms = "not run (superlinear)"
        if size <= 1_000_000:
            assert enc.count(text) == len(ref.encode_ordinary(text))
            theirs_ms = f"{median_seconds(lambda: ref.encode_ordinary(text), 1) * 1e3:.0f} ms"  # noqa: B023
        worst.append((f"{size // 1000:,} KB", f"{t * 1e3:.1f} ms", theirs_ms))

    header = "| measurement | tokenprice | tiktoken | ratio | what |\n|---|---|---|---|---|\n"
    table = header + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    worst_table = "| one repeated character (cl100k) | tokenprice | tiktoken |\n|---|---|---|\n" + "\n".join(
        "| " + " | ".join(r) + " |" for r in worst
    )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"tiktoken {tiktoken.__version__}, tokenprice {tokenprice.__version__}"
    )
    section = (
        f"## Token counting (issue 2) — {date.today().isoformat()}\n\n"
        f"`python benches/bench_count.py` on {machine}. Corpus: {len(docs)} documents, {mb:.2f} MB "
        f"(prose, code, CJK, emoji from this machine; `benches/corpus.py`). Medians of {args.rounds} interleaved "
        f"rounds; the two libraries agree on every count before timing starts.\n\n"
        f"{table}\n\n{worst_table}\n"
    )
    print(section)
    if not args.no_write:
        write_section(section)


def write_section(section: str) -> None:
    """Replaces the counting section of RESULTS.md (other issues' sections stay)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"## Token counting \(issue 2\).*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section.rstrip() + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
