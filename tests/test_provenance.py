"""Provenance of every price entry: where it came from (`origin`: hand, genai-prices <version>, LiteLLM
<version>), the page (`source`) and the date of the page copy its prices were read from (`source_date`), and when
it was last checked (`checked`) — in the price files, `PriceBook.price_at`, `Cost.origin` and `Cost.explain()`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import tomllib

import tokenprice

ROOT = Path(__file__).resolve().parents[1]
PRICES = ROOT / "prices"
CORRECTIONS = tomllib.loads((ROOT / "scripts" / "price_corrections.toml").read_text(encoding="utf-8"))
ORIGINS = ("hand", "genai-prices 0.2.5", "LiteLLM 1.110.2")


def test_every_entry_of_every_price_file_says_where_it_came_from() -> None:
    seen = set()
    for path in sorted(PRICES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for m in data.get("models", []):
            for e in m["prices"]:
                parts = e["origin"].split(" + ")
                assert set(parts) <= set(ORIGINS), (path.name, m["id"], e["origin"])
                seen.update(parts)
                if "hand" in parts:
                    assert e["source"].startswith("https://") and isinstance(e["source_date"], str), m["id"]
    assert seen == set(ORIGINS)


@pytest.mark.parametrize("correction", CORRECTIONS["corrections"], ids=lambda c: f"{c['provider']}/{c['model']}")
def test_each_hand_correction_names_its_page_and_the_date_of_the_copy(correction: dict[str, object]) -> None:
    assert str(correction["page"]).startswith("https://")
    dt.date.fromisoformat(str(correction["date"]))
    entry = tokenprice.PriceBook.default().price_at(
        str(correction["model"]),
        at="2025-05-01" if correction["model"] == "o3" else "2026-12-01",
        provider=str(correction["provider"]),
    )
    assert "hand" in entry["origin"].split(" + ")
    assert entry["source_date"] is not None


def test_price_at_gives_origin_source_date_and_checked() -> None:
    book = tokenprice.PriceBook.default()
    # o3's launch entry: genai-prices' prices with the cache price corrected by hand from Langfuse's change.
    launch = book.price_at("o3", at="2025-05-01")
    assert launch["origin"] == "genai-prices 0.2.5 + hand"
    assert launch["source"] == "https://github.com/langfuse/langfuse/pull/7223"
    assert launch["source_date"] == dt.date(2025, 6, 10)
    assert launch["checked"] is None
    # Its entry from the 2025-06-10 cut: imported, with a batch sheet from LiteLLM, checked on 2026-10-14.
    cut = book.price_at("o3", at="2026-01-01")
    assert cut["origin"] == "genai-prices 0.2.5 + LiteLLM 1.110.2"
    assert (cut["source_date"], cut["checked"]) == (None, dt.date(2026, 10, 14))


def test_a_cost_says_where_its_prices_came_from() -> None:
    cost = tokenprice.price({"input_tokens": 1000, "output_tokens": 100}, model="o3", at="2025-05-01")
    assert cost.origin == "genai-prices 0.2.5 + hand"
    assert cost.explain().splitlines()[1] == "Provenance: from genai-prices 0.2.5 + hand; page copy of 2025-06-10."
    # gpt-4o's entry has LiteLLM's priority sheet; claude-2's is genai-prices' alone.
    assert tokenprice.price({"input_tokens": 1}, model="gpt-4o", at="2025-05-01").origin == (
        "genai-prices 0.2.5 + LiteLLM 1.110.2"
    )
    assert tokenprice.price({"input_tokens": 1}, model="claude-2", at="2025-05-01").origin == "genai-prices 0.2.5"
    # A book loaded at run time may not say: no origin, no provenance line.
    own = tokenprice.PriceBook.from_dicts(
        [{"schema": 1, "id": "acme", "models": [{"id": "acme-1", "prices": [{"input_per_mtok": "1"}]}]}]
    )
    cost = tokenprice.price({"input_tokens": 1000}, model="acme-1", provider="acme", book=own, at="2025-05-01")
    assert cost.origin is None and "Provenance" not in cost.explain()
