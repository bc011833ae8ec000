"""The data the engine tests (tests/test_spark.py, test_dask.py, test_ray.py) price, and what one machine gives for
it: the sample gateway logs, a 100,000-line log made of them (plus lines no reader takes), a 100,000-row usage
table, and a discounted book to ship to the workers."""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import pyarrow as pa

import tokenprice

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
