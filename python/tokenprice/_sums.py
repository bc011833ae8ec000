"""Exact sums of money columns. Arrow sums a decimal128(38, 18) column into a decimal128(38, 18) and wraps past
38 digits without a word (three costs of 9e19 USD summed to -7.0e19): a table whose sums could pass what the type
holds has those columns widened to decimal256(76, 18) before it is summed, and the sums narrowed back after, with
an error naming the column where one does not fit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

from tokenprice import _core

# The largest amount an amount column (decimal128(38, 18)) holds: 38 nines.
_MAX_AMOUNT = Decimal("99999999999999999999.999999999999999999")


def summable(table: Any, columns: Sequence[str]) -> Any:
    """The table with each money column among ``columns`` whose sums could pass what decimal128(38, 18) holds
    (its rows times its largest magnitude) widened to decimal256(76, 18): Arrow's decimal128 sums wrap past 38
    digits without a word (three costs of 9e19 USD summed to -7.0e19)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = table.num_rows
    for c in columns:
        column = table.column(c)
        if not pa.types.is_decimal128(column.type):
            continue
        ends = pc.min_max(column).as_py()
        largest = max((abs(v) for v in ends.values() if v is not None), default=Decimal(0))
        with localcontext() as exact:
            exact.prec = 80
            if largest * rows > _MAX_AMOUNT:
                table = table.set_column(table.schema.get_field_index(c), c, column.cast(pa.decimal256(76, 18)))
    return table


def narrowed(table: Any, columns: Sequence[str]) -> Any:
    """Sums widened by ``summable`` back to decimal128(38, 18); a sum it cannot hold is an error naming it."""
    import pyarrow as pa

    for c in columns:
        column = table.column(c)
        if not pa.types.is_decimal256(column.type):
            continue
        try:
            column = column.cast(pa.decimal128(38, 18))
        except pa.ArrowInvalid:
            raise _core.InvalidArgumentError(
                f"{c}: a sum reaches 10^20 USD, more than an amount column holds (decimal128(38, 18)); look for "
                "absurd costs or counts in the lines"
            ) from None
        table = table.set_column(table.schema.get_field_index(c), c, column)
    return table
