"""Golden tests of the hand corrections (scripts/price_corrections.toml): each checks one fact against its source.

The corrections live in the importer's corrections file, so they survive a re-import; these tests price with the
built book, so they fail if a re-import (or a hand edit) loses one.
"""

from __future__ import annotations

import copy
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tokenprice

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

MTOK = 1_000_000
PRICES = Path(__file__).resolve().parent.parent / "prices"


def cache_read_cost(model: str, provider: str, at: str) -> Decimal:
    usage = tokenprice.Usage(input_tokens=MTOK, cache_read_tokens=MTOK)
    return tokenprice.price(usage, model=model, provider=provider, at=at).total


def input_cost(model: str, at: str) -> Decimal:
    return tokenprice.price(tokenprice.Usage(input_tokens=MTOK), model=model, provider="deepseek", at=at).total


# o3 launched at 10 / 2.50 (cached input) / 40 $/MTok; all three were cut on 2025-06-10 to 2 / 0.50 / 8.
# Sources: OpenAI's o3 model page (https://platform.openai.com/docs/models/o3) and Langfuse's price change of
# 2025-06-10 (https://github.com/langfuse/langfuse/pull/7223: input_cached_tokens 2.5e-6 -> 0.5e-6).
@pytest.mark.parametrize(
    ("at", "dollars"),
    [("2025-05-01T12:00:00Z", "2.5"), ("2025-06-09T23:59:59Z", "2.5"), ("2025-06-10T00:00:00Z", "0.5")],
)
def test_o3_cache_reads_cost_2_50_until_the_2025_06_10_cut(at: str, dollars: str) -> None:
    assert cache_read_cost("o3", "openai", at) == Decimal(dollars)


def test_o3_launch_prices_are_10_and_40() -> None:
    cost = tokenprice.price(
        tokenprice.Usage(input_tokens=MTOK, output_tokens=MTOK), model="o3", provider="openai", at="2025-05-01"
    )
    assert cost.total == Decimal(50)


# DeepSeek's off-peak discount (16:30-00:30 UTC) began at 00:30 Beijing time on 2025-02-27, i.e. 2025-02-26 16:30
# UTC (announced 2025-02-26: https://faxianai.com/news/7934.html, https://techgethub.com/?p=9801; off-peak prices on
# https://api-docs.deepseek.com/quick_start/pricing). Before it, the standard 0.27 $/MTok held at night too.
@pytest.mark.parametrize(
    ("model", "at", "dollars"),
    [
        ("deepseek-chat", "2025-02-20T18:00:00Z", "0.27"),
        ("deepseek-chat", "2025-02-26T16:29:00Z", "0.27"),
        ("deepseek-chat", "2025-02-26T16:30:00Z", "0.135"),
        ("deepseek-chat", "2025-03-10T18:00:00Z", "0.135"),
        ("deepseek-reasoner", "2025-02-20T18:00:00Z", "0.55"),
        ("deepseek-reasoner", "2025-03-10T18:00:00Z", "0.135"),
    ],
)
def test_deepseek_off_peak_starts_2025_02_26_16_30_utc(model: str, at: str, dollars: str) -> None:
    assert input_cost(model, at) == Decimal(dollars)


# DeepSeek's pricing page announced peak / off-peak billing (peak 01:00-04:00 and 06:00-10:00 UTC, off-peak at half
# the peak rates) taking effect at 16:00 UTC on 2026-08-16 (the copy
# https://api-docs.deepseek.com/quick_start/pricing?model_version=DeepSeek-V4-Pro-0813); the copy
# https://api-docs.deepseek.com/quick_start/pricing/?article_id=article_1779470751466 lists V4-Flash's peak input at
# 0.44 and V4-Pro's at 1.32 (off-peak 0.22 and 0.66). Before the change the flat 0.14 / 0.435 held all day.
@pytest.mark.parametrize(
    ("model", "at", "dollars"),
    [
        ("deepseek-v4-pro", "2026-08-01T02:00:00Z", "0.435"),
        ("deepseek-v4-pro", "2026-08-01T20:00:00Z", "0.435"),
        ("deepseek-v4-pro", "2026-08-16T15:59:00Z", "0.435"),
        ("deepseek-v4-pro", "2026-08-16T16:00:00Z", "0.66"),
        ("deepseek-v4-pro", "2026-08-18T02:00:00Z", "1.32"),
        ("deepseek-v4-pro", "2026-08-18T20:00:00Z", "0.66"),
        ("deepseek-v4-flash", "2026-08-01T07:00:00Z", "0.14"),
        ("deepseek-v4-flash", "2026-08-16T16:00:00Z", "0.22"),
        ("deepseek-v4-flash", "2026-08-18T07:00:00Z", "0.44"),
        ("deepseek-v4-flash", "2026-08-18T12:00:00Z", "0.22"),
        ("deepseek-v4-flash", "2026-09-15T07:00:00Z", "0.3"),
    ],
)
def test_deepseek_v4_peak_windows_start_2026_08_16_16_00_utc(model: str, at: str, dollars: str) -> None:
    assert input_cost(model, at) == Decimal(dollars)


