"""The importers (tokenprice.importers) and the price files they generated (prices/*.toml), checked against the real
genai-prices data: every provider and model is there, and for thousands of (model, timestamp) pairs the prices our
files choose (by SCHEMA.md's rules, implemented here independently) are genai-prices' own.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tokenprice import importers

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

UTC = timezone.utc

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "prices"

# genai-prices names a price by what it counts and per how many (`input_audio_mtok`, `web_searches_kcount`); the
# price files say `per` (`input_audio_per_mtok`, `web_searches_per_k`). The rule, written here independently of the
# importer's table (test_genai_key_table_follows_the_naming_rule checks the two agree).
_PER = (
    ("_mtok", "_per_mtok"),
    ("_mchars", "_per_mchars"),
    ("_kcount", "_per_k"),
    ("_kpages", "_pages_per_k"),
    ("_hours", "_per_hour"),
)


def price_file_key(genai_key: str) -> str:
    # Reasoning and citations are output kinds; the price files name them without the `output_`.
    key = (
        genai_key.removeprefix("output_")
        if genai_key.startswith(("output_reasoning", "output_citation"))
        else genai_key
    )
    for theirs, ours in _PER:
        if key.endswith(theirs):
            return key[: -len(theirs)] + ours
    raise AssertionError(f"genai-prices price key {genai_key!r} follows no naming rule known to this test")


def test_genai_key_table_follows_the_naming_rule() -> None:
    assert importers.GENAI_PRICE_KEYS == {k: price_file_key(k) for k in importers.GENAI_PRICE_KEYS}
    assert set(importers.GENAI_PRICE_KEYS.values()) <= set(importers.PRICE_KEY_ORDER)


OUR_KEYS = {price_file_key(k) for k in importers.GENAI_PRICE_KEYS}
TIER_CONTEXTS = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}


def genai_data() -> ModuleType:
    try:
        from genai_prices import data
    except ImportError:
        pytest.fail("these tests need genai-prices: pip install genai-prices==0.2.5 (it is in the `test` extra)")
    return data


@pytest.fixture(scope="module")
def genai() -> list[Any]:
    return list(genai_data().providers)


@pytest.fixture(scope="module")
def book() -> dict[str, dict[str, Any]]:
    files = sorted(PRICES.glob("*.toml"))
    assert files, f"no price files in {PRICES}"
    out = {}
    for f in files:
        with f.open("rb") as fh:
            out[f.stem] = tomllib.load(fh)
    return out


# --- price selection in our files, per prices/SCHEMA.md "How a price is chosen" ---------------------------------


def parse_offset(text: str) -> timedelta:
    if text in ("UTC", "Z", "+00:00"):
        return timedelta(0)
    sign = 1 if text[0] == "+" else -1
    h, m = text[1:].split(":")
    return sign * timedelta(hours=int(h), minutes=int(m))


def hhmm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def instant(text: str) -> datetime:
    """A `from`/`until` value: a date (midnight UTC) or an ISO date-time."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Models whose prices were corrected by hand after the import (scripts/price_corrections.toml): they differ from
# genai-prices on purpose, and prices/DIFFERENCES.md says why.
with (ROOT / "scripts" / "price_corrections.toml").open("rb") as _f:
    _CORRECTIONS = tomllib.load(_f)
CORRECTED = {(c["provider"], c["model"]) for c in _CORRECTIONS.get("corrections", [])}
# Regions the corrections add (Anthropic's US-only inference), which genai-prices lacks.
ADDED_REGIONS = {(r["provider"], r["name"]) for r in _CORRECTIONS.get("regions", [])}


def entry_at(model: dict[str, Any], ts: datetime) -> dict[str, Any]:
    """1. The entry in force at the request's instant: the last whose `from` is at or before it."""
    chosen = model["prices"][0]
    for e in model["prices"]:
        if "from" not in e or instant(e["from"]) <= ts:
            chosen = e
    return chosen


