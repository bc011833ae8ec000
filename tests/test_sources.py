"""Records as each system writes them (tests/fixtures/sources/, see its README): every count, label, reported
cost, status and error of each case, and the cost computed from the book's prices, read through `extract_usage` +
`price` and through `price_logs` on the same records written as JSON Lines; both paths must agree."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tokenprice

from fixture_cases import DEFAULTS, SOURCES, cases_of, expected, files, named_cases

FILES = files(SOURCES)


def cases() -> list[Any]:
    return [pytest.param(case, id=name) for name, case in named_cases(SOURCES)]


def test_every_fixture_file_is_read() -> None:
    assert {p.parent.name for p in FILES} == {"cloudflare", "helicone", "langfuse", "litellm", "otel"}
    assert sum(len(cases_of(p)) for p in FILES) >= 38


# The extras a record keeps (README: `extra`); `step` is a label; `status`, `error_class` and `saved_cache_cost`
# are not kept. LiteLLM's float cost parts are read at 15 significant digits (README).
KEPT = ("duration_ms", "ttft_ms", "trace_id", "request_id", "endpoint", "rate_limited", "custom_cost")
KEPT_TOO = ("cache_reference_id", "cost_breakdown")


def kept_extras(want: dict[str, Any]) -> dict[str, Any]:
    """The case's `extra` that tokenprice keeps, as it keeps them (durations and costs as Decimals)."""
    out: dict[str, Any] = {}
    for key, value in want.get("extra", {}).items():
        if key in KEPT or key in KEPT_TOO:
            if key in ("duration_ms", "ttft_ms"):
                value = Decimal(str(value))
            if key == "cost_breakdown":
                value = {k: Decimal(v) for k, v in value.items()}
            out[key] = value
    return out


def check_record(got: dict[str, Any], want: dict[str, Any]) -> None:
    w = expected(want)
    assert got["format"] == w["format"]
    for key in [*DEFAULTS, "usage"]:
        assert got[key] == w[key], key
    extras = kept_extras(want)
    assert {k: got["extra"].get(k) for k in extras} == extras


def check_row(row: dict[str, Any], want: dict[str, Any], extras: bool = False) -> None:
    """A table's row against a case's expectation: the same counts, labels, status and reported cost (and, in a
    priced table, `extras`, the kept extras as columns; the cost breakdown as JSON text of exact decimals)."""
    w = expected(want)
    if extras:
        for key, value in kept_extras(want).items():
            got = row[key]
            if key == "cost_breakdown":
                got = {k: Decimal(v) for k, v in json.loads(got).items()}
            assert got == value, key
    for key, count in w["usage"].items():
        # A table holds the count columns its rows use; a line is one request unless it says otherwise.
        assert row.get(key, 1 if key == "requests" else 0) == count, key
    for key, value in w["metadata"].items():
        assert row[key] == (value if isinstance(row[key], type(value)) else str(value)), key
    for key in ("id", "provider", "model", "served_model", "cache_hit", "status"):
        assert row[key] == w[key], key
    assert row["reported_cost"] == w["reported_cost"]
    assert row["timestamp"] == w["timestamp"]


def priced(tmp_path: Path, records: list[dict[str, Any]]) -> tokenprice.PricedLogs:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return tokenprice.price_logs(str(path))


@pytest.mark.parametrize("case", cases())
def test_extract_usage_reads_the_record_as_the_system_wrote_it(case: dict[str, Any]) -> None:
    if "expect_error" in case:
        with pytest.raises(tokenprice.UsageFormatError, match=f"(?i){case['expect_error']}"):
            tokenprice.extract_usage(case["input"])
        return
    if "expect_rows" in case:
        table = tokenprice.extract_usages([case["input"]])
        assert table.num_rows == len(case["expect_rows"])
        assert set(table.column("status").to_pylist()) == {"ok"}
        if "data" not in case["input"]:
            # An OTLP export: a span alone lacks its resource, so the table's rows are what is checked.
            with pytest.raises(tokenprice.UsageFormatError, match="extract_usages"):
                tokenprice.extract_usage(case["input"])
            labels = {k for want in case["expect_rows"] for k in want["metadata"]}
            assert not {"telemetry.sdk.name", "service.instance.id"} & set(table.column_names)
            for row, want in zip(table.to_pylist(), case["expect_rows"], strict=True):
                check_row(row, want)
                assert row["format"] == want["format"]
                assert {k for k in labels if row[k] is not None} == set(want["metadata"])
            return
        for row, want in zip(case["input"]["data"], case["expect_rows"], strict=True):
            check_record(tokenprice.extract_usage(row).to_dict(), want)
        return
    record = tokenprice.extract_usage(case["input"])
    check_record(record.to_dict(), case["expect"])
    if "expect_cost" in case:
        want = case["expect_cost"]
        cost = tokenprice.price(record.usage, model=record.model, provider=record.provider, at=want["at"])
        assert cost.total == Decimal(want["total"])


@pytest.mark.parametrize("case", cases())
def test_price_logs_agrees(case: dict[str, Any], tmp_path: Path) -> None:
    result = priced(tmp_path, [case["input"]])
    rejects = result.rejects.to_pylist()
    if "expect_error" in case:
        assert result.table.num_rows == 0
        assert len(rejects) == 1
        assert case["expect_error"].lower() in rejects[0]["reason"].lower()
        return
    assert rejects == []
    rows = result.table.to_pylist()
    wants = case.get("expect_rows") or [case["expect"]]
    assert len(rows) == len(wants)
    for row, want in zip(rows, wants, strict=True):
        check_row(row, want, extras=True)
        if want.get("status") == "error" and not want.get("has_usage", True):
            assert row["total_cost"] == 0  # a failed request is kept, and costs nothing
    if "expect_row_costs" in case:
        assert [row["total_cost"] for row in rows] == [Decimal(t) for t in case["expect_row_costs"]["totals"]]
    if "expect_cost" in case:
        # Priced at the record's own time: the book's price then equals the hand-computed one.
        assert rows[0]["total_cost"] == Decimal(case["expect_cost"]["total"])
        record = tokenprice.extract_usage(case["input"])
        at = record.timestamp
        cost = tokenprice.price(record.usage, model=record.model, provider=record.provider, at=at)
        assert rows[0]["total_cost"] == cost.total


def test_extras_are_kept_where_the_sources_give_them() -> None:
    """Every kept extra is found in some case, so none of them is checked vacuously."""
    found = {
        k
        for _, c in named_cases(SOURCES)
        for w in [c.get("expect"), *c.get("expect_rows", [])]
        if w
        for k in kept_extras(w)
    }
    assert found == set(KEPT) | set(KEPT_TOO)


def test_a_page_prices_as_its_rows(tmp_path: Path) -> None:
    """A Langfuse or Helicone list page in a log is its rows, each priced as the row alone."""
    pages = [case["input"] for _, case in named_cases(SOURCES) if "data" in case["input"]]
    assert len(pages) == 3
    whole = priced(tmp_path, pages).table
    rows = [row for page in pages for row in page["data"]]
    alone = priced(tmp_path, rows).table
    assert whole.num_rows == len(rows) == 6
    assert whole.column("total_cost").to_pylist() == alone.column("total_cost").to_pylist()
