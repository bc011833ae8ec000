"""`price_logs`: price historical logs, every record at the price in force when it ran, and summarize the cost
by any label (tenant, feature, conversation, ...) and period."""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from tokenprice import _core
from tokenprice._columns import arrow_table, check_money, json_text, library_of, money_as, to_pandas, to_polars
from tokenprice._core import PriceBook
from tokenprice._display import logs_html, logs_text, mark, reconciliation_html, reconciliation_text
from tokenprice._progress import TextBar, TqdmBar, bar_for
from tokenprice._sums import narrowed, summable

COST_COLUMNS = list(_core.COST_COLUMNS)
PERIODS = ("day", "week", "month")


def _check_texts(**options: Any) -> None:
    """Text options (``format=``, ``model=``, ...) are None or a str that UTF-8 can hold."""
    for name, value in options.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise _core.InvalidTypeError(f"{name} must be a str or None, got {type(value).__name__}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _core.InvalidArgumentError(f"{name}={value!r} holds a lone surrogate") from None


def _keys(by: str | Sequence[str] | None, what: str = "by") -> list[str]:
    """``by`` (or another argument, ``what``) as a list of column names: None, one name, or a sequence of names."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and all(isinstance(k, str) for k in by):
        return list(by)
    raise _core.InvalidTypeError(f"{what} must be a column name or a list of names, got {by!r}")


def _paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Paths and globs, expanded in order. A name that exists is a file, whatever characters it holds
    (``day[1].jsonl``); a name that does not is a glob when it has glob characters (a pattern that matches nothing
    is an error, not an empty result). No file is read twice in one run: names that reach the same file (a link, a
    recursive glob through a linked folder) are kept once, at their first place."""
    if isinstance(source, (str, os.PathLike)):
        items: list[Any] = [source]
    elif isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source):
        items = list(source)
    else:
        raise _core.InvalidTypeError(f"source must be a path, a glob or a list of them, got {type(source).__name__}")
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    for item in items:
        text = os.fspath(item)
        if os.path.exists(text):
            if not os.path.isfile(text):
                raise _core.InputError(f"{_shown(text)}: not a file")
            matches = [text]
        elif any(c in text for c in "*?["):
            matches = sorted(m for m in glob.glob(text, recursive=True) if os.path.isfile(m))
            if not matches:
                raise _core.InputError(f"{_shown(text)}: no file matches this pattern")
        else:
            raise _core.InputError(f"{_shown(text)}: no such file")
        for path in matches:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                out.append(path)
    return out


def _shown(name: str) -> str:
    """A name as errors show it: a URL (``https://user:password@host/...``, a scheme tokenprice does not read)
    with its password and credential-like query parameters as ``***``, as a Postgres or object store URL is."""
    if "://" not in name:
        return name
    from tokenprice._secrets import redact_url

    return redact_url(name)


