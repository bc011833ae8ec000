"""price_logs end to end: the bundled sample, every log shape a file can have, malformed input (nothing lost),
exact summaries, and the `tokenprice price` command."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tokenprice

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "logs" / "gateway.jsonl.gz"
COSTS = ["input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "other_cost"]


@pytest.fixture(scope="module")
def sample() -> tokenprice.PricedLogs:
    return tokenprice.price_logs(SAMPLE)


def lines_of(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def test_the_sample_is_priced_and_nothing_is_lost(sample: tokenprice.PricedLogs) -> None:
    assert sample.rows_read == len(lines_of(SAMPLE)) == 5000
    assert sample.rows_priced + sample.rows_rejected == sample.rows_read
    # The private fine-tune is rejected with its reason and line; everything else is priced.
    reasons = set(sample.rejects.column("reason").to_pylist())
    assert reasons == {'no price is known for model "ft:gpt-4o-mini:acme:private:abc123" from provider "openai"'}
    assert sample.rejects.column("line").to_pylist() == sorted(sample.rejects.column("line").to_pylist())
    t = sample.table
    # The cost columns add up to each line's total, exactly.
    for row in t.select([*COSTS, "total_cost"]).to_pylist():
        assert sum(row[c] for c in COSTS) == row["total_cost"]
    # Gateway cache hits and failed requests cost nothing; Anthropic calls the gateway did not cost are priced.
    hits = t.filter(t.column("cache_hit"))
    assert hits.num_rows > 100 and pc.sum(hits.column("total_cost")).as_py() == 0
    failed = t.filter(pc.equal(t.column("status"), "error"))
    assert failed.num_rows > 50 and pc.sum(failed.column("total_cost")).as_py() == 0
    anthropic = t.filter(pc.equal(t.column("provider"), "anthropic"))
    assert pc.min(anthropic.column("total_cost")).as_py() > 0
    assert pc.max(anthropic.column("reported_cost")).as_py() == 0
    # Labels are columns.
    assert {"tenant", "feature", "conversation"} <= set(t.column_names)


def test_each_line_costs_what_pricing_its_record_alone_costs(sample: tokenprice.PricedLogs) -> None:
    lines = lines_of(SAMPLE)
    rows = sample.table.to_pylist()
    for row in rows[:: len(rows) // 60]:
        record = tokenprice.extract_usage(lines[row["line"] - 1])
        if record.status == "error" and not record.has_usage:
            assert row["total_cost"] == 0
            continue
        if row["usage_source"] == "counted":
            continue  # the record has no usage to price alone; see the counting test below
        assert tokenprice.price(record).total == row["total_cost"], row


def _streamed_text(sse: str) -> str:
    chunks = [json.loads(e[len("data: ") :]) for e in sse.split("\n\n") if e.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


def test_rows_without_usage_are_counted_with_the_models_tokenizer(sample: tokenprice.PricedLogs) -> None:
    t = sample.table
    assert set(t.column("usage_source").to_pylist()) == {"reported", "counted"}
    counted = t.filter(pc.equal(t.column("usage_source"), "counted")).to_pylist()
    assert len(counted) > 20
    lines = lines_of(SAMPLE)
    for row in counted:
        raw = json.loads(lines[row["line"] - 1])
        messages = json.loads(raw["RequestBody"])["messages"]
        encoding = tokenprice.encoding_for_model(row["model"])
        assert row["input_tokens"] == tokenprice.count_message_tokens(messages, model=row["model"])
        assert row["output_tokens"] == encoding.count(_streamed_text(raw["ResponseBody"]))
        usage = tokenprice.Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"])
        assert tokenprice.price(usage, model=row["model"], at=row["timestamp"]).total == row["total_cost"] > 0


def test_models_without_a_public_tokenizer_are_counted_only_when_asked() -> None:
    stream = "".join(
        f"data: {json.dumps(e)}\n\n"
        for e in [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello there"}},
            {"type": "message_stop"},
        ]
    )
    record = {
        "Timestamp": "2025-06-01T09:00:00Z",
        "Gateway": "g",
        "Provider": "anthropic",
        "Model": "claude-sonnet-4-5",
        "StatusCode": 200,
        "Metadata": {"tenant": "acme"},
        "RequestBody": json.dumps({"model": "claude-sonnet-4-5", "system": "Be brief.", "messages": []}),
        "ResponseBody": stream,
    }
    strict = tokenprice.price_logs([record])
    assert (strict.rows_priced, strict.rows_rejected) == (0, 1)
    reason = strict.rejects.column("reason")[0].as_py()
    assert "Anthropic has not published" in reason and "approximate=True" in reason
    loose = tokenprice.price_logs([record], approximate=True)
    row = loose.table.to_pylist()[0]
    enc = tokenprice.get_encoding("o200k_base")
    assert row["usage_source"] == "approximate"
    # Counted as an o200k model's chat (gpt-4o's rules): the messages' framing plus the system prompt.
    framing = tokenprice.count_message_tokens([], model="gpt-4o")
    assert (row["input_tokens"], row["output_tokens"]) == (framing + enc.count("Be brief."), enc.count("Hello there"))
    assert row["total_cost"] > 0


def test_the_progress_callback_sees_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, int]] = []
    logs = tokenprice.price_logs(str(SAMPLE), progress=lambda *a: calls.append(a))
    assert calls and calls[-1] == (str(SAMPLE), SAMPLE.stat().st_size, logs.rows_read)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tokenprice.price_logs(str(SAMPLE), progress=stop)
    # Stopped while spilling to a temporary folder of its own: the folder and its files are removed.
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        tokenprice.price_logs(str(SAMPLE), progress=stop, spill=True)
    assert list(tmp_path.iterdir()) == []
    logs = tokenprice.price_logs(str(SAMPLE), spill=True)
    assert len(list(tmp_path.iterdir())) == 1  # the folder is there while the result lives
    del logs
    # The plain bar (the CLI's without tqdm): the share of bytes read, the records, the rate.
    from tokenprice._progress import TextBar

    out = io.StringIO()
    bar = TextBar([str(SAMPLE)], out)
    bar(str(SAMPLE), SAMPLE.stat().st_size // 2, 100)
    bar(str(SAMPLE), SAMPLE.stat().st_size, 200)
    bar(str(SAMPLE), SAMPLE.stat().st_size * 2, 300)  # never past 100%
    bar.close()
    drawn = out.getvalue()
    assert " 50% " in drawn and "100% " in drawn and "200 records" in drawn and drawn.endswith("\n")
    assert "200%" not in drawn and all(len(part.split("]")[0]) == 1 + TextBar.WIDTH for part in drawn.split("\r")[1:])


def test_summaries_are_exact_sums_and_state_the_counts(sample: tokenprice.PricedLogs) -> None:
    total = sample.total_cost
    assert isinstance(total, Decimal) and total > 0
    for by, period in [(["tenant", "feature"], None), ("tenant", "month"), (None, "week"), (None, None)]:
        s = sample.summary(by, period=period)
        assert sum(s.column("rows").to_pylist()) == sample.rows_priced
        assert sum(s.column("total_cost").to_pylist()) == total
        for c in COSTS:
            assert sum(s.column(c).to_pylist()) == pc.sum(sample.table.column(c)).as_py()
        meta = s.schema.metadata
        assert meta[b"rows_read"] == b"5000" and int(meta[b"rows_rejected"]) == sample.rows_rejected
    weeks = sample.summary(period="week").column("period").to_pylist()
    assert all(d.weekday() == 0 for d in weeks)  # ISO weeks start on Monday
    with pytest.raises(tokenprice.InvalidArgumentError, match="no column 'team'"):
        sample.summary("team")


GROUPINGS = [
    (["tenant", "feature"], None, "UTC"),
    (["tenant", "model", "status"], "week", "America/New_York"),
    (["feature", "priced_model", "usage_source"], "month", "Asia/Kolkata"),
    ([], "day", "+05:45"),
    (["conversation", "provider", "served_model", "service_tier"], "day", "Europe/Berlin"),
    ("source", None, "UTC"),
    (None, None, "UTC"),
]


@pytest.mark.parametrize(("by", "period", "tz"), GROUPINGS)
@pytest.mark.parametrize("threads", [1, 2])
def test_totals_of_a_run_without_rows_equal_the_summary_of_its_rows(
    tmp_path: Path, sample: tokenprice.PricedLogs, by: Any, period: str | None, tz: str, threads: int
) -> None:
    # The sample plus malformed lines and the general path's shapes (Logpush events, LiteLLM payloads).
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model": "gpt-4o", "tokens_in": 5\n{"tokens_in": 1, "model": "gpt-4o"}\nnull\n')
    sources = [str(SAMPLE), str(bad)]
    rows = tokenprice.price_logs(sources, num_threads=threads)
    want = rows.summary(by, period=period, tz=tz)
    got = tokenprice.price_logs(sources, by=by, period=period, tz=tz, keep_rows=False, num_threads=threads)
    assert not got.keeps_rows and rows.keeps_rows
    assert got.summary(by, period=period, tz=tz).equals(want, check_metadata=True)
    assert got.last_summary.equals(want) and want.num_rows > 0
    assert (got.rows_read, got.rows_priced, got.rows_rejected) == (rows.rows_read, rows.rows_priced, rows.rows_rejected)
    assert got.rejects.equals(rows.rejects) and got.total_cost == rows.total_cost == sample.total_cost
    # In memory (a list of records) it is the same, and the rows are dropped too.
    records = lines_of(SAMPLE)[:400]
    in_memory = tokenprice.price_logs(records, by=by, period=period, tz=tz, keep_rows=False)
    assert not in_memory.keeps_rows and in_memory.rows_read == 400
    assert in_memory.last_summary.equals(tokenprice.price_logs(records).summary(by, period=period, tz=tz))


def test_totals_of_runs_with_nothing_priced_equal_the_summary_of_no_rows(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("junk\n{}\n")
    for by, period in [(None, None), ("source", None), (None, "day")]:
        want = tokenprice.price_logs(junk).summary(by, period=period)
        got = tokenprice.price_logs(junk, by=by, period=period, keep_rows=False)
        assert got.last_summary.equals(want, check_metadata=True), (by, period)
        assert got.rows_read == 2 and got.rows_rejected == 2 and got.total_cost == 0
    assert tokenprice.price_logs(junk, keep_rows=False).last_summary.num_rows == 1  # one group of nothing


@pytest.mark.parametrize(
    ("at", "tz"),
    [
        ("2018-11-04T03:30:00Z", "America/Sao_Paulo"),  # local midnight skipped (clocks forward at 00:00)
        ("2025-03-29T22:30:00Z", "Asia/Beirut"),  # the same
        ("2025-11-02T04:30:00Z", "America/Havana"),  # local midnight repeated (clocks back at 01:00 → 00:00)
        ("2025-11-02T05:30:00Z", "America/Havana"),
        ("2025-03-30T01:30:00Z", "Europe/London"),
        ("1969-12-31T23:30:00Z", "+0530"),
        ("2025-05-01T02:00:00Z", "-03:00"),
    ],
)
def test_periods_of_runs_without_rows_follow_the_zone_as_summaries_do(tmp_path: Path, at: str, tz: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(one_item(created_at=at, id=str(i))) for i in range(3)) + "\n")
    rows = tokenprice.price_logs(path)
    for period in ["day", "week", "month"]:
        want = rows.summary(period=period, tz=tz)
        assert want.num_rows == 1
        got = tokenprice.price_logs(path, period=period, tz=tz, keep_rows=False).last_summary
        assert got.equals(want), (period, got.to_pylist(), want.to_pylist())


@pytest.mark.parametrize("tz", ["Z", "+5:30", "++05:30", "-+05:30", "utc", "Mars/Olympus", "+25:00"])
def test_zones_arrow_does_not_know_are_refused_alike(tz: str) -> None:
    with pytest.raises(tokenprice.InvalidArgumentError, match="unknown time zone"):
        tokenprice.price_logs(SAMPLE, period="day", tz=tz, keep_rows=False)
    rows = tokenprice.price_logs([one_item()])
    with pytest.raises(tokenprice.InvalidArgumentError, match="unknown time zone"):
        rows.summary(period="day", tz=tz)


def test_the_columns_a_run_without_rows_totals_by_are_the_ledgers(tmp_path: Path) -> None:
    from tokenprice._ledger import _FIXED, needs_rows

    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(one_item()) + "\n")
    for name in sorted(_FIXED | set(tokenprice._core.usage_fields())):
        if needs_rows([name]):
            with pytest.raises(tokenprice.InvalidArgumentError, match="cannot group by"):
                tokenprice.price_logs(path, by=name, keep_rows=False)
        else:
            got = tokenprice.price_logs(path, by=name, keep_rows=False).last_summary
            assert got.equals(tokenprice.price_logs(path).summary(name)), name
    # The command line keeps the rows for such a column.
    r = run_cli("price", str(path), "--by", "cache_hit,price_from", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["groups"][0]["cache_hit"] is False


def test_a_run_without_rows_says_what_it_cannot_do(sample: tokenprice.PricedLogs) -> None:
    logs = tokenprice.price_logs(SAMPLE, by="tenant", keep_rows=False)
    for use in [
        lambda: logs.table,
        lambda: logs.summary("feature"),
        lambda: logs.summary("tenant", period="day"),
        lambda: logs.reprice("tenant", at="2026-01-01"),
        logs.reconcile,
    ]:
        with pytest.raises(tokenprice.InvalidArgumentError, match="kept no rows .* totals by \\['tenant'\\]"):
            use()
    with pytest.raises(tokenprice.InvalidArgumentError, match="no column 'team' to group by; labels in these logs:"):
        tokenprice.price_logs(SAMPLE, by=["tenant", "team"], keep_rows=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match='cannot group by "cache_hit"'):
        tokenprice.price_logs(SAMPLE, by="cache_hit", keep_rows=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="unknown time zone"):
        tokenprice.price_logs(SAMPLE, period="day", tz="Mars/Olympus", keep_rows=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="period must be one of"):
        tokenprice.price_logs(SAMPLE, period="hour", keep_rows=False)
    with pytest.raises(tokenprice.InvalidArgumentError, match="given twice"):
        tokenprice.price_logs(SAMPLE, by=["tenant", "tenant"], keep_rows=False)


def one_item(**extra: Any) -> dict[str, Any]:
    """A Logs API item of 2025-05-01T02:00Z, with `extra` members."""
    return {
        "id": "a",
        "created_at": "2025-05-01T02:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "tokens_in": 10,
        "tokens_out": 1,
        **extra,
    }


def test_a_label_named_like_a_column_groups_as_its_column_does(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(one_item(metadata=json.dumps({"model": "label", "line": 3}))) + "\n")
    rows = tokenprice.price_logs(path)
    assert rows.table.column("metadata.model").to_pylist() == ["label"]
    # The fixed columns are those the ledger names (labels of those names are renamed).
    from tokenprice._ledger import _FIXED

    counts = {c for c in rows.table.column_names if c in tokenprice._core.usage_fields()}
    assert set(rows.table.column_names) - counts - {"metadata.model", "metadata.line"} == _FIXED
    for by in [["model", "metadata.model"], ["metadata.line"]]:
        got = tokenprice.price_logs(path, by=by, keep_rows=False).last_summary
        assert got.equals(rows.summary(by)), by


def test_periods_follow_the_time_zone() -> None:
    logs = tokenprice.price_logs([one_item()])
    assert str(logs.summary(period="day").column("period")[0]) == "2025-05-01"
    assert str(logs.summary(period="day", tz="America/New_York").column("period")[0]) == "2025-04-30"


def test_file_shapes_and_compressions_agree(tmp_path: Path) -> None:
    import zstandard

    lines = lines_of(SAMPLE)[:300]
    text = "\n".join(lines) + "\n"
    plain = tmp_path / "a.jsonl"
    plain.write_text(text)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    (tmp_path / "d.json").write_text("[" + ",".join(lines) + "]")
    base = tokenprice.price_logs(plain)
    for name in ["b.jsonl.gz", "c.jsonl.zst", "d.json"]:
        other = tokenprice.price_logs(tmp_path / name)
        assert other.rows_read == 300
        assert other.table.drop_columns(["source"]).equals(base.table.drop_columns(["source"])), name
    both = tokenprice.price_logs(str(tmp_path / "*.jsonl*"))
    assert both.rows_read == 900
    # Records given directly (dicts, or a table whose rows are records) price the same.
    dicts = [json.loads(x) for x in lines]
    assert tokenprice.price_logs(dicts).total_cost == base.total_cost


def test_malformed_input_is_rejected_with_place_and_reason_and_nothing_is_lost(tmp_path: Path) -> None:
    good = {
        "id": "g",
        "created_at": "2025-05-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "tokens_in": 100,
        "tokens_out": 5,
    }
    big = {**good, "id": "big", "padding": "x" * 50_000_000}
    lines = [
        json.dumps(good).encode(),
        json.dumps(good).encode()[:40],  # truncated
        json.dumps({**good, "tokens_in": "many"}).encode(),  # wrong type
        json.dumps({**good, "tokens_in": -4}).encode(),  # negative count
        json.dumps({**good, "model": "no-such-model"}).encode(),  # unknown model
        json.dumps({**good, "created_at": "yesterday"}).encode(),  # bad timestamp
        json.dumps({**good, "id": "\udcff"}, ensure_ascii=False).encode("utf-8", "surrogateescape"),  # invalid UTF-8
        json.dumps({**good, "created_at": None}).encode(),  # no timestamp
        json.dumps(big).encode(),  # a 50 MB single line
        b"",
        json.dumps(good).encode(),
        json.dumps({**good, "created_at": "2025-01-0\u00e9T00:00:00Z"}, ensure_ascii=False).encode(),  # multi-byte
        b"[]",  # a container without records
        json.dumps({"resourceSpans": []}).encode(),  # an OTLP export without gen_ai spans
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    logs = tokenprice.price_logs(path)
    assert logs.rows_read == 13 and logs.rows_priced + logs.rows_rejected == 13
    assert logs.table.column("line").to_pylist() == [1, 9, 11]
    rejects = {r["line"]: r["reason"] for r in logs.rejects.to_pylist()}
    assert set(rejects) == {2, 3, 4, 5, 6, 7, 8, 12, 13, 14}
    assert "not an ISO 8601" in rejects[12]
    assert "holds no usage records" in rejects[13] and "holds no usage records" in rejects[14]
    assert "not valid JSON" in rejects[2]
    assert "tokens_in" in rejects[3] and "not a number" in rejects[3]
    assert "tokens_in: -4 is negative" in rejects[4]
    assert 'no price is known for model "no-such-model"' in rejects[5]
    assert "created_at" in rejects[6] and "yesterday" in rejects[6]
    assert "not UTF-8" in rejects[7]
    assert "no timestamp" in rejects[8]
    assert all(len(r["excerpt"]) <= 161 for r in logs.rejects.to_pylist())
    # default_at prices the record without a timestamp instead.
    assert tokenprice.price_logs(path, default_at="2025-06-01").rows_rejected == 9


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenprice", *args], capture_output=True, text=True, check=False)


def test_the_price_command(tmp_path: Path) -> None:
    r = run_cli("price", str(SAMPLE), "--by", "tenant,feature")
    assert r.returncode == 0, r.stderr
    assert "tenant" in r.stdout and "total_cost" in r.stdout and "5000 rows read: 4995 priced, 5 rejected" in r.stdout
    assert run_cli("price", str(SAMPLE), "--strict").returncode == 1
    out = tmp_path / "priced.parquet"
    r = run_cli("price", str(SAMPLE), "--by", "tenant", "--period", "month", "--json", "--out", str(out))
    data = json.loads(r.stdout)
    assert data["rows_read"] == 5000 and Decimal(data["total_cost"]) > 0
    assert sum(g["rows"] for g in data["groups"]) == 4995
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows == 4995
    assert pq.read_table(tmp_path / "priced.rejects.parquet").num_rows == 5
    # Without --out the rows are not kept (each line is totalled as it is priced): the same totals and rejects.
    totals = json.loads(run_cli("price", str(SAMPLE), "--by", "tenant", "--period", "month", "--json").stdout)
    assert totals == {k: v for k, v in data.items() if k != "written"}
    both = json.loads(run_cli("price", str(SAMPLE), "--json", "--reconcile").stdout)  # one JSON document
    assert both["reconciliation"]["compared"] == 4995 and both["reconciliation"]["causes"]["gateway cache hit"] > 0
    assert set(both["reconciliation"]["cause_costs"]) == set(both["reconciliation"]["causes"])
    assert Decimal(both["reconciliation"]["cause_costs"]["gateway cache hit"]) > 0
    bad = run_cli("price", str(tmp_path / "missing.jsonl"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such file" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_tables_of_records_are_logs_too() -> None:
    rows = [json.loads(x) for x in lines_of(SAMPLE)[:50]]
    flat = [r for r in rows if "tokens_in" in r]
    table = pa.Table.from_pylist(flat)
    logs = tokenprice.price_logs(table)
    assert logs.rows_read == len(flat) and logs.rows_priced + logs.rows_rejected == len(flat)


def test_reconciliation_finds_each_planted_gateway_mistake(sample: tokenprice.PricedLogs) -> None:
    rec = sample.reconcile(tolerance=("0.000001", "0.01"))
    mismatches = rec.mismatches.to_pylist()
    sample_columns = ["id", "source", "line", "model", "reported", "computed", "difference", "cause"]
    assert rec.mismatches.column_names[:8] == sample_columns
    by_id = {m["id"]: m for m in mismatches}
    table = sample.table.to_pylist()
    by_line = {(m["source"], m["line"]): m for m in mismatches}
    # Gateway cache hits charged as cold calls: every charged cache hit is found, with that cause.
    charged_hits = [r for r in table if r["cache_hit"] and (r["reported_cost"] or 0) > 0]
    assert charged_hits and all(by_id[r["id"]]["cause"] == "gateway cache hit" for r in charged_hits)
    # Anthropic usage not parsed (cloudflare-docs#20536), Bedrock camelCase (cloudflare/ai#491) and streams sent
    # without usage (tokenprice counts them): the gateway reported 0.
    unread = [
        r
        for r in table
        if (r["provider"] in ("anthropic", "aws") or r["usage_source"] == "counted") and r["total_cost"] > 0
    ]
    assert unread and all(by_line[r["source"], r["line"]]["cause"] == "gateway reported 0" for r in unread)
    # OpenAI streams with prompt-cache reads, of models whose price never changed: the gateway charged the reads
    # at the input rate (cache tokens ignored, BerriAI/litellm#16341) or at the input rate and again at the
    # cache-read rate (cache charged twice, cloudflare/ai#550). The difference is the reads at the input rate less
    # the book's cache-read discount, or at the input rate: by hand, from prices/openai.toml ($ per million).
    rates = {"gpt-4o": ("2.5", "1.25"), "gpt-4o-mini": ("0.15", "0.075"), "gpt-4.1-mini": ("0.4", "0.1")}
    cached = [
        r
        for r in table
        if r["model"] in rates and r["cache_read_tokens"] > 0 and (r["reported_cost"] or 0) > 0 and not r["cache_hit"]
    ]
    seen = {"cache charged twice": 0, "cache tokens ignored": 0}
    for r in cached:
        m = by_line[r["source"], r["line"]]
        p_in, p_read = (Decimal(x) for x in rates[r["model"]])
        twice, ignored = r["cache_read_tokens"] * p_in / 10**6, r["cache_read_tokens"] * (p_in - p_read) / 10**6
        expected = twice if m["cause"] == "cache charged twice" else ignored
        assert m["cause"] in seen and abs(m["difference"] - expected) <= Decimal("1e-8"), (m, twice, ignored)
        seen[m["cause"]] += 1
    assert all(n > 10 for n in seen.values()), seen
    # Requests the caller priced with cf-aig-custom-cost ($1 / $3 per million in / out, custom_cost: true): each is
    # found with that cause, its reported cost being the custom price.
    custom = [r for r in table if r["custom_cost"]]
    assert len(custom) > 20
    for r in custom:
        assert r["reported_cost"] == (r["input_tokens"] + 3 * r["output_tokens"]) / Decimal(10**6)
        assert by_line[r["source"], r["line"]]["cause"] == "custom cost"
    # Prices changed since (o3's June 2025 cut): the gateway's flat table is today's.
    assert any(m["cause"] == "price date" and m["model"] == "o3" for m in mismatches)
    assert rec.causes["unexplained"] <= len(table) // 100
    # Largest difference first; totals over the lines that report a cost; the private fine-tune counted.
    diffs = [abs(m["difference"]) for m in mismatches]
    assert diffs == sorted(diffs, reverse=True)
    reported = [r for r in table if r["reported_cost"] is not None]
    assert rec.compared == len(reported)
    assert rec.reported_total == sum(r["reported_cost"] for r in reported)
    assert rec.computed_total == sum(r["total_cost"] for r in reported)
    assert rec.causes["gateway reported 0"] == len(unread)
    assert rec.causes["no price for the model"] == sample.rows_rejected
    # The money per cause is the sum of its mismatches' differences, exact.
    for cause, n in rec.causes.items():
        mine = [m["difference"] for m in mismatches if m["cause"] == cause]
        assert rec.cause_costs[cause] == sum(mine, Decimal(0)), cause
        assert n == len(mine) + (sample.rows_rejected if cause == "no price for the model" else 0), cause
    # Each mismatch carries its line's labels.
    rows_by_line = {(r["source"], r["line"]): r for r in table}
    for m in mismatches:
        row = rows_by_line[(m["source"], m["line"])]
        assert (m["tenant"], m["feature"], m["conversation"]) == (row["tenant"], row["feature"], row["conversation"])
    # Nothing priced, nothing compared: an empty table of mismatches with its columns.
    empty = tokenprice.price_logs(["{}"]).reconcile()
    assert (empty.compared, empty.mismatches.num_rows, empty.reported_total) == (0, 0, 0)
    assert empty.mismatches.column_names[:8] == sample_columns
    # A tolerance wide enough accepts every line.
    loose = sample.reconcile(tolerance=("1000", "0"))
    assert loose.mismatches.num_rows == 0


def hot_call(cost: str, cached_tokens: int, tenant: str) -> dict[str, object]:
    """cloudflare/ai#550's hot call as a Logpush record: gpt-5.4-mini, 2,422 prompt tokens of which
    `cached_tokens` were prompt-cache reads, 4 output tokens, and the gateway's `cost` (Metrics.cost)."""
    usage = {
        "prompt_tokens": 2422,
        "completion_tokens": 4,
        "total_tokens": 2426,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
    }
    return {
        "Timestamp": "2026-05-30T10:00:00Z",
        "Gateway": "g",
        "Provider": "openai",
        "Model": "gpt-5.4-mini",
        "StatusCode": 200,
        "Metadata": json.dumps({"tenant": tenant}),
        "Metrics": {"cost": cost},
        "ResponseBody": json.dumps({"object": "chat.completion", "model": "gpt-5.4-mini", "usage": usage}),
    }


