"""Differential test against genai-prices: random usages of every model both books price, at timestamps across
each model's dated price changes, in the standard tier and in the tiers genai-prices has variants for. Every
disagreement must be listed, with its reason, in prices/DIFFERENCES.md (the table under "Listed disagreements").

Two totals agree when they differ by at most 1e-17 USD: tokenprice rounds each item half-to-even at 1e-18 USD
(its one documented rounding point), which shows where a price has more decimals than that (float noise in the
source data, per-hour prices). A tier comparison made before the date genai-prices' variant for that tier
starts is filed under the tier name followed by `<variant` (genai-prices charges standard prices for it then).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tokenprice

ROOT = Path(__file__).resolve().parent.parent
DIFFERENCES = ROOT / "prices" / "DIFFERENCES.md"
# The genai-prices version the book is imported from (scripts/import_prices.py GENAI_PRICES_VERSION).
PINNED = "0.2.5"


def test_genai_prices_is_the_pinned_version() -> None:
    from importlib.metadata import version

    assert version("genai-prices") == PINNED, "the comparison is with the version the book was imported from"


# genai-prices' request context → tokenprice's service tier.
TIERS = {
    "standard": None,
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}


def listed() -> set[tuple[str, str, str]]:
    """(provider, model, tier) triples listed as known disagreements; `*` matches anything."""
    text = DIFFERENCES.read_text(encoding="utf-8")
    section = text.split("## Listed disagreements", 1)[1]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] not in ("provider", "") and not set(cells[0]) <= {"-"}:
            rows.add((cells[0], cells[1], cells[2]))
    return rows


def is_listed(known: set[tuple[str, str, str]], provider: str, model: str, tier: str) -> bool:
    return any(
        (p in ("*", provider))
        and (m in ("*", model) or (m.endswith("*") and model.startswith(m[:-1])))
        and t in ("*", tier)
        for p, m, t in known
    )


def change_dates(model: Any) -> list[dt.datetime]:
    """Instants around each dated price change of a genai-prices model, plus two fixed dates."""
    out = [dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)]
    prices = model.prices if isinstance(model.prices, list) else []
    for p in prices:
        start = getattr(p.constraint, "start_date", None)
        if start is not None:
            day = dt.datetime(start.year, start.month, start.day, 12, tzinfo=dt.timezone.utc)
            out += [day - dt.timedelta(days=1), day]
    return out


def random_usage(rng: random.Random) -> dict[str, int]:
    inp = rng.choice([0, 1, 57, 1000, 12_345, 150_000, 250_000])
    cached = rng.randint(0, inp) if rng.random() < 0.5 else 0
    writes = rng.randint(0, inp - cached) if rng.random() < 0.3 else 0
    writes_1h = rng.randint(0, writes) if rng.random() < 0.3 else 0
    out = rng.choice([0, 1, 333, 4_000])
    return {
        "input_tokens": inp,
        "cache_read_tokens": cached,
        "cache_write_tokens": writes - writes_1h,
        "cache_write_1h_tokens": writes_1h,
        "output_tokens": out,
    }


def genai_usage(genai_prices: Any, u: dict[str, int]) -> Any:
    # genai-prices counts all cache writes in cache_write_tokens, of which cache_write_1h_tokens are a part.
    return genai_prices.Usage(
        input_tokens=u["input_tokens"],
        cache_read_tokens=u["cache_read_tokens"],
        cache_write_tokens=u["cache_write_tokens"] + u["cache_write_1h_tokens"],
        cache_write_1h_tokens=u["cache_write_1h_tokens"],
        output_tokens=u["output_tokens"],
    )


TOLERANCE = Decimal("1e-17")


def variant_start(model: Any, tier: str) -> dt.date | None:
    ctx = TIERS[tier]
    for v in model.price_variants or []:
        if ctx and v.when == ctx:
            return getattr(v.constraint, "start_date", None)
    return None


def agree(ours: Decimal | str, theirs: Decimal) -> bool:
    return isinstance(ours, Decimal) and abs(ours - theirs) <= TOLERANCE


def test_agrees_with_genai_prices_or_the_difference_is_listed() -> None:
    genai_prices = pytest.importorskip(
        "genai_prices", reason="genai-prices is in the test extra (make test installs it)"
    )
    from genai_prices import data

    known = listed()
    rng = random.Random(20261128)
    unexplained: list[str] = []
    compared = 0
    for provider in data.providers:
        for model in provider.models:
            variants = {"standard"} | {
                tier for tier, ctx in TIERS.items() if ctx and any(v.when == ctx for v in (model.price_variants or []))
            }
            for at in change_dates(model):
                for tier in sorted(variants):
                    u = random_usage(rng)
                    try:
                        theirs = genai_prices.calc_price(
                            genai_usage(genai_prices, u),
                            model.id,
                            provider_id=provider.id,
                            genai_request_timestamp=at,
                            price_context=TIERS[tier],
                        ).total_price
                    except (LookupError, ValueError):
                        continue  # genai-prices itself cannot price it (e.g. a unit it rejects)
                    try:
                        ours: Decimal | str = tokenprice.price(
                            tokenprice.Usage(**u),
                            model.id,
                            provider=provider.id,
                            at=at,
                            service_tier=None if tier == "standard" else tier,
                        ).total
                    except tokenprice.TokenPriceError as e:
                        ours = f"error: {e}"
                    compared += 1
                    start = variant_start(model, tier)
                    key = f"{tier}<variant" if start is not None and at.date() < start else tier
                    if not agree(ours, theirs) and not is_listed(known, provider.id, model.id, key):
                        unexplained.append(
                            f"{provider.id} {model.id} {key} {at:%Y-%m-%d} {u}: ours {ours}, genai {theirs}"
                        )
    assert compared > 5000, f"only {compared} comparisons: is the price book complete?"
    assert not unexplained, f"{len(unexplained)} unexplained disagreements, e.g.:\n" + "\n".join(unexplained[:25])


def test_differences_file_has_a_reason_for_every_row() -> None:
    text = DIFFERENCES.read_text(encoding="utf-8")
    section = text.split("## Listed disagreements", 1)[1]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] not in ("provider", "") and not re.fullmatch(r"-+", cells[0]):
            assert len(cells[3]) > 20, f"a listed disagreement needs its reason: {line}"
