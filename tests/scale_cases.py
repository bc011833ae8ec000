"""The data the engine tests (tests/test_spark.py, test_dask.py, test_ray.py) price, and what one machine gives for
it: the sample gateway logs, a 100,000-line log made of them (plus lines no reader takes), a 100,000-row usage
table, and a discounted book to ship to the workers."""

from __future__ import annotations

import gzip
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import tokenprice
from tokenprice._batches import REJECTED

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "logs" / "gateway.jsonl.gz"
LABELS = ["tenant", "feature"]
BY = ["tenant", "feature"]
ROWS = 100_000
# Lines no reader takes: each a reject with its reason.
BAD = ["not json", '{"model": "gpt-4o"}', '{"id": "x", "model": "no-such-model", "usage": {"prompt_tokens": 5}}']
BOOK = tokenprice.PriceBook.default().with_overrides({"discounts": {"openai": "0.8", "anthropic": "0.9"}})
# A model whose price changes at midnight UTC on 2025-04-01, from 2 USD to 1 USD per million input tokens.
PRICE_CHANGE = tokenprice.PriceBook.default().with_overrides(
    {
        "providers": [
            {
                "id": "selfhosted",
                "models": [
                    {
                        "id": "my-llama",
                        "prices": [{"input_per_mtok": "2"}, {"from": "2025-04-01", "input_per_mtok": "1"}],
                    }
                ],
            }
        ]
    }
)
MODELS = ["gpt-4o", "gpt-4.1-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "gpt-4o-mini", "no-such-model"]


def sample_lines() -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def big_log(folder: Path) -> Path:
    """A plain JSON Lines file of ROWS lines: the sample's lines over and over, and BAD ones among them."""
    sample = sample_lines()
    lines = [BAD[i // 7 % len(BAD)] if i % 997 == 0 else sample[i % len(sample)] for i in range(ROWS)]
    path = folder / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def usage_table(rows: int = ROWS, seed: int = 18) -> pa.Table:
    """Usage rows at random times over 2024-2025 (UTC instants), a few of them unpriceable."""
    rng = random.Random(seed)
    start = 1704067200_000000  # 2024-01-01
    span = 2 * 365 * 86400_000000
    return pa.table(
        {
            "tenant": [rng.choice(["acme", "globex", "initech", None]) for _ in range(rows)],
            "model": [rng.choice(MODELS) for _ in range(rows)],
            "timestamp": pa.array([start + rng.randrange(span) for _ in range(rows)], pa.timestamp("us", tz="UTC")),
            "input_tokens": [rng.randrange(0, 200_000) for _ in range(rows)],
            "cache_read_tokens": [0] * rows,
            "output_tokens": [rng.randrange(0, 5_000) for _ in range(rows)],
        }
    )


def local_totals(table: pa.Table, by: list[str], **options: Any) -> list[dict[str, Any]]:
    """What one machine's price_table gives per group: rows and total_cost, rows that cannot be priced apart."""
    priced = tokenprice.price_table(table, **options)
    ok = priced.filter(priced.column("status").is_null())
    grouped = ok.group_by(by, use_threads=False).aggregate([("total_cost", "count"), ("total_cost", "sum")])
    return sorted(grouped.to_pylist(), key=lambda r: tuple((r[k] is None, r[k]) for k in by))


def rejects_by_reason(rejects: pa.Table) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason in rejects.column("reason").to_pylist():
        out[reason] = out.get(reason, 0) + 1
    return out


def _sorted(table: pa.Table, keys: list[str] | None = None) -> pa.Table:
    """Rows in one order whatever order an engine gave them in (by ``keys``, else by every column)."""
    return table.sort_by([(c, "ascending") for c in keys or table.column_names])


def _exact_total(table: pa.Table) -> Decimal:
    value = pc.sum(table.column("total_cost")).as_py()
    assert value is None or isinstance(value, Decimal), type(value)  # money stays exact
    return Decimal(0) if value is None else value


def check_one_table_frame(
    one: pa.Table, two: tuple[pa.Table, pa.Table], split: tuple[pa.Table, pa.Table], table: pa.Table, **options: Any
) -> None:
    """An engine's ``price(split=False)`` (one frame), ``price()`` (priced, rejected) and ``split_rejects`` of the
    one frame, as Arrow tables, against one machine's ``price_table`` of the same usage rows: the one frame's
    priced rows sum to the same exact total, every row is there once, the rejects carry why (``status``), and the
    helper's two frames are ``price()``'s."""
    local = tokenprice.price_table(table, money="decimal", **options)
    priced, rejected = two
    assert one.num_rows == table.num_rows == priced.num_rows + rejected.num_rows
    assert _exact_total(one) == _exact_total(priced) == _exact_total(local) > 0
    assert one.column("total_cost").null_count >= rejected.num_rows > 0  # a reject has no cost to add
    whys = Counter(one.column("status").drop_null().to_pylist())
    assert whys == Counter(local.column("status").drop_null().to_pylist()) and sum(whys.values()) > 0
    assert sorted(rejected.column("status").to_pylist()) == sorted(local.column("status").drop_null().to_pylist())
    assert split[0].schema == priced.schema and split[1].schema == rejected.schema
    assert _sorted(split[0]).equals(_sorted(priced)) and _sorted(split[1]).equals(_sorted(rejected))


def check_one_log_frame(
    one: pa.Table, two: tuple[pa.Table, pa.Table], split: tuple[pa.Table, pa.Table], single: tokenprice.PricedLogs
) -> None:
    """An engine's ``price_logs(split=False)`` (one frame of lines and rejects), ``price_logs()`` (lines, rejects)
    and ``split_rejects`` of the one frame, as Arrow tables, against one machine's ``price_logs`` of the same
    lines: the same exact total, every line once, each reject with its reason and excerpt, and the helper's two
    frames are ``price_logs()``'s."""
    lines, rejects = two
    assert one.num_rows == single.rows_read == lines.num_rows + rejects.num_rows
    assert _exact_total(one) == _exact_total(lines) == single.total_cost > 0
    bad = one.filter(pc.equal(one.column("status"), REJECTED))
    assert bad.num_rows == rejects.num_rows == single.rows_rejected > 0
    assert rejects_by_reason(bad) == rejects_by_reason(rejects) == rejects_by_reason(single.rejects)
    assert sorted(bad.column("excerpt").to_pylist()) == sorted(single.rejects.column("excerpt").to_pylist())
    assert split[0].schema == lines.schema and split[1].schema == rejects.schema
    assert _sorted(split[0], ["source", "line"]).equals(_sorted(lines, ["source", "line"]))
    assert _sorted(split[1], ["source", "line"]).equals(_sorted(rejects, ["source", "line"]))