def standard_sheet_at(model: dict[str, Any], ts: datetime) -> dict[str, Any]:
    """Steps 1-2: the entry's prices, with an active time-of-day window's prices over them."""
    entry = entry_at(model, ts)
    sheet = {k: v for k, v in entry.items() if k in OUR_KEYS}
    active = []
    for w in entry.get("windows", []):
        if "from" in w and ts < instant(w["from"]):
            continue
        if "until" in w and ts >= instant(w["until"]):
            continue
        local = ts.astimezone(UTC) + parse_offset(w.get("utc_offset", "UTC"))
        minute = local.hour * 60 + local.minute
        start, end = hhmm(w["start"]), hhmm(w["end"])
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            active.append(w)
    assert len(active) <= 1, f"{model['id']}: overlapping windows at {ts}"
    for w in active:
        sheet.update({k: v for k, v in w.items() if k in OUR_KEYS})
    return sheet


def norm(value: Any) -> Any:
    """A price from either side as comparable values: Decimal, or (base, ((tokens, price), ...))."""
    if isinstance(value, dict):
        return (Decimal(value["base"]), tuple((s["tokens"], Decimal(s["price"])) for s in value["above"]))
    if isinstance(value, str):
        return Decimal(value)
    if type(value).__name__ == "TieredPrices":
        tiers = sorted(value.tiers, key=lambda t: t.start)
        if not tiers:
            return Decimal(value.base)
        return (Decimal(value.base), tuple((t.start, Decimal(t.price)) for t in tiers))
    assert isinstance(value, Decimal), value
    return value


def genai_sheet(model_price: Any) -> dict[str, Any]:
    out = {}
    for k, v in vars(model_price).items():
        if k.startswith("_") or v is None:
            continue
        out[price_file_key(k)] = norm(v)
    return out


def ours(sheet: dict[str, Any]) -> dict[str, Any]:
    return {k: norm(v) for k, v in sheet.items()}


# --- sampling ---------------------------------------------------------------------------------------------------


def constraint_dates(m: Any) -> list[date]:
    ds = set()
    if isinstance(m.prices, list):
        ds |= {c.constraint.start_date for c in m.prices if type(c.constraint).__name__ == "StartDateConstraint"}
    ds |= {v.constraint.start_date for v in m.price_variants or [] if v.constraint is not None}
    return sorted(ds)


def time_constraints(m: Any) -> list[tuple[time, time]]:
    if not isinstance(m.prices, list):
        return []
    return [
        (c.constraint.start_time, c.constraint.end_time)
        for c in m.prices
        if type(c.constraint).__name__ == "TimeOfDateConstraint"
    ]


def utc_time(t: time) -> time:
    if t.tzinfo is None:
        return t
    return datetime.combine(date(1970, 1, 1), t).astimezone(UTC).time()


def timestamps(m: Any, rng: random.Random) -> list[datetime]:
    """Timestamps across a model's dated changes and windows: both sides of every date and window edge."""
    days = constraint_dates(m)
    probe_days = [date(2023, 6, 15), date(2031, 1, 2)]
    for d in days:
        probe_days += [d - timedelta(days=1), d]
    out: list[datetime] = []
    for d in probe_days:
        out.append(datetime.combine(d, time(0, 0), UTC))
        out.append(datetime.combine(d, time(23, 59, 59), UTC))
        out.append(datetime.combine(d, time(rng.randrange(24), rng.randrange(60)), UTC))
        for start, end in time_constraints(m):
            for edge in (utc_time(start), utc_time(end)):
                at = datetime.combine(d, edge.replace(tzinfo=None), UTC)
                out += [at - timedelta(minutes=1), at, at + timedelta(seconds=59)]
    return out