def test_reconcile_reprices_each_cache_hypothesis_exactly() -> None:
    # At $0.75 input, $0.075 cached, $4.50 output per million the hot call costs
    # (118 × 0.75 + 2,304 × 0.075 + 4 × 4.5) / 10^6 = 0.0002793 USD.
    records = [
        hot_call("0.0002793", 2304, "acme"),  # right
        hot_call("0.0020073", 2304, "acme"),  # #550's /logs.cost: 2,422 × 0.75 + 2,304 × 0.075 + 4 × 4.5
        hot_call("0.0018345", 2304, "globex"),  # 2,422 × 0.75 + 4 × 4.5: the reads at the input rate
        hot_call("0.0009705", 2304, "globex"),  # the reads at half the input rate
        hot_call("0", 2304, "globex"),  # the gateway did not price it
        hot_call("0.003", 2304, "acme"),  # more than the reads charged twice
        hot_call("0.0018345", 0, "acme"),  # #550's cold call: right
    ]
    logs = tokenprice.price_logs([json.dumps(r) for r in records])
    assert logs.rows_priced == 7
    assert logs.table.column("total_cost").to_pylist() == [Decimal("0.0002793")] * 6 + [Decimal("0.0018345")]
    rec = logs.reconcile(tolerance=(0, 0))
    m = rec.mismatches.to_pylist()
    assert [(x["line"], x["cause"], x["tenant"]) for x in m] == [
        (6, "unexplained", "acme"),
        (2, "cache charged twice", "acme"),
        (3, "cache tokens ignored", "globex"),
        (4, "cache priced differently", "globex"),
        (5, "gateway reported 0", "globex"),
    ]
    assert {c: (n, rec.cause_costs[c]) for c, n in rec.causes.items() if n} == {
        "cache charged twice": (1, Decimal("0.001728")),
        "cache tokens ignored": (1, Decimal("0.0015552")),
        "cache priced differently": (1, Decimal("0.0006912")),
        "gateway reported 0": (1, Decimal("-0.0002793")),
        "unexplained": (1, Decimal("0.0027207")),
    }


