"""A LiteLLM proxy's spend logs read from a real Postgres (Debian's `postgresql`, `make postgres`), started on a
free port in a temporary folder by the fixture and stopped after; with CI=true a missing server fails.

The table is LiteLLM's own (`spend_logs_ddl`: the `LiteLLM_SpendLogs` model of `litellm/proxy/schema.prisma` in
the pinned wheel); the rows are LiteLLM's own too: the spend-log rows of `tests/fixtures/sources/litellm/
spend_logs_payload.json`, built by LiteLLM 1.110.2's `get_logging_payload`
(`litellm/proxy/spend_tracking/spend_tracking_utils.py`) from captured calls, copied with new request ids, times,
teams and tags as the proxy would write other calls. Every result is compared with pricing the same rows from a
JSON Lines file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tokenprice
from tokenprice import sources
from tokenprice._secrets import secret

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgres_server  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sources" / "litellm" / "spend_logs_payload.json"
START = datetime(2025, 10, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def server() -> Iterator[postgres_server.PostgresServer]:
    if postgres_server.binaries() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's postgresql is not installed: run `make postgres` (make test does it)")
        pytest.skip("Debian's postgresql is not installed (make postgres)")
    pg = postgres_server.PostgresServer().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def db(server: postgres_server.PostgresServer) -> Iterator[postgres_server.PostgresServer]:
    """A fresh LiteLLM_SpendLogs table."""
    server.execute('DROP TABLE IF EXISTS "LiteLLM_SpendLogs"')
    for statement in postgres_server.spend_logs_ddl():
        server.execute(statement)
    yield server


def captured() -> list[dict[str, Any]]:
    """The spend-log rows LiteLLM's get_logging_payload wrote (not the CSV copies of them)."""
    cases = json.loads(FIXTURE.read_text())["cases"]
    return [c["input"] for c in cases if c["name"].startswith("spend-log row")]


def stamp(at: datetime) -> str:
    """A time as the payload holds it (`_ensure_datetime_utc`: aware, UTC), at the table's millisecond precision."""
    return at.replace(tzinfo=timezone.utc).isoformat(sep=" ", timespec="milliseconds")


def rows(n: int, first: int = 0, start: datetime = START) -> list[dict[str, Any]]:
    """``n`` rows in LiteLLM's shapes: the captured rows in turn, each with its own request id, time, team, end
    user and tags (the columns and the metadata keys get_logging_payload fills from them)."""
    base = captured()
    out = []
    for i in range(first, first + n):
        row = copy.deepcopy(base[i % len(base)])
        at = start + timedelta(seconds=7 * i, milliseconds=i % 1000)
        row["request_id"] = f"req-{i:07d}"
        row["startTime"] = stamp(at)
        row["endTime"] = stamp(at + timedelta(milliseconds=800))
        if row.get("completionStartTime"):
            row["completionStartTime"] = stamp(at + timedelta(milliseconds=800))
        team = f"team-{i % 3}"
        meta = json.loads(row["metadata"])
        meta["user_api_key_team_id"] = team
        meta["spend_logs_metadata"] = {"tenant": ["acme", "globex"][i % 2], "feature": "search"}
        row["metadata"] = json.dumps(meta)
        row["team_id"] = team
        row["end_user"] = f"customer-{i % 5}"
        row["request_tags"] = json.dumps(["prod", f"shard-{i % 4}"])
        out.append(row)
    return out


def unreadable(i: int) -> dict[str, Any]:
    """A row whose usage cannot be read exactly: usage_object's prompt_tokens is not a count."""
    row = rows(1, i)[0]
    meta = json.loads(row["metadata"])
    meta["usage_object"]["prompt_tokens"] = "2422 tokens"
    row["metadata"] = json.dumps(meta)
    return row


def failed(i: int) -> dict[str, Any]:
    """A failed call as the proxy logs it (`_get_status_for_spend_log`: status "failure", no tokens, spend 0)."""
    row = rows(1, i)[0]
    row.update(status="failure", prompt_tokens=0, completion_tokens=0, total_tokens=0, spend=0.0)
    return row