def sample(genai: list[Any]) -> list[tuple[Any, Any, datetime]]:
    rng = random.Random(20250905)
    pairs = []
    for p in genai:
        for m in p.models:
            ts = timestamps(m, rng)
            if not constraint_dates(m) and not time_constraints(m):
                ts = rng.sample(ts, 2)  # undated models: a couple of instants each
            pairs.extend((p, m, t) for t in ts)
    return pairs


def model_index(book: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(pid, m["id"]): m for pid, p in book.items() for m in p.get("models", [])}


# --- the files cover genai-prices ---------------------------------------------------------------------------------


def test_every_genai_provider_and_model_is_in_the_price_files(genai: list[Any], book: dict[str, Any]) -> None:
    assert len(genai) >= 40
    for p in genai:
        assert p.id in book, f"prices/{p.id}.toml is missing"
        f = book[p.id]
        assert f["schema"] == 1 and f["id"] == p.id and f["name"] == p.name
        assert f.get("pricing_urls", []) == list(p.pricing_urls or [])
        ids = [m["id"] for m in f.get("models", [])]
        missing = [m.id for m in p.models if m.id not in ids]
        assert not missing, f"{p.id}: models missing from prices/{p.id}.toml: {missing}"
        assert len(ids) == len(p.models), f"{p.id}: {len(ids)} models in the file, {len(p.models)} in genai-prices"


def test_models_keep_names_context_windows_flags_and_exact_aliases(genai: list[Any], book: dict[str, Any]) -> None:
    index = model_index(book)

    def equals(clause: Any) -> list[str]:
        if type(clause).__name__ == "ClauseEquals":
            return [clause.equals]
        return [e for c in getattr(clause, "or_", None) or [] for e in equals(c)]

    for p in genai:
        for m in p.models:
            ours_m = index[(p.id, m.id)]
            assert ours_m.get("name") == m.name
            assert ours_m.get("context_window") == m.context_window
            assert ours_m.get("deprecated", False) == bool(m.deprecated)
            rules = ours_m.get("match", [m.id])
            exact = {r.lower() for r in rules if isinstance(r, str)} | {m.id.lower()}
            for alias in equals(m.match):
                assert alias.lower() in exact, f"{p.id}/{m.id}: exact alias {alias!r} lost"
            # Every entry names the provider's pricing page as its source (hand corrections cite their own).
            for e in [] if (p.id, m.id) in CORRECTED else ours_m["prices"]:
                assert e.get("source") == (p.pricing_urls or [None])[0]


# --- prices by timestamp ------------------------------------------------------------------------------------------


def test_standard_prices_equal_genai_prices_at_sampled_timestamps(genai: list[Any], book: dict[str, Any]) -> None:
    index = model_index(book)
    pairs = sample(genai)
    dated = [(p, m, t) for p, m, t in pairs if constraint_dates(m) or time_constraints(m)]
    assert len(pairs) >= 300 and len(dated) >= 300, (len(pairs), len(dated))
    assert {p.id for p, _, _ in pairs} == {p.id for p in genai}, "every provider is sampled"
    windowed = 0
    for p, m, ts in pairs:
        ours_m = index[(p.id, m.id)]
        # Every windowed model is now a hand correction (dated windows; tests/test_price_corrections.py checks them).
        windowed += bool(entry_at(ours_m, ts).get("windows"))
        if (p.id, m.id) in CORRECTED:
            continue
        expected = genai_sheet(m.get_prices(ts))
        got = ours(standard_sheet_at(ours_m, ts))
        assert got == expected, f"{p.id}/{m.id} at {ts.isoformat()}: ours {got} != genai-prices {expected}"
    assert windowed >= 50, "time-of-day windows are sampled"


def test_deepseek_peak_is_the_base_and_off_peak_a_window(book: dict[str, Any]) -> None:
    chat = model_index(book)[("deepseek", "deepseek-chat")]
    entry = chat["prices"][0]
    assert (entry["input_per_mtok"], entry["output_per_mtok"]) == ("0.27", "1.1")
    [window] = entry["windows"]
    assert (window["start"], window["end"], window["utc_offset"]) == ("16:30", "00:30", "UTC")
    assert window["input_per_mtok"] == "0.135"


