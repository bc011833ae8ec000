"""Price books from the community price tables: genai-prices and LiteLLM.

Both converters return provider definitions in exactly the shape of a ``prices/<provider>.toml`` file (see
``prices/SCHEMA.md``): plain dicts and lists, prices as decimal strings, dates as ``"YYYY-MM-DD"`` strings. They need
no network: :func:`from_genai_prices` reads the installed ``genai_prices`` package's data, :func:`from_litellm` reads
LiteLLM's ``model_prices_and_context_window.json`` from a path or an already-loaded dict.

genai-prices (https://github.com/pydantic/genai-prices) and LiteLLM (https://github.com/BerriAI/litellm) are MIT
licensed; only their data is read here, as facts.

What could not be converted is never dropped silently: pass an :class:`ImportReport` to collect it (the converters
also log a summary on the ``tokenprice.importers`` logger). Malformed input raises :class:`ValueError` naming the
model and the key.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenprice._core import PriceBook

from tokenprice import _core

__all__ = [
    "GENAI_PRICE_KEYS",
    "LITELLM_PRICE_KEYS",
    "PRICE_KEY_ORDER",
    "ImportReport",
    "collapse_repeated_entries",
    "from_genai_prices",
    "from_litellm",
    "genai_provider_for_litellm",
    "layered_book",
    "merge_litellm_tiers",
    "service_tier_notes",
]

logger = logging.getLogger(__name__)

# Price keys of the schema in the order of its unit table (the order files list them in).
PRICE_KEY_ORDER: tuple[str, ...] = _core.PRICE_KEYS
_KEY_RANK = {k: i for i, k in enumerate(PRICE_KEY_ORDER)}
# Keys whose unit is tokens: a tier or region multiplier applies to these only.
_TOKEN_KEYS = frozenset(k for k in PRICE_KEY_ORDER if k.endswith("_per_mtok"))

# genai-prices ModelPrice attribute → schema price key.
GENAI_PRICE_KEYS: dict[str, str] = {
    "input_mtok": "input_per_mtok",
    "output_mtok": "output_per_mtok",
    "cache_read_mtok": "cache_read_per_mtok",
    "cache_write_mtok": "cache_write_per_mtok",
    "cache_write_1h_mtok": "cache_write_1h_per_mtok",
    "output_reasoning_mtok": "reasoning_per_mtok",
    "output_citation_mtok": "citation_per_mtok",
    "input_audio_mtok": "input_audio_per_mtok",
    "output_audio_mtok": "output_audio_per_mtok",
    "cache_audio_read_mtok": "cache_audio_read_per_mtok",
    "input_image_mtok": "input_image_per_mtok",
    "output_image_mtok": "output_image_per_mtok",
    "cache_image_read_mtok": "cache_image_read_per_mtok",
    "input_video_mtok": "input_video_per_mtok",
    "output_video_mtok": "output_video_per_mtok",
    "input_mchars": "input_per_mchars",
    "input_text_messages_kcount": "input_text_messages_per_k",
    "audio_hours": "audio_per_hour",
    "input_audio_hours": "input_audio_per_hour",
    "input_document_kpages": "input_document_pages_per_k",
    "input_annotated_document_kpages": "input_annotated_document_pages_per_k",
    "web_searches_kcount": "web_searches_per_k",
    "storage_searches_kcount": "storage_searches_per_k",
    "requests_kcount": "requests_per_k",
}

# LiteLLM per-unit cost key → (schema price key, power of ten from LiteLLM's unit to the schema's).
LITELLM_PRICE_KEYS: dict[str, tuple[str, int]] = {
    "input_cost_per_token": ("input_per_mtok", 6),
    "output_cost_per_token": ("output_per_mtok", 6),
    "cache_read_input_token_cost": ("cache_read_per_mtok", 6),
    "cache_creation_input_token_cost": ("cache_write_per_mtok", 6),
    "cache_creation_input_token_cost_above_1hr": ("cache_write_1h_per_mtok", 6),
    "output_cost_per_reasoning_token": ("reasoning_per_mtok", 6),
    "citation_cost_per_token": ("citation_per_mtok", 6),
    "input_cost_per_audio_token": ("input_audio_per_mtok", 6),
    "output_cost_per_audio_token": ("output_audio_per_mtok", 6),
    "cache_read_input_audio_token_cost": ("cache_audio_read_per_mtok", 6),
    "input_cost_per_image_token": ("input_image_per_mtok", 6),
    "output_cost_per_image_token": ("output_image_per_mtok", 6),
    "cache_read_input_image_token_cost": ("cache_image_read_per_mtok", 6),
    "input_cost_per_video_token": ("input_video_per_mtok", 6),
    "output_cost_per_video_token": ("output_video_per_mtok", 6),
    "input_cost_per_character": ("input_per_mchars", 6),
    "input_cost_per_request": ("requests_per_k", 3),
}
_LITELLM_TIER_SUFFIXES = {"batches": "batch", "flex": "flex", "priority": "priority", "ultrafast": "ultrafast"}
# Modes whose entries are token-priced language models. "responses" models (o1-pro, codex-mini, ...) are chat
# models served only on the Responses API, priced per token like the rest.
_LITELLM_MODES = frozenset({"chat", "completion", "embedding", "responses"})

# The schema's tier vocabulary beyond standard (TIER_VOCABULARY in src/prices/schema.rs). OpenAI's "ultrafast"
# (https://developers.openai.com/api/docs/guides/ultrafast-mode) is priced by its sheets only, as priority is.
_TIER_ORDER = ("batch", "flex", "priority", "ultrafast")
_ID_RE = re.compile(r"[a-z0-9_-]+")


@dataclass
class ImportReport:
    """What a conversion skipped, could not map or changed, for a person to review.

    ``skipped`` counts skipped items by reason; ``unmapped_keys`` counts source keys that have no schema key;
    ``details`` lists individual facts (dropped aliases, unsupported constructs) in the order found; ``counts``
    holds totals such as ``tier_sheets.batch``.
    """

    skipped: Counter[str] = field(default_factory=Counter)
    unmapped_keys: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, detail: str | None = None) -> None:
        self.skipped[reason] += 1
        if detail is not None:
            self.details.append(f"{reason}: {detail}")

    def note(self, detail: str) -> None:
        self.details.append(detail)

    def summary(self) -> str:
        lines = [f"{k}: {n}" for k, n in sorted(self.counts.items())]
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{r} ({n})" for r, n in sorted(self.skipped.items())))
        if self.unmapped_keys:
            lines.append("unmapped keys: " + ", ".join(f"{k} ({n})" for k, n in sorted(self.unmapped_keys.items())))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Decimal helpers


def _plain(d: Decimal) -> str:
    """A decimal as a plain string: no exponent, no trailing zeros beyond the value's own."""
    text = format(d, "f")
    return "0" if d.is_zero() else text


def _check_price(d: Decimal, where: str) -> Decimal:
    if not d.is_finite() or d < 0:
        raise ValueError(f"{where}: {d} is not a finite non-negative price")
    return d


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"not a decimal string: {value!r}")