def _aggregate(table: Any, keys: list[str], period: str | None, tz: str, schema: Any = None) -> Any:
    """One table's totals per group: the keys (``period`` first when asked), ``rows`` and the sums. A key column
    this table lacks (a label none of its lines has) is added as nulls of its type in ``schema``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for key in keys:
        if key not in table.column_names:
            kind = schema.field(key).type if schema is not None else pa.string()
            table = table.append_column(key, pa.nulls(table.num_rows, kind))
    if period is not None:
        # The local wall time, floored as a plain (zone-less) time: a day whose midnight a clock change skips or
        # repeats still has its date (flooring in the zone would fail there).
        local = pc.local_timestamp(table.column("timestamp").cast(pa.timestamp("us", tz=tz)))
        start = pc.floor_temporal(local, unit=period, week_starts_monday=True)
        table = table.append_column("period", pc.cast(start, pa.date32()))
        keys = ["period", *keys]
    sums = [*COST_COLUMNS, "reported_cost"]
    table = summable(table, sums)
    grouped = table.group_by(keys, use_threads=False).aggregate([("line", "count")] + [(c, "sum") for c in sums])
    names = {"line_count": "rows", **{f"{c}_sum": c for c in sums}}
    return narrowed(grouped.rename_columns([names.get(c, c) for c in grouped.column_names]), sums)


# The columns of `.table` other than labels and counts, and those a run without rows can group by (the ledger's).
_FIXED, TOTALS_COLUMNS = (frozenset(c) for c in _core.log_columns())
# The columns a summary has besides its keys: no key can be one of them (a label of one of these names is the
# column `metadata.<name>`, as the ledger names it).
_SUMMED = frozenset([*_core.SUMMARY_COLUMNS, *COST_COLUMNS, "reported_cost"])


def check_keys(keys: Sequence[str]) -> None:
    """Keys a summary (or a run's totals) can group by: none of the columns it sums or adds (as the ledger says)."""
    for key in keys:
        if key in _SUMMED:
            raise _core.InvalidArgumentError(
                f"cannot group by '{key}': the summary has a column of that name (a label named '{key}' is the "
                f"column 'metadata.{key}')"
            )


def _check_period(period: str | None, tz: str) -> None:
    """A period must be one of PERIODS, and its zone one Arrow knows (a tz database name or an offset)."""
    if period is None:
        return
    if period not in PERIODS:
        raise _core.InvalidArgumentError(f"period must be one of {PERIODS} or None, not {period!r}")
    check_tz(tz)


def check_tz(tz: str) -> None:
    """A time zone Arrow knows: a tz database name or a UTC offset."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.local_timestamp(pa.array([0], pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=tz)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError) as e:
        raise _core.InvalidArgumentError(f"unknown time zone {tz!r}: {e}") from None


def labels_of(table: Any) -> list[str]:
    """The label columns of priced lines (tenant, feature, ... as the records carried them)."""
    return [c for c in table.column_names if c not in _FIXED and not c.endswith("_tokens")]


def needs_rows(by: Sequence[str]) -> bool:
    """Whether grouping by these columns needs the rows (a column a run without rows does not total by)."""
    counts = set(_core.usage_fields())
    return any((k in _FIXED and k not in TOTALS_COLUMNS) or k in counts for k in by)


def _grouping(keys: Sequence[str], period: str | None, tz: str) -> tuple[tuple[str, ...], str | None, str]:
    """A grouping as a run without rows records it (the zone matters only with a period)."""
    return tuple(keys), period, tz if period is not None else "UTC"


class PricedLogs:
    """The priced lines of a log (``.table``), the records that could not be priced (``.rejects``) and the counts:
    ``rows_read == rows_priced + rows_rejected``."""

    def __init__(
        self,
        table: Any,
        rejects: Any,
        rows_read: int,
        spilled: Sequence[str] = (),
        totals: tuple[Any, tuple[tuple[str, ...], str | None, str]] | None = None,
    ) -> None:
        import pyarrow as pa

        self._spilled = list(spilled)
        # The book the lines were priced with (None: the bundled one): what-ifs and reconciliation reprice with it.
        self.book: PriceBook | None = None
        # A run that kept no rows holds its totals (a summary) and the grouping they are for.
        self._totals = totals
        self._table: pa.Table | None = None
        if totals is not None:
            # A few groups: summed here (pyarrow.compute takes longer to import than the sum takes).
            self.rows_priced = sum(totals[0].column("rows").to_pylist())
        elif spilled:
            # Priced lines spilled to Arrow IPC files are memory-mapped, not read into memory.
            parts = [pa.ipc.open_file(pa.memory_map(path)).read_all() for path in spilled]
            self._table = pa.concat_tables(parts, promote_options="permissive")
        else:
            self._table = arrow_table(table)
        self.rejects: pa.Table = rejects if isinstance(rejects, pa.Table) else arrow_table(rejects)
        self.rows_read = rows_read
        # Objects of an object store that since=/until= skipped by their names, unread (their URLs).
        self.skipped_objects: list[str] = []
        if self._table is not None:
            self.rows_priced = self._table.num_rows
        self.rows_rejected = self.rejects.num_rows
        # The ledger gives totals in order already.
        self.last_summary: Any = (
            None if totals is None else self._finish(totals[0], [*totals[1][0]], totals[1][1], False)
        )
        if self.rows_priced + self.rows_rejected != self.rows_read:
            raise _core.InternalError(
                f"rows read ({rows_read}) != priced ({self.rows_priced}) + rejected ({self.rows_rejected})"
            )

    @property
    def table(self) -> Any:
        """The priced lines (Arrow). Not there for a run that kept no rows (``keep_rows=False``)."""
        if self._table is None:
            raise _core.InvalidArgumentError(self._no_rows())
        return self._table

    @property
    def keeps_rows(self) -> bool:
        """Whether this result holds its priced lines (``.table``), or only the totals it was asked for."""
        return self._table is not None

    def _no_rows(self) -> str:
        assert self._totals is not None
        keys, period, tz = self._totals[1]
        return (
            f"this run kept no rows (keep_rows=False): it holds the totals by {list(keys)}"
            + (f" per {period} ({tz})" if period else "")
            + " only; price the logs with keep_rows=True for .table, other groupings, reprice, savings and reconcile"
        )

    def __repr__(self) -> str:
        """The counts, the total, the most expensive groups and the rejects by reason, money rounded for display."""
        return logs_text(self)

    def _repr_html_(self) -> str:
        return logs_html(self)

    @property
    def total_cost(self) -> Decimal:
        """The exact total of every priced line."""
        if self._totals is not None:
            # Summed exactly (38 digits need more than the default context's 28).
            with localcontext() as exact:
                exact.prec = 80
                return +sum((v for v in self._totals[0].column("total_cost").to_pylist() if v is not None), Decimal(0))
        import pyarrow.compute as pc

        table = summable(self.table.select(["total_cost"]), ["total_cost"])
        value = pc.sum(table.column("total_cost")).as_py()
        return Decimal(0) if value is None else Decimal(value)

    def summary(
        self,
        by: str | Sequence[str] | None = None,
        period: str | None = None,
        tz: str = "UTC",
        *,
        money: str = "decimal",
    ) -> Any:
        """Totals per group: the ``by`` columns (labels such as tenant or feature, or any column of ``.table``),
        a ``period`` column (the day, ISO week — starting Monday — or month, in time zone ``tz``) when asked,
        ``rows``, the cost columns and ``total_cost`` (exact decimal sums), ``reported_cost``. The read, priced and
        rejected counts are in the schema metadata. ``money="float"``: the money columns as float64 (for plots),
        summed exactly first."""
        check_money(money)
        return money_as(self._summary(by, period, tz), money)

    def _summary(self, by: str | Sequence[str] | None, period: str | None, tz: str) -> Any:
        import pyarrow as pa

        keys = _keys(by)
        check_keys(keys)
        if self._totals is not None:
            if _grouping(keys, period, tz) != self._totals[1]:
                raise _core.InvalidArgumentError(self._no_rows())
            return self.last_summary
        for key in keys:
            # A log that priced nothing has no label columns: its summary is empty (the rejects say why).
            if key not in self.table.column_names and self.table.num_rows > 0:
                labels = labels_of(self.table)
                raise _core.InvalidArgumentError(f"no column {key!r} to group by; labels in these logs: {labels}")
        _check_period(period, tz)
        sums = [*COST_COLUMNS, "reported_cost"]
        group_keys = ["period", *keys] if period is not None else keys  # as `_aggregate` names them
        if self._spilled:
            # Spilled lines: one file at a time, each mapped only while it is summed, so memory stays bounded by a
            # file however many there are; the partial sums (exact decimals) are then summed.
            partials = []
            for path in self._spilled:
                with pa.memory_map(path) as source:
                    part = pa.ipc.open_file(source).read_all()
                    partials.append(_aggregate(part, keys, period, tz, self.table.schema))
                    del part
            grouped = summable(pa.concat_tables(partials, promote_options="permissive"), sums)
            totals = [("rows", "sum")] + [(c, "sum") for c in sums]
            grouped = grouped.group_by(group_keys, use_threads=False).aggregate(totals)
            names = {"rows_sum": "rows", **{f"{c}_sum": c for c in sums}}
            grouped = narrowed(grouped.rename_columns([names.get(c, c) for c in grouped.column_names]), sums)
            names = {}
        else:
            schema = self.table.schema
            for key in keys:
                if key not in schema.names:
                    schema = schema.append(pa.field(key, pa.string()))
            grouped = _aggregate(self.table, keys, period, tz, schema)
            names = {}
        grouped = grouped.rename_columns([names.get(c, c) for c in grouped.column_names])
        return self._finish(grouped, keys, period)

    def _finish(self, grouped: Any, keys: list[str], period: str | None, sort: bool = True) -> Any:
        """A summary's columns in order, its groups sorted (unless they are), the counts in its schema metadata."""
        group_keys = ["period", *keys] if period is not None else keys
        grouped = grouped.select([*group_keys, "rows", *COST_COLUMNS, "reported_cost"])
        if group_keys and sort:
            grouped = grouped.sort_by([(k, "ascending") for k in group_keys])
        counts = {"rows_read": self.rows_read, "rows_priced": self.rows_priced, "rows_rejected": self.rows_rejected}
        return mark(grouped.replace_schema_metadata({k: str(v) for k, v in counts.items()}), "summary")

    # -- repricing ---------------------------------------------------------------------------------------------

    def _usage_columns(self) -> list[str]:
        fields = set(_core.usage_fields())
        return [c for c in self.table.column_names if c in fields]

    def _reprice(
        self,
        *,
        model_map: dict[str, str] | None = None,
        service_tier: str | None = None,
        at: Any = None,
        book: PriceBook | None = None,
        without_cache: bool = False,
    ) -> Any:
        """Each line's total priced another way (a decimal128 column, null where the line cannot be priced so), by
        the engine (`tokenprice.ledger::reprice`); without another book, with the one the lines were priced with."""
        if model_map is not None and not (
            isinstance(model_map, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in model_map.items())
        ):
            raise _core.InvalidTypeError(f"model_map must be a dict of model names, got {model_map!r}")
        other = _core.reprice_lines(
            self.table,
            book=self.book if book is None else book,
            model_map=model_map,
            service_tier=service_tier,
            at=at,
            without_cache=without_cache,
        )
        return arrow_table(other).column("repriced")

    def reprice(
        self,
        by: str | Sequence[str] | None = None,
        *,
        model_map: dict[str, str] | None = None,
        service_tier: str | None = None,
        at: Any = None,
        book: PriceBook | None = None,
        money: str = "decimal",
    ) -> Any:
        """What the same usage would have cost another way — another model (``model_map={"gpt-4o":
        "gpt-4.1-mini"}``, on requested or priced names), tier (``service_tier="batch"``), price date (``at=``, e.g.
        today: "history at today's prices") or book — per group: ``rows``, ``total_cost``, ``repriced_cost``,
        ``difference`` (repriced − actual) and ``unpriced`` (lines the other way cannot price, left out of both
        sums); a ``by`` label named like one of these is the column ``metadata.<name>`` here, and ``by="total_cost"``
        an error. ``money="float"``: the money columns as float64."""
        check_money(money)
        other = self._reprice(model_map=model_map, service_tier=service_tier, at=at, book=book)
        return money_as(
            mark(_compare(self.table, other, by, "repriced_cost", "difference", "reprice"), "reprice"), money
        )

    def savings(self, by: str | Sequence[str] | None = None, *, money: str = "decimal") -> Any:
        """What prompt caching and gateway caching saved: each line at the same prices with no cache reads or
        writes (cached tokens charged as plain input) and no gateway cache hit, against what it cost. Columns:
        ``rows``, ``total_cost``, ``uncached_cost``, ``saved`` (uncached − actual), ``unpriced``; a ``by`` label
        named like one of these is the column ``metadata.<name>`` here. ``money="float"``: the money columns as
        float64."""
        check_money(money)
        other = self._reprice(without_cache=True)
        return money_as(mark(_compare(self.table, other, by, "uncached_cost", "saved", "savings"), "savings"), money)

    def reconcile(
        self, tolerance: tuple[str | Decimal | int, str | Decimal | int] = ("0.000001", "0.01")
    ) -> Reconciliation:
        """Checks the cost the logs report (``reported_cost``) against tokenprice's. ``tolerance`` is (absolute
        USD, relative): a line mismatches when |reported − computed| > absolute + relative × |computed|."""
        values = []
        for name, value in zip(("absolute", "relative"), _pair(tolerance), strict=True):
            try:
                d = Decimal(str(value)) if not isinstance(value, (bool, float)) else None
            except ArithmeticError:
                d = None
            if d is None or not d.is_finite() or d < 0:
                raise _core.InvalidArgumentError(
                    f"reconcile tolerance: the {name} part must be a non-negative number (str, int or Decimal), "
                    f"not {value!r}"
                )
            values.append(d)
        return Reconciliation(self, values[0], values[1])

    def to_pandas(self, *, money: str = "decimal") -> Any:
        """The priced lines as a pandas frame: money as exact Python Decimals (``money="decimal"``, the default:
        subtraction, division by a count, sums, means and groupby are exact) or float64 (``money="float"``: what
        ``.plot()`` and statistics libraries take); other columns in their Arrow types (``pd.ArrowDtype``)."""
        return to_pandas(self.table, check_money(money))

    def to_polars(self, *, money: str = "decimal") -> Any:
        """The priced lines as a polars frame: money as Decimal(38, 18) (exact; polars does the arithmetic) or
        Float64 with ``money="float"``."""
        return to_polars(self.table, check_money(money))

    def report(
        self,
        path: str | os.PathLike[str],
        *,
        title: str = "LLM cost report",
        book: PriceBook | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, int]:
        """Writes the cost report: one self-contained HTML file that opens offline (Plotly's JavaScript inlined;
        ``pip install tokenprice[report]``) with totals, spend over time, top tenants, features, models, calls and
        conversations, per-call cost per feature, cache savings, the reconciliation and the rejects, and filters for
        tenant, feature, model and dates. It embeds aggregates, not rows (docs/report.md). ``book``: the book the
        logs were priced with, for the cache savings and the footer (default: ``self.book``, the one they were
        priced with by ``price_logs``); ``parameters``:
        the run's options to show in the footer. Returns the sizes in bytes of the embedded data (``payload``) and
        of the file (``file``), and the number of cube cells (``cells``)."""
        from tokenprice._report import write_report

        book = self.book if book is None else book
        return write_report(self, path, title=title, book=book, parameters=parameters)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Writes the priced lines as Parquet, CSV or JSON Lines (by extension); rejects go next to them
        (``<name>.rejects.<ext>``) when there are any — and an earlier run's rejects file there is removed when
        there are none, so the folder never shows rejects of another run. The folder must exist."""
        if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
            raise _core.InvalidTypeError(f"write(path): path must be a str or os.PathLike, got {type(path).__name__}")
        target = Path(path)
        if not target.parent.is_dir():
            raise _core.InputError(f"{target}: cannot write, no folder {str(target.parent)!r}")
        _write(self.table, target)
        rejects = rejects_path(target)
        if self.rows_rejected:
            _write(self.rejects, rejects)
        elif rejects.is_file() or rejects.is_symlink():
            rejects.unlink()


def rejects_path(target: Path) -> Path:
    """Where ``write(target)`` puts the rejects: ``<name>.rejects.<ext>`` beside the priced lines."""
    return target.with_name(f"{target.stem}.rejects{target.suffix}")


def _pair(tolerance: Any) -> tuple[Any, Any]:
    """A reconcile tolerance as its (absolute, relative) parts."""
    if isinstance(tolerance, (tuple, list)) and len(tolerance) == 2:
        return tolerance[0], tolerance[1]
    raise _core.InvalidArgumentError(f"reconcile tolerance must be (absolute USD, relative), not {tolerance!r}")


# The columns reprice() and savings() add beside their keys, `rows` and `total_cost` (the ledger's list): a label
# of one of these names keeps its name in `.table` and is the column `metadata.<name>` in their results.
COMPARISON_COLUMNS = tuple(_core.COMPARISON_COLUMNS)


def label_column_in(label: str, taken: Sequence[str], labels: Sequence[str]) -> str:
    """A label's column in a result that has columns named ``taken`` besides its labels: its own name, or
    ``metadata.<name>`` for a taken one, prefixed again while that is another label's name (as the ledger's
    ``label_column_in`` names the labels of a reconciliation's mismatches)."""
    name = label
    while name in taken or (name != label and name in labels):
        name = f"metadata.{name}"
    return name


def _compare(table: Any, other: Any, by: str | Sequence[str] | None, name: str, difference: str, what: str) -> Any:
    """Per group (``what``: reprice or savings): rows, total_cost, the other total (``name``), their difference
    (other − actual, named ``difference``) and the lines the other way could not price. A label named like one of
    these columns (COMPARISON_COLUMNS) is the key column ``metadata.<name>``; grouping by a column of the lines
    that the result has (``total_cost``) is an error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _keys(by)
    for key in keys:
        if key in ("rows", "total_cost"):
            raise _core.InvalidArgumentError(
                f"cannot group by '{key}': {what}() has a column of that name (a label named '{key}' is the column "
                f"'metadata.{key}')"
            )
        if key not in table.column_names:
            raise _core.InvalidArgumentError(f"no column {key!r} to group by")
    names = [label_column_in(k, COMPARISON_COLUMNS, keys) for k in keys]
    # Grouped under names of its own (a label named `total_cost_sum` would be taken for the sum), named at the end.
    inner = [f"key{i}" for i in range(len(keys))]
    ok = pc.is_valid(other)
    t = table.select(keys).rename_columns(inner)
    t = t.append_column("total_cost", table.column("total_cost")).append_column("other", other)
    priced = summable(t.filter(ok), ["total_cost", "other"])
    grouped = priced.group_by(inner, use_threads=False).aggregate(
        [("total_cost", "count"), ("total_cost", "sum"), ("other", "sum")]
    )
    sums = {"total_cost_count": "rows", "total_cost_sum": "total_cost", "other_sum": name}
    grouped = grouped.rename_columns([sums.get(c, c) for c in grouped.column_names])
    grouped = narrowed(grouped, ["total_cost", name])
    diff = [
        None if a is None or b is None else b - a
        for a, b in zip(grouped.column("total_cost").to_pylist(), grouped.column(name).to_pylist(), strict=True)
    ]
    grouped = grouped.append_column(difference, pa.array(diff, pa.decimal128(38, 18)))
    unpriced = t.filter(pc.invert(ok)).group_by(inner, use_threads=False).aggregate([("total_cost", "count")])
    counts = {tuple(r[k] for k in inner): r["total_cost_count"] for r in unpriced.to_pylist()}
    grouped = grouped.append_column(
        "unpriced", pa.array([counts.get(tuple(r[k] for k in inner), 0) for r in grouped.to_pylist()], pa.int64())
    )
    grouped = grouped.select([*inner, "rows", "total_cost", name, difference, "unpriced"])
    grouped = grouped.rename_columns([*names, "rows", "total_cost", name, difference, "unpriced"])
    return grouped.sort_by([(k, "ascending") for k in names]) if names else grouped


# The causes of a mismatch, in the order they are tried (the ledger's).
CAUSES = tuple(_core.RECONCILE_CAUSES)


class Reconciliation:
    """Reported against computed cost: ``mismatches`` (lines beyond the tolerance, largest difference first, each
    with its likely cause and the line's labels — ``metadata.<name>`` for a label named like a column of its own,
    such as ``cause``), the totals, ``causes`` (a count per cause) and ``cause_costs``
    (the differences summed per cause, exact).

    Causes, tried in this order: ``gateway cache hit`` (the source charged a call its gateway answered from
    cache); ``gateway reported 0`` (the source reported 0 for usage that costs something: it did not price the
    model or did not read the usage); ``no price for the model`` (the records tokenprice itself could not price for
    that reason, with no money); ``long context tier`` (prompt above 200K tokens); ``batch/tier`` (the report
    matches the standard tier's price); ``price date`` (it matches today's price, not the one in force then);
    ``cache charged twice`` (it matches the price with the cache tokens charged as plain input and again at their
    cache price); ``cache tokens ignored`` (it matches the price with the cache tokens charged as plain input);
    ``cache priced differently`` (it lies between the price with the cache tokens free and charged twice);
    ``unexplained``. The ledger compares the
    lines column by column and prices the other ways only the lines that mismatch."""

    def __init__(self, logs: PricedLogs, absolute: Decimal, relative: Decimal) -> None:
        table, compared, reported, computed, causes = _core.reconcile_lines(
            logs.table, logs.rejects, book=logs.book, absolute=format(absolute, "f"), relative=format(relative, "f")
        )
        self.mismatches = mark(arrow_table(table), "mismatches")
        self.compared: int = compared
        self.reported_total = _money(reported) if compared else Decimal(0)
        self.computed_total = _money(computed) if compared else Decimal(0)
        self.causes: dict[str, int] = {c: n for c, n, _ in causes}
        self.cause_costs: dict[str, Decimal] = {c: _money(m) if n else Decimal(0) for c, n, m in causes}

    def to_pandas(self, *, money: str = "decimal") -> Any:
        """The mismatches as a pandas frame, money as ``PricedLogs.to_pandas`` has it."""
        return to_pandas(self.mismatches, check_money(money))

    def to_polars(self, *, money: str = "decimal") -> Any:
        """The mismatches as a polars frame, money as ``PricedLogs.to_polars`` has it."""
        return to_polars(self.mismatches, check_money(money))

    def __repr__(self) -> str:
        """The totals, the mismatches and their causes (counts and money), money rounded for display."""
        return reconciliation_text(self)

    def _repr_html_(self) -> str:
        return reconciliation_html(self)


def _money(text: str) -> Decimal:
    """Exact decimal text from the core as a Decimal of 18 places (as a decimal128(38, 18) value reads)."""
    with localcontext() as exact:
        exact.prec = 80
        return Decimal(text).quantize(Decimal("1e-18"))


def _write(table: Any, path: Path) -> None:
    try:
        _write_as(table, path)
    except OSError as e:
        raise _core.InputError(f"{path}: cannot write: {e}") from None


def _write_as(table: Any, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("w", encoding="utf-8") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row, default=str) + "\n")
    else:
        raise _core.InvalidArgumentError(f"{path}: write .parquet, .csv or .jsonl")


@dataclasses.dataclass(frozen=True)
class LogOptions:
    """How to price records: the keywords of ``price_logs`` that say how, checked when given; ``core()`` is the
    dict the core's entry points take."""

    book: PriceBook | None = None
    format: str | None = None
    provider: str | None = None
    model: str | None = None
    default_at: Any = None
    service_tier: str | None = None
    approximate: bool = False
    num_threads: int | None = None

    def __post_init__(self) -> None:
        _check_texts(format=self.format, provider=self.provider, model=self.model, service_tier=self.service_tier)

    def core(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _store_url(text: object) -> bool:
    """Whether ``text`` names objects of a store (``s3://...``); the storage module (threads, its listing) loads
    only for a text with a scheme, so pricing local files never imports it."""
    if not isinstance(text, str) or "://" not in text:
        return False
    from tokenprice import _storage

    return _storage.is_url(text)


def price_logs(
    source: Any,
    format: str | None = None,
    by: str | Sequence[str] | None = None,
    book: PriceBook | None = None,
    *,
    provider: str | None = None,
    model: str | None = None,
    default_at: Any = None,
    service_tier: str | None = None,
    approximate: bool = False,
    num_threads: int | None = None,
    spill: bool | None = None,
    spill_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int, int], object] | bool | None = None,
    period: str | None = None,
    tz: str = "UTC",
    keep_rows: bool = True,
    max_line_bytes: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    since: Any = None,
    until: Any = None,
    table: str | None = None,
    state: str | os.PathLike[str] | None = None,
) -> PricedLogs:
    """Prices logs: ``source`` is a path, a glob or a list of them (JSON Lines or a JSON array, plain, gzip or
    zstd; or Parquet or CSV files whose rows are records), a list of records (dicts or JSON text), or an
    Arrow-compatible table whose rows are records.

    Or objects of an object store: ``s3://bucket/logs/**/*.log.gz`` (also ``r2://``, ``gs://``, ``az://``), read
    as files are, with ``storage_options`` (credentials, ``endpoint_url``, ``region``…; shown as ``***``
    everywhere) and ``since``/``until``, which skip the objects whose Logpush folder (``{DATE}``) or name
    (``<start>_<end>_…``) says they hold no record of the window, without reading them (docs/object-storage.md).

    Each record's usage is read by its format (detected per record, or ``format=``), priced at its own
    timestamp (``default_at=`` for records without one), with its labels as columns. With ``by`` (and ``period``,
    ``tz``), the result's ``last_summary`` holds ``.summary(by, period, tz)``.

    ``keep_rows=False``: only those totals are wanted (as on the command line without ``--out``). Each line is
    added to its group as it is priced — no rows are built, spilled or read back, which is faster and needs no
    disk — and the result holds the totals (``last_summary``, ``summary(by, period, tz)``, ``total_cost``), the
    counts and the rejects, but no ``.table`` (nor reprice, savings, reconcile). ``by`` may then name labels and
    the text columns ``source``, ``id``, ``provider``, ``model``, ``served_model``, ``service_tier``, ``status``,
    ``usage_source``, ``priced_provider``, ``priced_model``. Nothing is spilled (``spill``, ``spill_dir`` are not
    used).

    Memory: files are read in blocks; with ``spill=True`` (by default, once more than 64 MB have been read,
    decompressed) each block's priced lines are written to an Arrow IPC file in a fresh private folder of the
    run's own inside ``spill_dir`` (default: the system's temporary folder), removed when the result is, and
    ``.table`` memory-maps them, so memory stays bounded however large the input. A line (or an element of a JSON
    array) longer than ``max_line_bytes`` (default 128 MiB) is not read: it is a reject naming its size. A file
    that is one JSON array is read element by element.

    Records without usage but with their request and response texts (a stream sent without
    ``stream_options.include_usage``) are counted with the model's tokenizer: ``usage_source`` is ``counted``
    (``reported`` for usage the source gave). Models whose tokenizer is not public (Claude, Gemini) are rejected
    with that reason, unless ``approximate=True`` (then estimated with o200k_base and marked ``approximate``).

    ``progress=True`` shows a progress bar while files are read — tqdm's (its notebook widget in Jupyter) when
    tqdm is installed, a one-line bar on stderr otherwise — with the data read (decompressed), records, records/s
    and the time left; none when no one watches (stderr not a terminal, outside a notebook). A callable is called
    after each block of a file with (path, bytes of the file read, records read so far); an exception it raises
    stops the run.

    A Postgres URL (``postgresql://user:password@host/db``, or a ``Secret`` holding one) reads a LiteLLM proxy's
    spend logs from its database: ``table`` (default ``LiteLLM_SpendLogs``), ``since``/``until`` on ``startTime``
    and the checkpoint file ``state``, as ``tokenprice.sources.litellm`` does (docs/litellm-postgres.md); the rows
    are read by the core as a file's lines are, so ``keep_rows``, ``spill``, ``max_line_bytes`` and ``progress`` hold
    there too (``approximate`` and ``default_at`` are refused: a spend-log row always has its usage and time).
    """
    from tokenprice.sources.litellm import is_database_url

    if is_database_url(source):
        from tokenprice.sources.litellm import DEFAULT_TABLE, litellm

        if format is not None and format != "litellm":
            raise _core.InvalidArgumentError("a Postgres source is priced with format='litellm'")
        if storage_options is not None:
            raise _core.InvalidArgumentError("storage_options= is for object storage URLs, not a Postgres URL")
        # Options a Postgres source does not take are refused, never dropped without a word.
        unused = [
            name for name, given in (("approximate", approximate), ("default_at", default_at is not None)) if given
        ]
        if unused:
            raise _core.InvalidArgumentError(f"{', '.join(unused)}: not taken for a Postgres URL")
        return litellm(
            source,
            table or DEFAULT_TABLE,
            since=since,
            until=until,
            state=state,
            by=by,
            period=period,
            tz=tz,
            book=book,
            provider=provider,
            model=model,
            service_tier=service_tier,
            num_threads=num_threads,
            progress=progress,
            keep_rows=keep_rows,
            spill=spill,
            spill_dir=spill_dir,
            max_line_bytes=max_line_bytes,
        )
    if table is not None or state is not None:
        raise _core.InvalidArgumentError("table= and state= are for a Postgres URL")
    _check_texts(format=format, provider=provider, model=model, service_tier=service_tier, period=period, tz=tz)
    if max_line_bytes is not None and (isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int)):
        raise _core.InvalidTypeError(f"max_line_bytes must be an int, got {type(max_line_bytes).__name__}")
    options = LogOptions(
        book=book,
        format=format,
        provider=provider,
        model=model,
        default_at=default_at,
        service_tier=service_tier,
        approximate=approximate,
        num_threads=num_threads,
    ).core()
    urls = [source] if isinstance(source, str) else source if isinstance(source, (list, tuple)) else []
    if urls and all(_store_url(u) for u in urls):
        result = _price_objects(
            list(urls),
            storage_options,
            since,
            until,
            options,
            progress,
            max_line_bytes,
            spill,
            spill_dir,
            keep_rows,
            by,
            period,
            tz,
        )
        result.book = book
        return result
    if storage_options is not None or since is not None or until is not None or any(_store_url(u) for u in urls):
        raise _core.InvalidArgumentError(
            "storage_options=, since= and until= are for object storage URLs (s3://, r2://, gs://, az://), "
            "and a run's sources are all URLs or all local"
        )
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (list, tuple))
        and source
        and all(isinstance(s, (str, os.PathLike)) for s in source)
        and not any(str(s).lstrip().startswith(("{", "[")) for s in source)
    ):
        paths = _paths(source)
        report, bar = _reporter(progress, paths)
        try:
            if any(_is_tabular(p) for p in paths):
                result = _price_mixed(paths, options, max_line_bytes, report)
            elif not keep_rows:
                run = functools.partial(_core.price_log_files, paths, options)
                result = _price_totals(run, report, max_line_bytes, by, period, tz)
                result.book = book
                return result
            else:
                run = functools.partial(_core.price_log_files, paths, options)
                result = _price_files(run, report, max_line_bytes, spill, spill_dir)
        finally:
            if bar is not None:
                bar.close()
    else:
        priced, rejects, read = _core.price_log_texts(_texts(source), options)
        result = PricedLogs(priced, rejects, read)
    if by is not None or period is not None or not keep_rows:
        result.last_summary = result.summary(by, period, tz)
    if not keep_rows:
        # Rows priced in memory (tables, records, tabular files): only their totals are kept.
        keys = _keys(by)
        grouped = result.last_summary.replace_schema_metadata(None)
        kept = (grouped, _grouping(keys, period, tz))
        result = PricedLogs(None, result.rejects, result.rows_read, totals=kept)
    result.book = book
    return result