def test_tier_sheets_equal_genai_price_variants(genai: list[Any], book: dict[str, Any]) -> None:
    """Where genai-prices has a batch/flex/priority (or Anthropic speed=fast) variant in force, our sheet for that
    tier lists exactly the prices the variants override (sheets on entries without variants come from LiteLLM)."""
    index = model_index(book)
    rng = random.Random(7)
    checked = 0
    for p in genai:
        contexts = dict(TIER_CONTEXTS)
        if p.id == "anthropic":
            contexts["fast"] = {"speed": "fast"}
        for m in p.models:
            if not m.price_variants:
                continue
            ours_m = index[(p.id, m.id)]
            for ts in timestamps(m, rng):
                entry = entry_at(ours_m, ts)
                for tier, ctx in contexts.items():
                    resolved = genai_sheet(m.get_prices(ts, ctx))
                    overridden = {k: resolved[k] for k in variant_keys(m, ctx, ts)}
                    if not overridden:
                        continue
                    assert tier in entry, f"{p.id}/{m.id} at {ts}: no {tier} sheet"
                    assert ours(entry[tier]) == overridden, f"{p.id}/{m.id} at {ts} {tier}"
                    checked += 1
                if p.id == "openai":
                    fast = genai_sheet(m.get_prices(ts, {"service_tier": "fast"}))
                    prio = genai_sheet(m.get_prices(ts, {"service_tier": "priority"}))
                    assert fast == prio, f"{m.id}: openai fast is declared an alias of priority"
    assert checked >= 200, checked
    assert book["openai"]["service_tiers"]["aliases"]["fast"] == "priority"
    assert book["anthropic"]["service_tiers"]["fast"] == {}


def variant_keys(m: Any, ctx: dict[str, str], ts: datetime) -> set[str]:
    keys: set[str] = set()
    for v in m.price_variants or []:
        if v.constraint is not None and not v.constraint.active(ts):
            continue
        if all(ctx.get(k) == val for k, val in v.when.items()):
            keys |= {
                price_file_key(k) for k, val in vars(v.prices).items() if val is not None and not k.startswith("_")
            }
    return keys


def test_openrouter_eu_route_is_a_region_surcharge(genai: list[Any], book: dict[str, Any]) -> None:
    provider = next(p for p in genai if p.id == "openrouter")
    region = book["openrouter"]["regions"]["mistral/eu"]
    [model_id] = region["models"]
    m = next(x for x in provider.models if x.id == model_id)
    factor = Decimal(region["multiplier"])
    for ts in timestamps(m, random.Random(1)):
        std = genai_sheet(m.get_prices(ts))
        eu = genai_sheet(m.get_prices(ts, {"route": "mistral/eu"}))
        assert eu == {k: v * factor for k, v in std.items()}, ts


def test_provider_rules_and_metadata(book: dict[str, Any]) -> None:
    assert book["openai"]["service_tiers"]["batch"] == {"multiplier": "0.5"}
    assert book["openai"]["service_tiers"]["flex"] == {"same_as": "batch"}
    assert book["openai"]["service_tiers"]["priority"] == {}
    assert book["anthropic"]["service_tiers"]["batch"] == {"multiplier": "0.5"}
    assert book["google"]["service_tiers"]["batch"] == {"multiplier": "0.5"}
    assert {"starts_with": "gpt-"} in book["openai"]["owns"]
    assert book["anthropic"]["owns"] == [{"contains": "claude"}]
    assert "vertex_ai" in book["google"]["aliases"] and "bedrock" in book["aws"]["aliases"]
    # Aliases are unique across the book and never another provider's id.
    names = [n.lower() for p in book.values() for n in [p["id"], *p.get("aliases", [])]]
    assert len(names) == len(set(names))
    # Only first parties own model ids: no gateway or host claims another maker's models.
    for gateway in ("openrouter", "together", "groq", "fireworks", "novita", "azure", "aws"):
        assert "owns" not in book[gateway], gateway
    text = (PRICES / "openai.toml").read_text()
    assert text.startswith("# Generated by scripts/import_prices.py from genai-prices 0.2.5 and LiteLLM ")