def test_records_keep_their_extras_as_columns_and_group_by_step() -> None:
    # A Logs API item (fields of cloudflare-typescript `LogListResponse`): duration, path, id and custom_cost are
    # kept; the lane that reads such items and the general path agree (tests of src/ledger/flat.rs).
    base = {"created_at": "2025-05-01T12:00:00Z", "provider": "openai", "model": "gpt-4o", "tokens_in": 1000}
    records = [
        {**base, "id": "a", "tokens_out": 100, "duration": 812, "path": "chat/completions", "step": 0},
        {**base, "id": "b", "tokens_out": 100, "duration": 1.5, "step": 1, "custom_cost": True, "cost": 0.001},
        {**base, "id": "c", "tokens_out": 200, "step": 1, "custom_cost": False, "cost": 0.0045},
    ]
    logs = tokenprice.price_logs([json.dumps(r) for r in records])
    t = logs.table
    extras = ["duration_ms", "ttft_ms", "trace_id", "request_id", "endpoint", "rate_limited", "custom_cost"]
    assert t.column_names[-9:] == [*extras, "cache_reference_id", "cost_breakdown"]
    rows = t.select(extras).to_pylist()
    assert rows[0] == {**dict.fromkeys(extras), "duration_ms": 812, "request_id": "a", "endpoint": "chat/completions"}
    assert (rows[1]["duration_ms"], rows[1]["custom_cost"], rows[2]["custom_cost"]) == (Decimal("1.5"), True, False)
    record = tokenprice.extract_usage(records[0])
    assert (record.duration_ms, record.endpoint, record.request_id, record.custom_cost) == (
        812,
        "chat/completions",
        "a",
        None,
    )
    assert record.extra == {"duration_ms": 812, "request_id": "a", "endpoint": "chat/completions"}
    # What retries and fallbacks cost: the rows summed by step (a label).
    by_step = {r["step"]: r for r in logs.summary("step").to_pylist()}
    assert (by_step["0"]["rows"], by_step["1"]["rows"]) == (1, 2)
    assert by_step["1"]["total_cost"] == Decimal("0.0035") + Decimal("0.0045")
    assert by_step["1"]["reported_cost"] == Decimal("0.0055")
    # The custom-priced item mismatches because the caller set its price; the other is within the tolerance.
    rec = logs.reconcile()
    assert [(m["id"], m["cause"]) for m in rec.mismatches.to_pylist()] == [("b", "custom cost")]
    assert rec.cause_costs["custom cost"] == Decimal("0.001") - Decimal("0.0035")
    # A duration that is not a number is a reject with its reason, never a silent null.
    bad = tokenprice.price_logs([json.dumps({**records[0], "duration": "slow"})])
    assert bad.rows_rejected == 1 and "duration" in bad.rejects.column("reason")[0].as_py()


