"""Pricing a LiteLLM proxy's spend logs from its Postgres vs the same records from a local JSON Lines file, in the
same run, and the plain Arrow fetch of the same columns with the same driver (ADBC) as the cost of reading.

    python benches/bench_postgres.py --rows 200000 --rounds 3

The server is Debian's postgresql started on a free port (tests/postgres_server.py); the rows are the captured
spend-log rows of tests/fixtures/sources/litellm/ in LiteLLM's shapes (tests/test_postgres_source.py `rows`).
Both sides must give the same totals before anything is timed. Best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import postgres_server  # noqa: E402
from bench_logs import best  # noqa: E402
from test_postgres_source import rows  # noqa: E402

import tokenprice  # noqa: E402
from tokenprice import sources  # noqa: E402
from tokenprice.sources.litellm import COLUMNS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    args = parser.parse_args()
    server = postgres_server.PostgresServer().start()
    try:
        for statement in postgres_server.spend_logs_ddl():
            server.execute(statement)
        records = []
        for first in range(0, args.rows, 20_000):
            chunk = rows(min(20_000, args.rows - first), first)
            postgres_server.insert_rows(server, chunk)
            records.extend(chunk)
        server.execute('VACUUM ANALYZE "LiteLLM_SpendLogs"')
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spend_logs.jsonl"
            records.sort(key=lambda r: (r["startTime"], r["request_id"]))
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            size = path.stat().st_size
            del records
            url = server.url()
            db = sources.litellm(url, batch_rows=args.batch_rows)
            file = tokenprice.price_logs(str(path), format="litellm")
            assert (db.rows_priced, db.rows_rejected, db.total_cost) == (
                file.rows_priced,
                file.rows_rejected,
                file.total_cost,
            ), "Postgres and the file disagree"
            cols = ", ".join(f'"{c}"' for c in COLUMNS)

            def fetch() -> None:
                with server.connect() as conn, conn.cursor() as cur:
                    cur.execute(f'SELECT {cols} FROM "LiteLLM_SpendLogs" ORDER BY "startTime", request_id')
                    cur.fetch_arrow_table()

            t_db = best(lambda: sources.litellm(url, batch_rows=args.batch_rows), args.rounds)
            t_file = best(lambda: tokenprice.price_logs(str(path), format="litellm"), args.rounds)
            t_fetch = best(fetch, args.rounds)
        n = args.rows
        print(f"{n} rows ({size / n:.0f} bytes each as JSON), batch_rows={args.batch_rows}, best of {args.rounds}")
        print("| what | seconds | rows/s | vs JSONL file |")
        print("|---|---:|---:|---:|")
        for name, t in (
            ("price from Postgres (`sources.litellm`)", t_db),
            ("price the same rows from a local JSONL file", t_file),
            ("plain ADBC Arrow fetch of the same columns (no pricing)", t_fetch),
        ):
            print(f"| {name} | {t:.2f} | {n / t:,.0f} | {t / t_file:.2f}x |")
        print(f"Postgres pricing / plain fetch: {t_db / t_fetch:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