# OpenAI's gpt-4o-audio-preview page (https://developers.openai.com/api/docs/models/gpt-4o-audio-preview.md): text
# 2.50 / 10, audio 40 in / 80 out per 1M tokens. genai-prices has the text rates only.
def test_gpt_4o_audio_preview_prices_audio_at_40_and_80() -> None:
    usage = tokenprice.Usage(
        input_tokens=2 * MTOK, input_audio_tokens=MTOK, output_tokens=2 * MTOK, output_audio_tokens=MTOK
    )
    cost = tokenprice.price(usage, model="gpt-4o-audio-preview", provider="openai", at="2026-01-15")
    # 1M text in at 2.50 + 1M audio in at 40 + 1M text out at 10 + 1M audio out at 80.
    assert cost.total == Decimal("132.5")


def test_every_time_window_says_when_it_held() -> None:
    undated = []
    for path in sorted(PRICES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for m in data.get("models", []):
            for e in m["prices"]:
                for w in e.get("windows", []):
                    if "from" not in w and "until" not in w:
                        undated.append(f"{data['id']}/{m['id']} {w['start']}-{w['end']}")
    assert undated == []


# A dated entry is a price change. genai-prices dates its tier variants from when they were added (2026-10-12/14),
# which repeated the standard prices; those dates are now `checked`, and price_changes lists only real changes.
def test_o3_price_changes_are_the_real_ones() -> None:
    info = tokenprice.PriceBook.default().resolve("o3", provider="openai")
    assert info["price_changes"] == ["2025-06-10"]


def test_no_dated_entry_repeats_the_previous_prices() -> None:
    """An entry with the previous standard prices and windows stays only for a tier price that changed."""
    tiers = {"batch", "flex", "priority", "fast", "ultrafast"}
    meta = {"from", "checked", "origin", "source", "source_date", "notes", "windows"} | tiers
    repeats = []
    for path in sorted(PRICES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for m in data.get("models", []):
            for prev, e in zip(m["prices"], m["prices"][1:], strict=False):
                same = {k: v for k, v in prev.items() if k not in meta} == {k: v for k, v in e.items() if k not in meta}
                tier_changed = any(t in prev and t in e and prev[t] != e[t] for t in tiers)
                if same and prev.get("windows") == e.get("windows") and not tier_changed:
                    repeats.append(f"{data['id']}/{m['id']} {e['from']}")
    assert repeats == []


def _provider(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": 1, "id": "acme", "models": [{"id": "m", "prices": entries}]}


def test_the_validator_rejects_an_entry_that_repeats_the_previous_prices() -> None:
    first = {"input_per_mtok": "1", "output_per_mtok": "2"}
    repeat = {"from": "2026-10-14", **first}
    with pytest.raises(tokenprice.PriceBookError, match=r"repeats the previous entry's prices.*checked"):
        tokenprice.PriceBook.from_dicts(_provider([first, repeat]))
    # The date a price was checked goes to `checked`; a real change is still an entry.
    ok = tokenprice.PriceBook.from_dicts(
        _provider([{**first, "checked": "2026-10-14"}, {"from": "2026-11-01", "input_per_mtok": "0.5"}])
    )
    assert ok.resolve("m")["price_changes"] == ["2026-11-01"]


def test_collapse_merges_repeats_into_checked_dates() -> None:
    from tokenprice.importers import collapse_repeated_entries

    book = [
        {
            "id": "acme",
            "models": [
                {
                    "id": "m",
                    "prices": [
                        {"input_per_mtok": "10"},
                        {"from": "2025-06-10", "input_per_mtok": "2"},
                        {"from": "2026-10-12", "input_per_mtok": "2.0", "flex": {"input_per_mtok": "1"}},
                        {"from": "2026-10-14", "input_per_mtok": "2", "batch": {"input_per_mtok": "1"}},
                        {"from": "2026-11-01", "input_per_mtok": "2", "batch": {"input_per_mtok": "0.9"}},
                    ],
                }
            ],
        }
    ]
    before = copy.deepcopy(book)
    assert collapse_repeated_entries(book) == 2
    assert book != before
    assert book[0]["models"][0]["prices"] == [
        {"input_per_mtok": "10"},
        {
            "from": "2025-06-10",
            "checked": "2026-10-14",
            "input_per_mtok": "2",
            "batch": {"input_per_mtok": "1"},
            "flex": {"input_per_mtok": "1"},
        },
        # A tier price that changed is a real change.
        {"from": "2026-11-01", "input_per_mtok": "2", "batch": {"input_per_mtok": "0.9"}},
    ]