def test_reprice_and_savings_are_exact() -> None:
    base = {"created_at": "2025-05-01T12:00:00Z", "provider": "openai", "metadata": '{"tenant": "acme"}'}
    records = [
        {**base, "id": "a", "model": "gpt-4o", "tokens_in": 1000, "tokens_out": 100},
        {**base, "id": "b", "model": "gpt-4o-mini", "tokens_in": 5000, "tokens_out": 10, "cached": True},
        {
            "Timestamp": "2025-05-02T00:00:00Z",
            "Gateway": "g",
            "Provider": "openai",
            "Model": "gpt-4o",
            "StatusCode": 200,
            "Metadata": '{"tenant": "beta"}',
            "ResponseBody": json.dumps(
                {
                    "model": "gpt-4o",
                    "usage": {
                        "prompt_tokens": 3000,
                        "completion_tokens": 50,
                        "prompt_tokens_details": {"cached_tokens": 2048},
                    },
                }
            ),
        },
    ]
    logs = tokenprice.price_logs(records)
    assert logs.rows_priced == 3
    same = logs.reprice("tenant")
    assert all(d == 0 for d in same.column("difference").to_pylist())
    cheaper = logs.reprice(model_map={"gpt-4o": "gpt-4.1-mini"})
    usages = [tokenprice.extract_usage(r) for r in records]
    expected_other = sum(
        tokenprice.price(u.usage, model="gpt-4.1-mini" if u.model == "gpt-4o" else u.model, at=u.timestamp).total
        for u in usages
        if not u.cache_hit
    )
    assert cheaper.column("repriced_cost").to_pylist() == [expected_other]
    today = logs.reprice(at="2026-11-01")
    assert today.column("repriced_cost")[0].as_py() == sum(tokenprice.price(u, at="2026-11-01").total for u in usages)
    saved = logs.savings()
    uncached = sum(
        tokenprice.price(
            tokenprice.Usage(input_tokens=u.usage.input_tokens, output_tokens=u.usage.output_tokens),
            model=u.model,
            at=u.timestamp,
        ).total
        for u in usages
    )
    assert saved.column("uncached_cost").to_pylist() == [uncached]
    assert saved.column("saved").to_pylist() == [uncached - logs.total_cost]


