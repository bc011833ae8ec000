"""The ``tokenprice`` command.

``tokenprice count [FILES|-] --model M [--json]`` prints each input's token count and the total. Files are
streamed in blocks, so memory stays bounded whatever their size; ``-`` (or no file) reads standard input.
Errors (a missing file, an unknown model, invalid UTF-8) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Literal, cast

from tokenprice import _core
from tokenprice._core import Encoding, TokenPriceError
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