def test_lookahead_regex_rewrite_is_equivalent() -> None:
    for original, rewritten in importers._REGEX_REWRITES.items():
        a, b = re.compile(original), re.compile(rewritten)
        for n in range(9):
            for chars in itertools.product("-tsx", repeat=n):
                s = "gemini" + "".join(chars)
                assert bool(a.search(s)) == bool(b.search(s)), s
    assert not importers._LOOKAROUND.search(next(iter(importers._REGEX_REWRITES.values())))


def standard_timeline(entries: list[dict[str, Any]], strip: set[str]) -> list[dict[str, Any]]:
    """The standard prices and their dates: an entry kept only for a tier sheet (LiteLLM's) adds no change."""
    out: list[dict[str, Any]] = []
    for e in entries:
        kept = {k: v for k, v in e.items() if k not in strip}
        if out and {k: v for k, v in kept.items() if k != "from"} == {k: v for k, v in out[-1].items() if k != "from"}:
            continue
        out.append(kept)
    return out


def test_converter_matches_the_files(book: dict[str, Any]) -> None:
    """The files are the converter's output plus LiteLLM sheets: regenerating from genai-prices alone gives every
    provider's header fields, models and dated standard prices unchanged."""
    report = importers.ImportReport()
    converted = {p["id"]: p for p in importers.from_genai_prices(report=report)}
    assert converted.keys() == book.keys()
    for pid, p in converted.items():
        f = book[pid]
        header = ("name", "pricing_urls", "aliases", "owns", "id_prefixes", "fallbacks", "notes", "service_tiers")
        for k in header:
            assert p.get(k) == f.get(k), (pid, k)
        ours_regions = {k: v for k, v in f.get("regions", {}).items() if (pid, k) not in ADDED_REGIONS}
        assert p.get("regions", {}) == ours_regions, pid
        for a, b in zip(p["models"], f["models"], strict=True):
            strip = {"batch", "flex", "priority", "ultrafast", "checked", "origin", "source_date"}
            assert {k: v for k, v in a.items() if k != "prices"} == {k: v for k, v in b.items() if k != "prices"}
            if (pid, a["id"]) in CORRECTED:
                continue  # replaced by scripts/price_corrections.toml
            assert standard_timeline(a["prices"], strip) == standard_timeline(b["prices"], strip), (pid, a["id"])
    assert report.counts["models"] == sum(len(p["models"]) for p in converted.values())


