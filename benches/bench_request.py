"""The per-request path: one short text counted, one response priced, as a backend service does per request.

tokenprice against tiktoken (counting) and genai-prices / LiteLLM (pricing), side by side in one run:

1. ``Encoding.count``, ``Encoding.encode`` and ``count_tokens(str, model=...)`` of texts of 10, 100 and 1,000
   characters, against tiktoken's ``encode`` of the same text (the ratio is tiktoken's time over ours);
2. ``price(usage, model=..., at=...)``, and ``extract_usage(openai_response)`` + ``price(record)``, against
   genai-prices' ``calc_price`` (and its ``extract_usage`` + ``calc_price``) and, when installed, LiteLLM's
   ``cost_per_token`` and ``completion_cost``.

Each figure is the best of 7 repeats of a timed loop, in µs per call. Results are printed and written to
``benches/RESULTS.md`` (the per-request section).

Usage: python benches/bench_request.py [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import re
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tiktoken

import tokenprice

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## Per-request path (issue 13)"

SENTENCE = "The quick brown fox jumps over the lazy dog, then 42 more dogs — naïve café résumé. "


def per_call_us(f: Callable[[], object]) -> float:
    timer = timeit.Timer(f)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=7, number=number)) / number * 1e6


def text_of(n: int) -> str:
    return (SENTENCE * (n // len(SENTENCE) + 1))[:n]


OPENAI_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1764000000,
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 2422,
        "completion_tokens": 120,
        "total_tokens": 2542,
        "prompt_tokens_details": {"cached_tokens": 2304, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
}


def counting_rows() -> list[tuple[str, float, float]]:
    """(label, µs, tiktoken µs / ours)."""
    ours = tokenprice.get_encoding("o200k_base")
    theirs = tiktoken.get_encoding("o200k_base")
    rows = []
    for n in (10, 100, 1000):
        text = text_of(n)
        assert ours.encode(text) == theirs.encode(text)
        assert tokenprice.count_tokens(text, model="gpt-4o") == len(theirs.encode(text))
        base = per_call_us(lambda t=text: theirs.encode(t))  # type: ignore[misc]
        rows.append((f"tiktoken `encode`, {n} chars", base, 1.0))
        for label, f in (
            ("`Encoding.count`", lambda t=text: ours.count(t)),
            ("`Encoding.encode`", lambda t=text: ours.encode(t)),
            ("`count_tokens(str, model=)`", lambda t=text: tokenprice.count_tokens(t, model="gpt-4o")),
        ):
            us = per_call_us(f)  # type: ignore[arg-type]
            rows.append((f"tokenprice {label}, {n} chars", us, base / us))
    return rows


def pricing_rows() -> list[tuple[str, float, str]]:
    """(label, µs, note)."""
    import genai_prices

    at = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    usage = tokenprice.Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120)
    ours = tokenprice.price(usage, model="gpt-4o", at=at).total
    rows: list[tuple[str, float, str]] = []
    rows.append(
        (
            "tokenprice `price(usage, model=, at=)`",
            per_call_us(lambda: tokenprice.price(usage, model="gpt-4o", at=at)),
            f"{ours}",
        )
    )
    at_text = "2026-06-01T00:00:00Z"
    rows.append(
        (
            "tokenprice `price(usage, model=, at=str)`",
            per_call_us(lambda: tokenprice.price(usage, model="gpt-4o", at=at_text)),
            "",
        )
    )

    def extract_and_price() -> object:
        return tokenprice.price(tokenprice.extract_usage(OPENAI_RESPONSE, provider="openai"), at=at)

    rows.append(
        (
            "tokenprice `extract_usage(response)` + `price(record)`",
            per_call_us(extract_and_price),
            f"{extract_and_price().total}",
        )
    )  # type: ignore[attr-defined]

    gp_usage = genai_prices.Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120)
    gp = genai_prices.calc_price(gp_usage, "gpt-4o", provider_id="openai", genai_request_timestamp=at)
    rows.append(
        (
            "genai-prices `calc_price`",
            per_call_us(
                lambda: genai_prices.calc_price(gp_usage, "gpt-4o", provider_id="openai", genai_request_timestamp=at)
            ),
            f"{gp.total_price}",
        )
    )

    def gp_extract_and_price() -> object:
        extracted = genai_prices.extract_usage(OPENAI_RESPONSE, provider_id="openai", api_flavor="chat")
        model = extracted.model.id if extracted.model else "gpt-4o"
        return genai_prices.calc_price(extracted.usage, model, provider_id="openai", genai_request_timestamp=at)

    rows.append(
        (
            "genai-prices `extract_usage` + `calc_price`",
            per_call_us(gp_extract_and_price),
            f"{gp_extract_and_price().total_price}",  # type: ignore[attr-defined]
        )
    )

    # LiteLLM would fetch its price map from the network on import; the copy it ships is the one measured.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        return rows
    prompt_cost, completion_cost = litellm.cost_per_token(
        model="gpt-4o", prompt_tokens=2422, completion_tokens=120, cache_read_input_tokens=2304
    )
    rows.append(
        (
            "LiteLLM `cost_per_token`",
            per_call_us(
                lambda: litellm.cost_per_token(
                    model="gpt-4o", prompt_tokens=2422, completion_tokens=120, cache_read_input_tokens=2304
                )
            ),
            f"{prompt_cost + completion_cost:.9f} (float)",
        )
    )
    response = litellm.ModelResponse(**OPENAI_RESPONSE)
    rows.append(
        (
            "LiteLLM `completion_cost(response)`",
            per_call_us(lambda: litellm.completion_cost(completion_response=response)),
            f"{litellm.completion_cost(completion_response=response):.9f} (float)",
        )
    )
    return rows


def render(counting: list[tuple[str, float, float]], pricing: list[tuple[str, float, str]]) -> str:
    versions = f"tiktoken {tiktoken.__version__}, genai-prices {importlib.metadata.version('genai-prices')}"
    try:
        versions += f", litellm {importlib.metadata.version('litellm')}"
    except importlib.metadata.PackageNotFoundError:
        versions += ", litellm not installed"
    lines = [
        f"{SECTION} — {dt.date.today().isoformat()}",
        "",
        f"`python benches/bench_request.py` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {versions}. One call at a time from Python, best of 7 timed loops; o200k_base "
        "(gpt-4o) text of English with a few accented words. Same run for every row.",
        "",
        "| call | µs per call | tiktoken `encode` time / ours |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {us:.2f} | {ratio:.1f}x |" for label, us, ratio in counting]
    base = pricing[0][1]
    lines += ["", "| call | µs per call | time / tokenprice `price` | result |", "|---|---|---|---|"]
    lines += [f"| {label} | {us:.2f} | {us / base:.1f}x | {note} |" for label, us, note in pricing]
    return "\n".join(lines) + "\n"


def write(section: str, title: str = SECTION) -> None:
    """Puts `section` in RESULTS.md in place of the section headed `title` (or at the end)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(title) + r".*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n"), text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text if text.endswith("\n") else text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    section = render(counting_rows(), pricing_rows())
    sys.stdout.write(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