def _price_eq(a: object, b: object) -> bool:
    """Compares two schema price values (decimal strings or ladders) by value."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return False
        sa, sb = a.get("above", []), b.get("above", [])
        return (
            _to_decimal(a["base"]) == _to_decimal(b["base"])
            and len(sa) == len(sb)
            and all(
                x["tokens"] == y["tokens"] and _to_decimal(x["price"]) == _to_decimal(y["price"])
                for x, y in zip(sa, sb, strict=True)
            )
        )
    return _to_decimal(a) == _to_decimal(b)


def _price_times(value: object, m: Decimal) -> object:
    if isinstance(value, dict):
        return {
            "base": _plain(_to_decimal(value["base"]) * m),
            "above": [{"tokens": s["tokens"], "price": _plain(_to_decimal(s["price"]) * m)} for s in value["above"]],
        }
    return _plain(_to_decimal(value) * m)


def _sorted_sheet(sheet: Mapping[str, Any]) -> dict[str, Any]:
    return {k: sheet[k] for k in sorted(sheet, key=lambda k: _KEY_RANK.get(k, len(_KEY_RANK)))}


# --------------------------------------------------------------------------------------------------------------
# Provider metadata: facts about the providers that genai-prices does not carry (how logs name them, which model
# families they make, how their service tiers are priced).

_OPENAI_OWNS = [
    "gpt-",
    "o1",
    "o3",
    "o4",
    "chatgpt-",
    "text-embedding-",
    "davinci",
    "babbage",
    "codex-",
    "computer-use",
    "gpt-image",
    "omni-moderation",
    "whisper",
    "tts-",
]


def _starts(*prefixes: str) -> list[dict[str, str]]:
    return [{"starts_with": p} for p in prefixes]


# id → aliases (other names logs and gateways use), owns (first-party model ids; "genai" = genai-prices' own
# model_match rule for the provider), id_prefixes (what logs put before model ids).
_PROVIDER_META: dict[str, dict[str, Any]] = {
    "openai": {"owns": _starts(*_OPENAI_OWNS), "id_prefixes": ["openai/"]},
    "anthropic": {"owns": "genai", "id_prefixes": ["anthropic/"]},
    "google": {
        "aliases": ["gemini", "vertex_ai", "vertex", "google_genai", "google-vertex", "google-gla", "vertex_ai_beta"],
        "owns": _starts("gemini", "gemma", "imagen", "veo"),
        "id_prefixes": ["google/", "models/", "gemini/", "vertex_ai/"],
    },
    "aws": {
        "aliases": ["bedrock", "aws_bedrock", "amazon_bedrock", "bedrock_converse", "amazon-bedrock", "aws-bedrock"],
        "id_prefixes": ["bedrock/converse/", "bedrock/", "bedrock_converse/"],
    },
    "azure": {"aliases": ["azure_openai", "azure_ai", "azure-openai"], "id_prefixes": ["azure/", "azure_ai/"]},
    "x-ai": {"aliases": ["xai", "x_ai"], "owns": _starts("grok"), "id_prefixes": ["xai/", "x-ai/"]},
    "together": {
        "aliases": ["together_ai", "togetherai", "together-ai"],
        "id_prefixes": ["together_ai/", "together/"],
    },
    "fireworks": {"aliases": ["fireworks_ai", "fireworks-ai"], "id_prefixes": ["fireworks_ai/", "fireworks/"]},
    "mistral": {
        "aliases": ["mistralai", "mistral_ai"],
        "owns": _starts("mistral", "magistral", "codestral", "pixtral", "ministral", "devstral", "voxtral"),
        "id_prefixes": ["mistral/", "mistralai/"],
    },
    "deepseek": {"owns": _starts("deepseek"), "id_prefixes": ["deepseek/"]},
    "groq": {"id_prefixes": ["groq/"]},
    "cohere": {
        "aliases": ["cohere_chat"],
        "owns": _starts("command", "embed-", "rerank-"),
        "id_prefixes": ["cohere/", "cohere_chat/"],
    },
    "moonshotai": {
        "aliases": ["moonshot", "moonshot_ai", "moonshot-ai"],
        "owns": _starts("kimi", "moonshot"),
        "id_prefixes": ["moonshot/", "moonshotai/"],
    },
    # Z.AI is Zhipu's international platform; genai-prices gives the glm model_match to zhipuai, and so do we.
    "zhipuai": {"aliases": ["zhipu", "bigmodel"], "owns": _starts("glm"), "id_prefixes": ["zhipuai/"]},
    "zai": {"aliases": ["z-ai", "z_ai", "z.ai"], "id_prefixes": ["zai/", "z-ai/"]},
    "perplexity": {"aliases": ["perplexity_ai", "perplexityai"], "id_prefixes": ["perplexity/"]},
    "openrouter": {"id_prefixes": ["openrouter/"]},
    "cloudflare": {
        "aliases": ["cloudflare_workers_ai", "workers_ai", "workers-ai", "cloudflare-workers-ai"],
        "id_prefixes": ["cloudflare/"],
    },
    "voyageai": {"aliases": ["voyage", "voyage_ai"], "owns": "genai", "id_prefixes": ["voyage/", "voyageai/"]},
    "github-copilot": {"aliases": ["github_copilot", "copilot"], "id_prefixes": ["github_copilot/"]},
    "elevenlabs": {"aliases": ["eleven_labs"], "owns": "genai", "id_prefixes": ["elevenlabs/"]},
    "novita": {"aliases": ["novita_ai", "novitaai"], "id_prefixes": ["novita/"]},
    "databricks": {"id_prefixes": ["databricks/"]},
    "cerebras": {"id_prefixes": ["cerebras/"]},
    "minimax": {"aliases": ["minimaxi"], "owns": "genai", "id_prefixes": ["minimax/"]},
    "meta": {"aliases": ["meta_llama", "meta-llama-api"], "owns": "genai", "id_prefixes": ["meta/"]},
    "baseten": {"id_prefixes": ["baseten/"]},
    "ovhcloud": {"aliases": ["ovh"], "id_prefixes": ["ovhcloud/"]},
    "avian": {"id_prefixes": ["avian/"]},
    "arcee": {"aliases": ["arcee_ai", "arcee-ai"], "id_prefixes": ["arcee/"]},
    "cursor": {"owns": "genai", "id_prefixes": ["cursor/"]},
    "typesafe": {"owns": "genai", "id_prefixes": ["typesafe/"]},
    "doubleword": {"id_prefixes": ["doubleword/"]},
    "modal": {"id_prefixes": ["modal/"]},
    "quicksilverpro": {"id_prefixes": ["quicksilverpro/"]},
}

# Service-tier rules: facts from the providers' documentation (the notes say where).
_SERVICE_TIERS: dict[str, dict[str, Any]] = {
    "openai": {
        "aliases": {"default": "standard", "auto": "standard"},
        "batch": {"multiplier": "0.5"},
        "flex": {"same_as": "batch"},
        "priority": {},
    },
    "anthropic": {"batch": {"multiplier": "0.5"}},
    "google": {"batch": {"multiplier": "0.5"}},
    "mistral": {"batch": {"multiplier": "0.5"}},
}
_SERVICE_TIER_NOTES: dict[str, list[str]] = {
    "openai": [
        "Batch API: 50% of the standard prices (https://platform.openai.com/docs/guides/batch).",
        "Flex processing is billed at Batch API rates (https://platform.openai.com/docs/guides/flex-processing).",
        "Priority processing has its own per-model prices (sheets only; https://openai.com/api-priority-processing/).",
        "service_tier 'default' and 'auto' are standard processing.",
    ],
    "anthropic": [
        "Message Batches API: 50% of the standard prices; prompt-caching multipliers stack with the batch discount",
        "(https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing).",
        "Fast mode (genai-prices' speed = fast) has its own per-model prices: `fast` sheets only",
        "(https://docs.anthropic.com/en/docs/build-with-claude/fast-mode).",
    ],
    "google": [
        "Gemini Batch Mode: 50% of the interactive prices (https://ai.google.dev/gemini-api/docs/batch-mode).",
    ],
    "mistral": [
        "Batch API: 50% of the standard rates for every model (https://docs.mistral.ai/capabilities/batch/;",
        'genai-prices: "Batch API usage is charged at 50% of the standard rates for every model").',
    ],
}


def service_tier_notes(provider_id: str) -> list[str]:
    """The documented facts behind a provider's ``[service_tiers]`` rules (for comments in generated files)."""
    return list(_SERVICE_TIER_NOTES.get(provider_id, []))


