"""The cost report: one self-contained HTML file (``PricedLogs.report``, ``tokenprice report``) that opens offline.

What it embeds are aggregates, never rows: a cube of day × tenant × feature × model × provider with the cost
columns and counts, the mismatches of the reconciliation per cube cell and cause, per (tenant, feature) histograms
of per-call cost, the most expensive calls and conversations per (tenant, feature), and the rejects per reason.
Its size grows with the number of groups, not of rows. Every total is summed by Arrow (``group_by``) over the
priced lines; Python only walks the groups. The charts are Plotly's, whose bundled ``plotly.min.js`` (from the
``plotly`` package: ``pip install tokenprice[report]``) is inlined, so the file needs no network.

Money is exact end to end: each amount is sent as two integers — nano-dollars and the remaining 10⁻¹⁸ dollars —
that the page sums with BigInt, so a filtered total is the exact sum of its lines, rounded for display only once,
the way ``display_usd`` rounds it. Every label is untrusted text (it comes from clients' metadata): the JSON is
escaped so that no ``</script>`` can close its element, and the page writes labels as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenprice import _core
from tokenprice._sums import narrowed, summable

if TYPE_CHECKING:
    from tokenprice._core import PriceBook
    from tokenprice._ledger import PricedLogs

# The cube's label dimensions, in order (the day comes first). A label the logs lack is one "(none)" group.
LABELS = ("tenant", "feature")
DIMENSIONS = ("tenant", "feature", "model", "provider")
# How many of the most expensive calls and conversations are kept per (tenant, feature), and at most overall.
TOP_PER_GROUP = 10
TOP_MAX = 2000
# Per-call cost histograms: bins of a quarter decade (bin k holds costs in [10^(k/4), 10^((k+1)/4)) USD).
BINS_PER_DECADE = 4
ZERO_BIN = -1000
# The longest reject reason kept (reasons are the engine's messages, never a record's text).
REASON_CHARS = 200
NANO = 10**9
TEMPLATE = Path(__file__).with_name("_report.html")


def display_usd(amount: Decimal) -> str:
    """Money as the report shows it: 2 decimals from $1 up and for zero, 6 below, half away from zero, thousands
    separated ("$1,234.57", "$0.004200", "-$0.500000", "$0.00"). The page's JavaScript rounds the same way."""
    places = Decimal("0.01") if abs(amount) >= 1 or amount == 0 else Decimal("0.000001")
    rounded = amount.quantize(places, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,}"


