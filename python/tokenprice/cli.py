"""The ``tokenprice`` command.

- ``tokenprice count [FILES|-] --model M [--json]``: each input's token count and the total. Files are streamed
  in blocks, so memory stays bounded whatever their size; ``-`` (or no file) reads standard input.
- ``tokenprice models [--provider P] [--at DATE] [--search TEXT] [--json]``: the price book's models and prices.
- ``tokenprice quote MODEL --input N --output N [--cache-read N] ... [--at DATE] [--tier batch]``: an itemized
  cost.
- ``tokenprice price LOGS... [--format F] [--by tenant,feature] [--period day] [--out FILE] [--json] [--strict]``:
  prices log files, each record at its own timestamp, and prints the totals per group with the read, priced and
  rejected counts; rejects are written next to ``--out`` (or listed with ``--json``); ``--html PATH`` also writes
  the cost report.
- ``tokenprice report LOGS... -o report.html [--format F] [--title T]``: the cost report, one self-contained HTML
  file that opens offline (docs/report.md).
- ``tokenprice pull cloudflare ACCOUNT GATEWAY -o DIR [--since T] [--until T] [--token-env VAR | --token-file F]
  [--verify] [--json]``: pulls a gateway's logs from Cloudflare's Logs API into day folders of JSON Lines,
  continuing where the last pull stopped; ``--verify`` also prices them and prints where the gateway's reported
  cost differs (docs/sources.md).

Errors (a missing file, an unknown model or format, invalid UTF-8, anything unexpected) print one line on stderr
(``tokenprice: error: ...``, never a traceback) and exit with status 2; a ``price`` run that read records and
priced none exits with status 1 (an empty input is not an error).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
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


def _book(args: argparse.Namespace) -> PriceBook:
    """The default book, with newer community data (--prices PATH) layered over it; conflicts go to stderr."""
    path = getattr(args, "prices", None)
    if not path:
        return PriceBook.default()
    from tokenprice import importers

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    # genai-prices' data.json is a list of providers; LiteLLM's table an object of models.
    newer = importers.from_genai_prices(data) if isinstance(data, list) else importers.from_litellm(data)
    book, conflicts = importers.layered_book(newer)
    for c in conflicts:
        print(f"--prices: {c}", file=sys.stderr)
    return book


def _cmd_models(args: argparse.Namespace) -> int:
    book = _book(args)
    rows = []
    needle = (args.search or "").lower()
    # A search may be the dated id a response carries (claude-sonnet-4-5-20250929): the model it resolves to is
    # found too, under each provider that lists it.
    resolved = _resolve_model(book, args.search, args.provider) if needle else None
    for info in book.models(args.provider):
        if (
            needle
            and needle not in info["model"].lower()
            and needle not in info["name"].lower()
            and info["model"] != resolved
        ):
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
    table = []
    for info, entry in rows:
        p = entry["prices"]
        prices = [
            _price_cell(p.get(k))
            for k in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
        ]
        table.append((info["provider"], info["model"], *prices, _tokens_text(info["context_window"])))
    width = shutil.get_terminal_size((80, 24)).columns
    print(_models_text(table, width))
    note = "; * tiered (--json)" if any("*" in c for r in table for c in r[2:6]) else ""
    print(f"{len(rows)} models; USD per MTok; read, write: cache{note}", file=sys.stderr)
    return 0


# Prices in USD per million tokens; read and write are the cache read and (5-minute) cache write prices.
MODELS_HEADER = ("provider", "model", "input", "output", "read", "write", "context")


def _models_text(table: list[tuple[str, ...]], width: int) -> str:
    """The models table within ``width`` columns: a provider or model id longer than the room left for it puts the
    row on two lines (the names whole, to copy; then the prices), so that no line wraps."""
    rows = [MODELS_HEADER, *table]
    widths = [max(len(r[i]) for r in rows) for i in range(len(MODELS_HEADER))]
    widths[0] = min(widths[0], PROVIDER_WIDTH)
    others = sum(w for i, w in enumerate(widths) if i != 1) + 2 * (len(widths) - 1)
    widths[1] = max(len(MODELS_HEADER[1]), min(widths[1], width - others))

    def line(r: tuple[str, ...]) -> str:
        names = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        return "  ".join(names + [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)]).rstrip()

    out = [line(MODELS_HEADER)]
    for r in table:
        if len(r[0]) > widths[0] or len(r[1]) > widths[1]:
            provider = r[0].ljust(widths[0]) if len(r[0]) <= widths[0] else r[0]
            out.append(f"{provider}  {r[1]}")
            out.append(line(("", "", *r[2:])))
        else:
            out.append(line(r))
    return "\n".join(out)


# Most providers' names fit this; a longer one (huggingface_fireworks-ai) puts its rows on two lines.
PROVIDER_WIDTH = 10


def _resolve_model(book: PriceBook, text: str, provider: str | None) -> str | None:
    """The book's id for a model name as a response carries it (a dated or aliased id), if it knows one."""
    try:
        entry = book.price_at(text, provider=provider)
    except TokenPriceError:
        return None
    model: str = entry["model"]
    return model


