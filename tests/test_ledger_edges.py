"""Edges of `price_logs` and its command: tabular files pyarrow cannot read (an `InputError` naming the file and
the row), empty ones (no rows, as an empty JSON Lines file), labels named like a summary's columns (`period`,
`rows`: their columns are `metadata.<name>`, with or without the rows kept), a file of a byte order mark alone,
a URL's password in an error, and a time zone checked without `--period`."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tokenprice


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command, as tests/test_cli.py runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tokenprice", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def item(i: int, meta: dict[str, Any]) -> dict[str, Any]:
    """A Logs API item of 2025-05-01T12:00Z with these labels."""
    return {
        "id": f"x{i}",
        "created_at": "2025-05-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "tokens_in": 1000,
        "tokens_out": 10,
        "metadata": json.dumps(meta),
    }


CSV = "id,created_at,provider,model,tokens_in,tokens_out\nx0,2025-05-01T12:00:00Z,openai,gpt-4o-mini,1000,10\n"


# -- tabular files ---------------------------------------------------------------------------------------------


EMPTY_CSV = {
    "empty.csv": b"",
    "blank.csv": b"\n\r\n\n",
    "bom.csv": b"\xef\xbb\xbf",
    "header.csv": b"id,created_at,provider,model,tokens_in,tokens_out\n",
    "empty.csv.gz": gzip.compress(b""),
}


def test_an_empty_csv_file_is_no_rows_as_an_empty_json_lines_file_is(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "one.csv").write_text(CSV)
    for name, content in EMPTY_CSV.items():
        (tmp_path / name).write_bytes(content)
        alone = tokenprice.price_logs(tmp_path / name)
        assert (alone.rows_read, alone.rows_priced, alone.rows_rejected) == (0, 0, 0), name
        mixed = tokenprice.price_logs([tmp_path / "empty.jsonl", tmp_path / name, tmp_path / "one.csv"])
        assert (mixed.rows_read, mixed.rows_priced) == (1, 1), name
        result = run("price", name, "--json", cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
        assert json.loads(result.stdout)["rows_read"] == 0
    # Text after blank lines is read, not taken for an empty file.
    (tmp_path / "late.csv").write_text("\n" * 3 + CSV)
    assert tokenprice.price_logs(tmp_path / "late.csv").rows_priced == 1


@pytest.mark.parametrize(
    "name,content,says",
    [
        (
            "ragged.csv",
            b"model,prompt_tokens\ngpt-4o,1\ngpt-4o,1,2\n",
            "row 3 (the header is row 1): Expected 2 columns",
        ),
        (
            "cut.csv.gz",
            gzip.compress(b"model,prompt_tokens\n" + b"gpt-4o,1\n" * 100)[:-10],
            "cannot be read as gzip CSV: Truncated compressed stream",
        ),
        ("notgzip.csv.gz", b"plain text", "cannot be read as gzip CSV"),
        ("empty.parquet", b"", "cannot be read as Parquet: Parquet file size is 0 bytes"),
        ("garbage.parquet", b"PAR1 not parquet", "cannot be read as Parquet: Parquet magic bytes not found"),
    ],
)
def test_a_tabular_file_pyarrow_cannot_read_is_an_input_error_naming_it(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    (tmp_path / "ok.jsonl").write_text("")
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(tokenprice.InputError) as caught:
        tokenprice.price_logs([tmp_path / "ok.jsonl", bad])
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and says in message, message
    result = run("price", "ok.jsonl", name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tokenprice: error: {name}: ") and says in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


# -- labels named like a summary's columns ---------------------------------------------------------------------


RECORDS = [item(0, {"tenant": "acme", "period": "trial"}), item(1, {"tenant": "beta", "rows": "12"})]


def test_labels_named_period_or_rows_are_metadata_columns(tmp_path: Path) -> None:
    logs = tokenprice.price_logs(RECORDS)
    assert {"metadata.period", "metadata.rows", "tenant"} <= set(logs.table.column_names)
    assert "period" not in logs.table.column_names and "rows" not in logs.table.column_names
    by_month = logs.summary("tenant", period="month")
    assert by_month.column_names[:3] == ["period", "tenant", "rows"]
    assert by_month.column("rows").to_pylist() == [1, 1]
    by_label = logs.summary(["metadata.period", "metadata.rows"], period="day")
    assert by_label.column_names[:4] == ["period", "metadata.period", "metadata.rows", "rows"]
    assert by_label.column("metadata.period").to_pylist() == ["trial", None]
    # The same with no rows kept: records in memory, and a file read by the core (its totals built there).
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    for source in (RECORDS, path):
        for by, period in [("tenant", "month"), (["metadata.period", "metadata.rows"], "day")]:
            totals = tokenprice.price_logs(source, by=by, period=period, keep_rows=False).last_summary
            assert totals.equals(logs.summary(by, period=period)), (source, by)
    # A summary or totals column is no key: the error says so, with rows and without.
    for key in ["rows", "period", "total_cost", "reported_cost", "input_cost"]:
        with pytest.raises(tokenprice.InvalidArgumentError, match=f"cannot group by '{key}': the summary has"):
            logs.summary(key)
        for source in (RECORDS, path):
            with pytest.raises(tokenprice.InvalidArgumentError, match=f"cannot group by '{key}': the summary has"):
                tokenprice.price_logs(source, by=key, keep_rows=False)


def test_labels_named_period_or_rows_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    for extra in ([], ["--out", "priced.parquet"]):
        result = run("price", "labels.jsonl", "--by", "tenant", "--period", "month", "--json", *extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        groups = json.loads(result.stdout)["groups"]
        assert [(g["period"], g["tenant"], g["rows"]) for g in groups] == [
            ("2025-05", "acme", 1),
            ("2025-05", "beta", 1),
        ]
        result = run("price", "labels.jsonl", "--by", "metadata.rows", "--json", *extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert [g["metadata.rows"] for g in json.loads(result.stdout)["groups"]] == ["12", None]


def test_batches_name_a_label_rows_as_the_core_does() -> None:
    from tokenprice import _batches

    batch = _batches.price_log_batch([json.dumps(r) for r in RECORDS], labels=["tenant", "rows", "period"])
    assert {"metadata.rows", "metadata.period"} <= set(batch.schema.names)
    assert batch.column(batch.schema.get_field_index("metadata.rows")).to_pylist() == [None, "12"]
    totals, _ = _batches.merge([_batches.summarize(batch, "metadata.rows")], "metadata.rows")
    assert totals.column_names[:2] == ["metadata.rows", "rows"]


# -- the rest --------------------------------------------------------------------------------------------------


def test_a_file_of_a_byte_order_mark_alone_is_no_records(tmp_path: Path) -> None:
    for name, content in [
        ("bom.jsonl", b"\xef\xbb\xbf"),
        ("bom-nl.jsonl", b"\xef\xbb\xbf\n"),
        ("crlf.jsonl", b"\xef\xbb\xbf \r\n"),
    ]:
        (tmp_path / name).write_bytes(content)
        logs = tokenprice.price_logs(tmp_path / name)
        assert (logs.rows_read, logs.rows_rejected) == (0, 0), name
    # A byte order mark before a record still reads the record (and the line numbers count from it).
    (tmp_path / "bom-record.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(item(0, {})).encode() + b"\n")
    logs = tokenprice.price_logs(tmp_path / "bom-record.jsonl")
    assert (logs.rows_read, logs.rows_priced) == (1, 1)


def test_a_url_that_is_no_file_has_its_password_hidden() -> None:
    for source in ["https://user:hunter2secret@host/x.jsonl", "http://user:hunter2secret@host/logs/*.jsonl"]:
        with pytest.raises(tokenprice.InputError) as caught:
            tokenprice.price_logs(source)
        assert "hunter2secret" not in str(caught.value) and "user:***@host" in str(caught.value)


def test_an_unknown_time_zone_is_an_error_without_a_period_too(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(item(0, {"tenant": "acme"})) + "\n")
    result = run("price", "a.jsonl", "--tz", "Mars/Olympus", cwd=tmp_path)
    assert result.returncode == 2 and "unknown time zone 'Mars/Olympus'" in result.stderr, result.stderr
    assert run("price", "a.jsonl", "--tz", "+05:30", cwd=tmp_path).returncode == 0