def test_module_imports_without_genai_prices() -> None:
    code = (
        "import sys\n"
        "sys.modules['genai_prices'] = None\n"
        "import tokenprice.importers as i\n"
        "try:\n"
        "    i.from_genai_prices()\n"
        "except ImportError as e:\n"
        "    assert 'pip install genai-prices' in str(e), e\n"
        "    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr


# --- LiteLLM ------------------------------------------------------------------------------------------------------

LITELLM_SAMPLE: dict[str, Any] = {
    "sample_spec": {
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "mode": "one of: chat, embedding, completion",
        "input_cost_per_token": 0.0,
    },
    "gpt-test": {
        "litellm_provider": "openai",
        "mode": "chat",
        "max_input_tokens": 128000,
        "source": "https://platform.openai.com/docs/pricing",
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "cache_read_input_token_cost": 1.25e-06,
        "input_cost_per_token_batches": 1.25e-06,
        "output_cost_per_token_batches": 5e-06,
        "input_cost_per_token_priority": 4.25e-06,
        "output_cost_per_token_priority": 1.7e-05,
        "cache_read_input_token_cost_priority": 2.125e-06,
        "search_context_cost_per_query": {
            "search_context_size_low": 0.01,
            "search_context_size_medium": 0.01,
            "search_context_size_high": 0.01,
        },
        "supports_vision": True,
    },
    "noisy": {
        "litellm_provider": "openai",
        "mode": "completion",
        "input_cost_per_token": 0.1 * 3e-05,  # 3.0000000000000004e-06
        "output_cost_per_token": 3 * 1.1e-06,  # 3.3000000000000003e-06
        "cache_creation_input_token_cost": 5.9999999999999995e-07,
        "output_cost_per_reasoning_token": 1e-09,
        "input_cost_per_audio_token": 0.0,
        "input_cost_per_token_flex": 1.5000000000000002e-06,
    },
    "gemini/gemini-test": {
        "litellm_provider": "gemini",
        "mode": "chat",
        "input_cost_per_token": 1.25e-06,
        "input_cost_per_token_above_200k_tokens": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "output_cost_per_token_above_200k_tokens": 1.5e-05,
        "input_cost_per_token_batches": 6.25e-07,
        "input_cost_per_token_above_200k_tokens_batches": 1.25e-06,
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_creation_input_token_cost_above_1hr": 6e-06,
        "cache_creation_input_token_cost_above_12hr": 9e-06,
    },
    "gemini-latest": {"alias_of": "gemini/gemini-test"},
    "text-embedding-test": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08},
    "dall-e-test": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04},
    "unpriced": {"litellm_provider": "openai", "mode": "chat"},
}

LITELLM_EXPECTED = [
    {
        "schema": 1,
        "id": "gemini",
        "name": "gemini",
        "models": [
            {
                "id": "gemini/gemini-test",
                "match": ["gemini/gemini-test", "gemini-test", "gemini-latest"],
                "prices": [
                    {
                        "input_per_mtok": {"base": "1.25", "above": [{"tokens": 200000, "price": "2.5"}]},
                        "output_per_mtok": {"base": "10", "above": [{"tokens": 200000, "price": "15"}]},
                        "cache_write_per_mtok": "3.75",
                        "cache_write_1h_per_mtok": "6",
                        "batch": {"input_per_mtok": {"base": "0.625", "above": [{"tokens": 200000, "price": "1.25"}]}},
                    }
                ],
            }
        ],
    },
    {
        "schema": 1,
        "id": "openai",
        "name": "openai",
        "models": [
            {
                "id": "gpt-test",
                "context_window": 128000,
                "prices": [
                    {
                        "source": "https://platform.openai.com/docs/pricing",
                        "input_per_mtok": "2.5",
                        "output_per_mtok": "10",
                        "cache_read_per_mtok": "1.25",
                        "web_searches_per_k": "10",
                        "batch": {"input_per_mtok": "1.25", "output_per_mtok": "5"},
                        "priority": {"input_per_mtok": "4.25", "output_per_mtok": "17", "cache_read_per_mtok": "2.125"},
                    }
                ],
            },
            {
                "id": "noisy",
                "prices": [
                    {
                        "input_per_mtok": "3",
                        "output_per_mtok": "3.3",
                        "cache_write_per_mtok": "0.6",
                        "reasoning_per_mtok": "0.001",
                        "input_audio_per_mtok": "0",
                        "flex": {"input_per_mtok": "1.5"},
                    }
                ],
            },
            {"id": "text-embedding-test", "prices": [{"input_per_mtok": "0.02"}]},
        ],
    },
]