def test_parquet_and_csv_logs(tmp_path: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rows = [json.loads(x) for x in lines_of(SAMPLE)[:200]]
    flat = [r for r in rows if "tokens_in" in r]
    table = pa.Table.from_pylist(flat)
    pq.write_table(table, tmp_path / "logs.parquet")
    pcsv.write_csv(table, tmp_path / "logs.csv")
    (tmp_path / "logs.jsonl").write_text("\n".join(json.dumps(r) for r in flat))
    base = tokenprice.price_logs(tmp_path / "logs.jsonl")
    for name in ["logs.parquet", "logs.csv"]:
        other = tokenprice.price_logs(tmp_path / name)
        assert other.rows_read == len(flat) and other.total_cost == base.total_cost, name
        assert other.table.column("line").to_pylist() == base.table.column("line").to_pylist()
    calls: list[tuple[str, int, int]] = []
    mixed = tokenprice.price_logs(
        [tmp_path / "logs.parquet", tmp_path / "logs.jsonl"], progress=lambda *a: calls.append(a)
    )
    assert mixed.rows_read == 2 * len(flat) and mixed.total_cost == 2 * base.total_cost
    # The progress callback is not dropped for a mixed list: each file once read whole, records counted over both.
    parquet, jsonl = str(tmp_path / "logs.parquet"), str(tmp_path / "logs.jsonl")
    assert calls[0] == (parquet, (tmp_path / "logs.parquet").stat().st_size, len(flat))
    assert calls[-1] == (jsonl, (tmp_path / "logs.jsonl").stat().st_size, 2 * len(flat))


def _spend_row(request_id: str, user: str, **changes: str) -> dict[str, str]:
    """A LiteLLM spend-log row in its CSV-export form: SpendLogsPayload (litellm/proxy/_types.py) with every column
    text, as tests/fixtures/sources/litellm/spend_logs_payload.json holds it."""
    row = {
        "request_id": request_id,
        "call_type": "completion",
        "startTime": "2025-10-01 12:00:00+00:00",
        "model": "gpt-4o",
        "user": user,
        "team_id": "0042",
        "end_user": "1.50",
        "metadata": "{}",
        "request_tags": "[]",
        "prompt_tokens": "1000",
        "completion_tokens": "10",
        "spend": "0.0026",
        "status": "success",
    }
    return {**row, **changes}


def _csv_and_jsonl(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[tokenprice.PricedLogs, tokenprice.PricedLogs]:
    """The same records priced from a CSV file (Python's csv module) and from a JSON Lines file."""
    import csv

    with open(tmp_path / "logs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = tokenprice.price_logs(tmp_path / "logs.csv"), tokenprice.price_logs(tmp_path / "logs.jsonl")
    for logs in found:
        assert logs.rows_read == len(rows) == logs.rows_priced + logs.rows_rejected
    return found


def test_a_csv_cell_is_its_text_as_in_json_lines(tmp_path: Path) -> None:
    rows = [
        _spend_row("0012", "007"),
        _spend_row("12", "7"),  # another tenant than "007", another id than "0012"
        _spend_row('say "hi" \\ back\nslash\ttab \x01 é', "NA"),  # texts JSON escapes; "NA" is a name, not a null
        _spend_row("r4", "u4", prompt_tokens="12.0"),  # a whole number written with a point
        _spend_row("r5", "u5", prompt_tokens="12.5"),  # not a whole number: a reject naming the field
        _spend_row("r6", "u6", prompt_tokens="N/A"),  # not a number: a reject, never a missing count
    ]
    from_csv, from_jsonl = _csv_and_jsonl(tmp_path, rows)
    columns = ["line", "id", "user", "team_id", "end_user", "input_tokens", "total_cost", "reported_cost"]
    assert from_csv.table.select(columns).to_pylist() == from_jsonl.table.select(columns).to_pylist()
    priced = from_csv.table.select(["id", "user", "team_id", "end_user", "input_tokens"]).to_pylist()
    assert priced == [
        {"id": "0012", "user": "007", "team_id": "0042", "end_user": "1.50", "input_tokens": 1000},
        {"id": "12", "user": "7", "team_id": "0042", "end_user": "1.50", "input_tokens": 1000},
        {"id": rows[2]["request_id"], "user": "NA", "team_id": "0042", "end_user": "1.50", "input_tokens": 1000},
        {"id": "r4", "user": "u4", "team_id": "0042", "end_user": "1.50", "input_tokens": 12},
    ]
    rejects = [(r["line"], r["reason"]) for r in from_csv.rejects.to_pylist()]
    assert rejects == [(r["line"], r["reason"]) for r in from_jsonl.rejects.to_pylist()]
    assert rejects == [
        (5, 'usage record: prompt_tokens: "12.5" is not a whole number'),
        (6, 'usage record: prompt_tokens: "N/A" is not a number'),
    ]
    # "007" and "7" stay two tenants.
    assert from_csv.summary("user").column("user").to_pylist() == from_jsonl.summary("user").column("user").to_pylist()
    assert sorted(from_csv.summary("user").column("user").to_pylist()) == ["007", "7", "NA", "u4"]


def test_an_empty_csv_cell_is_a_null_and_a_quoted_one_the_empty_text(tmp_path: Path) -> None:
    # CSV writers write a null as an empty cell (pyarrow, pandas, Postgres' COPY, Python's csv) and the empty text,
    # where they tell the two apart, as "" (pyarrow, COPY): a CSV row reads as the JSON record with that null or "".
    header = "request_id,call_type,startTime,model,metadata,prompt_tokens,completion_tokens,spend,status\n"
    start = "completion,2025-10-01 12:00:00+00:00,gpt-4o,{}"
    lines = [
        f"r1,{start},,10,0.0026,success",  # no prompt count: as JSON's null, read by the format's rule (0)
        f'r2,{start},"",10,0.0026,success',  # the empty text: not a number
        f"r3,{start},1000,10,,success",  # no reported cost
        f"r4,{start},,,0.0026,success",  # a success with no count at all
    ]
    (tmp_path / "logs.csv").write_text(header + "\n".join(lines) + "\n")
    records = [
        {"prompt_tokens": None, "completion_tokens": "10", "spend": "0.0026"},
        {"prompt_tokens": "", "completion_tokens": "10", "spend": "0.0026"},
        {"prompt_tokens": "1000", "completion_tokens": "10", "spend": None},
        {"prompt_tokens": None, "completion_tokens": None, "spend": "0.0026"},
    ]
    fields = {"call_type": "completion", "startTime": "2025-10-01 12:00:00+00:00", "model": "gpt-4o", "metadata": "{}"}
    as_json = [{"request_id": f"r{i}", **fields, **r, "status": "success"} for i, r in enumerate(records, 1)]
    from_csv, from_json = tokenprice.price_logs(tmp_path / "logs.csv"), tokenprice.price_logs(as_json)
    for logs in (from_csv, from_json):
        assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (4, 2, 2)
    columns = ["line", "id", "input_tokens", "output_tokens", "total_cost", "reported_cost"]
    assert from_csv.table.select(columns).to_pylist() == from_json.table.select(columns).to_pylist()
    assert from_csv.table.select(["id", "input_tokens", "reported_cost"]).to_pylist() == [
        {"id": "r1", "input_tokens": 0, "reported_cost": Decimal("0.0026")},
        {"id": "r3", "input_tokens": 1000, "reported_cost": None},
    ]
    reasons = [(r["line"], r["reason"]) for r in from_csv.rejects.to_pylist()]
    assert reasons == [(r["line"], r["reason"]) for r in from_json.rejects.to_pylist()]
    assert reasons[0] == (2, 'usage record: prompt_tokens: "" is not a number')
    assert reasons[1][0] == 4 and "a successful request with no usage" in reasons[1][1]


def test_a_frames_missing_values_are_nulls_and_a_nan_value_a_reject() -> None:
    import pandas as pd

    nat = pd.NaT
    frame = pd.DataFrame(
        {
            "request_id": pd.array(["r1", "r2", "r3", "r4", "r5"], dtype="string[pyarrow]"),
            "call_type": "completion",
            "model": "gpt-4o",
            "status": "success",
            "startTime": pd.to_datetime(["2025-10-01T12:00:00Z"] * 4 + [nat]),
            "user": pd.array(["007", None, "u3", "u4", "u5"], dtype="string[pyarrow]"),
            "prompt_tokens": pd.array([1000, None, 3000, 4000, 5000], dtype="Int64"),
            "completion_tokens": [10.0, 20.0, float("nan"), 40.0, 50.0],
            "spend": [0.0026, 0.1, 0.2, float("nan"), 0.3],
        }
    )
    # The same records as a file holds them: each missing value a null.
    records = [
        {k: None if pd.isna(v) else v.isoformat() if isinstance(v, pd.Timestamp) else v for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]
    assert records[1]["prompt_tokens"] is None and records[2]["completion_tokens"] is None
    day = "2025-10-05T00:00:00Z"
    from_frame, from_records = (tokenprice.price_logs(x, default_at=day) for x in (frame, records))
    for logs in (from_frame, from_records):
        assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (5, 5, 0)
    columns = ["id", "user", "timestamp", "input_tokens", "output_tokens", "total_cost", "reported_cost"]
    assert from_frame.table.select(columns).to_pylist() == from_records.table.select(columns).to_pylist()
    priced = from_frame.table.select(["input_tokens", "output_tokens", "reported_cost"]).to_pylist()
    assert [r["input_tokens"] for r in priced] == [1000, 0, 3000, 4000, 5000]
    assert [r["output_tokens"] for r in priced] == [10, 20, 0, 40, 50]
    assert priced[3]["reported_cost"] is None and from_frame.table.column("user").to_pylist()[1] is None
    assert from_frame.table.column("timestamp").to_pylist()[4].isoformat() == "2025-10-05T00:00:00+00:00"
    assert tokenprice.extract_usages(frame).column("status").to_pylist() == ["ok"] * 5

    # A NaN that is a value (a pyarrow-backed column holds NaN beside nulls) is a reject naming the field, as
    # extract_usages has it; so is a float NaN in a record.
    values = pd.Series(pd.arrays.ArrowExtensionArray(pa.array([1000.0, float("nan"), None])))
    with_nan = frame.iloc[[0, 1, 3]].reset_index(drop=True).assign(prompt_tokens=values)
    logs = tokenprice.price_logs(with_nan)
    assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (3, 2, 1)
    assert [(r["line"], r["reason"]) for r in logs.rejects.to_pylist()] == [
        (2, 'usage record: prompt_tokens: "NaN" is not a number')
    ]
    assert tokenprice.extract_usages(with_nan).column("error").to_pylist()[1] == 'prompt_tokens: "NaN" is not a number'
    response = {
        "object": "chat.completion",
        "model": "gpt-4o",
        "created": 1740830400,
        "usage": {"prompt_tokens": float("nan"), "completion_tokens": 10},
    }
    with pytest.raises(tokenprice.UsageFormatError) as e:
        tokenprice.extract_usage(response)
    minus_inf = {**response, "usage": {"prompt_tokens": float("-inf"), "completion_tokens": 10}}
    logs = tokenprice.price_logs([response, minus_inf])
    assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (2, 0, 2)
    assert logs.rejects.column("reason").to_pylist() == [
        str(e.value),
        'usage record: usage.prompt_tokens: "-Infinity" is not a number',
    ]
    assert tokenprice.price_log_batch([response]).column("reason").to_pylist() == [str(e.value)]


def test_a_tabular_input_that_cannot_be_read_is_an_error_naming_it(tmp_path: Path) -> None:
    import pandas as pd

    (tmp_path / "twice.csv").write_text("model,user,user\ngpt-4o,a,b\n")
    with pytest.raises(tokenprice.InputError, match=r"twice\.csv: the header names 'user' more than once"):
        tokenprice.price_logs(tmp_path / "twice.csv")
    (tmp_path / "ragged.csv").write_text("model,user\ngpt-4o,a,b\n")
    with pytest.raises(tokenprice.InputError, match=r"ragged\.csv: cannot be read as CSV: .*columns"):
        tokenprice.price_logs(tmp_path / "ragged.csv")
    # An empty file is no rows, as an empty JSON Lines file is (docs/pricing-logs.md).
    (tmp_path / "empty.csv").write_text("")
    assert tokenprice.price_logs(tmp_path / "empty.csv").rows_read == 0
    (tmp_path / "header.csv").write_text("model,user\n")
    assert tokenprice.price_logs(tmp_path / "header.csv").rows_read == 0
    frame = pd.DataFrame([["gpt-4o", "a", "b"]], columns=["model", "user", "user"])
    with pytest.raises(tokenprice.InvalidArgumentError, match="the frame's column names repeat"):
        tokenprice.price_logs(frame)


def test_spilled_lines_are_the_same_lines(tmp_path: Path) -> None:
    in_memory = tokenprice.price_logs(SAMPLE, spill=False)
    spilled = tokenprice.price_logs(SAMPLE, spill=True, spill_dir=tmp_path / "spill")
    # Inside a folder of the run's own (runs may share a spill_dir).
    (run,) = (tmp_path / "spill").iterdir()
    assert run.name.startswith("tokenprice-run-") and run.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in run.iterdir()) == ["part-00000.arrow"]
    assert spilled.table.equals(in_memory.table)
    assert spilled.summary("tenant").equals(in_memory.summary("tenant"))


def test_a_line_holding_one_streams_chunks_is_one_record(tmp_path: Path) -> None:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1746100800, "model": "gpt-4o"}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}},
    ]
    path = tmp_path / "streams.jsonl"
    path.write_text(json.dumps(chunks) + "\n")
    logs = tokenprice.price_logs(path, by="model")
    assert (logs.rows_read, logs.rows_priced) == (1, 1)
    assert logs.table.column("input_tokens").to_pylist() == [10]
    assert logs.last_summary.column("rows").to_pylist() == [1]