def from_jsonl(tmp_path: Path, records: list[dict[str, Any]], **kw: Any) -> tokenprice.PricedLogs:
    path = tmp_path / "spend_logs.jsonl"
    ordered = sorted(records, key=lambda r: (r["startTime"], r["request_id"]))
    path.write_text("".join(json.dumps(r) + "\n" for r in ordered))
    return tokenprice.price_logs(str(path), format="litellm", **kw)


def same(a: tokenprice.PricedLogs, b: tokenprice.PricedLogs) -> None:
    """Equal results but for where the rows came from (`source`, and `line` of the rejects)."""
    assert (a.rows_read, a.rows_priced, a.rows_rejected) == (b.rows_read, b.rows_priced, b.rows_rejected)
    left, right = a.table.drop_columns(["source"]), b.table.drop_columns(["source"])
    assert sorted(left.column_names) == sorted(right.column_names)
    for i, (x, y) in enumerate(zip(left.select(right.column_names).to_pylist(), right.to_pylist(), strict=True)):
        # jsonb keeps an object's keys in its own order: LiteLLM's cost parts are the same, listed otherwise.
        for row in (x, y):
            row["cost_breakdown"] = json.loads(row["cost_breakdown"] or "null")
        assert x == y, (i, {k: (x[k], y[k]) for k in x if x[k] != y[k]})
    # The same rows rejected for the same reasons, each named by its request id (`line`: its place in both).
    assert a.rejects.select(["line", "reason"]).to_pylist() == b.rejects.select(["line", "reason"]).to_pylist()
    assert all(" LiteLLM_SpendLogs request_id 'req-" in s for s in a.rejects.column("source").to_pylist())


def test_the_table_is_litellms_own(db: postgres_server.PostgresServer) -> None:
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'LiteLLM_SpendLogs' ORDER BY ordinal_position"
        )
        cols = {name: (kind, nullable) for name, kind, nullable in cur.fetchall()}
    assert cols["startTime"] == ("timestamp without time zone", "NO")
    assert cols["spend"] == ("double precision", "NO")
    assert cols["metadata"] == ("jsonb", "YES")
    assert cols["request_tags"] == ("jsonb", "YES")
    assert cols["prompt_tokens"] == ("integer", "NO")
    assert set(rows(1)[0]) <= set(cols)  # every column get_logging_payload writes is in the table


def test_the_benchmarks_loader_makes_the_same_rows(db: postgres_server.PostgresServer) -> None:
    """benches/bench_postgres.py has the server make its rows (`generate_rows`): they are `rows()`'s."""
    postgres_server.insert_rows(db, rows(30, 5))
    db.execute('DROP TABLE IF EXISTS "Generated"')
    for statement in postgres_server.spend_logs_ddl("Generated"):
        db.execute(statement)
    postgres_server.generate_rows(db, captured(), 30, first=5, table="Generated")
    # Every column but the time of the insert (created_at, updated_at).
    texts = {}
    with db.connect() as conn, conn.cursor() as cur:
        for table in ("LiteLLM_SpendLogs", "Generated"):
            cur.execute(
                f"SELECT (to_jsonb(t) - 'created_at' - 'updated_at')::text FROM \"{table}\" t ORDER BY request_id"
            )
            texts[table] = [row[0] for row in cur.fetchall()]
    assert len(texts["Generated"]) == 30 and texts["Generated"] == texts["LiteLLM_SpendLogs"]
    db.execute('DROP TABLE "Generated"')