# LiteLLM `litellm_provider` → genai-prices provider id.
_LITELLM_TO_GENAI = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex_ai": "google",
    "azure": "azure",
    "azure_ai": "azure",
    "azure_text": "azure",
    "xai": "x-ai",
    "mistral": "mistral",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "fireworks_ai-embedding-models": "fireworks",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "perplexity": "perplexity",
    "moonshot": "moonshotai",
    "zai": "zai",
    "bigmodel": "zhipuai",
    "cerebras": "cerebras",
    "cloudflare": "cloudflare",
    "databricks": "databricks",
    "novita": "novita",
    "ovhcloud": "ovhcloud",
    "baseten": "baseten",
    "github_copilot": "github-copilot",
    "voyage": "voyageai",
    "elevenlabs": "elevenlabs",
    "minimax": "minimax",
    "typesafe": "typesafe",
    "openrouter": "openrouter",
}


def genai_provider_for_litellm(litellm_provider: str) -> str | None:
    """The genai-prices provider id for a LiteLLM ``litellm_provider`` name (``vertex_ai-*`` → ``google``,
    ``bedrock*`` → ``aws``), or None when genai-prices has no such provider."""
    name = litellm_provider.strip().lower()
    if name in _LITELLM_TO_GENAI:
        return _LITELLM_TO_GENAI[name]
    if name.startswith("vertex_ai"):
        return "google"
    if name.startswith("bedrock"):
        return "aws"
    return None


# --------------------------------------------------------------------------------------------------------------
# genai-prices


def _kind(obj: object) -> str:
    return type(obj).__name__


# genai-prices' Gemini rules exclude TTS models with a negative lookahead, which the Rust regex engine does not
# support. The same condition without lookaround: no dash-separated field after the first is exactly "tts".
_REGEX_REWRITES = {
    r"^(?!.*-[tT][tT][sS](?:$|-))": r"^[^-]*(?:-(?:[^-]{0,2}|[^-]{4,}|[^t-][^-]{2}|t[^t-][^-]|tt[^s-]))*$",
}
_LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


def _rule_of_leaf(clause: Any, where: str, report: ImportReport) -> object | None:
    kind = _kind(clause)
    if kind == "ClauseEquals":
        return str(clause.equals)
    if kind == "ClauseStartsWith":
        return {"starts_with": str(clause.starts_with)}
    if kind == "ClauseEndsWith":
        return {"ends_with": str(clause.ends_with)}
    if kind == "ClauseContains":
        return {"contains": str(clause.contains)}
    if kind == "ClauseRegex":
        regex = str(clause.regex)
        if regex in _REGEX_REWRITES:
            report.counts["regex_rewritten"] += 1
            return {"regex": _REGEX_REWRITES[regex]}
        if _LOOKAROUND.search(regex):
            report.skip("regex with lookaround or backreference", f"{where}: {regex!r}")
            return None
        return {"regex": regex}
    report.skip("unsupported match clause", f"{where}: {kind}")
    return None


def _match_rules(clause: Any, where: str, report: ImportReport) -> list[object]:
    """genai-prices match logic → schema rules (a list = any of them)."""
    kind = _kind(clause)
    if kind == "ClauseOr":
        out: list[object] = []
        for c in clause.or_:
            out.extend(_match_rules(c, where, report))
        return out
    if kind == "ClauseAnd":
        # Each conjunct is a list of alternatives; the cross product expands an Or nested in an And.
        alternatives: list[list[object]] = [[]]
        for c in clause.and_:
            options = _match_rules(c, where, report)
            if not options:
                report.skip("match clause dropped", f"{where}: an 'and' clause lost a part; the whole rule is skipped")
                return []
            alternatives = [a + [o] for a in alternatives for o in options]
        rules: list[object] = []
        for a in alternatives:
            flat: list[object] = []
            for r in a:
                if isinstance(r, dict) and "all" in r:
                    flat.extend(r["all"])
                else:
                    flat.append(r)
            rules.append(flat[0] if len(flat) == 1 else {"all": flat})
        if len(alternatives) > 1:
            report.counts["and_or_expanded"] += 1
        return rules
    leaf = _rule_of_leaf(clause, where, report)
    return [] if leaf is None else [leaf]


def _genai_value(value: Any, where: str) -> object:
    if isinstance(value, Decimal):
        return _plain(_check_price(value, where))
    if _kind(value) == "TieredPrices":
        steps = []
        last = 0
        for tier in sorted(value.tiers, key=lambda t: t.start):
            start = int(tier.start)
            if start <= last:
                raise ValueError(f"{where}: tier thresholds must be positive and increasing (found {start})")
            last = start
            steps.append({"tokens": start, "price": _plain(_check_price(tier.price, where))})
        if not steps:
            return _plain(_check_price(value.base, where))
        return {"base": _plain(_check_price(value.base, where)), "above": steps}
    raise ValueError(f"{where}: unsupported price value {value!r}")


def _genai_sheet(model_price: Any, where: str, report: ImportReport) -> dict[str, Any]:
    sheet: dict[str, Any] = {}
    for key, value in vars(model_price).items():
        if key.startswith("_") or value is None:
            continue
        target = GENAI_PRICE_KEYS.get(key)
        if target is None:
            report.unmapped_keys[f"genai:{key}"] += 1
            report.note(f"unmapped genai-prices price key {key!r} in {where}")
            continue
        sheet[target] = _genai_value(value, f"{where}: {key}")
    return _sorted_sheet(sheet)


def _utc_minute(t: time, where: str) -> int:
    """Minutes after UTC midnight of a (possibly zoned) time of day, as genai-prices converts it."""
    if t.tzinfo is not None:
        t = datetime.combine(date(1970, 1, 1), t).astimezone(timezone.utc).time()
    if t.second or t.microsecond:
        raise ValueError(f"{where}: time {t} is not on a whole minute; windows are HH:MM")
    return t.hour * 60 + t.minute