# What the ledger calls after each block: (path, bytes of the file taken, records so far, bytes read decompressed).
Report = Callable[[str, int, int, int], object]


def _reporter(progress: object, paths: Sequence[str]) -> tuple[Report | None, TextBar | TqdmBar | None]:
    """``progress=`` as the ledger's callback, and the bar to close after the run: ``True`` a bar when someone
    watches, a bar of our own (the command line's) as it is, a callable of (path, bytes, records)."""
    if progress is True:
        bar = bar_for(paths)
        return bar, bar
    if progress is None or progress is False:
        return None, None
    if isinstance(progress, (TextBar, TqdmBar)):
        return progress, None
    if not callable(progress):
        raise _core.InvalidTypeError(
            f"progress must be True, False, None or a callable (path, bytes, records), not {type(progress).__name__}"
        )
    user = progress
    return (lambda path, taken, records, _read: user(path, taken, records)), None


def _price_objects(
    urls: list[str],
    storage_options: Mapping[str, Any] | None,
    since: Any,
    until: Any,
    options: dict[str, Any],
    progress: object,
    max_line_bytes: int | None,
    spill: bool | None,
    spill_dir: str | os.PathLike[str] | None,
    keep_rows: bool,
    by: str | Sequence[str] | None,
    period: str | None,
    tz: str,
) -> PricedLogs:
    """Objects of an object store, read by the core as files are, each handed over as it is listed (the window
    skipping what it can), so pricing starts with the first objects listed."""
    from tokenprice import _storage

    planned = _storage.plan(urls, storage_options, since, until)
    objects = planned.objects()
    # The objects' sizes are not known before they are listed: the bar counts what was read, without a total.
    report, bar = _reporter(progress, [])
    try:
        run = functools.partial(_storage.price_objects, _core.price_log_files, objects, options=options)
        if not keep_rows:
            result = _price_totals(run, report, max_line_bytes, by, period, tz)
        else:
            result = _price_files(run, report, max_line_bytes, spill, spill_dir)
            if by is not None or period is not None:
                result.last_summary = result.summary(by, period, tz)
    finally:
        if bar is not None:
            bar.close()
    if not objects.handed:
        skipped = planned.listing
        raise _core.InputError(
            f"{_storage.shown(urls[0], planned.secrets)}: no object left to read: the window skipped "
            f"{len(skipped.skipped_objects)} objects and {len(skipped.skipped_folders)} date folders"
        )
    result.skipped_objects = [planned.location.url(k) for k in planned.listing.skipped_objects]
    return result