@pytest.mark.parametrize("spill", [False, True])
def test_empty_inputs_price_to_empty_tables(tmp_path: Path, spill: bool) -> None:
    (tmp_path / "array.json").write_text("[]")
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "blank.jsonl").write_text("\n  \n")
    for name in ["array.json", "empty.jsonl", "blank.jsonl"]:
        logs = tokenprice.price_logs(str(tmp_path / name), spill=spill, spill_dir=tmp_path / f"spill-{name}")
        assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (0, 0, 0)
        assert logs.total_cost == 0 and "total_cost" in logs.table.column_names


def test_spilled_summaries_equal_in_memory_ones(tmp_path: Path) -> None:
    # Two input files: two spill files, summed one at a time (a label missing from one part included).
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({**json.loads(lines_of(SAMPLE)[0]), "metadata": '{"region": "eu"}'}) + "\n")
    sources = [str(SAMPLE), str(other)]
    spilled = tokenprice.price_logs(sources, spill=True, spill_dir=tmp_path / "spill")
    assert len(list((tmp_path / "spill").glob("tokenprice-run-*/part-*.arrow"))) == 2
    held = tokenprice.price_logs(sources, spill=False)
    for by, period in [(["tenant", "feature"], None), ("region", "month"), (None, "week"), (None, None)]:
        a, b = spilled.summary(by, period=period), held.summary(by, period=period)
        assert a.to_pylist() == b.to_pylist(), (by, period)
        assert a.schema.metadata == b.schema.metadata


