"""Usage extraction: tokenprice against the ways people read usage today, side by side on the same records.

A seeded generator writes a realistic mix of records as JSON Lines (provider responses with their message text —
OpenAI Chat Completions and Responses, Anthropic, Gemini, Bedrock — and gateway logs: Cloudflare Logs API items,
Logpush events whose ResponseBody is the provider's body as JSON text or an SSE stream, LiteLLM payloads with
the messages). Timed on the same bytes:

1. tokenprice in Rust: ``cargo bench --bench extract_core`` reads the same file (one core), bytes → records;
2. tokenprice from Python: ``extract_usages`` on an Arrow column of the lines, one thread and all threads
   (bytes → a pyarrow.Table of records);
3. ``json.loads`` + a hand-written dict walk (the way a user reads usage: per shape, OpenAI's cached tokens
   inside the prompt, Anthropic's outside, Logpush bodies parsed a second time);
4. genai-prices' ``extract_usage`` (after ``json.loads``) on the provider bodies it can read (it reads no
   gateway logs), with the right provider and API flavour given.

Results are printed and written to ``benches/RESULTS.md`` (the extraction section).

Usage: python benches/bench_extract.py [--mb 64] [--no-write]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import genai_prices
import pyarrow as pa
from bench_logs import best

import tokenprice

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
CORPUS = HERE / "corpus" / "records.jsonl"

WORDS = (
    "the of and to in is that for it as with was on be by this are or at from his an have not they which one you "
    "were all we her she there can been if more when will would who so no usage token price cache model request "
    "tenant feature latency gateway response stream invoice quarter customer contract ship order refund"
).split()


def text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def openai_chat(rng: random.Random) -> dict[str, Any]:
    prompt = rng.randint(20, 20000)
    cached = rng.choice([0, 0, prompt // 2])
    out = rng.randint(1, 2000)
    return {
        "id": f"chatcmpl-{rng.getrandbits(64):x}",
        "object": "chat.completion",
        "created": 1746100800 + rng.randint(0, 10**7),
        "model": rng.choice(["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1", "o3-2025-04-16"]),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text(rng, 20, 400), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": out,
            "total_tokens": prompt + out,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": out // 3, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_abc123",
    }


def openai_responses(rng: random.Random) -> dict[str, Any]:
    prompt, out = rng.randint(20, 20000), rng.randint(1, 2000)
    return {
        "id": f"resp_{rng.getrandbits(64):x}",
        "object": "response",
        "created_at": 1746100800 + rng.randint(0, 10**7),
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text(rng, 20, 400)}]}
        ],
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": prompt // 4},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": out // 2},
            "total_tokens": prompt + out,
        },
    }


def anthropic(rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"msg_{rng.getrandbits(64):x}",
        "type": "message",
        "role": "assistant",
        "model": rng.choice(["claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"]),
        "content": [{"type": "text", "text": text(rng, 20, 400)}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": rng.randint(1, 5000),
            "cache_creation_input_tokens": rng.choice([0, 2051]),
            "cache_read_input_tokens": rng.choice([0, 0, 12000]),
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": rng.randint(1, 2000),
            "service_tier": "standard",
        },
    }


def gemini(rng: random.Random) -> dict[str, Any]:
    prompt, cand, thoughts = rng.randint(10, 20000), rng.randint(1, 2000), rng.randint(0, 1000)
    return {
        "candidates": [{"content": {"parts": [{"text": text(rng, 20, 400)}], "role": "model"}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.5-flash",
        "responseId": f"r{rng.getrandbits(48):x}",
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": cand,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt + cand + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
    }


def bedrock(rng: random.Random) -> dict[str, Any]:
    i, o = rng.randint(1, 5000), rng.randint(1, 2000)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text(rng, 20, 400)}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": i,
            "outputTokens": o,
            "totalTokens": i + o,
            "cacheReadInputTokens": 0,
            "cacheWriteInputTokens": 0,
        },
        "metrics": {"latencyMs": rng.randint(100, 5000)},
    }


def cloudflare_logs(rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"01J{rng.getrandbits(80):X}",
        "created_at": "2025-05-01T12:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "path": "chat/completions",
        "success": True,
        "status_code": 200,
        "cached": rng.random() < 0.1,
        "duration": rng.randint(100, 3000),
        "tokens_in": rng.randint(1, 5000),
        "tokens_out": rng.randint(1, 1000),
        "cost": round(rng.random() / 100, 7),
        "metadata": json.dumps({"tenant": f"t{rng.randint(1, 50)}", "feature": rng.choice(["chat", "search", "rag"])}),
        "step": 0,
    }


def logpush(rng: random.Random) -> dict[str, Any]:
    body = openai_chat(rng)
    if rng.random() < 0.3:
        chunk = {k: body[k] for k in ("id", "object", "created", "model")}
        chunk["object"] = "chat.completion.chunk"
        deltas = [
            json.dumps({**chunk, "choices": [{"index": 0, "delta": {"content": w}}]}) for w in text(rng, 5, 60).split()
        ]
        final = json.dumps({**chunk, "choices": [], "usage": body["usage"]})
        response = "".join(f"data: {d}\n\n" for d in [*deltas, final]) + "data: [DONE]\n\n"
    else:
        response = json.dumps(body)
    return {
        "Timestamp": "2025-06-01T09:00:00Z",
        "Gateway": "prod",
        "Provider": "openai",
        "Model": body["model"],
        "StatusCode": 200,
        "Cached": False,
        "Metadata": json.dumps({"tenant": f"t{rng.randint(1, 50)}", "feature": "chat"}),
        "Metrics": {"cost": 0.0042, "durationMs": 1234},
        "RequestBody": json.dumps(
            {"model": body["model"], "messages": [{"role": "user", "content": text(rng, 20, 300)}]}
        ),
        "ResponseBody": response,
    }


def litellm(rng: random.Random) -> dict[str, Any]:
    p, c = rng.randint(1, 5000), rng.randint(1, 1000)
    return {
        "id": f"chatcmpl-{rng.getrandbits(64):x}",
        "call_type": "acompletion",
        "status": "success",
        "response_cost": round(rng.random() / 100, 8),
        "custom_llm_provider": "openai",
        "model": "gpt-4o",
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "startTime": 1746100800.5,
        "endTime": 1746100801.5,
        "cache_hit": False,
        "request_tags": ["prod"],
        "messages": [{"role": "user", "content": text(rng, 20, 300)}],
        "response": {"choices": [{"message": {"content": text(rng, 20, 300)}}]},
        "metadata": {"user_api_key_team_id": "team-1", "spend_logs_metadata": {"tenant": "acme", "feature": "search"}},
    }


# (generator, share, genai-prices (provider_id, api_flavor) or None when it cannot read the record)
MIX = [
    (openai_chat, 0.2, ("openai", "chat")),
    (openai_responses, 0.08, ("openai", "responses")),
    (anthropic, 0.15, ("anthropic", "default")),
    (gemini, 0.12, ("google", "default")),
    (bedrock, 0.05, ("aws", "default")),
    (cloudflare_logs, 0.15, None),
    (logpush, 0.15, None),
    (litellm, 0.10, None),
]


def generate(megabytes: int, seed: int = 11) -> list[tuple[bytes, Any]]:
    rng = random.Random(seed)
    out: list[tuple[bytes, Any]] = []
    size = 0
    gens = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    while size < megabytes * 1_000_000:
        k = rng.choices(range(len(MIX)), weights)[0]
        line = json.dumps(gens[k](rng)).encode()
        out.append((line, MIX[k][2]))
        size += len(line) + 1
    return out


def walk(d: dict[str, Any]) -> tuple[int, int, int]:
    """A hand-written reader: (prompt incl. cache, output, cache read) from the shapes of the mix."""
    if "ResponseBody" in d:
        body = d["ResponseBody"]
        if body.startswith("data:"):
            for part in reversed(body.split("\n\n")):
                if part.startswith("data: {"):
                    chunk = json.loads(part[6:])
                    if chunk.get("usage"):
                        return walk(chunk)
            return (0, 0, 0)
        return walk(json.loads(body))
    if "tokens_in" in d:
        return (d["tokens_in"] or 0, d["tokens_out"] or 0, 0)
    if "response_cost" in d:
        return (d["prompt_tokens"], d["completion_tokens"], 0)
    if "usageMetadata" in d:
        u = d["usageMetadata"]
        return (
            u.get("promptTokenCount", 0),
            u.get("candidatesTokenCount", 0) + u.get("thoughtsTokenCount", 0),
            u.get("cachedContentTokenCount", 0),
        )
    u = d.get("usage") or {}
    if "prompt_tokens" in u:
        return (
            u["prompt_tokens"],
            u["completion_tokens"],
            (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
        )
    if "inputTokens" in u:
        reads, writes = u.get("cacheReadInputTokens", 0), u.get("cacheWriteInputTokens", 0)
        return (u["inputTokens"] + reads + writes, u["outputTokens"], reads)
    if "cache_creation_input_tokens" in u or d.get("type") == "message":
        reads = u.get("cache_read_input_tokens", 0)
        return (u["input_tokens"] + reads + u.get("cache_creation_input_tokens", 0), u["output_tokens"], reads)
    if "input_tokens" in u:
        return (u["input_tokens"], u["output_tokens"], u.get("input_tokens_details", {}).get("cached_tokens", 0))
    raise ValueError(f"unknown shape: {sorted(d)}")


def rust_core(path: Path) -> float:
    """MB/s of the Rust core on one thread (cargo bench --bench extract_core), parsed from its output."""
    env = {**os.environ, "RECORDS": str(path)}
    out = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "extract_core"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"([\d.]+) MB/s", out)
    if not match:
        raise RuntimeError(f"unexpected extract_core output: {out!r}")
    print(out.strip())
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    records = generate(args.mb)
    lines = [r[0] for r in records]
    total = sum(len(x) for x in lines)
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    CORPUS.write_bytes(b"\n".join(lines) + b"\n")
    mb = total / 1e6
    print(f"{len(lines):,} records, {mb:.1f} MB")

    column = pa.array(lines, type=pa.binary())
    # Same answers first: tokenprice and the hand walk agree on every record's prompt, output and cache counts.
    table = tokenprice.extract_usages(column)
    assert table.num_rows == len(lines) and table.column("error").null_count == len(lines)
    ours = list(
        zip(
            table.column("input_tokens").to_pylist(),
            table.column("output_tokens").to_pylist(),
            table.column("cache_read_tokens").to_pylist(),
            strict=True,
        )
    )
    theirs = [walk(json.loads(x)) for x in lines]
    assert ours == theirs, next((i, a, b) for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)

    rows: list[tuple[str, float]] = []
    core = rust_core(CORPUS)
    rows.append(("tokenprice, Rust core, 1 thread (bytes → records)", core))
    t1 = best(lambda: tokenprice.extract_usages(column, num_threads=1))
    rows.append(("tokenprice `extract_usages`, 1 thread (→ pyarrow.Table)", mb / t1))
    tn = best(lambda: tokenprice.extract_usages(column, num_threads=os.cpu_count()))
    rows.append((f"tokenprice `extract_usages`, {os.cpu_count()} threads", mb / tn))
    tw = best(lambda: [walk(json.loads(x)) for x in lines], rounds=2)
    rows.append(("`json.loads` + hand-written dict walk, 1 thread", mb / tw))

    # genai-prices on the provider bodies it reads.
    subset = [(line, g) for line, g in records if g is not None]
    sub_mb = sum(len(line) for line, _ in subset) / 1e6
    sub_column = pa.array([line for line, _ in subset], type=pa.binary())

    def genai() -> None:
        for line, (provider, flavor) in subset:
            genai_prices.extract_usage(json.loads(line), provider_id=provider, api_flavor=flavor)

    tg = best(genai, rounds=1)
    ts = best(lambda: tokenprice.extract_usages(sub_column, num_threads=1))
    tsw = best(lambda: [walk(json.loads(line)) for line, _ in subset], rounds=2)

    print()
    print("| measurement | MB/s | ratio (tokenprice Rust core / this) |")
    print("|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} | {core / rate:.1f}x |")
    subset_line = (
        f"On the provider bodies alone ({sub_mb:.1f} MB, the records genai-prices can read): tokenprice "
        f"`extract_usages` 1 thread {sub_mb / ts:.0f} MB/s, `json.loads` + walk {sub_mb / tsw:.0f} MB/s, "
        f"genai-prices `json.loads` + `extract_usage` {sub_mb / tg:.1f} MB/s — tokenprice (1 thread, from Python) "
        f"is **{tg / ts:.0f}x** genai-prices and **{tsw / ts:.1f}x** the hand walk."
    )
    print(subset_line)
    if args.no_write:
        return
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    section = [
        f"## Usage extraction (issue 4) — {time.strftime('%Y-%m-%d')}",
        "",
        f"`python benches/bench_extract.py` on {machine}, genai-prices {importlib.metadata.version('genai-prices')}. "
        f"Records: {len(lines):,} JSON lines, {mb:.1f} MB, a seeded mix of provider responses with their message "
        "text (OpenAI Chat and Responses, Anthropic, Gemini, Bedrock) and gateway logs (Cloudflare Logs API items, "
        "Logpush events with the body as JSON text or an SSE stream, LiteLLM payloads). Before timing, tokenprice "
        "and the hand-written walk agree on every record's prompt, output and cached counts. Best of 3 (2 for the "
        "walk, 1 for genai-prices).",
        "",
        "| measurement | MB/s | tokenprice Rust core is |",
        "|---|---|---|",
        *[f"| {name} | {rate:.0f} | {core / rate:.1f}x |" for name, rate in rows],
        "",
        subset_line,
        "",
    ]
    write_section(section)


def write_section(section: list[str]) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find("## Usage extraction (issue 4)")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + ("" if end < 0 else text[end + 1 :])
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section))


if __name__ == "__main__":
    sys.exit(main())