def _price_totals(
    run: Callable[..., Any],
    progress: Report | None,
    max_line_bytes: int | None,
    by: str | Sequence[str] | None,
    period: str | None,
    tz: str,
) -> PricedLogs:
    """JSON logs (``run``: the core over files or objects) totalled by ``by`` as they are priced, no rows kept."""
    _check_period(period, tz)
    keys = _keys(by)
    priced, rejects, read, _, totals, _ = run(
        progress=progress, totals_by=keys, period=period, tz=tz, max_line_bytes=max_line_bytes
    )
    return PricedLogs(priced, rejects, read, totals=(arrow_table(totals), _grouping(keys, period, tz)))


def _price_files(
    run: Callable[..., Any],
    progress: Report | None,
    max_line_bytes: int | None,
    spill: bool | None,
    spill_dir: str | os.PathLike[str] | None,
) -> PricedLogs:
    """JSON logs (``run``: the core over files or objects) through the streaming reader, spilling priced lines to
    disk when asked or when large (the core decides on the bytes it read, into a folder of the run's own, removed
    with the result)."""
    folder = os.fspath(spill_dir) if spill_dir is not None else tempfile.gettempdir()
    priced, rejects, read, spilled, _, run_dir = run(
        progress=progress, max_line_bytes=max_line_bytes, spill=spill, spill_dir=folder
    )
    result = PricedLogs(priced, rejects, read, spilled)
    if run_dir is not None:
        weakref.finalize(result, shutil.rmtree, run_dir, True)
    return result


