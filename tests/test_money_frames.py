"""Money in pandas and polars: every table tokenprice returns (price_table's result, PricedLogs.table, a summary, a
reconciliation's mismatches, reprice and savings), as pandas and as polars, with ``money="decimal"`` (the default:
exact) and ``money="float"``, takes the analyst's first checks — subtraction, division by a count, sum, mean,
groupby and a plot — with the exact answer (decimal) or the exact answer as a float (float)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the plots are drawn off screen

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pytest  # noqa: E402

import tokenprice  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "logs" / "gateway.jsonl.gz"
MONEY = pa.decimal128(38, 18)


@pytest.fixture(scope="module")
def logs() -> tokenprice.PricedLogs:
    return tokenprice.price_logs(SAMPLE)


@dataclass
class Case:
    """A table tokenprice returns: how to get it as a frame, its exact (Arrow) form, two money columns to subtract,
    a count to divide by (None: divide a group's sum by its number of rows) and a label to group by."""

    make: Callable[[tokenprice.PricedLogs, str, str], Any]
    exact: Callable[[tokenprice.PricedLogs], pa.Table]
    a: str
    b: str
    count: str | None
    group: str


def _usage(logs: tokenprice.PricedLogs) -> pa.Table:
    return logs.table.select(["model", "provider", "timestamp", "tenant", "input_tokens", "output_tokens"])


def _frame(table: pa.Table, lib: str) -> Any:
    return table.to_pandas() if lib == "pandas" else pl.from_arrow(table)


CASES = {
    "price_table": Case(
        make=lambda logs, lib, money: tokenprice.price_table(
            _frame(_usage(logs), lib), provider="provider", itemized=True, money=money
        ),
        exact=lambda logs: tokenprice.price_table(_usage(logs), provider="provider", itemized=True),
        a="total_cost",
        b="input_cost",
        count="input_tokens",
        group="tenant",
    ),
    "PricedLogs.table": Case(
        make=lambda logs, lib, money: logs.to_pandas(money=money) if lib == "pandas" else logs.to_polars(money=money),
        exact=lambda logs: logs.table,
        a="total_cost",
        b="reported_cost",
        count="input_tokens",
        group="tenant",
    ),
    "summary": Case(
        make=lambda logs, lib, money: _frame(logs.summary(["tenant", "feature"], period="month", money=money), lib),
        exact=lambda logs: logs.summary(["tenant", "feature"], period="month"),
        a="total_cost",
        b="reported_cost",
        count="rows",
        group="tenant",
    ),
    "reconcile": Case(
        make=lambda logs, lib, money: (
            logs.reconcile().to_pandas(money=money) if lib == "pandas" else logs.reconcile().to_polars(money=money)
        ),
        exact=lambda logs: logs.reconcile().mismatches,
        a="reported",
        b="computed",
        count=None,
        group="cause",
    ),
    "reprice": Case(
        make=lambda logs, lib, money: _frame(
            logs.reprice(["tenant", "feature"], model_map={"gpt-4o": "gpt-4o-mini"}, money=money), lib
        ),
        exact=lambda logs: logs.reprice(["tenant", "feature"], model_map={"gpt-4o": "gpt-4o-mini"}),
        a="repriced_cost",
        b="total_cost",
        count="rows",
        group="tenant",
    ),
    "savings": Case(
        make=lambda logs, lib, money: _frame(logs.savings(["tenant", "feature"], money=money), lib),
        exact=lambda logs: logs.savings(["tenant", "feature"]),
        a="uncached_cost",
        b="total_cost",
        count="rows",
        group="tenant",
    ),
}


def _values(column: Any) -> list[Any]:
    """A pandas or polars column as a list, every missing value None."""
    if isinstance(column, pl.Series):
        return column.to_list()
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in column.tolist()]


