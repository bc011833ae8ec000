"""The ``tokenprice`` command.

- ``tokenprice count [FILES|-] --model M [--json]``: each input's token count and the total. Files are streamed
  in blocks, so memory stays bounded whatever their size; ``-`` (or no file) reads standard input.
- ``tokenprice models [--provider P] [--at DATE] [--search TEXT] [--json]``: the price book's models and prices.
- ``tokenprice quote MODEL --input N --output N [--cache-read N] ... [--at DATE] [--tier batch]``: an itemized
  cost.

Errors (a missing file, an unknown model, invalid UTF-8) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Literal, cast

from tokenprice import _core
from tokenprice._core import Encoding, NoPriceError, PriceBook, TokenPriceError, Usage, price
from tokenprice._count import _resolve

STDIN_CHUNK = 1 << 20


def _count_stdin(encoding: Encoding, errors: Literal["strict", "replace"], num_threads: int | None) -> int:
    counter = _core.StreamCounter(encoding, source="<stdin>", errors=errors, num_threads=num_threads)
    stream = sys.stdin.buffer
    while chunk := stream.read(STDIN_CHUNK):
        counter.feed(chunk)
    return counter.finish()


def _cmd_count(args: argparse.Namespace) -> int:
    encoding, approximated = _resolve(args.model, args.encoding, args.approximate)
    inputs: list[str] = args.files or ["-"]
    results: list[tuple[str, int]] = []
    for name in inputs:
        errors = cast(Literal["strict", "replace"], args.errors)
        if name == "-":
            n = _count_stdin(encoding, errors, args.num_threads)
        else:
            n = _core.count_file(name, encoding, errors=errors, num_threads=args.num_threads)
        results.append(("<stdin>" if name == "-" else name, n))
    total = sum(n for _, n in results)
    if args.json:
        out = {
            "model": args.model,
            "encoding": encoding.name,
            "approximate": approximated is not None,
            "inputs": [{"path": p, "tokens": n} for p, n in results],
            "total": total,
        }
        print(json.dumps(out))
        return 0
    width = max(len(f"{n:,}") for n in [total, *(n for _, n in results)])
    for path, n in results:
        print(f"{n:>{width},}  {path}")
    if len(results) > 1:
        print(f"{total:>{width},}  total")
    note = f" (approximate: {approximated} counted with {encoding.name})" if approximated else ""
    print(f"encoding {encoding.name}{note}", file=sys.stderr)
    return 0


def _price_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):  # a long-context ladder
        steps = ", ".join(f">{s['tokens']:,}: {s['price']}" for s in value["above"])
        return f"{value['base']} ({steps})"
    return str(value)


def _cmd_models(args: argparse.Namespace) -> int:
    book = PriceBook.default()
    rows = []
    needle = (args.search or "").lower()
    for info in book.models(args.provider):
        if needle and needle not in info["model"].lower() and needle not in info["name"].lower():
            continue
        try:
            entry = book.price_at(info["model"], at=args.at, provider=info["provider"])
        except NoPriceError:
            continue
        rows.append((info, entry))
    if args.json:
        out = [
            {
                "provider": info["provider"],
                "model": info["model"],
                "name": info["name"],
                "context_window": info["context_window"],
                "effective_from": entry["effective_from"].isoformat() if entry["effective_from"] else None,
                "prices": {k: _price_text(v) for k, v in entry["prices"].items()},
                "service_tiers": sorted(entry["service_tiers"]),
            }
            for info, entry in rows
        ]
        print(json.dumps(out, indent=1))
        return 0
    header = ("provider", "model", "input/MTok", "output/MTok", "cache read", "cache write", "context")
    table = [header]
    for info, entry in rows:
        p = entry["prices"]
        table.append(
            (
                info["provider"],
                info["model"],
                _price_text(p.get("input_per_mtok")),
                _price_text(p.get("output_per_mtok")),
                _price_text(p.get("cache_read_per_mtok")),
                _price_text(p.get("cache_write_per_mtok")),
                f"{info['context_window']:,}" if info["context_window"] else "-",
            )
        )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(rows)} models", file=sys.stderr)
    return 0


QUOTE_FIELDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "reasoning": "reasoning_tokens",
    "web_searches": "web_searches",
    "requests": "requests",
}


def _cmd_quote(args: argparse.Namespace) -> int:
    fields = {field: getattr(args, flag) for flag, field in QUOTE_FIELDS.items() if getattr(args, flag) is not None}
    cost = price(
        Usage(**fields),
        args.model,
        provider=args.provider,
        at=args.at,
        service_tier=args.tier,
        region=args.region,
    )
    if args.json:
        out = {
            "model": cost.model,
            "provider": cost.provider,
            "service_tier": cost.service_tier,
            "effective_from": cost.effective_from.isoformat() if cost.effective_from else None,
            "source": cost.source,
            "items": [{**i, "unit_price": str(i["unit_price"]), "amount": str(i["amount"])} for i in cost.items],
            "total": str(cost.total),
            "currency": cost.currency,
        }
        print(json.dumps(out))
    else:
        print(cost.explain())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenprice", description="Exact LLM token counting and pricing.")
    sub = parser.add_subparsers(dest="command", required=True)
    count = sub.add_parser("count", help="count the tokens of files or standard input")
    count.add_argument("files", nargs="*", metavar="FILE", help="files to count; '-' or none reads standard input")
    which = count.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", "-m", help="model whose tokenizer to use, e.g. gpt-4o")
    which.add_argument("--encoding", "-e", help="encoding to use, e.g. o200k_base")
    count.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    count.add_argument(
        "--errors",
        choices=["strict", "replace"],
        default="strict",
        help="invalid UTF-8: stop with an error naming the byte (strict) or count it as U+FFFD (replace)",
    )
    count.add_argument(
        "--approximate", action="store_true", help="estimate models whose tokenizer is not public (Claude, Gemini)"
    )
    count.add_argument("--num-threads", type=int, default=None, help="threads to use (default: every core)")
    count.set_defaults(run=_cmd_count)

    models = sub.add_parser("models", help="list the price book's models and their prices")
    models.add_argument("--provider", "-p", help="only this provider's models")
    models.add_argument("--at", help="prices in force on this date (default: today)")
    models.add_argument("--search", "-s", help="only models whose id or name contains this text")
    models.add_argument("--json", action="store_true")
    models.set_defaults(run=_cmd_models)

    quote = sub.add_parser("quote", help="the itemized cost of one request")
    quote.add_argument("model")
    quote.add_argument("--provider", "-p", help="the provider (default: the model's first party)")
    quote.add_argument("--input", type=int, default=0, help="input tokens: the whole prompt, cache included")
    quote.add_argument("--output", type=int, default=0, help="output tokens, reasoning included")
    quote.add_argument("--cache-read", type=int, help="cache-read tokens (part of input)")
    quote.add_argument("--cache-write", type=int, help="5-minute cache-write tokens (part of input)")
    quote.add_argument("--cache-write-1h", type=int, help="1-hour cache-write tokens (part of input)")
    quote.add_argument("--reasoning", type=int, help="reasoning tokens (part of output)")
    quote.add_argument("--web-searches", type=int, help="web search calls")
    quote.add_argument("--requests", type=int, help="requests (default 1)")
    quote.add_argument("--at", help="when the request ran (date or date-time; default: now)")
    quote.add_argument("--tier", help="service tier: standard, batch, flex, priority, ...")
    quote.add_argument("--region", help="region with a surcharge, where the provider has one")
    quote.add_argument("--json", action="store_true")
    quote.set_defaults(run=_cmd_quote)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except TokenPriceError as e:
        print(f"tokenprice: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