def test_litellm_sample_converts_exactly(tmp_path: Path) -> None:
    report = importers.ImportReport()
    assert importers.from_litellm(LITELLM_SAMPLE, report=report) == LITELLM_EXPECTED
    assert report.skipped == {"mode 'image_generation'": 1, "no token prices": 1}
    assert report.unmapped_keys["cache_creation_input_token_cost_above_12hr"] == 1
    assert report.counts["litellm_aliases"] == 1
    # The same from a path.
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(LITELLM_SAMPLE))
    assert importers.from_litellm(path) == LITELLM_EXPECTED
    assert importers.from_litellm(str(path)) == LITELLM_EXPECTED


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "2.5e-06"}, "input_cost_per_token"),
        ({"litellm_provider": "openai", "mode": "chat", "output_cost_per_token": -1e-06}, "output_cost_per_token"),
        ({"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": float("nan")}, "input_cost_per_token"),
        ({"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": True}, "input_cost_per_token"),
        ({"mode": "chat", "input_cost_per_token": 1e-06}, "litellm_provider"),
        ({"litellm_provider": "Open AI", "mode": "chat", "input_cost_per_token": 1e-06}, "litellm_provider"),
        ({"litellm_provider": "openai", "mode": 3, "input_cost_per_token": 1e-06}, "mode"),
        (
            {
                "litellm_provider": "openai",
                "mode": "chat",
                "input_cost_per_token": 1e-6,
                "search_context_cost_per_query": 1,
            },
            "search_context_cost_per_query",
        ),
        ({"alias_of": 7}, "alias_of"),
        ("not an object", "expected an object"),
    ],
)
def test_litellm_malformed_input_names_model_and_key(entry: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        importers.from_litellm({"broken-model": entry})
    assert "broken-model" in str(info.value)


def test_litellm_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        importers.from_litellm(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        importers.from_litellm(bad)


def test_litellm_provider_names_map_to_genai_ids() -> None:
    cases = {
        "openai": "openai",
        "anthropic": "anthropic",
        "gemini": "google",
        "vertex_ai-language-models": "google",
        "bedrock": "aws",
        "bedrock_converse": "aws",
        "azure": "azure",
        "xai": "x-ai",
        "together_ai": "together",
        "fireworks_ai": "fireworks",
        "mistral": "mistral",
        "deepseek": "deepseek",
        "groq": "groq",
        "fal_ai": None,
    }
    for name, expected in cases.items():
        assert importers.genai_provider_for_litellm(name) == expected, name


def test_litellm_sheets_merge_only_where_genai_has_none() -> None:
    genai_book = [
        {
            "schema": 1,
            "id": "openai",
            "name": "OpenAI",
            "service_tiers": {"batch": {"multiplier": "0.5"}, "flex": {"same_as": "batch"}, "priority": {}},
            "models": [
                # genai-prices has a batch sheet: LiteLLM's batch is not used; its priority is.
                {
                    "id": "gpt-test",
                    "prices": [{"input_per_mtok": "2.5", "output_per_mtok": "10", "batch": {"input_per_mtok": "1"}}],
                },
                # Another price era than LiteLLM's: nothing is added.
                {"id": "text-embedding-test", "prices": [{"input_per_mtok": "0.1"}]},
                # A sheet the batch rule already gives (0.5 × standard) is not added.
                {"id": "noisy", "prices": [{"input_per_mtok": "3", "output_per_mtok": "3.3"}]},
            ],
        }
    ]
    litellm = importers.from_litellm(LITELLM_SAMPLE)
    report = importers.ImportReport()
    added = importers.merge_litellm_tiers(genai_book, litellm, report=report)
    models = {m["id"]: m for m in genai_book[0]["models"]}
    assert models["gpt-test"]["prices"][0]["batch"] == {"input_per_mtok": "1"}
    assert models["gpt-test"]["prices"][0]["priority"] == {"input_per_mtok": "4.25", "output_per_mtok": "17"}
    assert "batch" not in models["text-embedding-test"]["prices"][0]
    # noisy's LiteLLM flex (1.5) is not what flex = batch = 0.5 × 3 gives... it is: 1.5. Not added.
    assert "flex" not in models["noisy"]["prices"][0]
    assert added == {"priority": 1}
    assert report.counts["litellm_sheet_implied_by_rule.flex"] == 1