def _fmt_minute(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def _tier_for_when(when: Mapping[str, str], fast_alias: bool) -> tuple[str, str] | None:
    """A price variant's `when` → ("tier", name) | ("region", route) | ("standard", "") | None (unsupported)."""
    items = dict(when)
    if items == {"processing": "batch"}:
        return ("tier", "batch")
    if items == {"speed": "fast"}:
        return ("tier", "fast")
    if set(items) == {"service_tier"}:
        v = items["service_tier"]
        if v in ("flex", "priority", "ultrafast"):
            return ("tier", v)
        if v in ("default", "auto", "standard"):
            return ("standard", "")
        if v == "fast":
            return ("tier", "priority" if fast_alias else "fast")
    if set(items) == {"route"}:
        return ("region", items["route"])
    return None


@dataclass
class _Segment:
    start: date | None  # None: open to the past
    day: date  # a day inside the segment, to evaluate constraints on


def _segments(dates: Iterable[date]) -> list[_Segment]:
    ds = sorted(set(dates))
    if not ds:
        return [_Segment(None, date(2000, 1, 1))]
    segs = [_Segment(None, ds[0] - timedelta(days=1))]
    segs.extend(_Segment(d, d) for d in ds)
    return segs


def _constraint_active(c: Any, day: date, minute: int, where: str) -> bool:
    if c is None:
        return True
    kind = _kind(c)
    if kind == "StartDateConstraint":
        return bool(day >= c.start_date)
    if kind == "TimeOfDateConstraint":
        start, end = _utc_minute(c.start_time, where), _utc_minute(c.end_time, where)
        if end < start:
            return minute >= start or minute < end
        return start <= minute < end
    raise ValueError(f"{where}: unsupported constraint {kind}")


def _convert_genai_model(
    provider_id: str, model: Any, source: str | None, fast_alias: bool, report: ImportReport
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """One genai-prices model → (model dict, region candidates [(route, model id, {segment data})])."""
    where = f"{provider_id}/{model.id}"
    prices = model.prices
    conditional: list[Any]
    if isinstance(prices, list):
        if not prices:
            raise ValueError(f"{where}: prices is an empty list")
        conditional = prices
    else:
        conditional = []
    variants: list[Any] = list(model.price_variants or [])
    usable_variants: list[tuple[Any, tuple[str, str]]] = []
    for v in variants:
        target = _tier_for_when(v.when, fast_alias)
        if target is None:
            report.skip("price variant with unsupported 'when'", f"{where}: when={dict(v.when)}")
            continue
        if v.constraint is not None and _kind(v.constraint) != "StartDateConstraint":
            report.skip("price variant with a time-of-day constraint", f"{where}: when={dict(v.when)}")
            continue
        if target[0] == "standard":
            if any(val is not None for k, val in vars(v.prices).items() if not k.startswith("_")):
                report.skip("standard-tier variant with prices", f"{where}: when={dict(v.when)}")
            continue
        usable_variants.append((v, target))

    dates: list[date] = []
    has_windows = False
    for cp in conditional:
        if cp.constraint is not None:
            if _kind(cp.constraint) == "StartDateConstraint":
                dates.append(cp.constraint.start_date)
            else:
                has_windows = True
    dates.extend(v.constraint.start_date for v, _ in usable_variants if v.constraint is not None)

    segment_data: list[dict[str, Any]] = []
    for seg in _segments(dates):
        # Standard prices: genai-prices tries the conditional prices last to first and takes the first whose
        # constraint holds (no constraint always holds); with none active, the first.
        if conditional:
            minutes = range(1440) if has_windows else range(1)
            chosen: list[int] = []
            for minute in minutes:
                pick = 0
                for i in range(len(conditional) - 1, -1, -1):
                    if _constraint_active(conditional[i].constraint, seg.day, minute, where):
                        pick = i
                        break
                chosen.append(pick)
            counts = Counter(chosen)
            base_index = max(counts, key=lambda i: (counts[i], -i))
            base = _genai_sheet(conditional[base_index].prices, where, report)
            windows: list[dict[str, Any]] = []
            if len(counts) > 1:
                # Runs of minutes (circular) where another price holds; start scanning at a base minute.
                first = chosen.index(base_index)
                order = [(first + k) % 1440 for k in range(1440)]
                run_start: int | None = None
                run_index = base_index
                for pos, minute in enumerate(order + [order[0]]):
                    idx = chosen[minute]
                    if run_start is not None and (idx != run_index or pos == 1440):
                        wsheet = _genai_sheet(conditional[run_index].prices, where, report)
                        missing = set(base) - set(wsheet)
                        if missing:
                            raise ValueError(
                                f"{where}: a time-of-day price lacks {sorted(missing)} that the price outside it has; "
                                "a window cannot remove a price"
                            )
                        windows.append(
                            {"start": _fmt_minute(run_start), "end": _fmt_minute(minute), "utc_offset": "UTC", **wsheet}
                        )
                        run_start = None
                    if pos < 1440 and idx != base_index and run_start is None:
                        run_start, run_index = minute, idx
                windows.sort(key=lambda w: w["start"])
        else:
            base = _genai_sheet(prices, where, report)
            windows = []
        tiers: dict[str, dict[str, Any]] = {}
        routes: dict[str, dict[str, Any]] = {}
        for v, (kind, name) in usable_variants:
            if v.constraint is not None and seg.day < v.constraint.start_date:
                continue
            sheet = _genai_sheet(v.prices, f"{where} when={dict(v.when)}", report)
            bucket = tiers if kind == "tier" else routes
            acc = bucket.setdefault(name, {})
            for k, val in sheet.items():
                acc.setdefault(k, val)  # earlier variants win, key by key
        tiers = {k: _sorted_sheet(s) for k, s in tiers.items() if s}
        segment_data.append({"start": seg.start, "sheet": base, "windows": windows, "tiers": tiers, "routes": routes})

    regions: list[tuple[str, str, dict[str, Any]]] = []
    route_names = sorted({name for _, (kind, name) in usable_variants if kind == "region"})
    for route in route_names:
        regions.append((route, model.id, {"segments": segment_data}))

    # Entries: adjacent segments with the same prices merge.
    entries: list[dict[str, Any]] = []
    previous: tuple[Any, ...] | None = None
    for seg_d in segment_data:
        key = (seg_d["sheet"], seg_d["windows"], seg_d["tiers"])
        if previous is not None and key == previous:
            continue
        previous = key
        entry: dict[str, Any] = {}
        if seg_d["start"] is not None and entries:
            entry["from"] = seg_d["start"].isoformat()
        if source:
            entry["source"] = source
        entry.update(seg_d["sheet"])
        for tier in sorted(seg_d["tiers"], key=_tier_rank):
            entry[tier] = seg_d["tiers"][tier]
        if seg_d["windows"]:
            entry["windows"] = seg_d["windows"]
        entries.append(entry)
    for e in entries:
        report.counts["entries"] += 1
        report.counts["windows"] += len(e.get("windows", []))
        for tier in e:
            if tier in _TIER_ORDER or tier == "fast":
                report.counts[f"tier_sheets.genai.{tier}"] += 1

    out: dict[str, Any] = {"id": model.id}
    if model.name:
        out["name"] = model.name
    out["match"] = _match_rules(model.match, where, report)
    if model.context_window is not None:
        out["context_window"] = int(model.context_window)
    if model.deprecated:
        out["deprecated"] = True
    if model.price_comments:
        out["notes"] = str(model.price_comments).strip()
    out["prices"] = entries
    return out, regions


def _tier_rank(tier: str) -> tuple[int, str]:
    return (_TIER_ORDER.index(tier), "") if tier in _TIER_ORDER else (len(_TIER_ORDER), tier)


def _regions_from_routes(
    provider_id: str, candidates: list[tuple[str, str, dict[str, Any]]], report: ImportReport
) -> dict[str, dict[str, Any]]:
    """Route variants that are a constant multiple of the standard prices → regions (surcharges)."""
    regions: dict[str, dict[str, Any]] = {}
    for route, model_id, data in candidates:
        where = f"{provider_id}/{model_id} route={route}"
        segs: list[dict[str, Any]] = data["segments"]
        ratio: Decimal | None = None
        active: list[int] = []
        ok = True
        for i, seg in enumerate(segs):
            sheet = seg["routes"].get(route)
            if not sheet:
                continue
            active.append(i)
            std = seg["sheet"]
            if seg["windows"] or set(sheet) != set(std) or any(isinstance(v, dict) for v in [*sheet.values()]):
                ok = False
                break
            for k, v in sheet.items():
                s = _to_decimal(std[k])
                if s.is_zero():
                    ok = ok and _to_decimal(v).is_zero()
                    continue
                r = _to_decimal(v) / s
                if ratio is None:
                    ratio = r
                if ratio != r or s * ratio != _to_decimal(v):
                    ok = False
        if not ok or ratio is None or active != list(range(active[0], active[-1] + 1)):
            report.skip("route variant that is not a constant surcharge", where)
            continue
        region: dict[str, Any] = {"multiplier": _plain(ratio.normalize())}
        if segs[active[0]]["start"] is not None and active[0] > 0:
            region["from"] = segs[active[0]]["start"].isoformat()
        if active[-1] + 1 < len(segs):
            region["until"] = segs[active[-1] + 1]["start"].isoformat()
        existing = regions.get(route)
        if existing is None:
            region["models"] = [model_id]
            regions[route] = region
            report.counts["regions"] += 1
            report.note(f"{where}: route variant → region {route!r} (× {region['multiplier']})")
        elif {k: v for k, v in existing.items() if k != "models"} == region:
            existing["models"].append(model_id)
        else:
            report.skip("route variant with another surcharge than the region's", where)
    return regions


def _dedupe_equals(provider_id: str, models: list[dict[str, Any]], report: ImportReport) -> None:
    """Exact ids and aliases must be unique (case-insensitively) within a provider: keep the first."""
    reserved = {m["id"].lower(): m["id"] for m in models}
    seen: dict[str, str] = {}
    for m in models:
        kept: list[object] = []
        for rule in m["match"]:
            if isinstance(rule, str):
                key = rule.lower()
                owner = seen.get(key) or reserved.get(key)
                if owner is not None and owner != m["id"]:
                    report.skip(
                        "duplicate exact alias", f"{provider_id}: {rule!r} of {m['id']!r} already names {owner!r}"
                    )
                    continue
                if key in seen:
                    continue  # repeated within the model
                seen[key] = m["id"]
            if rule in kept:
                continue
            kept.append(rule)
        if not kept:
            kept = [m["id"]]
        if kept == [m["id"]]:
            del m["match"]
        else:
            m["match"] = kept


def _genai_providers(source: str | os.PathLike[str] | Sequence[Any] | None) -> Any:
    """genai-prices' providers: the installed package's, or its ``data.json`` (a path, JSON text or the list)."""
    if source is None:
        return importlib.import_module("genai_prices.data").providers
    raw: Any = source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("[")):
        with open(source, encoding="utf-8") as f:
            raw = json.load(f)
    elif isinstance(source, str):
        raw = json.loads(source)
    if not isinstance(raw, list):
        raise ValueError("genai-prices data must be a JSON list of providers (its data.json)")
    types: Any = importlib.import_module("genai_prices.types")
    return types._providers_from_raw(raw)


def from_genai_prices(
    source: str | os.PathLike[str] | Sequence[Any] | None = None, *, report: ImportReport | None = None
) -> list[dict[str, Any]]:
    """Every provider of genai-prices as a price-file dict (see ``prices/SCHEMA.md``): the installed package's
    data, or ``source`` — genai-prices' ``data.json`` as a path, JSON text or the loaded list (newer data than the
    installed package, without a new release of either library).

    Dated prices become entries (``from``), time-of-day prices become windows in UTC (the price that holds for most
    of the day is the entry's own, the others are windows), batch/flex/priority/ultrafast/fast price variants become
    tier sheets, and a route variant that is a constant surcharge becomes a region. The result prices every timestamp
    exactly as genai-prices does.
    """
    try:
        genai_providers = _genai_providers(source)
    except ImportError as e:
        raise ImportError(
            "from_genai_prices() reads the genai-prices package, which is not installed: pip install genai-prices"
        ) from e
    rep = report if report is not None else ImportReport()
    out: list[dict[str, Any]] = []
    owners: dict[str, str] = {}
    for p in genai_providers:
        pid = str(p.id)
        if not _ID_RE.fullmatch(pid):
            raise ValueError(f"genai-prices provider id {pid!r} is not a valid price-file id")
        meta = _PROVIDER_META.get(pid, {})
        urls = [str(u) for u in (p.pricing_urls or [])]
        source = urls[0] if urls else None
        tiers = json.loads(json.dumps(_SERVICE_TIERS.get(pid, {})))
        # OpenAI's 'fast' service tier: an alias of priority where genai-prices prices them identically (its
        # variants then merge into the priority sheets, key by key, with the same prices).
        fast_variants = [
            (m.id, [(v.prices, v.constraint) for v in m.price_variants or [] if v.when == {"service_tier": "fast"}])
            for m in p.models
        ]
        prio_variants = [
            (m.id, [(v.prices, v.constraint) for v in m.price_variants or [] if v.when == {"service_tier": "priority"}])
            for m in p.models
        ]
        has_fast = any(f for _, f in fast_variants)
        fast_alias = has_fast and fast_variants == prio_variants
        if fast_alias:
            tiers.setdefault("aliases", {})["fast"] = "priority"
            rep.note(f"{pid}: service_tier 'fast' prices equal 'priority' for every model → alias fast = priority")
        models: list[dict[str, Any]] = []
        region_candidates: list[tuple[str, str, dict[str, Any]]] = []
        for m in p.models:
            md, model_regions = _convert_genai_model(pid, m, source, fast_alias, rep)
            models.append(md)
            region_candidates.extend(model_regions)
        if any("fast" in e for md in models for e in md["prices"]):
            tiers.setdefault("fast", {})  # a provider's own tier, priced by its sheets only
        _dedupe_equals(pid, models, rep)
        provider: dict[str, Any] = {"schema": 1, "id": pid, "name": str(p.name)}
        if urls:
            provider["pricing_urls"] = urls
        aliases = [a for a in meta.get("aliases", []) if a != pid]
        for a in aliases:
            if a.lower() in owners:
                raise ValueError(f"provider alias {a!r} of {pid!r} already names {owners[a.lower()]!r}")
            owners[a.lower()] = pid
        if aliases:
            provider["aliases"] = aliases
        owns = meta.get("owns")
        if owns == "genai":
            owns = _match_rules(p.model_match, f"{pid} (provider model_match)", rep) if p.model_match else []
        elif owns is None and p.model_match is not None:
            rep.note(f"{pid}: genai-prices model_match {p.model_match!r} not used as `owns` (not a first-party rule)")
        if owns:
            provider["owns"] = owns
        if meta.get("id_prefixes"):
            provider["id_prefixes"] = list(meta["id_prefixes"])
        fallbacks = [str(f) for f in (getattr(p, "fallback_model_providers", None) or [])]
        if fallbacks:
            provider["fallbacks"] = fallbacks
        if p.price_comments:
            provider["notes"] = str(p.price_comments).strip()
        if tiers:
            ordered: dict[str, Any] = {}
            if "aliases" in tiers:
                ordered["aliases"] = dict(sorted(tiers["aliases"].items()))
            for t in sorted((t for t in tiers if t != "aliases"), key=_tier_rank):
                ordered[t] = tiers[t]
            provider["service_tiers"] = ordered
        regions = _regions_from_routes(pid, region_candidates, rep)
        if regions:
            provider["regions"] = regions
        provider["models"] = models
        rep.counts["providers"] += 1
        rep.counts["models"] += len(models)
        out.append(provider)
    if pid_clash := {p["id"] for p in out} & set(owners):
        raise ValueError(f"provider aliases {sorted(pid_clash)} are also provider ids")
    logger.info("from_genai_prices: %s", rep.summary().replace("\n", "; "))
    return out


_ENTRY_META = frozenset({"from", "checked", "origin", "source", "source_date", "notes", "windows"})


def join_origins(*origins: str | None) -> str:
    """Entry origins ("genai-prices 0.2.5", "LiteLLM 1.110.2", "hand", or several joined by " + ") as one, each
    source once, in order."""
    parts: list[str] = []
    for o in origins:
        for part in (o or "").split(" + "):
            if part and part not in parts:
                parts.append(part)
    return " + ".join(parts)


def _day_of(moment: str) -> str:
    return moment[:10]


def collapse_repeated_entries(book: Sequence[dict[str, Any]], *, report: ImportReport | None = None) -> int:
    """Removes dated entries that repeat the previous entry's prices (in place); returns how many were removed.

    genai-prices starts a new price at the date it added a tier variant (2026-10-12/14 for most), with the same
    standard prices: that date is when the prices were checked, not a price change. Such an entry merges into the
    one before it: its tier sheets join that entry's (a tier sheet that differs from one already there is a real
    change, and the entry stays), and its date becomes that entry's ``checked`` date.
    """
    rep = report if report is not None else ImportReport()
    removed = 0
    for provider in book:
        tiers = {t for t in provider.get("service_tiers", {}) if t != "aliases"} | {*_TIER_ORDER, "fast"}

        def standard(e: Mapping[str, Any], tiers: set[str] = tiers) -> dict[str, Any]:
            return {k: v for k, v in e.items() if k not in _ENTRY_META and k not in tiers}

        for model in provider.get("models", []):
            kept: list[dict[str, Any]] = []
            for entry in model["prices"]:
                prev = kept[-1] if kept else None
                if prev is None or "from" not in entry:
                    kept.append(entry)
                    continue
                a, b = standard(prev), standard(entry)
                same = (
                    a.keys() == b.keys()
                    and all(_price_eq(a[k], b[k]) for k in a)
                    and prev.get("windows") == entry.get("windows")
                    and all(prev[t] == entry[t] for t in tiers if t in prev and t in entry)
                )
                if not same:
                    kept.append(entry)
                    continue
                merged: dict[str, Any] = {}
                if "from" in prev:
                    merged["from"] = prev["from"]
                merged["checked"] = max(_day_of(entry["from"]), _day_of(str(prev.get("checked", ""))))
                merged.update(
                    (k, v) for k, v in prev.items() if k not in ("from", "checked", "windows") and k not in tiers
                )
                if "origin" in entry:
                    merged["origin"] = join_origins(prev.get("origin"), entry["origin"])
                for t in sorted((t for t in tiers if t in prev or t in entry), key=_tier_rank):
                    merged[t] = prev.get(t, entry.get(t))
                if "windows" in prev:
                    merged["windows"] = prev["windows"]
                kept[-1] = merged
                removed += 1
                rep.counts["entries_repeating_previous"] += 1
            model["prices"] = kept
    return removed


def _last_change(entries: Sequence[Mapping[str, Any]]) -> str:
    return max((str(e.get("from", "")) for e in entries), default="")


def layered_book(newer: Sequence[Mapping[str, Any]], book: PriceBook | None = None) -> tuple[PriceBook, list[str]]:
    """``book`` (default: the built-in one) with newer community data layered over it, and the conflicts.

    ``newer`` is price-file dicts, as :func:`from_genai_prices` (``source=`` a newer ``data.json``) or
    :func:`from_litellm` (a newer LiteLLM JSON) return them. A model the book lacks is added; for a model both
    have, the one whose last dated price change is newer wins (the newer data on a tie), and each such model whose
    history differs is listed in the conflicts with what was kept. Returns ``(PriceBook, conflicts)``.
    """
    from tokenprice._core import PriceBook, TokenPriceError  # noqa: F811 (imported when called, not at import)

    base = book if book is not None else PriceBook.default()
    known = set(base.providers)
    # genai-prices' dated entries that only repeat a price are checks, not changes (the book rejects them).
    copied: list[dict[str, Any]] = json.loads(json.dumps(list(newer)))
    collapse_repeated_entries(copied)
    providers: list[dict[str, Any]] = []
    conflicts: list[str] = []
    for p in copied:
        pid = str(p["id"])
        if pid not in known:
            providers.append(dict(p))
            continue
        models = []
        for m in p.get("models", []):
            try:
                info = base.resolve(m["id"], provider=pid)
            except TokenPriceError:
                info = None
            if info is None or info["provider"] != pid or info["model"] != m["id"]:
                models.append(m)
                continue
            ours = max(info["price_changes"], default="")[:10]
            theirs = _last_change(m["prices"])[:10]
            if theirs >= ours:
                models.append(m)
                if theirs != ours or info["price_changes"] != [str(e["from"]) for e in m["prices"] if "from" in e]:
                    conflicts.append(
                        f"{pid}/{m['id']}: newer data (last change {theirs or 'none'}) over the book's "
                        f"(last change {ours or 'none'})"
                    )
            else:
                conflicts.append(
                    f"{pid}/{m['id']}: kept the book's (last change {ours}), newer than the data's ({theirs or 'none'})"
                )
        if models:
            providers.append({"id": pid, "models": models})
    return base.with_overrides({"providers": providers}), conflicts


# --------------------------------------------------------------------------------------------------------------
# LiteLLM


def _litellm_price(value: object, exponent: int, model: str, key: str) -> str:
    """A LiteLLM float price per unit → a decimal string per 10**exponent units, without float noise.

    The float's shortest repr is read as a decimal (so 2.5e-06 is exactly 0.0000025), scaled exactly and rounded to
    12 significant digits, which removes the noise of sums such as 3.0000000000000004e-06.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"LiteLLM model {model!r}: {key} must be a number, found {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"LiteLLM model {model!r}: {key} is {value!r}, not a finite price")
    if value < 0:
        raise ValueError(f"LiteLLM model {model!r}: {key} is negative ({value!r})")
    d = Decimal(repr(value)).scaleb(exponent)
    with localcontext() as ctx:
        ctx.prec = 12
        d = +d
    return _plain(d.normalize())


_ABOVE_RE = re.compile(r"^(?P<base>.+)_above_(?P<n>\d+)k_tokens$")


def _parse_litellm_key(key: str) -> tuple[str, str, int | None] | None:
    """`input_cost_per_token_above_200k_tokens_batches` → ("input_cost_per_token", "batch", 200000)."""
    tier = "standard"
    rest = key
    for suffix, name in _LITELLM_TIER_SUFFIXES.items():
        if rest.endswith("_" + suffix):
            tier, rest = name, rest[: -len(suffix) - 1]
            break
    threshold: int | None = None
    m = _ABOVE_RE.match(rest)
    if m and m.group("base") in LITELLM_PRICE_KEYS:
        rest, threshold = m.group("base"), int(m.group("n")) * 1000
    if rest in LITELLM_PRICE_KEYS:
        return rest, tier, threshold
    return None


def _load_litellm(source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as f:
                loaded = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from e
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path}: expected a JSON object of models, found {type(loaded).__name__}")
        return loaded
    raise TypeError(f"from_litellm() takes a path or a dict, not {type(source).__name__}")


def _litellm_model(key: str, entry: Mapping[str, Any], report: ImportReport) -> dict[str, Any] | None:
    sheets: dict[str, dict[str, Any]] = {"standard": {}}
    ladders: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for k, value in entry.items():
        if k == "search_context_cost_per_query":
            if not isinstance(value, Mapping):
                raise ValueError(f"LiteLLM model {key!r}: {k} must be an object of sizes, found {value!r}")
            sizes = {_litellm_price(v, 3, key, f"{k}.{size}") for size, v in value.items()}
            if len(sizes) == 1:
                sheets["standard"]["web_searches_per_k"] = sizes.pop()
            elif sizes:
                report.unmapped_keys[f"{k} (sizes priced differently)"] += 1
            continue
        parsed = _parse_litellm_key(k)
        if parsed is None:
            if "cost" in k and value is not None:
                report.unmapped_keys[k] += 1
            continue
        if value is None:
            continue
        base, tier, threshold = parsed
        target, exponent = LITELLM_PRICE_KEYS[base]
        price = _litellm_price(value, exponent, key, k)
        if threshold is None:
            sheets.setdefault(tier, {})[target] = price
        else:
            ladders.setdefault((tier, target), []).append((threshold, price))
    for (tier, target), steps in sorted(ladders.items()):
        sheet = sheets.get(tier, {})
        if target not in sheet:
            report.skip("long-context price without a base price", f"{key}: {target} ({tier})")
            continue
        steps.sort()
        if len({t for t, _ in steps}) != len(steps):
            raise ValueError(f"LiteLLM model {key!r}: two long-context prices for {target} at the same size")
        sheet[target] = {"base": sheet[target], "above": [{"tokens": t, "price": p} for t, p in steps]}
    standard = sheets.pop("standard")
    if "input_per_mtok" not in standard and "output_per_mtok" not in standard:
        return None
    entry_out: dict[str, Any] = {}
    src = entry.get("source")
    if isinstance(src, str) and src.startswith("http"):
        entry_out["source"] = src
    entry_out.update(_sorted_sheet(standard))
    for tier in _TIER_ORDER:
        if sheets.get(tier):
            entry_out[tier] = _sorted_sheet(sheets[tier])
            report.counts[f"tier_sheets.litellm.{tier}"] += 1
    model: dict[str, Any] = {"id": key}
    ctx = entry.get("max_input_tokens")
    if isinstance(ctx, int) and not isinstance(ctx, bool) and ctx > 0:
        model["context_window"] = ctx
    elif isinstance(ctx, float) and ctx.is_integer() and ctx > 0:
        model["context_window"] = int(ctx)
    model["prices"] = [entry_out]
    return model


def from_litellm(
    source: str | os.PathLike[str] | Mapping[str, Any], *, report: ImportReport | None = None
) -> list[dict[str, Any]]:
    """LiteLLM's ``model_prices_and_context_window.json`` (a path or the loaded dict) as price-file dicts, one per
    ``litellm_provider``.

    Per-token float prices become per-million-token decimal strings (``repr(float)`` → Decimal × 10**6, rounded to
    12 significant digits). ``*_batches`` / ``*_flex`` / ``*_priority`` keys become tier sheets and
    ``*_above_<N>k_tokens`` keys long-context ladders. Entries that are not token-priced chat, completion, responses
    or embedding models are skipped and counted in ``report.skipped``; ``alias_of`` entries become aliases of their
    target. Raises ValueError naming the model and key on malformed input.
    """
    rep = report if report is not None else ImportReport()
    table = _load_litellm(source)
    groups: dict[str, list[dict[str, Any]]] = {}
    index: dict[str, tuple[str, dict[str, Any]]] = {}
    aliases: list[tuple[str, str]] = []
    for key, entry in table.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"LiteLLM model names must be non-empty strings, found {key!r}")
        if key == "sample_spec":
            continue
        if not isinstance(entry, Mapping):
            raise ValueError(f"LiteLLM model {key!r}: expected an object, found {type(entry).__name__}")
        if "alias_of" in entry:
            target = entry["alias_of"]
            if not isinstance(target, str) or not target:
                raise ValueError(f"LiteLLM model {key!r}: alias_of must be a model name, found {target!r}")
            aliases.append((key, target))
            continue
        mode = entry.get("mode")
        if mode is not None and not isinstance(mode, str):
            raise ValueError(f"LiteLLM model {key!r}: mode must be a string, found {mode!r}")
        if mode not in _LITELLM_MODES:
            rep.skip(f"mode {mode!r}" if mode is not None else "no mode")
            continue
        model = _litellm_model(key, entry, rep)
        if model is None:
            rep.skip("no token prices")
            continue
        provider = entry.get("litellm_provider")
        if not isinstance(provider, str) or not provider:
            raise ValueError(f"LiteLLM model {key!r}: litellm_provider must be a provider name, found {provider!r}")
        if not _ID_RE.fullmatch(provider):
            raise ValueError(f"LiteLLM model {key!r}: litellm_provider {provider!r} is not a valid provider id")
        if key.lower() in index:
            rep.skip("duplicate model name (case-insensitive)", key)
            continue
        groups.setdefault(provider, []).append(model)
        index[key.lower()] = (provider, model)
    # Names without LiteLLM's routing prefix ("gemini/gemini-2.5-pro" → "gemini-2.5-pro"), where unique.
    for provider, models in groups.items():
        taken = {m["id"].lower() for m in models}
        prefixes = {provider + "/", provider.split("-")[0] + "/"}
        for m in models:
            for p in sorted(prefixes):
                if m["id"].lower().startswith(p):
                    short = m["id"][len(p) :]
                    if short and short.lower() not in taken:
                        taken.add(short.lower())
                        m["match"] = [m["id"], short]
                    break
    for alias, target in aliases:
        hit = index.get(target.lower())
        if hit is None:
            rep.skip("alias of an unpriced or unknown model", f"{alias} → {target}")
            continue
        provider, model = hit
        names = {m["id"].lower() for m in groups[provider]} | {
            r.lower() for m in groups[provider] for r in m.get("match", []) if isinstance(r, str)
        }
        if alias.lower() in names:
            rep.skip("alias already names a model", alias)
            continue
        model["match"] = model.get("match", [model["id"]]) + [alias]
        rep.counts["litellm_aliases"] += 1
    out: list[dict[str, Any]] = []
    for provider in sorted(groups):
        out.append({"schema": 1, "id": provider, "name": provider, "models": groups[provider]})
        rep.counts["litellm_providers"] += 1
        rep.counts["litellm_models"] += len(groups[provider])
    logger.info("from_litellm: %s", rep.summary().replace("\n", "; "))
    return out


# --------------------------------------------------------------------------------------------------------------
# Merging LiteLLM's tier sheets into the genai-prices book


def _implied_price(provider: Mapping[str, Any], entry: Mapping[str, Any], tier: str, key: str, depth: int = 0) -> Any:
    """What the book would charge for `key` in `tier` on this entry without a new sheet (None: an error/unknown)."""
    if depth > 4:
        return None
    sheet = entry.get(tier)
    if isinstance(sheet, Mapping) and key in sheet:
        return sheet[key]
    rule = provider.get("service_tiers", {}).get(tier)
    if not isinstance(rule, Mapping):
        return None
    if "multiplier" in rule:
        std = entry.get(key)
        if std is None:
            return None
        return _price_times(std, Decimal(rule["multiplier"])) if key in _TOKEN_KEYS else std
    if "same_as" in rule:
        target = str(rule["same_as"])
        return entry.get(key) if target == "standard" else _implied_price(provider, entry, target, key, depth + 1)
    return None


def _litellm_candidates(model_id: str, group: str) -> list[str]:
    lower = model_id.lower()
    out = [lower]
    for p in (group + "/", group.split("-")[0] + "/"):
        if lower.startswith(p):
            out.append(lower[len(p) :])
    if "/" in lower:
        out.append(lower.rsplit("/", 1)[1])
    seen: list[str] = []
    for c in out:
        if c and c not in seen:
            seen.append(c)
    return seen


def merge_litellm_tiers(
    genai: Sequence[dict[str, Any]],
    litellm: Sequence[Mapping[str, Any]],
    *,
    report: ImportReport | None = None,
) -> Counter[str]:
    """Adds LiteLLM's batch/flex/priority/ultrafast sheets to genai-prices models that have none for that tier (in
    place).

    A LiteLLM model is matched to a genai-prices model of the corresponding provider by id or exact alias; its sheet
    goes on every entry whose standard input and output prices equal LiteLLM's (so a sheet never lands on another
    price era), minus prices the entry does not charge separately. Sheets the provider's tier rule already implies
    are not added. Returns the number of sheets added per tier.
    """
    rep = report if report is not None else ImportReport()
    added: Counter[str] = Counter()
    by_id = {p["id"]: p for p in genai}
    # genai provider → its models by lower-case id and exact alias.
    lookup: dict[str, dict[str, dict[str, Any]]] = {}
    for p in genai:
        names: dict[str, dict[str, Any]] = {}
        for m in p["models"]:
            names.setdefault(m["id"].lower(), m)
        for m in p["models"]:
            for r in m.get("match", []):
                if isinstance(r, str):
                    names.setdefault(r.lower(), m)
        lookup[p["id"]] = names
    # Candidates per genai model: (quality, group order, position, litellm model).
    candidates: dict[tuple[str, str], list[tuple[int, int, int, Mapping[str, Any], str]]] = {}
    for gi, group in enumerate(litellm):
        gid = genai_provider_for_litellm(str(group["id"]))
        if gid is None or gid not in by_id:
            continue
        for pos, lm in enumerate(group["models"]):
            entry = lm["prices"][0]
            if not any(t in entry for t in _TIER_ORDER):
                continue
            for quality, name in enumerate(_litellm_candidates(lm["id"], str(group["id"]))):
                gm = lookup[gid].get(name)
                if gm is not None:
                    candidates.setdefault((gid, gm["id"]), []).append((quality, gi, pos, lm, str(group["id"])))
                    break
    for (gid, model_id), cands in sorted(candidates.items()):
        provider = by_id[gid]
        gm = next(m for m in provider["models"] if m["id"] == model_id)
        cands.sort(key=lambda c: c[:3])
        for tier in _TIER_ORDER:
            with_tier = [c for c in cands if tier in c[3]["prices"][0]]
            if not with_tier:
                continue
            placed_any = False
            for e_index, entry in enumerate(gm["prices"]):
                if tier in entry:
                    placed_any = True
                    continue  # genai-prices prices this tier here
                if entry.get("windows"):
                    rep.skip("LiteLLM sheet for an entry with time-of-day windows", f"{gid}/{model_id} {tier}")
                    continue
                placed = False
                for _, _, _, lm, group_name in with_tier:
                    lentry = lm["prices"][0]
                    std_keys = [k for k in ("input_per_mtok", "output_per_mtok") if k in lentry]
                    if not std_keys or not all(k in entry and _price_eq(entry[k], lentry[k]) for k in std_keys):
                        continue
                    sheet = {k: v for k, v in lentry[tier].items() if k in entry}
                    dropped = sorted(set(lentry[tier]) - set(sheet))
                    if dropped:
                        rep.note(
                            f"{gid}/{model_id}: LiteLLM {group_name}/{lm['id']} {tier} prices {dropped} that the entry "
                            "does not charge separately; left out"
                        )
                    if not sheet:
                        placed = True
                        break
                    if all(_price_eq(_implied_price(provider, entry, tier, k) or "-1", v) for k, v in sheet.items()):
                        rep.counts[f"litellm_sheet_implied_by_rule.{tier}"] += 1
                        placed = True
                        break
                    entry[tier] = _sorted_sheet(sheet)
                    # Keep tier sheets after the standard prices and before the windows, in tier order.
                    reordered = {k: v for k, v in entry.items() if k not in (*_TIER_ORDER, "fast", "windows")}
                    for t in sorted((t for t in entry if t in (*_TIER_ORDER, "fast")), key=_tier_rank):
                        reordered[t] = entry[t]
                    if "windows" in entry:
                        reordered["windows"] = entry["windows"]
                    entry.clear()
                    entry.update(reordered)
                    added[tier] += 1
                    rep.counts[f"tier_sheets.litellm_added.{tier}"] += 1
                    rep.note(f"{gid}/{model_id} prices[{e_index}]: {tier} sheet from LiteLLM {group_name}/{lm['id']}")
                    placed = True
                    break
                placed_any = placed_any or placed
            if not placed_any:
                lm0 = with_tier[0][3]
                rep.skip(
                    "LiteLLM tier sheet whose standard prices match no entry",
                    f"{gid}/{model_id} {tier} (LiteLLM {with_tier[0][4]}/{lm0['id']})",
                )
    return added
