"""Pricing a LiteLLM proxy's spend logs from its Postgres vs the same records from a local JSON Lines file, in the
same run, and the plain Arrow fetch of the same columns with the same driver (ADBC) as the cost of reading.

    python benches/bench_postgres.py --rows 200000 --rounds 3

The server is Debian's postgresql started on a free port (tests/postgres_server.py); the rows are the captured
spend-log rows of tests/fixtures/sources/litellm/ in LiteLLM's shapes (tests/test_postgres_source.py `rows`), made
by the server itself (`generate_rows`: one INSERT ... SELECT over generate_series, the same rows as `rows`, which
a test checks). The JSON Lines file holds the same rows as Postgres serializes them (`row_to_json`, the text the
Postgres source prices), so the two sides price the same texts and differ only in where they come from. Both
sides must give the same totals before anything is timed. Best of ``--rounds``, the sides taking turns.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import postgres_server  # noqa: E402
from test_postgres_source import captured  # noqa: E402

import tokenprice  # noqa: E402
from tokenprice import sources  # noqa: E402
from tokenprice.sources.litellm import COLUMNS, _Database, _Pages  # noqa: E402

TABLE = "LiteLLM_SpendLogs"


def export_jsonl(server: postgres_server.PostgresServer, path: Path) -> None:
    """The table as JSON Lines, each row as Postgres serializes it for the Postgres source, in its order."""
    cols = ", ".join(f'"{c}"' for c in COLUMNS)
    query = f'SELECT row_to_json(r)::text FROM (SELECT {cols} FROM "{TABLE}" ORDER BY "startTime", request_id) r'
    with server.connect() as conn, conn.cursor() as cur, path.open("w", encoding="utf-8") as out:
        cur.execute(query)
        for batch in cur.fetch_record_batch():
            out.write("\n".join(batch.column(0).to_pylist()) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=None, help="default: sources.litellm's")
    args = parser.parse_args()
    paging = {} if args.batch_rows is None else {"batch_rows": args.batch_rows}
    server = postgres_server.PostgresServer().start()
    try:
        for statement in postgres_server.spend_logs_ddl():
            server.execute(statement)
        start = time.perf_counter()
        step = 100_000
        for first in range(0, args.rows, step):
            postgres_server.generate_rows(server, captured(), min(step, args.rows - first), first)
        server.execute(f'VACUUM ANALYZE "{TABLE}"')
        loaded = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spend_logs.jsonl"
            export_jsonl(server, path)
            size = path.stat().st_size
            url = server.url()
            db = sources.litellm(url, **paging)
            file = tokenprice.price_logs(str(path), format="litellm")
            assert (db.rows_read, db.rows_priced, db.rows_rejected, db.total_cost) == (
                file.rows_read,
                file.rows_priced,
                file.rows_rejected,
                file.total_cost,
            ), "Postgres and the file disagree"
            assert db.rows_read == args.rows
            del db, file
            cols = ", ".join(f'"{c}"' for c in COLUMNS)

            def fetch() -> None:
                with server.connect() as conn, conn.cursor() as cur:
                    cur.execute(f'SELECT {cols} FROM "{TABLE}" ORDER BY "startTime", request_id')
                    cur.fetch_arrow_table()

            def pages() -> None:
                reader = _Pages(_Database(url, None), TABLE, None, None, None, paging.get("batch_rows", 10_000))
                try:
                    while reader.next() is not None:
                        pass
                finally:
                    reader.close()

            times: dict[str, list[float]] = {k: [] for k in ("db", "totals", "file", "fetch", "pages")}
            runs = {
                "db": lambda: sources.litellm(url, **paging),
                "totals": lambda: tokenprice.price_logs(url, by="team_id", keep_rows=False),
                "file": lambda: tokenprice.price_logs(str(path), format="litellm"),
                "fetch": fetch,
                "pages": pages,
            }
            for _ in range(args.rounds):
                for name, fn in runs.items():
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
        best = {k: min(v) for k, v in times.items()}
        n = args.rows
        print(
            f"{n} rows ({size / n:.0f} bytes each as JSON), batch_rows={paging.get('batch_rows', 'default')}, "
            f"best of {args.rounds}; loaded in {loaded:.0f} s; load average {os.getloadavg()}"
        )
        print("| what | seconds | rows/s | vs JSONL file |")
        print("|---|---:|---:|---:|")
        for key, name in (
            ("db", "price from Postgres (`sources.litellm`, rows kept)"),
            ("totals", "price from Postgres, totals only (`keep_rows=False`, by team_id)"),
            ("file", "price the same rows from a local JSONL file (`price_logs`)"),
            ("fetch", "plain ADBC Arrow fetch of the same columns, one query (no JSON, no pricing)"),
            ("pages", "the Postgres source's pages of JSON texts, fetched only (no pricing)"),
        ):
            t = best[key]
            print(f"| {name} | {t:.2f} | {n / t:,.0f} | {t / best['file']:.2f}x |")
        print(f"Postgres pricing / plain fetch: {best['db'] / best['fetch']:.2f}x")
        print(f"Postgres pricing / its pages fetched only: {best['db'] / best['pages']:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
