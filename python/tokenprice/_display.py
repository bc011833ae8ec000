"""What a person reads: the text and HTML (``_repr_html_``) of tokenprice's results in a terminal or a notebook.

Money is rounded for display only — cents from a dollar up, four significant digits below — and the objects keep
it exact; counts have thousands separators. Every label and reason is untrusted text (tenant names come from
clients through ``cf-aig-metadata``): it is HTML-escaped wherever it is shown. The pyclasses (``Cost``,
``PriceBook``, ``Encoding``) hand themselves to the functions here; the Arrow tables tokenprice returns
(summaries, reprice, savings, a reconciliation's mismatches) stay ``pyarrow.Table`` and carry a mark in their schema
metadata, by which the notebook formatter registered in ``register_notebook_formatter`` shows them."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from html import escape
from typing import Any

from tokenprice._sums import summable

# The schema metadata keys that mark a table tokenprice made: the names of its money columns (comma separated) and
# what it is (its title). The notebook shows those tables as tables a person reads, every other table as before.
MARK = b"tokenprice.money"
KIND = b"tokenprice.table"
# How many rows of a table, and how many groups of each kind, a display shows.
ROWS_SHOWN = 20
TOP = 5


def money_text(value: Decimal | float | int | None) -> str:
    """An amount in USD for display: ``$1,234.57`` from a dollar up, four significant digits below (``$0.004375``,
    ``$0.00288``), empty for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    d = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if d == 0:
        return "$0.00"
    sign, d = ("-" if d < 0 else ""), abs(d)
    with localcontext() as exact:
        exact.prec = 80  # a decimal128(38, 18) total has 38 digits
        if d >= 1:
            return f"{sign}${d.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
        text = f"{d.quantize(Decimal(1).scaleb(d.adjusted() - 3), ROUND_HALF_UP):f}".rstrip("0")
    return f"{sign}${text + '0' * max(0, 2 - len(text.partition('.')[2]))}"


def count_text(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _cell(value: Any, money: bool) -> tuple[str, bool]:
    """A value as escaped display text, and whether it is a number (right-aligned)."""
    if money:
        return escape(money_text(value)), True
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int):
        return count_text(value), True
    if isinstance(value, (float, Decimal)):
        return f"{value:,}", True
    return escape(str(value)), False