def _close(got: list[Any], want: list[Any], money: str, tol: Decimal = Decimal(0)) -> None:
    """Equal values: Decimals within ``tol`` (0: exactly) for decimal money; floats near the exact value for float."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
        elif money == "decimal":
            assert isinstance(g, Decimal), f"{g!r} is not a Decimal"
            assert abs(g - w) <= tol, (g, w)
        else:
            assert isinstance(g, float), f"{g!r} is not a float"
            assert g == pytest.approx(float(w), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("money", ["decimal", "float"])
@pytest.mark.parametrize("lib", ["pandas", "polars"])
@pytest.mark.parametrize("name", list(CASES))
def test_money_takes_the_first_checks(logs: tokenprice.PricedLogs, name: str, lib: str, money: str) -> None:
    case = CASES[name]
    exact = case.exact(logs)
    assert exact.schema.field(case.a).type == MONEY  # the Arrow result stays exact
    frame = case.make(logs, lib, money)
    a, b = exact.column(case.a).to_pylist(), exact.column(case.b).to_pylist()
    assert len(frame) == exact.num_rows > 0
    assert any(x is not None and y is not None and x != y for x, y in zip(a, b, strict=True))

    # Subtraction: the difference of two money columns, row by row.
    if lib == "pandas":
        diff = _values(frame[case.a] - frame[case.b])
    else:
        diff = frame.select(pl.col(case.a) - pl.col(case.b)).to_series().to_list()
    _close(diff, [None if x is None or y is None else x - y for x, y in zip(a, b, strict=True)], money)

    # Sum and mean of a money column.
    total = pc.sum(exact.column(case.a)).as_py()
    got_sum = frame[case.a].sum()
    if money == "decimal":
        assert isinstance(got_sum, Decimal) and got_sum == total
    else:
        assert float(got_sum) == pytest.approx(float(total), rel=1e-9)
    present = [x for x in a if x is not None]
    assert float(frame[case.a].mean()) == pytest.approx(float(sum(present) / len(present)), rel=1e-9)

    # Division by a count: cost per token (per row of a group where the table has no count), where the count is
    # not zero (an exact division by zero is an error, as Python's Decimal has it).
    if case.count is not None:
        counts = exact.column(case.count).to_pylist()
        want = [x / n for x, n in zip(a, counts, strict=True) if x is not None and n]
        if lib == "pandas":
            some = frame[frame[case.count] > 0]
            per = _values(some[case.a] / some[case.count])
        else:
            some = frame.filter(pl.col(case.count) > 0)
            per = some.select(pl.col(case.a) / pl.col(case.count)).to_series().to_list()
        _close([p for p in per if p is not None], want, money, tol=Decimal("1e-17"))
    # Groupby: each group's sum, and its sum divided by its number of rows.
    keys = exact.column(case.group).to_pylist()
    sums: dict[Any, Decimal] = {}
    rows: dict[Any, int] = {}
    for k, x in zip(keys, a, strict=True):
        sums[k] = sums.get(k, Decimal(0)) + (x or 0)
        rows[k] = rows.get(k, 0) + 1
    if lib == "pandas":
        grouped = frame.groupby(case.group)[case.a].agg(["sum", "count"])
        got_groups = {k: (r["sum"], r["count"]) for k, r in grouped.iterrows()}
    else:
        grouped = frame.group_by(case.group).agg(pl.col(case.a).sum().alias("sum"), pl.len().alias("count"))
        got_groups = {r[case.group]: (r["sum"], r["count"]) for r in grouped.iter_rows(named=True)}
    assert set(got_groups) == set(sums)
    for k, (got, n) in got_groups.items():
        _close([got / n], [sums[k] / rows[k]], money, tol=Decimal("1e-17"))
        _close([got], [sums[k]], money)

    # A plot of the money column. pandas plots floats only: with decimal money, the recipe is astype(float).
    figure, axes = plt.subplots()
    try:
        if lib == "pandas":
            plotted = frame if money == "float" else frame.astype({case.a: float})
            plotted.plot(y=case.a, ax=axes)
        else:
            axes.plot(frame[case.a])
        drawn = list(axes.get_lines()[0].get_ydata())
    finally:
        plt.close(figure)
    assert [float(v) for v in drawn if v == v] == pytest.approx([float(x) for x in a if x is not None], rel=1e-9)


def test_pandas_refuses_to_plot_decimals_so_float_is_the_way(logs: tokenprice.PricedLogs) -> None:
    """The one check decimal money does not take in pandas (its plots read floats only): docs say money="float"."""
    frame = logs.summary("tenant").to_pandas()
    figure, axes = plt.subplots()
    try:
        with pytest.raises(TypeError, match="no numeric data"):
            frame.plot(x="tenant", y="total_cost", ax=axes)
        logs.summary("tenant", money="float").to_pandas().plot(x="tenant", y="total_cost", ax=axes)
        assert len(axes.get_lines()) == 1
    finally:
        plt.close(figure)


def test_one_default_everywhere_is_decimal(logs: tokenprice.PricedLogs) -> None:
    methods = [
        tokenprice.price_table,
        tokenprice.PricedLogs.to_pandas,
        tokenprice.PricedLogs.to_polars,
        tokenprice.PricedLogs.summary,
        tokenprice.PricedLogs.reprice,
        tokenprice.PricedLogs.savings,
        type(logs.reconcile()).to_pandas,
        type(logs.reconcile()).to_polars,
    ]
    for method in methods:
        parameter = inspect.signature(method).parameters["money"]
        assert parameter.default == "decimal" and parameter.kind == inspect.Parameter.KEYWORD_ONLY, method
    # By default: decimal128(38, 18) in Arrow, Python Decimals in pandas, Decimal(38, 18) in polars.
    assert logs.summary("tenant").schema.field("total_cost").type == MONEY
    assert isinstance(logs.to_pandas()["total_cost"].iloc[0], Decimal)
    assert logs.to_polars().schema["total_cost"] == pl.Decimal(38, 18)
    frame = tokenprice.price_table(_usage(logs).slice(0, 5).to_pandas(), provider="provider")
    assert all(isinstance(v, Decimal) for v in frame["total_cost"])
    # money="float": float64 everywhere, Arrow included (as_float=True, price_table's older name, the same).
    assert logs.summary("tenant", money="float").schema.field("total_cost").type == pa.float64()
    assert logs.to_pandas(money="float")["total_cost"].dtype == "float64"
    assert logs.to_polars(money="float").schema["total_cost"] == pl.Float64
    usage = _usage(logs).slice(0, 5)
    assert tokenprice.price_table(usage, provider="provider", money="float").schema.field("total_cost").type == (
        tokenprice.price_table(usage, provider="provider", as_float=True).schema.field("total_cost").type
    )
    assert tokenprice.price_table(usage, provider="provider", money="float").schema.field("total_cost").type == (
        pa.float64()
    )


@pytest.mark.parametrize("bad", ["Decimal", "floats", None, 1])
def test_money_must_be_decimal_or_float(logs: tokenprice.PricedLogs, bad: Any) -> None:
    for call in (
        lambda: logs.to_pandas(money=bad),
        lambda: logs.to_polars(money=bad),
        lambda: logs.summary("tenant", money=bad),
        lambda: logs.reprice(money=bad),
        lambda: tokenprice.price_table(_usage(logs).slice(0, 2), provider="provider", money=bad),
    ):
        with pytest.raises(tokenprice.InvalidArgumentError, match=r"money must be one of \('decimal', 'float'\)"):
            call()