def _is_tabular(path: str) -> bool:
    name = path.lower()
    return name.endswith((".parquet", ".pq", ".csv", ".csv.gz", ".csv.zst"))


def _tabular_texts(path: str) -> list[str | None]:
    """A Parquet or CSV log file as the JSON text of its records (one a row; its columns are the record's fields).
    A file pyarrow cannot read (a row of another width, not Parquet, a compressed stream cut short) is an
    ``InputError`` naming it, and the row where pyarrow says it. A CSV file with nothing in it — no bytes, or white
    space and a byte order mark only, decompressed — is no records, as an empty JSON Lines file is; a header alone
    is no rows already."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = path.lower().endswith((".parquet", ".pq"))
    try:
        return _texts(pq.read_table(path)) if parquet else _csv_texts(_read_csv(path))
    except (pa.ArrowException, OSError) as e:
        message = str(e)
        if not parquet and "Empty CSV file" in message and _holds_nothing(path):
            return []
        if not parquet and "CSV parse error" in message and "Row #" not in message:
            message = _csv_error_with_row(path) or message
        raise _core.InputError(f"{_shown(path)}: cannot be read as {_tabular_kind(path)}: {_tidy(message)}") from None


def _read_csv(path: str) -> Any:
    """A CSV file with every cell as its text: pyarrow infers no type (``0012`` stays ``0012``, ``1.50`` stays
    ``1.50``, ``NULL`` and ``NA`` are texts); an empty cell is a null, as CSV writers write one (pyarrow, pandas,
    Postgres' ``COPY``), and a quoted empty cell (``""``) the empty text."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with pcsv.open_csv(path) as header:  # the header (only the first block is read)
        names = header.schema.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _core.InputError(f"{_shown(path)}: the header names {', '.join(map(repr, repeated))} more than once")

    def options(kind: Any) -> Any:
        return pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, kind),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )

    try:
        return pcsv.read_csv(path, convert_options=options(pa.string()))
    except pa.ArrowInvalid as e:
        if "invalid UTF8" not in str(e):
            raise
    # A cell that is not UTF-8 (a CSV is text: its JSON record could not hold it): the file is an error naming the
    # first such cell, as a JSON Lines file's line is a reject naming its byte.
    raw = pcsv.read_csv(path, convert_options=options(pa.binary()))
    for name, column in zip(raw.column_names, raw.columns, strict=True):
        for row, cell in enumerate(column.to_pylist()):
            try:
                _ = cell is None or cell.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise _core.InputError(
                    f"{_shown(path)}: row {row + 2} (the header is row 1), column {name!r}: not UTF-8 text "
                    f"({bad.reason} at byte {bad.start} of the cell): re-encode the file as UTF-8"
                ) from None
    raise _core.InputError(f"{_shown(path)}: cannot be read as CSV: not UTF-8 text")