def test_a_rejected_tier_names_each_records_own_date() -> None:
    base = {"provider": "openai", "model": "gpt-3.5-turbo", "tokens_in": 10, "tokens_out": 1, "metadata": "{}"}
    records = [{**base, "created_at": f"2025-0{m}-01T00:00:00Z"} for m in (3, 4)]
    logs = tokenprice.price_logs(records, service_tier="priority")  # a tier gpt-3.5-turbo has no price for
    reasons = logs.rejects.column("reason").to_pylist()
    assert len(reasons) == 2 and "2025-03-01" in reasons[0] and "2025-04-01" in reasons[1], reasons


def test_a_body_without_usage_is_counted_from_its_texts() -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini"}
    body["choices"] = [{"index": 0, "message": {"role": "assistant", "content": "Four."}}]
    messages = [{"role": "user", "content": "Two plus two?"}]
    record = {
        "Timestamp": "2025-06-01T09:00:00Z",
        "Provider": "openai",
        "Model": "gpt-4o-mini",
        "StatusCode": 200,
        "RequestBody": json.dumps({"model": "gpt-4o-mini", "messages": messages}),
        "ResponseBody": json.dumps(body),
    }
    row = tokenprice.price_logs([record]).table.to_pylist()[0]
    assert row["usage_source"] == "counted"
    assert row["input_tokens"] == tokenprice.count_message_tokens(messages, model="gpt-4o-mini")
    assert row["output_tokens"] == tokenprice.encoding_for_model("gpt-4o-mini").count("Four.")


