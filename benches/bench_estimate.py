"""The service path (issue 19): the cost of a request before it is sent, and what a service pays per call after.

1. ``estimate(request)`` of a chat request of about 1,000 prompt tokens (a system prompt, two turns and a tool),
   against tokencost's ``calculate_prompt_cost`` (tiktoken counting + its price table; prompt only, no output
   range) — the ratio is tokencost's time over ours; the prompt counts of both are shown;
2. ``price(response)`` of an OpenAI chat completion (dict and SDK object), and ``price_call`` with labels;
3. a budget ``check`` + ``record`` in process (``MemoryStore``: the core's, beside the pure-Python store it
   replaced, read from git at commit ``BASELINE_COMMIT`` and run in the same process) and, when ``redis-server`` is
   installed, through Redis (one round trip per check: the server's command count is read back);
4. the latency ``instrument`` adds to a call: an OpenAI client against a local server, with and without
   instrumentation (a JSON Lines sink), median of many calls.

Each figure is the best of 7 repeats of a timed loop, in µs per call (4: medians). Results are printed and
written to ``benches/RESULTS.md``.

Usage: TIKTOKEN_CACHE_DIR=target/tiktoken-cache python benches/bench_estimate.py [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import tokenprice

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## In the service: estimate, price, budget, instrument (issue 19)"
LOAD_AT_START = os.getloadavg()[0]
sys.path.insert(0, str(HERE.parent / "tests"))
from bench_request import OPENAI_RESPONSE as CHAT_RESPONSE  # noqa: E402  (the same response, priced)

WORDS = (
    "the printer on floor three is jammed again and the ticket queue shows twelve open requests from finance "
    "marketing legal and engineering each asking for a faster laptop a second monitor access to the shared drive "
    "or a refund for a conference that was cancelled last week because of the storm which closed the airport"
).split()


def per_call_us(f: Callable[[], object]) -> float:
    timer = timeit.Timer(f)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=7, number=number)) / number * 1e6


def chat_request(target_tokens: int = 1000) -> dict[str, Any]:
    rng = random.Random(19)
    enc = tokenprice.get_encoding("o200k_base")

    def text(n: int) -> str:
        out: list[str] = []
        while enc.count(" ".join(out)) < n:
            out.append(rng.choice(WORDS) + ("." if rng.random() < 0.08 else ""))
        return " ".join(out)

    messages = [
        {"role": "system", "content": text(150)},
        {"role": "user", "content": text(500)},
        {"role": "assistant", "content": text(150)},
        {"role": "user", "content": text(target_tokens - 150 - 500 - 150 - 60)},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_ticket",
                "description": "Fetch a support ticket by its id",
                "parameters": {"type": "object", "properties": {"id": {"type": "string", "description": "Ticket id"}}},
            },
        }
    ]
    return {"model": "gpt-4o", "messages": messages, "tools": tools, "max_tokens": 500}


def estimate_rows() -> list[tuple[str, float, str]]:
    request = chat_request()
    e = tokenprice.estimate(request)
    rows = [
        (
            f"tokenprice `estimate(request)` ({e.input_tokens} prompt tokens, range to max_tokens)",
            per_call_us(lambda: tokenprice.estimate(request)),
            f"{e.low.total} to {e.high.total if e.high else '?'}",
        ),
        (
            "tokenprice `count_message_tokens(messages, model, tools)`",
            per_call_us(lambda: tokenprice.count_message_tokens(request["messages"], "gpt-4o", request["tools"])),
            f"{e.input_tokens} tokens",
        ),
    ]
    import tokencost

    theirs = tokencost.calculate_prompt_cost(request["messages"], "gpt-4o")
    n = tokencost.count_message_tokens(request["messages"], "gpt-4o")
    rows.append(
        (
            "tokencost `calculate_prompt_cost(messages, model)` (messages only, no tools)",
            per_call_us(lambda: tokencost.calculate_prompt_cost(request["messages"], "gpt-4o")),
            f"{theirs} ({n} tokens)",
        )
    )
    return rows


def price_rows() -> list[tuple[str, float, str]]:
    import openai.types.chat

    at = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    sdk = openai.types.chat.ChatCompletion.model_validate(CHAT_RESPONSE)
    usage = tokenprice.Usage(input_tokens=2422, cache_read_tokens=2304, output_tokens=120)

    def with_labels() -> object:
        with tokenprice.labels(tenant="acme", feature="search"):
            return tokenprice.price_call(CHAT_RESPONSE, at=at)

    return [
        (
            "tokenprice `price(usage, model=, at=)`",
            per_call_us(lambda: tokenprice.price(usage, model="gpt-4o", at=at)),
            "",
        ),
        ("tokenprice `price(response_dict, at=)`", per_call_us(lambda: tokenprice.price(CHAT_RESPONSE, at=at)), ""),
        ("tokenprice `price(ChatCompletion, at=)` (SDK object)", per_call_us(lambda: tokenprice.price(sdk, at=at)), ""),
        ("tokenprice `with labels(...)`: `price_call(response)`", per_call_us(with_labels), ""),
    ]


# The pure-Python in-process store this replaced (python/tokenprice/_budget.py before the core's `budget` module),
# read from git and run beside the core's in the same process: the baseline of the in-process rows.
BASELINE_COMMIT = "2648ac1"


def python_budget_module() -> Any:
    import types

    source = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:python/tokenprice/_budget.py"],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("tokenprice_budget_python")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{BASELINE_COMMIT}:_budget.py", "exec"), module.__dict__)
    return module


def per_record_us(
    budget: Any, labels: dict[str, str], amount: Decimal, n: int = 20_000, cost: Decimal | None = None
) -> float:
    """`budget.record(d, cost)` (``cost`` defaults to ``amount``) of a fresh decision each call (a decision is
    recorded once): the decisions, checked for ``amount``, are made before the clock starts; best of 7."""
    best = float("inf")
    for _ in range(7):
        decisions = [budget.check(labels, amount) for _ in range(n)]
        record = budget.record
        start = time.perf_counter()
        spent = amount if cost is None else cost
        for d in decisions:
            record(d, spent)
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def budget_cases(
    name: str, module: Any, labels: dict[str, str], amount: Decimal, estimate: Any
) -> list[tuple[str, float, str]]:
    one_limit = {"tenant": "1000000.00/day"}
    memory = module.Budget(one_limit)
    two = module.Budget({"tenant": "1000000.00/day", ("tenant", "feature"): "100000.00/hour"})
    d = memory.check(labels, amount)
    assert d.remaining == module.Budget(one_limit).check(labels, amount).remaining  # both count alike
    return [
        (f"`Budget.check` in process, {name}: 1 limit, Decimal", per_call_us(lambda: memory.check(labels, amount)), ""),
        (f"`Budget.check` in process, {name}: 2 limits, Decimal", per_call_us(lambda: two.check(labels, amount)), ""),
        (
            f"`Budget.check` in process, {name}: 1 limit, an `Estimate`",
            per_call_us(lambda: memory.check(labels, estimate)),
            "",
        ),
        (f"`Budget.record` in process, {name}: 1 limit", per_record_us(memory, labels, amount), ""),
    ]


def budget_rows() -> list[tuple[str, float, str]]:
    labels = {"tenant": "acme", "feature": "search"}
    amount = Decimal("0.0001")
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    estimate = tokenprice.estimate(request)
    rows = []
    old = python_budget_module()
    for name, module in (("pure Python (before)", old), ("core (now)", tokenprice)):
        rows += budget_cases(name, module, labels, amount, estimate)
    n = len(rows) // 2  # the core's rows, each beside the pure-Python row of the same case
    rows = [
        (label, us, f"{rows[i - n][1] / us:.1f}x faster than pure Python" if i >= n else "")
        for i, (label, us, _) in enumerate(rows)
    ]
    exe = shutil.which("redis-server")
    if exe is None:
        rows.append(("`Budget.check` through Redis", float("nan"), "redis-server not installed"))
        return rows
    from redis_server import RedisServer

    with tempfile.TemporaryDirectory() as folder, RedisServer(exe, Path(folder)) as server:
        client = server.client()
        budget = tokenprice.Budget({"tenant": "1000000.00/day"}, tokenprice.RedisStore(client))
        budget.check(labels, amount)
        client.config_resetstat()
        n = 2000
        start = time.perf_counter()
        for _ in range(n):
            budget.check(labels, amount)
        us = (time.perf_counter() - start) / n * 1e6
        stats = client.info("commandstats")
        trips = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval")) / n
        rows.append(("`Budget.check` through Redis (local server)", us, f"{trips:.2f} round trips per check"))
        # A settlement that moves money (an equal one sends nothing), of a fresh decision each call.
        recorded = per_record_us(budget, labels, amount, n=2000, cost=amount / 2)
        rows.append(("`Budget.record` through Redis (local server)", recorded, ""))
    return rows


def instrument_rows() -> list[tuple[str, float, str]]:
    import openai
    import openai.types.chat

    from tokenprice._instrument import _wrap

    from service_server import base_url, chat_chunks, serve

    messages = [{"role": "user", "content": "What is the capital of France?"}]
    rows = []
    sink = tokenprice.JsonlSink(tempfile.mkdtemp())
    # instrument's own work, without HTTP: a create() that returns a prebuilt SDK response (or stream).
    reply = openai.types.chat.ChatCompletion.model_validate(CHAT_RESPONSE)
    chunks = [openai.types.chat.ChatCompletionChunk.model_validate(c) for c in chat_chunks("gpt-4o", False)]

    def create(**kwargs: Any) -> Any:
        return iter(chunks) if kwargs.get("stream") else reply

    wrapped_create = _wrap(create, "chat.completions", (sink,), None, False)
    for stream in (False, True):

        def plain(stream: bool = stream) -> None:
            for _ in create(model="gpt-4o", messages=messages, stream=stream) if stream else ():
                pass

        def wrapped(stream: bool = stream) -> None:
            result = wrapped_create(model="gpt-4o", messages=messages, stream=stream)
            for _ in result if stream else ():
                pass

        a, b = per_call_us(plain), per_call_us(wrapped)
        kind = "a streamed reply (5 chunks, usage counted from the text)" if stream else "a reply"
        rows.append(
            (
                f"instrument's own work per call, no HTTP: {kind}",
                b - a,
                "priced, labelled, queued; the writer thread's JSON encoding included",
            )
        )
    sink.flush()
    with serve() as server:
        plain_client = openai.OpenAI(api_key="x", base_url=base_url(server, "/v1"), max_retries=0)
        wrapped_client = tokenprice.instrument(openai.OpenAI(api_key="x", base_url=base_url(server, "/v1")), sink)
        times: dict[bool, list[float]] = {False: [], True: []}
        for i in range(1200):  # alternating, so both see the same machine
            client = wrapped_client if i % 2 else plain_client
            t = time.perf_counter()
            client.chat.completions.create(model="gpt-4o", messages=messages)
            times[bool(i % 2)].append(time.perf_counter() - t)
        a, b = (statistics.median(times[k]) * 1e6 for k in (False, True))
        rows.append(("a chat call to a local server: plain client (median)", a, ""))
        rows.append(("a chat call to a local server: instrumented, JSON Lines sink (median)", b, f"{b - a:+.1f} µs"))
    sink.close()
    return rows


def render(sections: list[tuple[str, list[tuple[str, float, str]]]]) -> str:
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}" for p in ("tokencost", "tiktoken", "openai", "redis") if _has(p)
    )
    lines = [
        f"{SECTION} — {dt.date.today().isoformat()}",
        "",
        f"`python benches/bench_estimate.py` on {platform.machine()}, {os.cpu_count()} cores (load average "
        f"{LOAD_AT_START:.1f} when it started: the machine is shared, so these are upper bounds), Python "
        f"{platform.python_version()}, {versions}. One call at a time from Python, best of 7 timed loops (the "
        "local-server rows: medians of 600 alternating calls each). The chat request is ~1,000 o200k "
        "tokens of English in four messages plus one tool; the same request is estimated on every loop, so the "
        "tokenizer's per-thread piece cache is warm, as it is in a service whose prompts share a vocabulary.",
    ]
    for title, rows in sections:
        base = rows[0][1] or 1.0
        lines += ["", f"**{title}**", "", "| call | µs per call | time / first row | note |", "|---|---|---|---|"]
        lines += [f"| {label} | {us:.2f} | {us / base:.1f}x | {note} |" for label, us, note in rows]
    return "\n".join(lines) + "\n"


def _has(package: str) -> bool:
    try:
        importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def write(section: str) -> None:
    text = RESULTS.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    sections = [
        ("Estimate before sending", estimate_rows()),
        ("Price what just returned", price_rows()),
        ("Budgets", budget_rows()),
        ("Instrumentation's added latency", instrument_rows()),
    ]
    out = render(sections)
    print(out)
    if not args.no_write:
        write(out)


if __name__ == "__main__":
    main()
