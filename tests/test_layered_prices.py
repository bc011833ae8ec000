"""Newer community prices layered over the built-in book, without a new release: `importers.layered_book` and the
CLI's `--prices PATH`. A model the book lacks is added; for a model both have, the newest dated price wins and the
conflict is listed."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import tokenprice
from tokenprice import importers

# LiteLLM's table format: per-token prices, no dates.
NEWER = {
    "gpt-9-preview-test": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 4e-06,
    },
    "o3": {
        "litellm_provider": "openai",
        "mode": "chat",
        "input_cost_per_token": 9e-06,
        "output_cost_per_token": 9e-06,
    },
}


def test_a_model_the_book_lacks_is_added_and_the_book_keeps_its_newer_history() -> None:
    book, conflicts = importers.layered_book(importers.from_litellm(NEWER))
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    assert tokenprice.price(usage, model="gpt-9-preview-test", provider="openai", book=book).total == Decimal(5)
    # The undated LiteLLM price is older than the book's dated history of o3 (cut on 2025-06-10): the book's stays.
    default = tokenprice.price(usage, model="o3", provider="openai", at="2026-11-01")
    assert tokenprice.price(usage, model="o3", provider="openai", at="2026-11-01", book=book).total == default.total
    assert any(c.startswith("openai/o3: kept the book's") for c in conflicts), conflicts
    # The default book is not changed.
    assert "gpt-9-preview-test" not in {m["model"] for m in tokenprice.PriceBook.default().models("openai")}


def test_newer_dated_prices_win(tmp_path: Path) -> None:
    newer = [
        {
            "id": "openai",
            "models": [
                {
                    "id": "gpt-4o",
                    "prices": [
                        {"input_per_mtok": "2.5", "output_per_mtok": "10"},
                        {"from": "2099-01-01", "input_per_mtok": "1", "output_per_mtok": "2"},
                    ],
                }
            ],
        }
    ]
    book, conflicts = importers.layered_book(newer)
    cost = tokenprice.price({"input_tokens": 1_000_000}, model="gpt-4o", provider="openai", at="2099-02-01", book=book)
    assert cost.total == Decimal(1)
    assert any(c.startswith("openai/gpt-4o: newer data") for c in conflicts), conflicts


def test_the_cli_layers_prices_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "litellm.json"
    path.write_text(json.dumps(NEWER), encoding="utf-8")
    args = [
        "quote",
        "gpt-9-preview-test",
        "--provider",
        "openai",
        "--input",
        "1000000",
        "--json",
        "--prices",
        str(path),
    ]
    r = subprocess.run([sys.executable, "-m", "tokenprice", *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total"] == "1"
    assert "--prices: openai/o3: kept the book's" in r.stderr