def html_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], money: Sequence[bool] = (), caption: str = ""
) -> str:
    """An HTML table (pandas' ``dataframe`` class, so Jupyter styles it as it styles frames); money cells rounded
    for display, counts separated, numbers right-aligned, every text escaped."""
    flags = list(money) + [False] * (len(header) - len(money))
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for value, is_money in zip(row, flags, strict=False):
            text, numeric = _cell(value, is_money)
            cells.append(f'<td style="text-align:right">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    table = f'<table class="dataframe tokenprice">{title}<thead><tr>{head}</tr></thead>'
    return f"{table}<tbody>{''.join(body)}</tbody></table>"


def _block(title: str, facts: str, *parts: str) -> str:
    return f'<div class="tokenprice"><p><b>{escape(title)}</b> {facts}</p>{"".join(parts)}</div>'


# -- Cost, PriceBook, Encoding (the pyclasses delegate here) -----------------------------------------------------


def _per(per: int) -> str:
    return {1: "", 1_000: "1K", 1_000_000: "1M"}.get(per, f"{per:,}")


def _unit_price(value: Decimal) -> str:
    """A unit price as its exact digits, at least two places: 2.50, 0.075, 1.25."""
    text = format(value.normalize(), "f")
    places = len(text.partition(".")[2])
    return f"{value:,.{max(places, 2)}f}"


def _entry(cost: Any) -> str:
    """The price entry a cost used: its first day, origin and source."""
    start = f"price from {cost.effective_from}" if cost.effective_from is not None else "first price entry"
    where = "; ".join(x for x in (getattr(cost, "origin", None), cost.source) if x)
    return start + (f" ({where})" if where else "")


def _about(cost: Any) -> str:
    tier = f", {cost.service_tier} tier" if cost.service_tier and cost.service_tier != "standard" else ""
    region = f", region {cost.region}" if cost.region else ""
    return f"{cost.model} ({cost.provider}){tier}{region}, {_entry(cost)}"


def _several_models(items: list[dict[str, Any]]) -> bool:
    """Whether the items are priced on more than one model (a record's parts, a sum of costs)."""
    return len({(i["model"], i["provider"]) for i in items}) > 1


def _heading(cost: Any, items: list[dict[str, Any]]) -> str:
    if _several_models(items):
        calls = f"sum of {cost.calls:,} calls, " if cost.calls > 1 else ""
        return f"{calls}{len({i['model'] for i in items})} models (explain() gives each price entry)"
    if cost.calls > 1:
        return f"sum of {cost.calls:,} calls: {_about(cost)}"
    return _about(cost)


def cost_text(cost: Any) -> str:
    """``repr(cost)``: the exact total, the model and price entry, one line per item (with its model when the
    cost prices several)."""
    items = cost.items
    lines = [f"<Cost {cost.total} USD: {_heading(cost, items)}"]
    names = [f"{i['model']} {i['field']}" if _several_models(items) else i["field"] for i in items]
    width = max((len(n) for n in names), default=0)
    counts = max((len(count_text(i["count"])) for i in items), default=0)
    for name, i in zip(names, items, strict=True):
        per = _per(i["per"])
        lines.append(
            f"  {name:<{width}}  {count_text(i['count']):>{counts}} × {_unit_price(i['unit_price'])} USD"
            f"{'/' + per if per else ''} = {i['amount']}"
        )
    return "\n".join(lines) + ">"


def cost_html(cost: Any) -> str:
    items = cost.items
    several = _several_models(items)
    rows = [
        [
            *([i["model"]] if several else []),
            i["field"],
            i["count"],
            f"${_unit_price(i['unit_price'])}" + (f" / {_per(i['per'])}" if _per(i["per"]) else ""),
            i["amount"],
        ]
        for i in items
    ]
    rows.append([*([""] if several else []), "total", None, "", cost.total])
    header = [*(["model"] if several else []), "item", "count", "unit price (USD)", "amount"]
    table = html_table(header, rows, [False] * (len(header) - 1) + [True])
    return _block("Cost", f"<b>{escape(money_text(cost.total))}</b> USD — {escape(_heading(cost, items))}", table)


def book_html(book: Any) -> str:
    models: dict[str, int] = {}
    deprecated: dict[str, int] = {}
    for m in book.models():
        models[m["provider"]] = models.get(m["provider"], 0) + 1
        deprecated[m["provider"]] = deprecated.get(m["provider"], 0) + int(bool(m["deprecated"]))
    ranked = sorted(models, key=lambda p: (-models[p], p))
    rows = [[p, models[p], deprecated[p]] for p in ranked[:ROWS_SHOWN]]
    more = len(ranked) - len(rows)
    caption = (
        f"providers by number of models ({more:,} more not shown)" if more > 0 else "providers by number of models"
    )
    facts = f"{escape(book.origin)}: {count_text(len(book.providers))} providers, {count_text(len(book))} models"
    return _block("PriceBook", facts, html_table(["provider", "models", "deprecated"], rows, caption=caption))


def encoding_html(encoding: Any) -> str:
    special = sorted(encoding.special_tokens_set)
    shown = ", ".join(special[:10]) + (f", … {len(special) - 10:,} more" if len(special) > 10 else "")
    try:
        pattern = encoding.pattern
    except Exception:  # a tokenizer.json has no single split pattern
        pattern = None
    rows: list[list[Any]] = [
        ["kind", encoding.kind],
        ["vocabulary", encoding.n_vocab],
        ["max token value", encoding.max_token_value],
        ["end of text token", encoding.eot_token],
        ["special tokens", shown],
        ["split pattern", pattern],
    ]
    return _block("Encoding", escape(encoding.name), html_table(["", ""], rows))


# -- Arrow tables tokenprice returns -----------------------------------------------------------------------------


def mark(table: Any, kind: str) -> Any:
    """The table with the mark the notebook formatter shows it by: what it is and the names of its money (decimal)
    columns, kept through a later ``money="float"`` cast."""
    metadata = dict(table.schema.metadata or {})
    metadata[MARK] = ",".join(money_columns(table)).encode()
    metadata[KIND] = kind.encode()
    return table.replace_schema_metadata(metadata)


def money_columns(table: Any) -> list[str]:
    """The decimal columns of an Arrow table: its money (before any ``money="float"`` cast)."""
    import pyarrow as pa

    return [f.name for f in table.schema if pa.types.is_decimal(f.type)]


def table_html(table: Any, title: str = "", facts: str = "", limit: int = ROWS_SHOWN) -> str | None:
    """A table tokenprice made (marked) as a table a person reads: its first ``limit`` rows and the total of each
    money column. None for any other table (the notebook then shows it as before)."""
    metadata = table.schema.metadata or {}
    if MARK not in metadata:
        return None
    money = set(metadata[MARK].decode().split(",")) - {""}
    title = title or metadata.get(KIND, b"Table").decode()
    names = table.column_names
    flags = [n in money for n in names]
    head = table.slice(0, limit).to_pylist()
    rows = [[r[n] for n in names] for r in head]
    if table.num_rows > 1 and any(flags):
        label = "total" if len(head) == table.num_rows else f"total of all {table.num_rows:,}"
        rows.append(
            [
                label if i == 0 else (_sum(table.column(n)) if f else None)
                for i, (n, f) in enumerate(zip(names, flags, strict=True))
            ]
        )
    more = table.num_rows - len(head)
    counts = {
        k.decode(): v.decode() for k, v in metadata.items() if k in (b"rows_read", b"rows_priced", b"rows_rejected")
    }
    if not facts:
        facts = f"{count_text(table.num_rows)} {'rows' if title == 'mismatches' else 'groups'}"
        if counts:
            facts += " · " + ", ".join(f"{count_text(int(v))} {k.replace('rows_', '')}" for k, v in counts.items())
        if "total_cost" in money:
            facts += f" · total <b>{escape(money_text(_sum(table.column('total_cost'))))}</b>"
    caption = f"first {len(head):,} of {table.num_rows:,} rows" if more > 0 else ""
    return _block(title, facts, html_table(names, rows, flags, caption))


def _sum(column: Any) -> Decimal | float:
    """A money column's exact sum (a Decimal for decimal money, a float for float money)."""
    values = [v for v in column.to_pylist() if v is not None]
    if values and isinstance(values[0], float):
        return float(sum(values))
    return sum(values, Decimal(0))


def register_notebook_formatter() -> None:
    """In IPython or Jupyter (already running: nothing is imported otherwise), shows the Arrow tables tokenprice
    made as HTML tables a person reads. Other tables are left to their own display (the formatter returns None)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return
    formatter = shell.display_formatter.formatters.get("text/html")
    if formatter is not None:
        formatter.for_type_by_name("pyarrow.lib", "Table", table_html)


# -- PricedLogs and Reconciliation ---------------------------------------------------------------------------------


def top_groups(logs: Any, limit: int = TOP) -> list[tuple[str, list[tuple[Any, Decimal, int]]]]:
    """A run's most expensive groups: per label (tenant and feature first) and per priced model, the ``limit``
    largest totals with their line counts. For a run that kept no rows, the groups it totalled."""
    if not logs.keeps_rows:
        summary = logs.last_summary
        keys = [
            c for c in summary.column_names if c not in ("rows", "reported_cost") and c not in money_columns(summary)
        ]
        rows = [(" / ".join(str(r[k]) for k in keys), r["total_cost"], r["rows"]) for r in summary.to_pylist()]
        rows.sort(key=lambda g: (-(g[1] or 0), g[0]))
        return [(", ".join(keys) or "all", rows[:limit])] if keys else []
    from tokenprice._ledger import labels_of

    table = logs.table
    labels = labels_of(table)
    ordered = [k for k in ("tenant", "feature") if k in labels] or labels[:2]
    out = []
    for key in [*ordered, "priced_model"]:
        if key not in table.column_names or table.num_rows == 0:
            continue
        wide = summable(table.select([key, "total_cost"]), ["total_cost"])
        grouped = wide.group_by(key, use_threads=False).aggregate([("total_cost", "sum"), ("total_cost", "count")])
        grouped = grouped.sort_by([("total_cost_sum", "descending")]).slice(0, limit).to_pylist()
        name = "model" if key == "priced_model" else key
        out.append((name, [(g[key], g["total_cost_sum"], g["total_cost_count"]) for g in grouped]))
    return out


def reject_reasons(logs: Any, limit: int = TOP) -> list[tuple[str, int]]:
    """The most frequent reasons records were rejected, with their counts."""
    if logs.rejects.num_rows == 0:
        return []
    grouped = logs.rejects.group_by("reason", use_threads=False).aggregate([("reason", "count")]).to_pylist()
    grouped.sort(key=lambda g: (-g["reason_count"], g["reason"] or ""))
    return [(g["reason"] or "", g["reason_count"]) for g in grouped[:limit]]


def _logs_facts(logs: Any) -> str:
    return (
        f"{count_text(logs.rows_read)} rows read: {count_text(logs.rows_priced)} priced, "
        f"{count_text(logs.rows_rejected)} rejected; total {money_text(logs.total_cost)} USD"
    )


def logs_text(logs: Any) -> str:
    lines = [f"<PricedLogs {_logs_facts(logs)}"]
    for key, groups in top_groups(logs):
        shown = ", ".join(f"{name} {money_text(total)}" for name, total, _ in groups)
        lines.append(f"  top {key}: {shown}")
    reasons = reject_reasons(logs)
    if reasons:
        lines.append("  rejects: " + "; ".join(f"{_short(r)} ({n:,})" for r, n in reasons))
    return "\n".join(lines) + ">"


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def logs_html(logs: Any) -> str:
    facts = escape(_logs_facts(logs)).replace(
        escape(money_text(logs.total_cost)), f"<b>{escape(money_text(logs.total_cost))}</b>", 1
    )
    parts = [
        html_table([key, "total_cost", "lines"], groups, [False, True, False], caption=f"top {key} by cost")
        for key, groups in top_groups(logs)
    ]
    reasons = reject_reasons(logs)
    if reasons:
        parts.append(
            html_table(["reason", "records"], [[_short(r, 160), n] for r, n in reasons], caption="rejects by reason")
        )
    return _block("PricedLogs", facts, *parts)


def _reconciliation_facts(rec: Any) -> str:
    difference = rec.reported_total - rec.computed_total
    return (
        f"{count_text(rec.compared)} lines compared: reported {money_text(rec.reported_total)}, computed "
        f"{money_text(rec.computed_total)} (difference {money_text(difference)}); "
        f"{count_text(rec.mismatches.num_rows)} mismatches"
    )


def reconciliation_text(rec: Any) -> str:
    causes = [f"{c} {n:,} ({money_text(rec.cause_costs[c])})" for c, n in rec.causes.items() if n]
    return (
        f"<Reconciliation {_reconciliation_facts(rec)}" + ("\n  causes: " + "; ".join(causes) if causes else "") + ">"
    )


def reconciliation_html(rec: Any) -> str:
    causes = [[c, n, rec.cause_costs[c]] for c, n in rec.causes.items() if n]
    parts = [html_table(["cause", "lines", "difference"], causes, [False, False, True], caption="mismatches by cause")]
    if rec.mismatches.num_rows:
        largest = table_html(rec.mismatches, "Largest mismatches", " ", limit=10)
        parts.append(largest or "")
    return _block("Reconciliation", escape(_reconciliation_facts(rec)), *parts)