def script_json(payload: Any) -> str:
    """JSON to put inside a ``<script>`` element: ``<``, ``>`` and ``&`` as \\u escapes (no ``</script>`` or
    ``<!--`` can end or change the element), U+2028 and U+2029 escaped too (older JavaScript engines end a line
    there)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escape)
    return text.replace("\u2029", "\\u2029")


def plotly_js() -> str:
    """Plotly's bundled JavaScript, from the ``plotly`` package (the ``report`` extra)."""
    try:
        import plotly
    except ImportError:
        raise _core.InvalidArgumentError(
            "the cost report needs Plotly's JavaScript from the plotly package: pip install tokenprice[report]"
        ) from None
    path = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
    if not path.is_file():
        raise _core.InvalidArgumentError(f"the plotly package has no {path}: pip install 'tokenprice[report]'")
    # Inline in a <script> element: a "</script" in its text would end it ("<\/" means the same in JavaScript).
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def write_report(
    logs: PricedLogs,
    path: str | os.PathLike[str],
    *,
    title: str = "LLM cost report",
    book: PriceBook | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Writes the report; returns its sizes: ``payload`` (the embedded data) and ``file`` in bytes, ``cells`` (the
    cube's)."""
    if not isinstance(title, str):
        raise _core.InvalidTypeError(f"title must be a str, got {type(title).__name__}")
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise _core.InvalidTypeError(f"report(path): path must be a str or os.PathLike, got {type(path).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise _core.InputError(f"{target}: cannot write, no folder {str(target.parent)!r}")
    script = plotly_js()
    payload = payload_of(logs, book=book, parameters=parameters)
    data = script_json(payload)
    page = render(title, data, script)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as e:
        raise _core.InputError(f"{target}: cannot write: {e}") from None
    return {
        "payload": len(data.encode("utf-8")),
        "file": len(page.encode("utf-8")),
        "cells": len(payload["cube"]["rows"]),
    }


def render(title: str, data: str, script: str) -> str:
    """The page: the template with the title (escaped), the data (already script-safe) and Plotly inlined."""
    page = TEMPLATE.read_text(encoding="utf-8")
    # Split first, so that the title (escaped) can never be taken for a placeholder, nor the data or script searched.
    head, _, tail = page.partition("{{DATA}}")
    before, _, after = tail.partition("{{PLOTLY}}")
    head = head.replace("{{TITLE}}", html.escape(title))
    return head + data + before + script + after


# -- the payload ---------------------------------------------------------------------------------------------------


def payload_of(
    logs: PricedLogs, *, book: PriceBook | None = None, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the page shows, as aggregates (see the module's docstring)."""
    import pyarrow as pa

    if not logs.keeps_rows:
        raise _core.InvalidArgumentError(
            "the cost report needs the priced lines: price the logs with keep_rows=True (the default)"
        )
    lines = _dimensions(logs.table)
    uncached = (
        logs._reprice(without_cache=True, book=book) if logs.table.num_rows else pa.nulls(0, pa.decimal128(38, 18))
    )
    cube, dictionaries = _cube(lines, uncached)
    return {
        "version": 1,
        "counts": {"read": logs.rows_read, "priced": logs.rows_priced, "rejected": logs.rows_rejected},
        "dims": dictionaries,
        "cube": cube,
        "mismatches": _mismatches(logs, lines, dictionaries),
        "histograms": _histograms(lines, dictionaries),
        "calls": _top_calls(lines, dictionaries),
        "conversations": _top_conversations(lines, dictionaries),
        "rejects": _rejects(logs.rejects),
        "meta": _meta(logs, lines, book, parameters or {}),
    }


def _dimensions(table: Any) -> Any:
    """The lines with what the report groups by: ``day`` (UTC), the labels (null where the logs lack one), the
    model and provider that were priced (the requested ones where none was)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows

    def label(name: str) -> Any:
        return pc.cast(table.column(name), pa.string()) if name in table.column_names else pa.nulls(n, pa.string())

    columns = {
        "day": pc.cast(table.column("timestamp").cast(pa.timestamp("us", tz="UTC")), pa.date32()),
        **{name: label(name) for name in LABELS},
        "model": pc.coalesce(table.column("priced_model"), table.column("model")),
        "provider": pc.coalesce(table.column("priced_provider"), table.column("provider")),
        "conversation": label("conversation"),
    }
    for name in ("id", "timestamp", "cache_hit", "reported_cost", *_core.COST_COLUMNS):
        columns[name] = table.column(name)
    for name in ("input_tokens", "output_tokens", "cache_read_tokens"):
        columns[name] = table.column(name) if name in table.column_names else pa.nulls(n, pa.uint64())
    return pa.table(columns)


def _encode(column: Any, values: list[Any]) -> list[int]:
    """A column as indexes into ``values`` (its dictionary, extended with values not yet in it)."""
    index = {v: i for i, v in enumerate(values)}
    out = []
    for v in column.to_pylist():
        if v not in index:
            index[v] = len(values)
            values.append(v)
        out.append(index[v])
    return out


def _money(column: Any) -> list[list[Any]]:
    """A decimal128(38, 18) column (null as 0) as [nano-dollars, the rest in 10⁻¹⁸ USD, of the same sign]: two
    integers JavaScript holds exactly. Split by Arrow: the nano-dollars are the column cast to 9 places (cut toward
    zero), whose stored integer is the count of nano-dollars; the rest is the low 64 bits of the stored integers'
    difference (it is below 10⁹, so 64 bits hold it exactly). A nano-dollar count beyond 2⁵³ (9 million dollars in
    one amount) is sent as text, which the page reads all the same (BigInt)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = array.fill_null(0) if array.null_count else array
    if not len(array):
        return [[], []]
    nano = pc.cast(array, pa.decimal128(38, 9), safe=False)
    low_nano, high_nano = _words(nano)
    low_full, _ = _words(array)
    sign = pc.if_else(pc.less(low_nano, 0), -1, 0)
    fits = pc.all(pc.equal(high_nano, sign)).as_py() and pc.max(pc.abs(low_nano)).as_py() < 2**53
    if not fits:
        return _money_exactly(array)
    rest = pc.subtract(low_full, pc.multiply(low_nano, NANO))  # wraps modulo 2⁶⁴: exact, as the rest is < 10⁹
    return [low_nano.to_pylist(), rest.to_pylist()]


def _words(array: Any) -> tuple[Any, Any]:
    """A decimal128 array's stored 128-bit integers as their low and high 64-bit words (little-endian)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    words = pa.Array.from_buffers(pa.int64(), 2 * len(array), [None, array.buffers()[1]], offset=2 * array.offset)
    pairs = pa.FixedSizeListArray.from_arrays(words, 2)
    return pc.list_element(pairs, 0), pc.list_element(pairs, 1)


def _money_exactly(array: Any) -> list[list[Any]]:
    """``_money`` value by value, for amounts too large for the fast split."""
    high: list[Any] = []
    low: list[int] = []
    wide = Context(prec=80)
    for value in array.to_pylist():
        atto = int(value.scaleb(18, context=wide))
        h = (abs(atto) // NANO) * (1 if atto >= 0 else -1)  # toward zero, as the fast split
        high.append(h if abs(h) < 2**53 else str(h))
        low.append(atto - h * NANO)
    return [high, low]


def _cube(lines: Any, uncached: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The cube: one cell per (day, tenant, feature, model, provider) with counts, token sums and money sums —
    the cost columns, ``total_cost``, ``reported_cost`` and the computed cost of the same lines (``compared``),
    and the cache savings split by kind (a gateway cache hit's, the prompt cache's on the other lines)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hit = pc.fill_null(lines.column("cache_hit"), False)
    total = lines.column("total_cost")
    money = pa.decimal128(38, 18)
    # What each line saved (its price without any cache, minus its cost): 37 digits each side, so that the
    # difference fits 38 (no cost comes near 10¹⁹ dollars).
    narrow = pa.decimal128(37, 18)
    saved = pc.subtract(pc.cast(uncached, narrow), pc.cast(total, narrow))
    none = pa.scalar(None, money)
    extra = {
        "computed_reported": pc.if_else(pc.is_valid(lines.column("reported_cost")), total, none),
        "saved_gateway": pc.if_else(hit, saved, none),
        "saved_prompt": pc.if_else(pc.invert(hit), saved, none),
        "gateway_hit": pc.cast(hit, pa.int64()),
    }
    keys = ["day", *DIMENSIONS]
    sums = [
        *_core.COST_COLUMNS,
        "reported_cost",
        "computed_reported",
        "saved_gateway",
        "saved_prompt",
    ]
    tokens = ("input_tokens", "output_tokens", "cache_read_tokens")
    # Only the columns it sums go to group_by (it reads every column of the table it is given).
    t = lines.select([*keys, *tokens, *_core.COST_COLUMNS, "reported_cost"])
    for name, column in extra.items():
        t = t.append_column(name, column)
    aggregates = [("total_cost", "count"), ("reported_cost", "count"), ("gateway_hit", "sum")]
    aggregates += [(c, "sum") for c in (*tokens, *sums)]
    grouped = summable(t, sums).group_by(keys, use_threads=False).aggregate(aggregates)
    grouped = narrowed(grouped, [f"{c}_sum" for c in sums])
    grouped = grouped.sort_by([("day", "ascending"), ("total_cost_sum", "descending")])
    dictionaries: dict[str, list[Any]] = {"day": [], **{d: [] for d in DIMENSIONS}}
    days = sorted({d for d in grouped.column("day").to_pylist()})
    dictionaries["day"] = [d.isoformat() for d in days]
    day_index = {d: i for i, d in enumerate(days)}
    cube: dict[str, Any] = {"day": [day_index[d] for d in grouped.column("day").to_pylist()]}
    for d in DIMENSIONS:
        cube[d] = _encode(grouped.column(d), dictionaries[d])
    cube["rows"] = grouped.column("total_cost_count").to_pylist()
    cube["compared"] = grouped.column("reported_cost_count").to_pylist()
    cube["gateway_hits"] = grouped.column("gateway_hit_sum").fill_null(0).to_pylist()
    for c in ("input_tokens", "output_tokens", "cache_read_tokens"):
        cube[c] = grouped.column(f"{c}_sum").fill_null(0).to_pylist()
    cube["money"] = {c: _money(grouped.column(f"{c}_sum")) for c in sums}
    return cube, dictionaries


def _indexes(column: Any, dictionary: list[Any]) -> list[int]:
    """A column's values as indexes into a dictionary the cube built (every value is in it)."""
    index = {v: i for i, v in enumerate(dictionary)}
    return [index[v] for v in column.to_pylist()]


def _mismatches(logs: PricedLogs, lines: Any, dictionaries: dict[str, list[Any]]) -> dict[str, Any]:
    """The reconciliation per cube cell and cause: mismatched lines and the sum of their differences (reported −
    computed), with the totals the cube holds (reported, and computed for the same lines) beside it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    causes = list(_core.RECONCILE_CAUSES)
    empty = {"causes": causes, "day": [], "tenant": [], "feature": [], "model": [], "provider": [], "cause": []}
    if not lines.num_rows or "reported_cost" not in logs.table.column_names:
        return {**empty, "lines": [], "difference": [[], []]}
    rec = logs.reconcile()
    found = rec.mismatches
    if not found.num_rows:
        return {**empty, "lines": [], "difference": [[], []]}
    # The mismatches name their line by (source, line); its day and priced model come from the lines, found by one
    # integer key per line (the source's number, then the line) rather than a join.
    table = logs.table
    sources = pc.unique(pc.fill_null(table.column("source"), ""))

    def key(source: Any, line: Any) -> Any:
        number = pc.cast(pc.index_in(pc.fill_null(source, ""), value_set=sources), pa.int64())
        return pc.add(pc.multiply(number, 1 << 40), pc.cast(line, pa.int64()))

    rows = pc.index_in(
        key(found.column("source"), found.column("line")), value_set=key(table.column("source"), table.column("line"))
    )
    if rows.null_count:
        raise _core.InternalError("a mismatch names a line that is not among the priced lines")
    joined = lines.select(["day", *DIMENSIONS]).take(rows)
    joined = joined.append_column("difference", found.column("difference")).append_column(
        "cause", found.column("cause")
    )
    grouped = (
        summable(joined, ["difference"])
        .group_by(["day", *DIMENSIONS, "cause"], use_threads=False)
        .aggregate([("difference", "count"), ("difference", "sum")])
    )
    grouped = narrowed(grouped, ["difference_sum"])
    day_index = {d: i for i, d in enumerate(dictionaries["day"])}
    cause_index = {c: i for i, c in enumerate(causes)}
    return {
        "causes": causes,
        "day": [day_index[d.isoformat()] for d in grouped.column("day").to_pylist()],
        **{d: _indexes(grouped.column(d), dictionaries[d]) for d in DIMENSIONS},
        "cause": [cause_index[c] for c in grouped.column("cause").to_pylist()],
        "lines": grouped.column("difference_count").to_pylist(),
        "difference": _money(grouped.column("difference_sum")),
    }


def _histograms(lines: Any, dictionaries: dict[str, list[Any]]) -> dict[str, Any]:
    """Per (tenant, feature): how many calls cost how much, in quarter-decade bins of USD (``ZERO_BIN``: free)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cost = pc.cast(lines.column("total_cost"), pa.float64())
    positive = pc.greater(cost, 0)
    scaled = pc.multiply(pc.log10(pc.max_element_wise(cost, 1e-30)), float(BINS_PER_DECADE))
    bins = pc.if_else(positive, pc.cast(pc.floor(scaled), pa.int64()), pa.scalar(ZERO_BIN, pa.int64()))
    t = pa.table({"tenant": lines.column("tenant"), "feature": lines.column("feature"), "bin": bins})
    grouped = t.group_by(["tenant", "feature", "bin"], use_threads=False).aggregate([("bin", "count")])
    return {
        "bins_per_decade": BINS_PER_DECADE,
        "zero_bin": ZERO_BIN,
        "tenant": _indexes(grouped.column("tenant"), dictionaries["tenant"]),
        "feature": _indexes(grouped.column("feature"), dictionaries["feature"]),
        "bin": grouped.column("bin").to_pylist(),
        "calls": grouped.column("bin_count").to_pylist(),
    }


def _top_per_group(table: Any, keys: Sequence[str], cost: str) -> Any:
    """The ``TOP_PER_GROUP`` rows of largest ``cost`` in each group of ``keys``, then the ``TOP_MAX`` largest of
    those. One sort of the rows by group number and cost as float (fast), taking from each group its first rows and
    any tied with the last one in float (a float order never reverses the exact one), then exact sorts of those
    few."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table.num_rows:
        return table
    codes = [pc.dictionary_encode(table.column(k)).combine_chunks().indices for k in keys]
    approx = pc.cast(table.column(cost), pa.float64())
    order = pc.sort_indices(
        pa.table({**{f"k{i}": c for i, c in enumerate(codes)}, "cost": approx}),
        sort_keys=[*((f"k{i}", "ascending") for i in range(len(codes))), ("cost", "descending")],
    )
    ordered = pa.table({f"k{i}": c.take(order) for i, c in enumerate(codes)})
    # Without threads, group_by keeps the groups in the order they first appear: here, sorted.
    runs = ordered.group_by(list(ordered.column_names), use_threads=False).aggregate([([], "count_all")])
    floats = approx.take(order).to_pylist()
    picks: list[int] = []
    start = 0
    for size in runs.column("count_all").to_pylist():
        end = start + min(size, TOP_PER_GROUP)
        while end < start + size and floats[end] == floats[end - 1]:
            end += 1
        picks.extend(range(start, end))
        start += size
    candidates = table.take(order.take(pa.array(picks, pa.int64())))
    # Exactly: the first rows of each group by the exact cost, then the largest overall.
    exact = candidates.sort_by([*((k, "ascending") for k in keys), (cost, "descending")])
    runs = exact.select(list(keys)).group_by(list(keys), use_threads=False).aggregate([([], "count_all")])
    kept: list[int] = []
    start = 0
    for size in runs.column("count_all").to_pylist():
        kept.extend(range(start, start + min(size, TOP_PER_GROUP)))
        start += size
    return exact.take(pa.array(kept, pa.int64())).sort_by([(cost, "descending")]).slice(0, TOP_MAX)


def _top_calls(lines: Any, dictionaries: dict[str, list[Any]]) -> dict[str, Any]:
    """The most expensive calls of each (tenant, feature), with what explains their cost (the tokens)."""
    top = _top_per_group(lines, LABELS, "total_cost")
    day_index = {d: i for i, d in enumerate(dictionaries["day"])}
    return {
        "time": [t.isoformat(timespec="seconds") for t in top.column("timestamp").to_pylist()],
        "day": [day_index[d.isoformat()] for d in top.column("day").to_pylist()],
        **{d: _indexes(top.column(d), dictionaries[d]) for d in DIMENSIONS},
        "conversation": top.column("conversation").to_pylist(),
        "id": top.column("id").to_pylist(),
        **{c: top.column(c).to_pylist() for c in ("input_tokens", "cache_read_tokens", "output_tokens")},
        "total_cost": _money(top.column("total_cost")),
    }


def _top_conversations(lines: Any, dictionaries: dict[str, list[Any]]) -> dict[str, Any]:
    """The most expensive conversations of each (tenant, feature): calls, cost, first and last call."""
    import pyarrow.compute as pc

    narrow = lines.select([*LABELS, "conversation", "total_cost", "timestamp"])
    labelled = narrow.filter(pc.is_valid(narrow.column("conversation")))
    grouped = (
        summable(labelled, ["total_cost"])
        .group_by([*LABELS, "conversation"], use_threads=False)
        .aggregate([("total_cost", "count"), ("total_cost", "sum"), ("timestamp", "min"), ("timestamp", "max")])
    )
    grouped = narrowed(grouped, ["total_cost_sum"])
    top = _top_per_group(grouped, LABELS, "total_cost_sum")
    return {
        **{d: _indexes(top.column(d), dictionaries[d]) for d in LABELS},
        "conversation": top.column("conversation").to_pylist(),
        "calls": top.column("total_cost_count").to_pylist(),
        "first": [t.isoformat(timespec="seconds") for t in top.column("timestamp_min").to_pylist()],
        "last": [t.isoformat(timespec="seconds") for t in top.column("timestamp_max").to_pylist()],
        "total_cost": _money(top.column("total_cost_sum")),
    }


def _rejects(rejects: Any) -> list[list[Any]]:
    """Rejects as (reason, count), most frequent first: the engine's reasons, never the records' text."""
    if not rejects.num_rows:
        return []
    counts: dict[str, int] = {}
    grouped = rejects.group_by(["reason"], use_threads=False).aggregate([([], "count_all")])
    for reason, n in zip(grouped.column("reason").to_pylist(), grouped.column("count_all").to_pylist(), strict=True):
        key = reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
        counts[key] = counts.get(key, 0) + n
    return [[r, n] for r, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _meta(logs: PricedLogs, lines: Any, book: PriceBook | None, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The footer: the price book (which book, and where its entries that priced these lines came from) and the
    run's parameters — file names only (no folders, no query strings or credentials), never a record's text."""
    import pyarrow.compute as pc

    from tokenprice._core import PriceBook

    used = book if book is not None else PriceBook.default()
    origins: set[str] = set()
    newest: str | None = None
    if lines.num_rows:
        # The entries that priced the lines: each (model, provider) at each date an entry of it took effect.
        keys = ["priced_model", "priced_provider", "price_from"]
        entries = logs.table.select(keys).group_by(keys, use_threads=False).aggregate([])
        for model, provider, start in zip(*(entries.column(k).to_pylist() for k in keys), strict=True):
            if model is None or start is None:
                continue
            try:
                entry = used.price_at(model, at=start, provider=provider)
            except _core.TokenPriceError:
                continue
            if entry.get("origin"):
                origins.add(str(entry["origin"]))
            newest = max(newest or "", start.isoformat())
    files = sorted({os.path.basename(str(s)) for s in pc.unique(logs.table.column("source")).to_pylist() if s})
    run = {str(k): _parameter(v) for k, v in parameters.items() if v is not None}
    return {
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tokenprice": _core.__version__,
        "book": {
            "name": "built-in" if book is None else "given",
            "tokenprice": _core.__version__,
            "origins": sorted(origins),
            "newest_entry": newest,  # the latest date a price entry that priced these lines took effect
        },
        "files": files[:20],
        "file_count": len(files),
        "parameters": run,
        "timezone": "UTC",
        "top_per_group": TOP_PER_GROUP,
        "top_max": TOP_MAX,
    }


def _parameter(value: Any) -> Any:
    """A run parameter as the footer shows it: plain values as they are, paths as their file name."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, os.PathLike):
        return os.path.basename(os.fspath(value))
    if isinstance(value, (list, tuple)):
        return [_parameter(v) for v in value]
    return str(value)