# The cells a column of booleans holds (pyarrow's words for them, without its "1" and "0", which are numbers).
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")
# JSON's escapes of the control characters a string cannot hold as they are (RFC 8259, section 7).
_CONTROL = {chr(c): f"\\u{c:04x}" for c in range(32)} | {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _csv_texts(table: Any) -> list[str | None]:
    """A CSV table of text columns (``_read_csv``) as one JSON object a row, built column by column by Arrow: a
    cell is a JSON string of its text and a null is ``null``, so the record is the one a JSON Lines file holds with
    every value quoted; a column whose cells are all ``true``/``false`` (pyarrow's words; empty cells aside) is
    read as booleans, which no format reads from text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return []
    # The texts to join a row of: fixed texts between the columns' values ('{"a":"', a, '","b":', b, '}').
    parts: list[Any] = []
    before = "{"
    for name, column in zip(table.column_names, table.columns, strict=True):
        key = json.dumps(name)
        plain = column if column.null_count == 0 else pc.fill_null(column, "")
        truth, falsity = pc.is_in(plain, value_set=pa.array(_TRUE)), pc.is_in(plain, value_set=pa.array(_FALSE))
        word = pc.or_(truth, falsity)
        if pc.any(word).as_py() and pc.all(pc.or_(word, pc.equal(plain, ""))).as_py():
            value, quote = pc.if_else(truth, "true", pc.if_else(falsity, "false", '""')), ""
        else:
            value, quote = _json_escaped(column), '"'
        if column.null_count == 0:
            parts += [f"{before}{key}:{quote}", value]
            before = quote
        else:
            member = pc.binary_join_element_wise(f"{key}:{quote}", value, quote, "")
            parts += [before, pc.if_else(pc.is_null(column), f"{key}:null", member)]
            before = ""
        before += ","
    parts.append(before[:-1] + "}")
    return pc.binary_join_element_wise(*parts, "").to_pylist()  # type: ignore[no-any-return]


def _json_escaped(column: Any) -> Any:
    """A string column's texts as the inside of JSON strings: backslash, quote and control characters escaped.
    Each is looked for first, in the bytes of the column's data (a byte of UTF-8 below 0x80 is that character;
    bytes past the texts can only make it look, and then find nothing to replace), so a column that needs no
    escape is neither scanned as text nor copied."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = [c.buffers()[2] for c in column.chunks]
    octets = pa.chunked_array([pa.Array.from_buffers(pa.uint8(), d.size, [None, d]) for d in data if d], pa.uint8())
    for byte in (0x5C, 0x22):  # backslash first: the escapes that follow add their own
        if pc.any(pc.equal(octets, byte)).as_py():
            column = pc.replace_substring(column, chr(byte), "\\" + chr(byte))
    if pc.any(pc.less(octets, 0x20)).as_py():
        for char, escape in _CONTROL.items():
            column = pc.replace_substring(column, char, escape)
    return column