def test_what_ifs_and_reconciliation_use_the_book_the_logs_were_priced_with() -> None:
    # A negotiated 50% discount: the logs' own book, which reprice, savings and reconcile must keep using.
    book = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.5"}})
    record = {
        "created_at": "2025-05-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o",
        "tokens_in": 1000,
        "tokens_out": 100,
        "metadata": '{"tenant": "acme"}',
    }
    usage = tokenprice.Usage(input_tokens=1000, output_tokens=100)
    discounted = tokenprice.price(usage, "gpt-4o", at="2025-05-01T12:00:00Z", book=book).total
    full = tokenprice.price(usage, "gpt-4o", at="2025-05-01T12:00:00Z").total
    assert discounted * 2 == full
    logs = tokenprice.price_logs([{**record, "cost": str(discounted)}], book=book)
    assert logs.book is book and logs.total_cost == discounted
    assert logs.reprice().column("repriced_cost").to_pylist() == [discounted]
    assert logs.reprice(book=tokenprice.PriceBook.default()).column("repriced_cost").to_pylist() == [full]
    assert logs.savings().column("uncached_cost").to_pylist() == [discounted]
    assert logs.reconcile(tolerance=(0, 0)).mismatches.num_rows == 0
    # The default book prices every what-if of logs priced without one.
    plain = tokenprice.price_logs([{**record, "cost": str(full)}])
    assert plain.book is None and plain.reprice().column("repriced_cost").to_pylist() == [full]


def test_reconcile_counts_the_rejects_for_want_of_a_price() -> None:
    lines = [
        {
            "created_at": "2025-05-01T12:00:00Z",
            "model": "no-such-model-x",
            "tokens_in": 10,
            "tokens_out": 1,
            "cost": 0.1,
        },
        {"created_at": "2025-05-01T12:00:00Z", "model": "gpt-4o", "tokens_in": "ten", "tokens_out": 1, "cost": 0.1},
    ]
    logs = tokenprice.price_logs(lines)
    assert logs.rows_rejected == 2
    assert logs.reconcile().causes["no price for the model"] == 1


# A chat completion without usage (what a gateway logs when it could not read the provider's), as OpenAI's SDK
# types it (openai/types/chat/chat_completion.py: `usage` is optional).
_NO_USAGE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1740830400,
    "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
}


def test_a_success_without_usage_or_texts_is_a_reject_never_a_cost_of_zero() -> None:
    """A successful request whose record reports no usage and holds no text to count it from cannot be priced:
    each is a reject saying so (as `price()` refuses the same body, and the LiteLLM and Logs API readers their
    records), where it was priced at 0 as 'reported'. A gateway cache hit, a failed request, a record whose texts
    are counted, and an empty Langfuse usageDetails beside one with counts, go as before."""
    records = [
        _NO_USAGE,
        {"Timestamp": "2025-03-01T12:00:00Z", "Provider": "openai", "Model": "gpt-4o", "StatusCode": 200,
         "ResponseBody": json.dumps(_NO_USAGE)},
        {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
         "content": [{"type": "text", "text": "hi"}]},
        {"id": "o1", "type": "GENERATION", "startTime": "2025-03-01T12:00:00Z", "model": "gpt-4o",
         "usageDetails": {}, "calculatedTotalCost": 0.5},
        # The legacy usage object with its total and unit only: no count.
        {"id": "o3", "type": "GENERATION", "startTime": "2025-03-01T12:00:00Z", "model": "gpt-4o",
         "usage": {"unit": "TOKENS", "input": None, "output": None, "total": 1200}},
        {"request_id": "h1", "request_created_at": "2025-03-01T12:00:00Z", "model": "gpt-4o",
         "provider": "OPENAI", "status": 200, "costUSD": 0.5},
    ]  # fmt: skip
    fine = [
        # Counted from its texts; a cache hit; a failed request; Langfuse with counts.
        {"Timestamp": "2025-03-01T12:00:00Z", "Provider": "openai", "Model": "gpt-4o", "StatusCode": 200,
         "RequestBody": json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi"}]}),
         "ResponseBody": json.dumps(_NO_USAGE)},
        {"Timestamp": "2025-03-01T12:00:00Z", "Provider": "openai", "Model": "gpt-4o", "StatusCode": 200,
         "Cached": True, "ResponseBody": json.dumps(_NO_USAGE)},
        {"Timestamp": "2025-03-01T12:00:00Z", "Provider": "openai", "Model": "gpt-4o", "StatusCode": 500,
         "ResponseBody": json.dumps({"error": {"message": "upstream"}})},
        {"id": "o2", "type": "GENERATION", "startTime": "2025-03-01T12:00:00Z", "model": "gpt-4o",
         "usageDetails": {"input": 10, "output": 2}},
    ]  # fmt: skip
    logs = tokenprice.price_logs(records + fine, default_at="2025-10-01")
    assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (10, 4, 6)
    reasons = [r["reason"] for r in logs.rejects.to_pylist()]
    assert all("reports no usage and holds no text to count it from" in r for r in reasons), reasons
    # A cost the source reported is named in the reason (it is in no total of reported costs).
    assert [r.endswith("the source reported a cost of 0.5 USD") for r in reasons] == [0, 0, 0, 1, 0, 1]
    formats = ["openai_chat", "cloudflare_logpush", "anthropic", "langfuse", "langfuse", "helicone"]
    assert [r.split(" record ")[0].removeprefix("the ") for r in reasons] == formats
    priced = logs.table.select(["usage_source", "input_tokens", "cache_hit", "status"]).to_pylist()
    assert [(p["usage_source"], p["cache_hit"], p["status"]) for p in priced] == [
        ("counted", False, "ok"),
        ("reported", True, "ok"),
        ("reported", False, "error"),
        ("reported", False, "ok"),
    ]
    assert priced[0]["input_tokens"] > 0 and priced[3]["input_tokens"] == 10


def test_a_groq_stream_is_read_from_its_final_chunks_x_groq_usage() -> None:
    """Groq sends a stream's usage in the final chunk's ``x_groq.usage`` ("Usage information for the stream. Only
    sent in the final chunk": groq-python 1.7.0, groq/types/chat/chat_completion_chunk.py, ``XGroq``), not in
    ``usage``: read from there, as chunks and as a Logpush record's SSE body; ``usage`` wins where both are."""
    usage = {"queue_time": 0.01, "prompt_tokens": 1000, "prompt_time": 0.02, "completion_tokens": 200,
             "completion_time": 0.1, "total_tokens": 1200}  # fmt: skip
    head = {"id": "chatcmpl-g", "object": "chat.completion.chunk", "created": 1740830400,
            "model": "llama-3.3-70b-versatile"}  # fmt: skip
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}],
         "x_groq": {"id": "req_01"}},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "x_groq": {"id": "req_01", "usage": usage}},
    ]  # fmt: skip
    r = tokenprice.extract_usage(chunks, provider="groq")
    assert (r.model, r.usage) == ("llama-3.3-70b-versatile", tokenprice.Usage(input_tokens=1000, output_tokens=200))
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    assert tokenprice.extract_usage(sse, provider="groq").usage == r.usage
    logpush = {"Timestamp": "2025-03-01T12:00:00Z", "Provider": "groq", "Model": "llama-3.3-70b-versatile",
               "StatusCode": 200, "ResponseBody": sse}  # fmt: skip
    logs = tokenprice.price_logs([logpush])
    assert (logs.rows_priced, logs.rows_rejected) == (1, 0)
    row = logs.table.select(["input_tokens", "output_tokens", "usage_source"]).to_pylist()[0]
    assert row == {"input_tokens": 1000, "output_tokens": 200, "usage_source": "reported"}
    both = [chunks[0], {**chunks[1], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}]
    assert tokenprice.extract_usage(both).usage == tokenprice.Usage(input_tokens=7, output_tokens=3)
