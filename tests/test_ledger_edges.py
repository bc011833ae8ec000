"""Edges of `price_logs` and its command: tabular files pyarrow cannot read (an `InputError` naming the file and
the row), empty ones (no rows, as an empty JSON Lines file), labels named like a summary's columns (`period`,
`rows`: their columns are `metadata.<name>`, with or without the rows kept) or like the columns reprice(),
savings() and a reconciliation's mismatches add (`metadata.<name>` there only), a file of a byte order mark alone
or before a JSON array, a URL's password in an error, and a time zone checked without `--period`."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from decimal import Decimal
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


# -- labels named like the columns reprice, savings and reconcile add ------------------------------------------


def test_labels_named_like_reprice_or_savings_columns_are_metadata_there() -> None:
    """A label named like a column reprice() or savings() adds keeps its name in `.table` and is `metadata.<name>`
    in their results (it was a raw pyarrow KeyError, or a second column of that name)."""
    from tokenprice import _core

    names = ["repriced_cost", "uncached_cost", "difference", "saved", "unpriced"]
    for label in names:
        records = [item(0, {label: "a"}), item(1, {label: "b"}), item(2, {label: "a"}), item(3, {}), {"bad": 1}]
        logs = tokenprice.price_logs(records)
        assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (5, 4, 1)
        assert label in logs.table.column_names and f"metadata.{label}" not in logs.table.column_names
        results = {
            "reprice": (logs.reprice(label, model_map={"gpt-4o-mini": "gpt-4o"}), "repriced_cost", "difference"),
            "savings": (logs.savings(label), "uncached_cost", "saved"),
        }
        for what, (out, other, difference) in results.items():
            assert out.column_names == [f"metadata.{label}", "rows", "total_cost", other, difference, "unpriced"], (
                label,
                what,
            )
            assert out.column(f"metadata.{label}").to_pylist() == ["a", "b", None], (label, what)
            assert out.column("rows").to_pylist() == [2, 1, 1] and out.column("unpriced").to_pylist() == [0, 0, 0]
            # The groups add up to the same comparison ungrouped.
            whole = (
                logs.reprice(model_map={"gpt-4o-mini": "gpt-4o"}) if what == "reprice" else logs.savings()
            ).to_pylist()[0]
            for column in ("total_cost", other, difference):
                assert sum(out.column(column).to_pylist()) == whole[column], (label, what, column)
            assert whole["total_cost"] == logs.total_cost
            assert len(out.to_pandas().columns) == 6 and out.num_columns == len(set(out.column_names))
    # The ledger's list, which the Python layer names them by.
    assert sorted(_core.COMPARISON_COLUMNS) == sorted(names)


def test_labels_named_like_a_comparison_column_and_its_metadata_name_are_both_kept() -> None:
    records = [item(0, {"difference": "d", "metadata.difference": "m", "total_cost_sum": "s"})]
    logs = tokenprice.price_logs(records)
    out = logs.reprice(["difference", "metadata.difference", "total_cost_sum"])
    assert out.column_names[:4] == ["metadata.metadata.difference", "metadata.difference", "total_cost_sum", "rows"]
    assert out.to_pylist()[0]["metadata.metadata.difference"] == "d"
    assert out.to_pylist()[0]["metadata.difference"] == "m" and out.to_pylist()[0]["total_cost_sum"] == "s"
    assert out.to_pylist()[0]["total_cost"] == logs.total_cost


def test_reprice_or_savings_by_a_column_they_have_is_an_invalid_argument() -> None:
    logs = tokenprice.price_logs([item(0, {"rows": "r", "total_cost": "t"})])
    assert {"metadata.rows", "metadata.total_cost"} <= set(logs.table.column_names)
    for key in ("total_cost", "rows"):
        for what in ("reprice", "savings"):
            with pytest.raises(tokenprice.InvalidArgumentError) as caught:
                getattr(logs, what)(key)
            assert str(caught.value) == (
                f"cannot group by '{key}': {what}() has a column of that name (a label named '{key}' is the "
                f"column 'metadata.{key}')"
            )
    # The labels themselves group as their columns are named.
    assert logs.savings("metadata.total_cost").column("metadata.total_cost").to_pylist() == ["t"]


def test_labels_named_like_the_mismatches_columns_are_metadata_there(tmp_path: Path) -> None:
    """A label named `cause`, `reported`, `computed` or `difference` keeps its name in `.table` and is
    `metadata.<name>` in a reconciliation's mismatches, which had two columns of that name (and `to_pylist()`, the
    command's `pull --verify` and the report read the label as the cause)."""
    from tokenprice import _core

    labels = {name: f"{name}-label" for name in ("reported", "computed", "difference", "cause")}
    records = [
        {**item(0, {**labels, "tenant": "acme"}), "cost": 1.0},
        {**item(1, {"tenant": "beta"}), "cost": 0.5},
        {**item(2, {"tenant": "beta"}), "cost": 0.000156},
        {"bad": 1},
    ]
    logs = tokenprice.price_logs(records)
    assert (logs.rows_read, logs.rows_priced, logs.rows_rejected) == (4, 3, 1)
    assert set(labels) <= set(logs.table.column_names)
    rec = logs.reconcile()
    found = rec.mismatches
    assert found.column_names == [
        "id",
        "source",
        "line",
        "model",
        "reported",
        "computed",
        "difference",
        "cause",
        *(f"metadata.{name}" for name in labels),
        "tenant",
    ]
    assert found.column("cause").to_pylist() == ["unexplained", "unexplained"]
    assert found.column("id").to_pylist() == ["x0", "x1"]
    first = found.to_pylist()[0]
    assert first["cause"] == "unexplained" and first["reported"] == Decimal(1)
    assert {name: first[f"metadata.{name}"] for name in labels} == labels
    assert found.to_pylist()[1]["metadata.cause"] is None
    assert rec.causes["unexplained"] == 2 and len(rec.to_pandas().columns) == found.num_columns
    assert "Largest mismatches" in rec._repr_html_()
    # The report reads the causes from the mismatches.
    logs.report(tmp_path / "report.html")
    assert (tmp_path / "report.html").stat().st_size > 0
    assert _core.MISMATCH_COLUMNS == tuple(labels)


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