def _tabular_kind(path: str) -> str:
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "Parquet"
    return "gzip CSV" if name.endswith(".gz") else "zstd CSV" if name.endswith(".zst") else "CSV"


def _tidy(message: str) -> str:
    """A pyarrow message without the prefixes that restate the file or the kind: its reason, the row named as
    the file's row (the header is row 1)."""
    import re

    message = re.sub(r"^Could not open Parquet input source '.*?': ", "", message, flags=re.S)
    message = message.removeprefix("CSV parse error: ")
    return re.sub(r"^Row #(\d+): ", r"row \1 (the header is row 1): ", message)


def _holds_nothing(path: str) -> bool:
    """Whether a CSV file holds only white space (after a UTF-8 byte order mark), decompressed as pyarrow reads
    it; False when it cannot be read."""
    import pyarrow as pa

    try:
        with pa.input_stream(path, compression="detect") as stream:
            start = True
            while chunk := stream.read(1 << 20):
                if start:
                    chunk, start = chunk.removeprefix(b"\xef\xbb\xbf"), False
                if chunk.strip():
                    return False
    except (pa.ArrowException, OSError):
        return False
    return True


def _csv_error_with_row(path: str) -> str | None:
    """pyarrow's parse error of a CSV file read on one thread, which numbers the row it failed on (None when that
    reading fails otherwise or not at all)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=False))
    except (pa.ArrowException, OSError) as e:
        return str(e) if "CSV parse error" in str(e) else None
    return None


def _price_mixed(
    paths: list[str],
    options: dict[str, Any],
    max_line_bytes: int | None,
    progress: Report | None = None,
) -> PricedLogs:
    """Files of both kinds: JSON files through the streaming reader, tabular ones row by row. ``progress`` sees
    (path, bytes of the file read, records read so far over all files): after each block of a JSON file, once
    after a tabular one."""
    import pyarrow as pa

    tables, rejects, read = [], [], 0
    for path in paths:
        if _is_tabular(path):
            p, r, n = _core.price_log_texts(_tabular_texts(path), options, source=path)
            if progress is not None:
                size = os.path.getsize(path)
                progress(path, size, read + n, size)
        else:
            report = None if progress is None else _offset(progress, read)
            p, r, n, _, _, _ = _core.price_log_files(
                [path], options, progress=report, max_line_bytes=max_line_bytes, spill=False
            )
        tables.append(arrow_table(p))
        rejects.append(arrow_table(r))
        read += n
    table = pa.concat_tables(tables, promote_options="permissive")
    return PricedLogs(table, pa.concat_tables(rejects, promote_options="permissive"), read)


def _offset(progress: Report, before: int) -> Report:
    """A progress callback of one file that reports the records of the files before it too."""
    return lambda path, taken, records, read: progress(path, taken, before + records, read)


def _texts(source: Any) -> list[str | None]:
    kind = library_of(source)
    if kind == "pyarrow":
        import pyarrow as pa

        if isinstance(source, (pa.Array, pa.ChunkedArray)):  # a column of JSON lines (or of records as structs)
            items = source.to_pylist()
            return [
                v.decode("utf-8", errors="replace")
                if isinstance(v, bytes)
                else v
                if v is None or isinstance(v, str)
                else json_text(v)
                for v in items
            ]
    if kind == "pandas" and hasattr(source, "columns"):
        return [json_text(r) for r in _frame_rows(source)]
    if kind in ("pyarrow", "polars", "duckdb") or (kind != "pandas" and hasattr(source, "__arrow_c_stream__")):
        import pyarrow as pa

        return [json_text(r) for r in pa.table(source).to_pylist()]
    if not isinstance(source, (list, tuple)):
        raise _core.InvalidTypeError(f"source must be paths, a list of records or a table, got {type(source).__name__}")
    out: list[str | None] = []
    for index, item in enumerate(source):
        if item is None or isinstance(item, str):
            out.append(item)
        elif isinstance(item, bytes):
            out.append(item.decode("utf-8", errors="replace"))
        else:
            try:
                out.append(json_text(item))
            except (ValueError, RecursionError) as e:  # a record that holds itself, or nests past Python's limit
                raise _core.InvalidArgumentError(f"source[{index}]: cannot be read as JSON: {e}") from None
    return out


def _frame_rows(frame: Any) -> list[dict[Any, Any]]:
    """A pandas DataFrame's rows as records, a missing value (``NaN`` in a float column, ``None``, ``NaT``,
    ``pd.NA``) as a null, as ``extract_usages`` reads a frame (a NaN that is a value, in a pyarrow-backed column,
    stays a float). Through Arrow, column by column; a frame Arrow cannot hold (an object column mixing dicts and
    texts) row by row, its missing values masked first."""
    import pyarrow as pa

    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise _core.InvalidArgumentError(f"the frame's column names repeat: {columns}")
    try:
        return pa.Table.from_pandas(frame, preserve_index=False).to_pylist()  # type: ignore[no-any-return]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        plain = frame.astype(object)
        return plain.where(frame.notna(), None).to_dict("records")  # type: ignore[no-any-return]