def test_rows_price_exactly_as_the_same_records_from_jsonl(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    records = rows(3000) + [unreadable(3000), failed(3001)]
    postgres_server.insert_rows(db, records)
    got = sources.litellm(db.url(), batch_rows=700, by=["team_id", "tenant"])
    want = from_jsonl(tmp_path, records, by=["team_id", "tenant"])
    same(got, want)
    assert got.rows_read == 3002
    assert got.rows_priced + got.rows_rejected == got.rows_read
    # Cache tokens, labels, the gateway's spend, times as LiteLLM wrote them (UTC).
    first = got.table.slice(0, 2).to_pylist()
    assert first[0]["id"] == "req-0000000" and first[0]["cache_read_tokens"] == 2304
    assert first[1]["cache_write_1h_tokens"] == 2000 and first[1]["cache_read_tokens"] == 300
    assert first[0]["reported_cost"] == Decimal("0.004375") and first[0]["total_cost"] == Decimal("0.004375")
    assert first[0]["timestamp"] == START.replace(tzinfo=timezone.utc)
    assert (first[0]["team_id"], first[0]["tenant"], first[0]["end_user"]) == ("team-0", "acme", "customer-0")
    assert first[0]["tags"] == "prod,shard-0"
    assert got.last_summary.num_rows == 6
    # Every reject names its request id: the fallback steps with no counts, the row whose usage is unreadable.
    named = dict(zip(got.rejects.column("source").to_pylist(), got.rejects.column("reason").to_pylist(), strict=True))
    assert (
        "prompt_tokens"
        in named[f"{got.rejects.column('source')[0].as_py().split(' request_id')[0]} request_id 'req-0003000'"]
    )
    reasons = list(named.values())
    failed_rejected = any("'req-0003001'" in s for s in named)
    assert sum("no usage" in r for r in reasons) == len(reasons) - 1 - failed_rejected
    # The failed call is what the JSONL path makes of it (priced or rejected, once).
    failures = [r for r in got.table.to_pylist() if r["id"] == "req-0003001"]
    assert len(failures) + failed_rejected == 1
    # reconcile(): the gateway's spend against the computed cost, as from the file.
    assert got.reconcile().compared == want.reconcile().compared == got.rows_priced


def test_reruns_price_only_new_rows(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    state = tmp_path / "litellm.state.json"
    postgres_server.insert_rows(db, rows(1200))
    first = sources.litellm(db.url(), state=state, batch_rows=500)
    assert first.rows_read == 1200
    checkpoint = json.loads(state.read_text())
    assert checkpoint["request_id"] == "req-0001199" and checkpoint["table"] == "LiteLLM_SpendLogs"
    assert postgres_server.PASSWORD not in state.read_text()
    again = sources.litellm(db.url(), state=state, batch_rows=500)
    assert again.rows_read == 0 and again.table.num_rows == 0
    # New rows (one at the very time of the last row seen, after it by request_id): only they are priced.
    late = rows(1, 1199)[0] | {"request_id": "req-0001199b"}
    postgres_server.insert_rows(db, rows(800, 1200) + [late])
    more = sources.litellm(db.url(), state=state, batch_rows=500)
    assert more.rows_read == 801
    ids = more.table.column("id").to_pylist() + [
        s.rsplit(" request_id ", 1)[1].strip("'") for s in more.rejects.column("source").to_pylist()
    ]
    assert sorted(ids) == sorted(["req-0001199b", *(f"req-{i:07d}" for i in range(1200, 2000))])
    seen = first.table.column("id").to_pylist()
    assert not set(seen) & set(more.table.column("id").to_pylist())
    # The two runs together are the whole table priced at once.
    whole = sources.litellm(db.url(), batch_rows=10_000)
    assert whole.total_cost == first.total_cost + more.total_cost
    assert whole.rows_read == first.rows_read + more.rows_read


def test_since_and_until(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    records = rows(1000)
    postgres_server.insert_rows(db, records)
    since = START + timedelta(seconds=7 * 100)
    until = START + timedelta(seconds=7 * 300)
    got = sources.litellm(db.url(), since=since, until=until.replace(tzinfo=timezone.utc), batch_rows=64)
    inside = [r for r in records if stamp(since) <= r["startTime"] < stamp(until)]
    assert len(inside) == 200
    same(got, from_jsonl(tmp_path, inside))
    assert tokenprice.price_logs(db.url(), since="2025-10-01T12:11:40Z", until=until).rows_read == 200
    assert sources.litellm(db.url(), since=START + timedelta(days=30)).rows_read == 0


def test_price_logs_and_the_cli_take_the_url(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    from tokenprice.cli import main

    records = rows(50)
    postgres_server.insert_rows(db, records)
    logs = tokenprice.price_logs(db.url(), table="LiteLLM_SpendLogs", by="tenant")
    same(logs, from_jsonl(tmp_path, records))
    hidden = secret(db.url())
    assert tokenprice.price_logs(hidden).total_cost == logs.total_cost
    out = tmp_path / "priced.jsonl"
    assert main(["price", db.url(), "--by", "tenant", "--json", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == logs.rows_priced


def test_errors_name_what_and_never_the_password(
    db: postgres_server.PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = postgres_server.PASSWORD
    wrong = db.url(password="not-" + pw)
    with pytest.raises(tokenprice.InputError) as e:
        sources.litellm(wrong)
    assert "password authentication failed" in str(e.value) and "cannot connect" in str(e.value)
    assert "not-" + pw[:6] not in str(e.value) and f"127.0.0.1:{db.port}" in str(e.value)
    with pytest.raises(tokenprice.InputError, match="no table 'LiteLLM_Spendlogs'") as e:
        sources.litellm(db.url(), table="LiteLLM_Spendlogs")
    assert pw not in str(e.value) and "litellm:***@" in str(e.value)
    # The password given apart from the URL, from a file.
    (tmp_path / "pw").write_text(pw + "\n")
    bare = db.url().replace(":" + db.url().split(":")[2].split("@")[0] + "@", "@")
    assert "@" in bare and pw not in bare
    postgres_server.insert_rows(db, rows(3))
    assert sources.litellm(bare, password=secret(file=tmp_path / "pw")).rows_read == 3
    # A connection dropped between two pages: an error naming the table and how far it got; the state is kept.
    # (The next page is fetched while one is priced: the page after the first may have been read before the drop.)
    postgres_server.insert_rows(db, rows(6, 3))
    state = tmp_path / "state.json"

    def drop(name: str, read: int, records: int) -> None:
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'litellm' AND pid <> pg_backend_pid()"
        )

    with pytest.raises(tokenprice.InputError, match=r"reading 'LiteLLM_SpendLogs' after [24] rows") as e:
        sources.litellm(db.url(), batch_rows=2, progress=drop, state=state)
    assert pw not in str(e.value) and not state.exists()
    out = capsys.readouterr()
    assert pw not in out.out + out.err
    with pytest.raises(tokenprice.InvalidArgumentError, match="postgresql://"):
        sources.litellm("mysql://u:" + pw + "@h/db")
    with pytest.raises(tokenprice.InvalidArgumentError, match="batch_rows"):
        sources.litellm(db.url(), batch_rows=0)


def test_the_docs_example_runs_against_the_server(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    """docs/litellm-postgres.md's example (not run by test_docs.py: it needs a Postgres), as written, with
    DATABASE_URL set to this server, in a fresh interpreter in a folder of its own (its state file goes there)."""
    import subprocess

    page = (postgres_server.ROOT / "docs" / "litellm-postgres.md").read_text()
    blocks = re.findall(r"^```python no-run\n(.*?)^```", page, re.S | re.M)
    assert len(blocks) == 1
    postgres_server.insert_rows(db, rows(40))
    env = {**os.environ, "DATABASE_URL": db.url()}
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "40 rows: 32 priced, 8 rejected" in proc.stdout
    assert postgres_server.PASSWORD not in proc.stdout + proc.stderr
    assert json.loads((tmp_path / "litellm.checkpoint.json").read_text())["request_id"] == "req-0000039"


def test_keep_rows_false_keeps_the_totals_only(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    records = rows(900) + [unreadable(900)]
    postgres_server.insert_rows(db, records)
    got = tokenprice.price_logs(db.url(), by=["team_id", "tenant"], keep_rows=False)
    want = from_jsonl(tmp_path, records, by=["team_id", "tenant"], keep_rows=False)
    assert not got.keeps_rows
    with pytest.raises(tokenprice.InvalidArgumentError, match="kept no rows"):
        got.table  # noqa: B018
    assert got.last_summary == want.last_summary and got.last_summary.num_rows == 6
    assert got.total_cost == want.total_cost == tokenprice.price_logs(db.url()).total_cost > 0
    assert (got.rows_read, got.rows_priced, got.rows_rejected) == (want.rows_read, want.rows_priced, want.rows_rejected)
    assert got.rejects.select(["line", "reason"]) == want.rejects.select(["line", "reason"])
    assert any(s.endswith(" request_id 'req-0000900'") for s in got.rejects.column("source").to_pylist())
    # The command line totals without rows too, as it does for files.
    from tokenprice.cli import main

    assert main(["price", db.url(), "--by", "tenant"]) == 0


def test_spill_writes_the_priced_rows_to_disk(db: postgres_server.PostgresServer, tmp_path: Path) -> None:
    import gc

    records = rows(700)
    postgres_server.insert_rows(db, records)
    folder = tmp_path / "spill"
    got = sources.litellm(db.url(), batch_rows=300, spill=True, spill_dir=folder)
    runs = list(folder.iterdir())
    assert len(runs) == 1 and sorted(p.name for p in runs[0].iterdir()) == [f"part-0000{i}.arrow" for i in range(3)]
    same(got, from_jsonl(tmp_path, records))
    del got
    gc.collect()
    assert not list(folder.iterdir())  # removed with the result
    kept = tokenprice.price_logs(db.url(), spill=False, spill_dir=folder)
    assert kept.rows_read == 700 and not list(folder.iterdir())


def test_a_row_longer_than_max_line_bytes_is_a_reject_naming_its_request_id(
    db: postgres_server.PostgresServer, tmp_path: Path
) -> None:
    records = rows(40)
    big = records[17]
    meta = json.loads(big["metadata"])
    meta["spend_logs_metadata"]["note"] = "x" * 400_000
    big["metadata"] = json.dumps(meta)
    postgres_server.insert_rows(db, records)
    got = tokenprice.price_logs(db.url(), max_line_bytes=200_000)
    want = from_jsonl(tmp_path, records, max_line_bytes=200_000)
    assert (got.rows_read, got.rows_priced, got.rows_rejected) == (want.rows_read, want.rows_priced, want.rows_rejected)
    assert got.table.column("id").to_pylist() == want.table.column("id").to_pylist()
    assert got.total_cost == want.total_cost
    long = [r for r in got.rejects.to_pylist() if "longer than the limit" in r["reason"]]
    assert len(long) == 1 and long[0]["line"] == 18
    assert long[0]["source"].endswith("LiteLLM_SpendLogs request_id 'req-0000017'")
    assert re.match(r"a line of 4\d{5} bytes, longer than the limit of 200000 bytes", long[0]["reason"])
    # Without the cap, the row is priced.
    assert "req-0000017" in tokenprice.price_logs(db.url()).table.column("id").to_pylist()
    with pytest.raises(tokenprice.InvalidTypeError, match="max_line_bytes must be an int"):
        tokenprice.price_logs(db.url(), max_line_bytes="200000")  # type: ignore[arg-type]


def test_progress_is_reported_after_each_page(
    db: postgres_server.PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    postgres_server.insert_rows(db, rows(250))
    calls: list[tuple[str, int, int]] = []
    got = sources.litellm(db.url(), batch_rows=100, progress=lambda *a: calls.append(a))
    assert [c[2] for c in calls] == [100, 200, 250] == [100, 200, got.rows_read]
    assert all(c[0].endswith(" LiteLLM_SpendLogs") and postgres_server.PASSWORD not in c[0] for c in calls)
    assert 0 < calls[0][1] < calls[1][1] < calls[2][1]  # bytes of rows read (their JSON)
    calls.clear()
    tokenprice.price_logs(db.url(), progress=lambda *a: calls.append(a))
    assert calls[-1][2] == 250
    # progress=True draws a bar only when someone watches (stderr is captured here: none), and never fails.
    assert tokenprice.price_logs(db.url(), progress=True).rows_read == 250
    assert capsys.readouterr().err == ""

    # An exception from the callback stops the run, as it is, and leaves no checkpoint.
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sources.litellm(db.url(), batch_rows=100, progress=stop, state=tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()
    with pytest.raises(tokenprice.InvalidTypeError, match="progress must be"):
        tokenprice.price_logs(db.url(), progress="yes")  # type: ignore[arg-type]


def test_options_a_postgres_source_does_not_take_are_refused() -> None:
    # Checked before any connection: no server needed.
    url = "postgresql://litellm:pw@127.0.0.1:9/db"
    with pytest.raises(tokenprice.InvalidArgumentError, match="approximate: not taken for a Postgres URL"):
        tokenprice.price_logs(url, approximate=True)
    with pytest.raises(tokenprice.InvalidArgumentError, match="default_at: not taken"):
        tokenprice.price_logs(url, default_at="2026-01-01")


def test_the_core_takes_pages_of_arrow_texts_as_one_input() -> None:
    """The core's side of the Postgres source, without a server: ``pages=`` gives Arrow tables of (JSON text, row
    name) until None, one input named by the one path; a reject names its row by ``key``; a wrong combination of
    arguments is an error naming it, and an exception from ``pages`` is raised as it is."""
    import pyarrow as pa

    from tokenprice import _core
    from tokenprice._ledger import LogOptions

    good = json.dumps(
        {"created": 1735689600, "model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    )
    queue = [
        pa.table({"text": [good, "{not json"], "request_id": ["r-1", "r-2"]}),
        pa.table({"text": [good], "request_id": ["r-3"]}),
    ]

    def pages() -> Any:
        return queue.pop(0) if queue else None

    options = LogOptions(format="openai_chat").core()
    priced, rejects, read, _, _, _ = _core.price_log_files(["db t"], options, pages=pages, key="request_id")
    assert (read, pa.table(priced).num_rows) == (3, 2)
    assert pa.table(rejects).column("source").to_pylist() == ["db t request_id 'r-2'"]
    with pytest.raises(tokenprice.InvalidArgumentError, match="its one name as paths"):
        _core.price_log_files(["a", "b"], options, pages=pages)
    with pytest.raises(tokenprice.InvalidArgumentError, match="neither ranges= nor objects="):
        _core.price_log_files(["a"], options, pages=pages, ranges=[(0, 1)])
    with pytest.raises(tokenprice.InvalidArgumentError, match="only with pages="):
        _core.price_log_files(["a"], options, key="request_id")
    with pytest.raises(tokenprice.InvalidTypeError, match="pages must be callable"):
        _core.price_log_files(["a"], options, pages=5)
    # A page without the column its rows are named by, or with row names that are not texts: an error naming it.
    one = [pa.table({"text": [good]})]
    with pytest.raises(tokenprice.InvalidArgumentError, match="no second column to name its rows by"):
        _core.price_log_files(["a"], options, pages=lambda: one.pop() if one else None, key="request_id")
    ints = [pa.table({"text": [good], "request_id": [7]})]
    with pytest.raises(tokenprice.InvalidArgumentError, match="row names of a page must be a string column"):
        _core.price_log_files(["a"], options, pages=lambda: ints.pop() if ints else None, key="request_id")

    def failing() -> Any:
        raise KeyError("the connection dropped")

    with pytest.raises(KeyError, match="the connection dropped"):
        _core.price_log_files(["a"], options, pages=failing)