def _price_cell(value: Any) -> str:
    """A price for the table: the base price, marked ``*`` when it rises above a prompt size."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return f"{_short_price(value['base'])}*"
    return _short_price(value)


def _short_price(value: Any) -> str:
    """A price in at most 6 significant digits (imported data holds some as 0.041666666666666664); --json is exact."""
    d = Decimal(value)
    if not d.is_finite() or d == 0:
        return money_text(d) if d.is_finite() else str(d)
    return money_text(d.quantize(Decimal(1).scaleb(d.adjusted() - 5)).normalize())


def _tokens_text(n: int | None) -> str:
    """A context window in a few characters: 200K, 1M, 1.05M."""
    if not n:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g}M"
    if n >= 1_000:
        return f"{n / 1_000:.4g}K"
    return str(n)


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
        book=_book(args),
    )
    if args.json:
        out = {
            "model": cost.model,
            "provider": cost.provider,
            "service_tier": cost.service_tier,
            "effective_from": cost.effective_from.isoformat() if cost.effective_from else None,
            "source": cost.source,
            "origin": cost.origin,
            "region": cost.region,
            "items": [
                {**i, "unit_price": money_text(i["unit_price"]), "amount": money_text(i["amount"])} for i in cost.items
            ],
            "total": money_text(cost.total),
            "currency": cost.currency,
        }
        print(json.dumps(out))
    else:
        print(cost.explain())
    return 0


def _table_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table: labels left-aligned, numbers right-aligned."""
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row[i]) for row in cells) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def money_text(value: Decimal) -> str:
    """Money as exact decimal text without an exponent or trailing zeros: "0.0042", "120.5", "0" (never "0E-18")."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cell(column: str, value: Any, period: str | None) -> Any:
    """A summary value as the command shows it: a month period as its month ("2025-01"), the rest as they are."""
    if column == "period" and period == "month" and isinstance(value, date):
        return value.strftime("%Y-%m")
    return value


def _json_value(value: Any) -> Any:
    """A summary value in JSON: money as exact text, dates and times in ISO form, counts and flags as they are."""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == ""
    return True


def _progress_bar(logs: Sequence[str]) -> Any:
    """The bar `tokenprice price` draws on stderr when it is a terminal (tqdm's when installed): data read,
    records, records/s and the time left."""
    from tokenprice._ledger import _paths
    from tokenprice._progress import bar_for

    try:
        paths = _paths(list(logs)) if logs else []  # a database: no files to size
    except TokenPriceError:
        paths = []  # price_logs reports the bad path
    return bar_for(paths)


def _cmd_price(args: argparse.Namespace) -> int:
    from tokenprice._ledger import check_tz, needs_rows, price_logs, rejects_path
    from tokenprice.sources.litellm import is_database_url

    if args.tz != "UTC":  # with or without --period, a zone that does not exist is an error, never ignored
        check_tz(args.tz)
    database = len(args.logs) == 1 and is_database_url(args.logs[0])
    bar = _progress_bar([] if database else args.logs) if args.progress else None
    by = [b.strip() for b in args.by.split(",") if b.strip()] if args.by else []
    # The rows are kept only when they are written, reconciled or grouped by a column only rows have; otherwise each
    # line is totalled as it is priced.
    keep_rows = bool(args.out or args.reconcile or args.html) or needs_rows(by)
    book = _book(args)
    # A LiteLLM proxy's Postgres (docs/litellm-postgres.md): its table, the window on startTime, the checkpoint.
    # (--since and --until are among the reading options: a window on startTime there, on object names for a store.)
    database_options = {"table": args.table, "state": args.state} if database else {}
    try:
        logs = price_logs(
            args.logs[0] if database else args.logs,
            book=book,
            by=by,
            period=args.period,
            tz=args.tz,
            keep_rows=keep_rows,
            progress=bar,
            **database_options,
            **_reading_options(args),
        )
    finally:
        if bar is not None:
            bar.close()
    if args.html:
        # stdout holds the totals (or the JSON): where the report went is said on stderr.
        _write_report(logs, args, book, {"by": by, "period": args.period, "tz": args.tz}, sys.stderr)
    summary = logs.last_summary
    counts = f"{logs.rows_read} rows read: {logs.rows_priced} priced, {logs.rows_rejected} rejected"
    written: dict[str, str] = {}
    if args.out:
        logs.write(args.out)
        written["priced"] = args.out
        if logs.rows_rejected:
            written["rejects"] = str(rejects_path(Path(args.out)))
    rows = [{k: _cell(k, v, args.period) for k, v in r.items()} for r in summary.to_pylist()]
    # reported_cost is shown when the logs carry one (a source that reports cost: Cloudflare, LiteLLM, ...).
    shown = [c for c in summary.column_names if c != "reported_cost" or any(r[c] is not None for r in rows)]
    rec = logs.reconcile() if args.reconcile else None
    causes = {c: n for c, n in rec.causes.items() if n} if rec is not None else {}
    if args.json:
        # Counts are JSON numbers, money exact decimal strings ("0.0042", "0"), labels strings, flags booleans.
        out: dict[str, Any] = {
            "rows_read": logs.rows_read,
            "rows_priced": logs.rows_priced,
            "rows_rejected": logs.rows_rejected,
            "total_cost": money_text(logs.total_cost),
            "groups": [{k: _json_value(v) for k, v in r.items()} for r in rows],
            "rejects": logs.rejects.to_pylist()[:100],
        }
        if written:
            out["written"] = written
        if rec is not None:
            out["reconciliation"] = {
                "reported_total": money_text(rec.reported_total),
                "computed_total": money_text(rec.computed_total),
                "compared": rec.compared,
                "mismatches": rec.mismatches.num_rows,
                "causes": causes,
                # The differences (reported - computed) summed per cause, exact.
                "cause_costs": {c: money_text(rec.cause_costs[c]) for c in causes},
            }
        print(json.dumps(out, default=str))
    else:
        six = Decimal("0.000001")
        table = [{k: v.quantize(six) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]
        print(_table_text(table, shown))
        print(f"\ntotal: {money_text(logs.total_cost)} USD; {counts}")
        if rec is not None:
            print(
                f"reconciliation: {rec.compared} rows with a reported cost; reported "
                f"{money_text(rec.reported_total)} USD, computed {money_text(rec.computed_total)} USD; "
                f"{rec.mismatches.num_rows} mismatches"
                + ("" if not causes else ": " + ", ".join(f"{n} {c}" for c, n in causes.items()))
            )
        sys.stdout.flush()
        if logs.rows_rejected:
            reasons: dict[str, int] = {}
            for r in logs.rejects.column("reason").to_pylist():
                key = r if len(r) <= 100 else r[:99] + "…"
                reasons[key] = reasons.get(key, 0) + 1
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:5]
            print("rejected: " + "; ".join(f"{n} × {why}" for why, n in top), file=sys.stderr)
    if written:
        where = f"priced lines written to {written['priced']}"
        if "rejects" in written:
            where += f"; {logs.rows_rejected} rejects to {written['rejects']}"
        else:
            where += "; no rejects"
        print(where, file=sys.stderr)
    if logs.rows_read and not logs.rows_priced:
        # Lines were read and none priced: a wrong format, a wrong file, or every record broken. Say so loudly.
        print(
            f"tokenprice: error: nothing priced: all {logs.rows_read} records read were rejected (see the reasons "
            "above)",
            file=sys.stderr,
        )
        return 1
    return 1 if args.strict and logs.rows_rejected else 0


def _reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of `price` and `report` that say how the logs are read and priced."""
    return {
        "format": args.format,
        "default_at": args.default_at,
        "approximate": args.approximate,
        "num_threads": args.num_threads,
        "max_line_bytes": args.max_line_bytes,
        **_storage_arguments(args),
    }


def _storage_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """``--storage-option``, ``--storage-option-env``, ``--since`` and ``--until`` as price_logs' keywords (only
    those given); a value from the environment is a Secret, never shown."""
    from tokenprice._secrets import secret

    options: dict[str, Any] = {}
    for flag, items in (("--storage-option", args.storage_option), ("--storage-option-env", args.storage_option_env)):
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise _core.InvalidArgumentError(f"{flag} takes KEY=VALUE, got {item.split('=', 1)[0]!r}=...")
            is_env = flag == "--storage-option-env"
            options[key] = secret(env=value, what=f"{flag} {key}") if is_env else value
    out: dict[str, Any] = {"storage_options": options} if options else {}
    out.update({k: v for k, v in (("since", args.since), ("until", args.until)) if v is not None})
    return out


def _write_report(logs: Any, args: argparse.Namespace, book: PriceBook, shown: dict[str, Any], out: Any) -> None:
    """Writes the HTML report of `price --html` or `report -o`; its footer shows the run's options (file names
    only, never a folder), and `out` is told where it went."""
    path = args.html
    # Never the storage options (credentials), nor the thread count.
    options = {k: v for k, v in _reading_options(args).items() if k not in ("num_threads", "storage_options")}
    parameters = {**options, **shown, "prices": Path(args.prices).name if args.prices else None}
    sizes = logs.report(path, book=book if args.prices else None, title=args.title, parameters=parameters)
    print(f"report written to {path} ({sizes['file'] / 1e6:.1f} MB, data {sizes['payload'] / 1e3:,.0f} kB)", file=out)


def _cmd_report(args: argparse.Namespace) -> int:
    from tokenprice._ledger import price_logs

    bar = _progress_bar(args.logs) if args.progress else None
    book = _book(args)
    try:
        logs = price_logs(args.logs, book=book, progress=bar, **_reading_options(args))
    finally:
        if bar is not None:
            bar.close()
    _write_report(logs, args, book, {}, sys.stdout)
    print(
        f"{logs.rows_read} rows read: {logs.rows_priced} priced, {logs.rows_rejected} rejected; "
        f"total {money_text(logs.total_cost)} USD"
    )
    if logs.rows_read and not logs.rows_priced:
        print(f"tokenprice: error: nothing priced: all {logs.rows_read} records read were rejected", file=sys.stderr)
        return 1
    return 0


def _cmd_pull_cloudflare(args: argparse.Namespace) -> int:
    from tokenprice.sources import cloudflare

    filters: dict[str, str] = {}
    for item in args.filter or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise _core.InvalidArgumentError(f"--filter {item!r}: expected NAME=VALUE (e.g. provider=openai)")
        filters[key] = value
    pulled = cloudflare(
        args.account,
        args.gateway,
        out=args.out,
        token_env=args.token_env,
        token_file=args.token_file,
        since=args.since,
        until=args.until,
        filters=filters or None,
        per_page=args.per_page,
        compression=args.compression,
        base_url=args.base_url,
        timeout=args.timeout,
        max_retries=args.max_retries,
    )
    report: dict[str, Any] = {
        "written": pulled.written,
        "pages": pulled.pages,
        "requests": pulled.requests,
        "retries": pulled.retries,
        "last_created_at": pulled.last_created_at,
        "out": str(pulled.out),
        "new_paths": pulled.new_paths,
        "paths": pulled.paths,
    }
    rec = None
    if args.verify:
        logs = pulled.price_logs(book=_book(args)) if pulled.paths else None
        if logs is not None:
            rec = logs.reconcile()  # what pulled.reconcile() gives, with the counts beside it
            rows = rec.mismatches.to_pylist()
            report["priced"] = {
                "rows_read": logs.rows_read,
                "rows_priced": logs.rows_priced,
                "rows_rejected": logs.rows_rejected,
                "total_cost": money_text(logs.total_cost),
            }
            report["reconciliation"] = {
                "compared": rec.compared,
                "reported_total": money_text(rec.reported_total),
                "computed_total": money_text(rec.computed_total),
                "mismatches": len(rows),
                "causes": {c: n for c, n in rec.causes.items() if n},
                "mismatch_rows": [
                    {
                        k: _json_value(v)
                        for k, v in r.items()
                        if k in ("id", "model", "reported", "computed", "difference", "cause", "source", "line")
                    }
                    for r in rows
                ],
            }
    if args.json:
        print(json.dumps(report, default=str))
        return 0
    print(
        f"{pulled.written} new records pulled into {pulled.out} ({len(pulled.new_paths)} new files, "
        f"{len(pulled.paths)} in all; {pulled.pages} pages, {pulled.retries} retries); last created_at "
        f"{pulled.last_created_at or '-'}"
    )
    if args.verify and "priced" in report:
        p, r = report["priced"], report["reconciliation"]
        print(
            f"priced: {p['rows_read']} rows read: {p['rows_priced']} priced, {p['rows_rejected']} rejected; "
            f"total {p['total_cost']} USD"
        )
        print(
            f"reconciliation: {r['compared']} rows with a reported cost; reported {r['reported_total']} USD, "
            f"computed {r['computed_total']} USD; {r['mismatches']} mismatches"
            + ("" if not r["causes"] else ": " + ", ".join(f"{n} {c}" for c, n in r["causes"].items()))
        )
        shown = ["id", "model", "reported", "computed", "difference", "cause"]
        table = [{k: m.get(k) for k in shown} for m in r["mismatch_rows"][:50]]
        if table:
            print(_table_text(table, shown))
        if len(r["mismatch_rows"]) > 50:
            print(f"... and {len(r['mismatch_rows']) - 50} more (--json lists them all)")
    return 0


def _add_reading_arguments(cmd: argparse.ArgumentParser) -> None:
    """The arguments of `price` and `report` that say which logs and how to read and price them."""
    cmd.add_argument("logs", nargs="+", metavar="LOGS", help="log files or globs (JSON Lines or arrays; gzip, zstd)")
    cmd.add_argument(
        "--format",
        "-f",
        metavar="FORMAT",
        help=f"the records' format (default: detected per record): {', '.join(_core.formats())}",
    )
    cmd.add_argument("--default-at", help="time for records without a timestamp (else they are rejected)")
    cmd.add_argument(
        "--approximate",
        action="store_true",
        help="count records without usage on models whose tokenizer is not public (Claude, Gemini) with o200k_base",
    )
    cmd.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    cmd.add_argument("--num-threads", type=int, default=None, help="threads to use (default: every core)")
    cmd.add_argument(
        "--max-line-bytes",
        type=int,
        default=None,
        help="longest line (or JSON array element) to read; longer ones are rejected (default 128 MiB)",
    )
    cmd.add_argument("--prices", metavar="PATH", help=PRICES_HELP)
    cmd.add_argument("--title", default="LLM cost report", help="the HTML report's title")
    cmd.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an object store option for s3:// r2:// gs:// az:// logs (key, endpoint_url, region, account_id...)",
    )
    cmd.add_argument(
        "--storage-option-env",
        action="append",
        default=[],
        metavar="KEY=ENV",
        help="an object store option read from the environment variable ENV (for secrets: secret=AWS_SECRET)",
    )
    cmd.add_argument(
        "--since",
        help="object storage: skip objects whose Logpush folder or name is before this time; "
        "a Postgres URL: only rows with startTime at or after it (ISO 8601, UTC without a zone)",
    )
    cmd.add_argument(
        "--until",
        help="object storage: skip objects whose Logpush folder or name is from this time on; "
        "a Postgres URL: only rows with startTime before it",
    )


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
    models.add_argument("--prices", metavar="PATH", help=PRICES_HELP)
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
    quote.add_argument("--tier", help="service tier: standard, batch, flex, priority, ultrafast, ...")
    quote.add_argument("--region", help="region with a surcharge, where the provider has one")
    quote.add_argument("--json", action="store_true")
    quote.add_argument("--prices", metavar="PATH", help=PRICES_HELP)
    quote.set_defaults(run=_cmd_quote)

    price_cmd = sub.add_parser("price", help="price log files and total the cost per label and period")
    _add_reading_arguments(price_cmd)
    price_cmd.add_argument("--by", "-b", help="labels to group by, comma-separated (e.g. tenant,feature)")
    price_cmd.add_argument("--period", choices=["day", "week", "month"], help="also group by period")
    price_cmd.add_argument("--tz", default="UTC", help="time zone of the periods (default UTC)")
    price_cmd.add_argument("--out", "-o", help="write the priced lines (.parquet, .csv, .jsonl); rejects beside it")
    price_cmd.add_argument("--html", metavar="PATH", help="also write the cost report (one HTML file) to PATH")
    price_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    price_cmd.add_argument("--strict", action="store_true", help="exit with status 1 if any record was rejected")
    price_cmd.add_argument(
        "--reconcile", action="store_true", help="compare the reported cost with the computed one, with causes"
    )
    pg = price_cmd.add_argument_group("a LiteLLM proxy's Postgres (LOGS is one postgresql:// URL)")
    pg.add_argument("--table", help="the spend-log table (default LiteLLM_SpendLogs)")
    pg.add_argument("--state", metavar="PATH", help="checkpoint file: a rerun prices only the rows after it")
    price_cmd.set_defaults(run=_cmd_price)

    report = sub.add_parser("report", help="write the cost report of log files: one HTML file that opens offline")
    _add_reading_arguments(report)
    report.add_argument("--out", "-o", dest="html", required=True, metavar="PATH", help="the HTML file to write")
    report.set_defaults(run=_cmd_report)

    pull = sub.add_parser("pull", help="pull logs from where they are kept into local files")
    sources = pull.add_subparsers(dest="source", required=True)
    cf = sources.add_parser(
        "cloudflare",
        help="Cloudflare AI Gateway's Logs API into DIR/<day>/*.jsonl.gz, continuing where the last pull stopped",
    )
    cf.add_argument("account", metavar="ACCOUNT", help="the Cloudflare account id")
    cf.add_argument("gateway", metavar="GATEWAY", help="the gateway id")
    cf.add_argument("--out", "-o", required=True, metavar="DIR", help="the folder of day folders and the pull's state")
    token = cf.add_mutually_exclusive_group()
    token.add_argument(
        "--token-env",
        metavar="VAR",
        help="the environment variable holding the API token (default CLOUDFLARE_API_TOKEN)",
    )
    token.add_argument("--token-file", metavar="FILE", help="a file holding the API token")
    cf.add_argument("--since", help="only records created at or after this time (ISO 8601; UTC unless given)")
    cf.add_argument("--until", help="only records created before this time")
    cf.add_argument(
        "--filter",
        action="append",
        metavar="NAME=VALUE",
        help="a filter of the Logs API list (provider=openai, model=..., success=true, ...); repeatable",
    )
    cf.add_argument("--per-page", type=int, default=50, help="records per request (default 50)")
    cf.add_argument("--compression", choices=["gzip", "zstd"], default="gzip", help="of the files written")
    cf.add_argument("--base-url", default="https://api.cloudflare.com/client/v4", help="the API's root")
    cf.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer (default 30)")
    cf.add_argument("--max-retries", type=int, default=6, help="retries of a failing request (default 6)")
    cf.add_argument(
        "--verify",
        action="store_true",
        help="also price everything pulled and print where the gateway's reported cost differs",
    )
    cf.add_argument("--json", action="store_true", help="print one JSON object")
    cf.add_argument("--prices", metavar="PATH", help=PRICES_HELP)
    cf.set_defaults(run=_cmd_pull_cloudflare)
    return parser


PRICES_HELP = (
    "newer community prices layered over the built-in book: genai-prices' data.json or LiteLLM's "
    "model_prices_and_context_window.json (the newest dated price of each model wins; conflicts on stderr)"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except TokenPriceError as e:
        print(f"tokenprice: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the command never shows a traceback: one line, naming the exception
        print(f"tokenprice: error: {type(e).__name__}: {_one_line(str(e))}", file=sys.stderr)
        return 2


def _one_line(message: str) -> str:
    """An error message on one line (a multi-line one joined)."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


if __name__ == "__main__":
    raise SystemExit(main())