def test_a_json_array_after_a_byte_order_mark_reads_as_without_it(tmp_path: Path) -> None:
    """A UTF-8 BOM before one JSON array (as some editors and Windows tools write it): the array's records, as
    the same file without the BOM gives (each of its lines was a reject)."""
    records = [item(i, {"tenant": f"t{i % 2}"}) for i in range(3)] + [{"bad": 1}]
    texts = {
        "indented.json": json.dumps(records, indent=2).encode(),
        "one-line.json": json.dumps(records).encode(),
        "spaced.json": b" \n" + json.dumps(records, indent=1).encode() + b"\n",
    }
    for name, text in texts.items():
        for suffix, pack in [("", lambda b: b), (".gz", gzip.compress)]:
            plain, bom = tmp_path / f"plain-{name}{suffix}", tmp_path / f"bom-{name}{suffix}"
            plain.write_bytes(pack(text))
            bom.write_bytes(pack(b"\xef\xbb\xbf" + text))
            want, got = tokenprice.price_logs(plain), tokenprice.price_logs(bom)
            assert (got.rows_read, got.rows_priced, got.rows_rejected) == (4, 3, 1), (name, suffix)
            assert got.rows_priced + got.rows_rejected == got.rows_read
            drop = ["source"]
            assert got.table.drop_columns(drop).equals(want.table.drop_columns(drop)), (name, suffix)
            assert got.rejects.drop_columns(drop).equals(want.rejects.drop_columns(drop)), (name, suffix)


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


def test_a_csv_cell_that_is_not_utf8_is_an_error_naming_its_row_and_column(tmp_path: Path) -> None:
    """A CSV is text: a cell that is not UTF-8 cannot be a JSON record's string. The file is an InputError naming
    the row and the column (as a JSON Lines line that is not UTF-8 is a reject naming its byte), never a crash."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"model,user,prompt_tokens,completion_tokens\ngpt-4o,ok,1,2\ngpt-4o,caf\xe9,1,2\n")
    with pytest.raises(
        tokenprice.InputError, match=r"latin1\.csv: row 3 \(the header is row 1\), column 'user': not UTF-8"
    ):
        tokenprice.price_logs(path)
