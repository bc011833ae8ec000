"""What a notebook and a terminal show of each result: ``_repr_html_`` and ``repr`` of ``Cost``, ``PricedLogs``, a
summary (and reprice, savings), ``Reconciliation``, ``PriceBook`` and ``Encoding`` hold the total, the top groups
and money rounded for display (the objects keep it exact), counts with thousands separators — and every label,
which clients choose, escaped: a tenant named ``<img src=x onerror=alert(1)>`` never reaches the HTML raw."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from IPython.core.formatters import DisplayFormatter

import tokenprice
from tokenprice import _display
from tokenprice._display import money_text

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "logs" / "gateway.jsonl.gz"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def logs() -> tokenprice.PricedLogs:
    return tokenprice.price_logs(SAMPLE)


@pytest.fixture(scope="module")
def hostile_logs() -> tokenprice.PricedLogs:
    """The sample's first 300 records, the tenant of every third one renamed to an HTML payload, and one record
    of a model no book prices whose name is the payload too (a reject whose reason quotes it)."""
    lines = [json.loads(line) for line in gzip.open(SAMPLE, "rt").read().splitlines()[:300]]
    for index, record in enumerate(lines):
        if index % 3 == 0 and "metadata" in record:
            meta = json.loads(record["metadata"])
            meta["tenant"] = HOSTILE
            record["metadata"] = json.dumps(meta)
    lines.append({**lines[1], "id": "x1", "model": HOSTILE})
    return tokenprice.price_logs(lines)


def _no_raw_payload(html: str) -> None:
    assert "<img" not in html.lower() and "onerror=alert(1)>" not in html
    assert "<script" not in html.lower()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234567.891000000000000000"), "$1,234,567.89"),
        (Decimal("12.345"), "$12.35"),
        (Decimal("0.004375000000000000"), "$0.004375"),
        (Decimal("0.002880000000000000"), "$0.00288"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.123456"), "$0.1235"),
        (Decimal("-0.0000314159"), "-$0.00003142"),
        (Decimal(0), "$0.00"),
        (2.5, "$2.50"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_money_is_rounded_for_display(value: Any, shown: str) -> None:
    assert money_text(value) == shown


def test_cost_shows_its_items_its_price_entry_and_rounded_money() -> None:
    usage = tokenprice.Usage(input_tokens=2_422_000, cache_read_tokens=2_304_000, output_tokens=120_000)
    cost = tokenprice.price(usage, model="gpt-4o", at=dt.datetime(2025, 3, 1, 12, 0))
    html = cost._repr_html_()
    assert money_text(cost.total) in html and f"{cost.total:,.2f}" in html
    for item in cost.items:
        assert item["field"] in html and f"{item['count']:,}" in html and money_text(item["amount"]) in html
    assert "gpt-4o" in html and "openai" in html
    assert cost.origin is not None and escape(cost.origin) in html
    text = repr(cost)
    assert text.startswith(f"<Cost {cost.total} USD: gpt-4o (openai)")  # exact in the terminal
    assert len(text.splitlines()) == 1 + len(cost.items)  # a line per item
    for item in cost.items:
        assert f"{item['count']:,}" in text and str(item["amount"]) in text
    assert cost.total == sum(i["amount"] for i in cost.items)  # display changed nothing


def test_a_sum_of_costs_on_several_models_names_each_items_model() -> None:
    usage = tokenprice.Usage(input_tokens=1_000, output_tokens=10)
    costs = [
        tokenprice.price(usage, model="gpt-4o", at="2025-05-01"),
        tokenprice.price(usage, model="gpt-4o", at="2025-05-01"),
        tokenprice.price(usage, model="claude-sonnet-4-5", at="2025-11-01"),
    ]
    total = sum(costs)
    assert isinstance(total, tokenprice.Cost) and total.calls == 3
    assert {(i["model"], i["provider"]) for i in total.items} == {
        ("gpt-4o", "openai"),
        ("claude-sonnet-4-5", "anthropic"),
    }
    text = repr(total)
    assert text.startswith(f"<Cost {total.total} USD: sum of 3 calls, 2 models")
    assert "gpt-4o input_tokens" in text and "claude-sonnet-4-5 output_tokens" in text
    html = total._repr_html_()
    assert "<th>model</th>" in html and "claude-sonnet-4-5" in html and money_text(total.total) in html
    # One model: no model column, the heading says it is a sum.
    pair = costs[0] + costs[1]
    assert repr(pair).startswith(f"<Cost {pair.total} USD: sum of 2 calls: gpt-4o (openai)")
    assert "<th>model</th>" not in pair._repr_html_()


def test_priced_logs_show_counts_total_top_groups_and_rejects(hostile_logs: tokenprice.PricedLogs) -> None:
    logs = hostile_logs
    html = logs._repr_html_()
    _no_raw_payload(html)
    assert f"{logs.rows_read:,} rows read" in html and f"{logs.rows_rejected:,} rejected" in html
    assert f"<b>{escape(money_text(logs.total_cost))}</b>" in html
    by_tenant = sorted(logs.summary("tenant").to_pylist(), key=lambda r: -r["total_cost"])
    top = by_tenant[0]
    assert escape(str(top["tenant"])) in html and money_text(top["total_cost"]) in html
    assert escape(HOSTILE) in html  # the payload is shown, as text
    reason = logs.rejects.column("reason")[0].as_py()
    assert logs.rows_rejected >= 1 and escape(reason[:60]) in html
    text = repr(logs)
    assert text.startswith(f"<PricedLogs {logs.rows_read:,} rows read") and money_text(logs.total_cost) in text
    assert f"top tenant: {top['tenant']} {money_text(top['total_cost'])}" in text


def test_a_run_without_rows_shows_its_groups(logs: tokenprice.PricedLogs) -> None:
    totals = tokenprice.price_logs(SAMPLE, by=["tenant", "feature"], keep_rows=False)
    html = totals._repr_html_()
    top = max(totals.last_summary.to_pylist(), key=lambda r: r["total_cost"])
    assert f"{top['tenant']} / {top['feature']}" in html and money_text(top["total_cost"]) in html
    assert money_text(logs.total_cost) in html and totals.total_cost == logs.total_cost


def _html(obj: Any) -> str | None:
    """What Jupyter shows of an object as HTML (None: it shows the plain text instead)."""
    data, _ = DisplayFormatter().format(obj)
    return data.get("text/html")


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> DisplayFormatter:
    """A running IPython whose display formatter tokenprice registered its tables with."""
    import IPython

    formatter = DisplayFormatter()

    class Shell:
        display_formatter = formatter
        config: dict[str, Any] = {}

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    _display.register_notebook_formatter()
    return formatter


@pytest.mark.parametrize("money", ["decimal", "float"])
def test_a_summary_shows_as_a_table_with_its_total(
    notebook: DisplayFormatter, hostile_logs: tokenprice.PricedLogs, money: str
) -> None:
    summary = hostile_logs.summary(["tenant", "feature"], money=money)
    assert isinstance(summary, pa.Table)  # Arrow underneath: pl.from_arrow, pq.write_table, ... keep working
    html = notebook.format(summary)[0]["text/html"]
    _no_raw_payload(html)
    assert f"<b>{escape(money_text(hostile_logs.total_cost))}</b>" in html
    assert f"{hostile_logs.rows_read:,} read" in html
    first = summary.to_pylist()[0]
    assert escape(str(first["tenant"])) in html and money_text(first["total_cost"]) in html
    exact = hostile_logs.summary(["tenant", "feature"]).column("total_cost").to_pylist()
    assert str(exact[0]) not in html  # 18 places in the table, never on screen
    # Any other Arrow table is shown as before.
    assert notebook.format(pa.table({"a": [1]}))[0].get("text/html") is None


def test_long_summaries_show_their_first_rows_and_the_whole_total(notebook: DisplayFormatter) -> None:
    logs = tokenprice.price_logs(SAMPLE, keep_rows=True)
    summary = logs.summary("conversation")
    assert summary.num_rows > _display.ROWS_SHOWN
    html = notebook.format(summary)[0]["text/html"]
    assert f"first {_display.ROWS_SHOWN} of {summary.num_rows:,} rows" in html
    assert html.count("<tr>") == 1 + _display.ROWS_SHOWN + 1  # header, rows, total
    assert money_text(logs.total_cost) in html


def test_reprice_and_savings_show_as_tables(notebook: DisplayFormatter, logs: tokenprice.PricedLogs) -> None:
    what_if = logs.reprice("tenant", model_map={"gpt-4o": "gpt-4o-mini"})
    html = notebook.format(what_if)[0]["text/html"]
    assert html.count("<b>reprice</b>") == 1
    for row in what_if.to_pylist():
        assert money_text(row["repriced_cost"]) in html and money_text(row["difference"]) in html
    saved = logs.savings("feature")
    html = notebook.format(saved)[0]["text/html"]
    assert all(money_text(r["saved"]) in html for r in saved.to_pylist())


def test_reconciliation_shows_causes_in_money(hostile_logs: tokenprice.PricedLogs) -> None:
    rec = hostile_logs.reconcile()
    html = rec._repr_html_()
    _no_raw_payload(html)
    assert money_text(rec.reported_total) in html and money_text(rec.computed_total) in html
    assert f"{rec.mismatches.num_rows:,} mismatches" in html
    found = {c: n for c, n in rec.causes.items() if n}
    assert found
    for cause, n in found.items():
        row = f'<td>{escape(cause)}</td><td style="text-align:right">{n:,}</td>'
        assert row in html and money_text(rec.cause_costs[cause]) in html
    largest = rec.mismatches.to_pylist()[0]
    assert money_text(largest["difference"]) in html
    text = repr(rec)
    assert text.startswith(f"<Reconciliation {rec.compared:,} lines compared") and all(c in text for c in found)


def test_price_book_shows_its_providers() -> None:
    book = tokenprice.PriceBook.default()
    html = book._repr_html_()
    assert book.origin == "default" and f"{len(book):,} models" in html
    counts: dict[str, int] = {}
    for m in book.models():
        counts[m["provider"]] = counts.get(m["provider"], 0) + 1
    top = max(counts, key=lambda p: counts[p])
    assert f'<td>{top}</td><td style="text-align:right">{counts[top]:,}</td>' in html
    hostile = tokenprice.PriceBook.from_dicts(
        [{"schema": 1, "id": "p", "name": HOSTILE, "models": [{"id": HOSTILE, "prices": [{"input_per_mtok": "1"}]}]}],
        origin=HOSTILE,
    )
    _no_raw_payload(hostile._repr_html_())
    cost = tokenprice.price(tokenprice.Usage(input_tokens=1000), model=HOSTILE, book=hostile, at="2025-01-01")
    _no_raw_payload(cost._repr_html_())
    assert escape(HOSTILE) in cost._repr_html_() and HOSTILE in repr(cost)  # escaped in HTML, plain in text


def test_encoding_shows_its_vocabulary_and_special_tokens_escaped() -> None:
    enc = tokenprice.get_encoding("cl100k_base")
    html = enc._repr_html_()
    assert f"{enc.n_vocab:,}" in html and "cl100k_base" in html
    assert escape("<|endoftext|>") in html and "<|endoftext|>" not in html
