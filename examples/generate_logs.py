"""Writes examples/logs/gateway.jsonl.gz (gzip, reproducible byte for byte): a seeded sample of Cloudflare AI
Gateway logs for `tokenprice price`.

About 5,000 records from one gateway, as teams export them: Logs API items (`tokens_in`/`tokens_out`, `cost`,
`cached`, `metadata` as a JSON string with tenant/feature/conversation labels, `step` for fallbacks) and Logpush
`ai_gateway_events` records whose `ResponseBody` is the provider's body as JSON text or an SSE stream. Several
providers and models; timestamps from 2025-01 to 2026-10, across dated price changes (OpenAI o3's June 2025 cut,
DeepSeek's September 2025 change); cached prompts; gateway cache hits; failed requests; and a reported `cost` that
carries the mistakes users have reported against the gateway's estimate:

- gateway cache hits charged: a call the gateway answered from its own cache costs 1.5x the cold call's;
- prompt-cache reads charged twice (cloudflare/ai#550, where hot calls cost more than cold ones): every other
  OpenAI stream with cache reads costs its whole prompt at the input rate plus the reads again at the cache-read
  rate (cause "cache charged twice");
- the other OpenAI streams with cache reads cost their whole prompt at the input rate, the discount ignored
  (BerriAI/litellm#16341; cause "cache tokens ignored");
- Anthropic usage not parsed (cloudflare-docs#20536): Logpush records of Anthropic calls report cost 0;
- Bedrock camelCase usage giving no cost (cloudflare/ai#491): Bedrock Converse records report cost 0
  (both cause "gateway reported 0");
- requests the caller priced itself with `cf-aig-custom-cost` ($1 / $3 per million tokens in / out): Logs API
  items with `custom_cost: true` (cloudflare-docs `ai-gateway/configuration/custom-costs.mdx`; cause "custom cost").

The gateway's estimate is tokens × a flat table of list prices (below, per million tokens; today's prices, no
dates, no cache discounts), the way a gateway estimates. A few records name a private fine-tune the price book
does not know: tokenprice rejects them with that reason. Usage: python examples/generate_logs.py [N]
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent / "logs" / "gateway.jsonl.gz"

# (gateway provider, model, input $/M, output $/M): the flat table the gateway's estimate uses.
MODELS = [
    ("openai", "gpt-4o", 2.5, 10.0),
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("openai", "o3", 2.0, 8.0),
    ("openai", "gpt-4.1-mini", 0.4, 1.6),
    ("google-ai-studio", "gemini-2.5-flash", 0.3, 2.5),
    ("google-ai-studio", "gemini-2.5-pro", 1.25, 10.0),
    ("deepseek", "deepseek-chat", 0.28, 0.42),
    ("anthropic", "claude-sonnet-4-5", 3.0, 15.0),
    ("anthropic", "claude-3-5-haiku", 0.8, 4.0),
    ("aws-bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", 0.8, 4.0),
]
# Cache-read $/M of the OpenAI models (today's, as the book has them): what a charged-twice estimate adds.
CACHE_READ = {"gpt-4o": 1.25, "gpt-4o-mini": 0.075, "o3": 0.5, "gpt-4.1-mini": 0.1}
WEIGHTS = [14, 18, 6, 8, 12, 5, 5, 14, 8, 5]
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
FEATURES = ["chat", "search", "summarize", "extract"]
WORDS = "the usage token price cache model request tenant feature answer summary invoice order refund".split()
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
SPAN = (datetime(2026, 10, 31, tzinfo=timezone.utc) - START).total_seconds()


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def estimate(p_in: float, p_out: float, tokens_in: int, tokens_out: int) -> float:
    return round((tokens_in * p_in + tokens_out * p_out) / 1e6, 9)


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25)))


def logs_item(
    rng: random.Random, i: int, when: datetime, labels: dict[str, str], m: tuple[str, str, float, float]
) -> dict[str, object]:
    provider, model, p_in, p_out = m
    tokens_in, tokens_out = rng.randint(20, 30_000), rng.randint(1, 3_000)
    cached = rng.random() < 0.08
    failed = rng.random() < 0.03
    cost = estimate(p_in, p_out, tokens_in, tokens_out)
    custom = i % 97 == 5 and not cached and not failed  # priced by the caller's cf-aig-custom-cost
    if custom:
        cost = estimate(1.0, 3.0, tokens_in, tokens_out)
    item: dict[str, object] = {
        "id": f"01J{i:023d}",
        "created_at": iso(when),
        "provider": provider,
        "model": model,
        "path": "chat/completions",
        "success": not failed,
        "status_code": rng.choice([429, 500, 503]) if failed else 200,
        "cached": cached and not failed,
        "duration": 0 if cached else rng.randint(200, 9_000),
        "tokens_in": None if failed else tokens_in,
        "tokens_out": None if failed else tokens_out,
        "cost": 0 if failed else round(cost * 1.5, 9) if cached else cost,
        "custom_cost": custom,
        "metadata": json.dumps(labels),
        "step": 1 if rng.random() < 0.03 else 0,
    }
    return item


def logpush(
    rng: random.Random, i: int, when: datetime, labels: dict[str, str], m: tuple[str, str, float, float]
) -> dict[str, object]:
    provider, model, p_in, p_out = m
    uncached, out = rng.randint(10, 20_000), rng.randint(1, 2_000)
    reads = rng.choice([0, 0, rng.randint(1_000, 50_000)])
    writes = rng.choice([0, 0, 0, rng.randint(1_000, 10_000)])
    cost: float = 0.0  # the gateway's estimate: 0 where it could not read the usage (the reported mistakes)
    if provider == "anthropic":
        body = json.dumps(
            {
                "id": f"msg_{i:08d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text(rng)}],
                "usage": {
                    "input_tokens": uncached,
                    "cache_read_input_tokens": reads,
                    "cache_creation_input_tokens": writes,
                    "output_tokens": out,
                },
            }
        )
    elif provider == "aws-bedrock":
        body = json.dumps(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text(rng)}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": uncached,
                    "outputTokens": out,
                    "totalTokens": uncached + out,
                    "cacheReadInputTokens": reads,
                    "cacheWriteInputTokens": writes,
                },
            }
        )
    else:
        # An OpenAI stream: usage in the final chunk (stream_options.include_usage).
        prompt = uncached + reads
        head = {
            "id": f"chatcmpl-{i:08d}",
            "object": "chat.completion.chunk",
            "created": int(when.timestamp()),
            "model": model,
        }
        chunks = [{**head, "choices": [{"index": 0, "delta": {"content": w}}]} for w in text(rng).split()[:6]]
        # Some apps stream without stream_options.include_usage: no usage anywhere, so the gateway reports no
        # cost and tokenprice counts the request's and response's tokens (usage_source "counted").
        if i % 5 == 2:
            body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return logpush_record(rng, when, provider, model, labels, 0.0, body)
        chunks.append(
            {
                **head,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": out,
                    "total_tokens": prompt + out,
                    "prompt_tokens_details": {"cached_tokens": reads},
                },
            }
        )
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        cost = estimate(p_in, p_out, prompt, out)
        if reads and i % 2 == 0 and model in CACHE_READ:
            cost = round(cost + reads * CACHE_READ[model] / 1e6, 9)  # cloudflare/ai#550
    return logpush_record(rng, when, provider, model, labels, cost, body)


def logpush_record(
    rng: random.Random, when: datetime, provider: str, model: str, labels: dict[str, str], cost: float, body: str
) -> dict[str, object]:
    return {
        "Timestamp": iso(when),
        "Gateway": "prod",
        "Endpoint": "chat/completions",
        "Provider": provider,
        "Model": model,
        "StatusCode": 200,
        "Cached": False,
        "Metadata": json.dumps(labels),
        "Metrics": {"cost": cost, "durationMs": rng.randint(200, 9_000)},
        "RequestBody": json.dumps({"model": model, "messages": [{"role": "user", "content": text(rng)}]}),
        "ResponseBody": body,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rng = random.Random(20250101)
    lines = []
    for i in range(n):
        when = START + timedelta(seconds=rng.uniform(0, SPAN))
        labels = {
            "tenant": rng.choice(TENANTS),
            "feature": rng.choice(FEATURES),
            "conversation": f"c{rng.randint(1, 900)}",
        }
        m = rng.choices(MODELS, WEIGHTS)[0]
        if i % 1000 == 999:
            m = ("openai", "ft:gpt-4o-mini:acme:private:abc123", 0.3, 1.2)  # a private fine-tune: not in the book
        if m[0] in ("anthropic", "aws-bedrock") or (m[0] == "openai" and rng.random() < 0.15):
            lines.append(logpush(rng, i, when, labels, m))
        else:
            lines.append(logs_item(rng, i, when, labels, m))
    lines.sort(key=lambda r: str(r.get("created_at") or r.get("Timestamp")))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines).encode()
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(data)
    print(f"{OUT}: {len(lines)} records, {OUT.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
