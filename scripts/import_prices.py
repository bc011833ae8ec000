#!/usr/bin/env python3
"""Regenerates prices/*.toml from the community price tables genai-prices and LiteLLM, and shows what changes.

    python scripts/import_prices.py                  # summary and per-file diff against prices/ (nothing written)
    python scripts/import_prices.py --full           # ... with the diffs in full
    python scripts/import_prices.py --write          # write the files
    python scripts/import_prices.py --check          # exit 1 if prices/ is behind the import (differs from it)
    python scripts/import_prices.py --genai-prices 0.2.5 --out /tmp/book   # another version or path, elsewhere

genai-prices is the main source (the pinned version, GENAI_PRICES_VERSION: the installed package when it is that
version, else its wheel in benches/.cache/genai-prices/; --genai-prices takes another version, a wheel or a
directory holding the genai_prices package): every provider, model, dated price, time-of-day window
and tier variant it has. LiteLLM's model_prices_and_context_window.json adds batch/flex/priority sheets where
genai-prices has none for that tier. Nothing is downloaded: give the JSON (or LiteLLM's wheel) with --litellm PATH,
or put it in benches/.cache/litellm/.

Review the diff like code. The report at the end lists everything that was skipped or could not be mapped.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import sys
import zipfile
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from tokenprice import _core  # noqa: E402
from tokenprice.importers import (  # noqa: E402
    ImportReport,
    collapse_repeated_entries,
    from_genai_prices,
    from_litellm,
    join_origins,
    merge_litellm_tiers,
    service_tier_notes,
)

PRICES = ROOT / "prices"
CACHE = ROOT / "benches" / ".cache" / "litellm"
GENAI_CACHE = ROOT / "benches" / ".cache" / "genai-prices"
# The versions the book is built from (tests/test_import_prices.py checks the book against them).
GENAI_PRICES_VERSION = "0.2.5"
LITELLM_VERSION = "1.110.2"
LITELLM_JSON_IN_WHEEL = "litellm/model_prices_and_context_window_backup.json"
DOWNLOAD_HINT = f"pip download litellm=={LITELLM_VERSION} --no-deps -d {CACHE.relative_to(ROOT)}/"

# --------------------------------------------------------------------------------------------------------------
# TOML emitter: deterministic, readable, only what the price files use.

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TIER_KEYS = ("batch", "flex", "priority", "ultrafast")


def _key(k: str) -> str:
    return k if _BARE_KEY.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    # JSON escapes are valid TOML basic-string escapes; DEL must be escaped too.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _assign(k: str, v: Any, width: int = 120) -> str:
    line = f"{_key(k)} = {_value(v)}"
    if isinstance(v, list) and len(line) > width and len(v) > 1:
        items = "".join(f"    {_value(x)},\n" for x in v)
        return f"{_key(k)} = [\n{items}]"
    return line


def _comment(text: str) -> str:
    return "\n".join(f"# {line}".rstrip() for line in text.splitlines())


def emit(provider: dict[str, Any], header: list[str]) -> str:
    out = io.StringIO()
    w = out.write
    for line in header:
        w(_comment(line) + "\n")
    w("\n")
    for k in ("schema", "id", "name", "pricing_urls", "aliases", "owns", "id_prefixes", "fallbacks", "notes"):
        if k in provider:
            w(_assign(k, provider[k]) + "\n")
    unknown = set(provider) - set(_core.PROVIDER_KEYS)
    if unknown:
        raise ValueError(f"{provider['id']}: unexpected provider keys {sorted(unknown)}")
    if "service_tiers" in provider:
        w("\n")
        notes = service_tier_notes(provider["id"])
        if notes:
            w(_comment("Service tiers (from the provider's documentation):") + "\n")
            for n in notes:
                w(_comment("  " + n) + "\n")
        w("[service_tiers]\n")
        for k, v in provider["service_tiers"].items():
            w(_assign(k, v) + "\n")
    if "regions" in provider:
        w("\n[regions]\n")
        for k, v in provider["regions"].items():
            w(_assign(k, v) + "\n")
    for model in provider.get("models", []):
        w("\n[[models]]\n")
        for k, v in model.items():
            if k != "prices":
                w(_assign(k, v) + "\n")
        for entry in model["prices"]:
            w("\n[[models.prices]]\n")
            subtables = [k for k, v in entry.items() if isinstance(v, dict) and "base" not in v]
            for k, v in entry.items():
                if k not in subtables and k != "windows":
                    w(_assign(k, v) + "\n")
            for k in subtables:
                w(f"\n[models.prices.{_key(k)}]\n")
                for pk, pv in entry[k].items():
                    w(_assign(pk, pv) + "\n")
            for window in entry.get("windows", []):
                w("\n[[models.prices.windows]]\n")
                for wk, wv in window.items():
                    w(_assign(wk, wv) + "\n")
    text = out.getvalue()
    parsed = tomllib.loads(text)
    if parsed != provider:
        raise AssertionError(f"{provider['id']}: the written TOML does not read back as the data")
    return text


# --------------------------------------------------------------------------------------------------------------


def load_litellm(path: str | None, json_version: str) -> tuple[dict[str, Any], str, str]:
    """The LiteLLM table, its version and where it came from."""
    candidates: list[Path]
    if path is not None:
        candidates = [Path(path)]
    else:
        candidates = sorted(CACHE.glob("*.json")) + sorted(CACHE.glob("litellm-*.whl"), reverse=True)
        if not candidates:
            sys.exit(
                f"No LiteLLM price table given and none in {CACHE.relative_to(ROOT)}/. Nothing is downloaded "
                f"automatically; fetch LiteLLM {LITELLM_VERSION}'s wheel (its JSON is read from the wheel, LiteLLM "
                f"is not installed) with:\n\n    {DOWNLOAD_HINT}\n\nor pass --litellm PATH (the JSON or the wheel), "
                "or --no-litellm."
            )
    p = candidates[0]
    if not p.exists():
        sys.exit(f"{p}: no such file (fetch it with: {DOWNLOAD_HINT})")
    if p.suffix == ".whl":
        m = re.match(r"litellm-([^-]+)-", p.name)
        ver = m.group(1) if m else "unknown"
        with zipfile.ZipFile(p) as z:
            data = json.loads(z.read(LITELLM_JSON_IN_WHEEL))
    else:
        ver = json_version
        data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        sys.exit(f"{p}: expected a JSON object of models")
    return data, ver, str(p)


def use_genai_prices(spec: str | None) -> str:
    """Makes `genai_prices` importable at the version or path `spec` (default: the pinned version); its version."""
    if "genai_prices" in sys.modules:
        raise RuntimeError("genai_prices was imported before its version was chosen")
    spec = spec or GENAI_PRICES_VERSION
    path = Path(spec)
    if not path.exists():
        try:
            if version("genai-prices") == spec:
                return spec
        except PackageNotFoundError:
            pass
        wheels = sorted(GENAI_CACHE.glob(f"genai_prices-{spec}-*.whl"))
        if not wheels:
            sys.exit(
                f"genai-prices {spec} is neither installed nor in {GENAI_CACHE.relative_to(ROOT)}/; fetch it with:\n\n"
                f"    pip download genai-prices=={spec} --no-deps -d {GENAI_CACHE.relative_to(ROOT)}/\n"
            )
        path = wheels[0]
    if path.suffix == ".whl":
        m = re.match(r"genai_prices-([^-]+)-", path.name)
        found = m.group(1) if m else "unknown"
        sys.path.insert(0, str(path))  # a pure-Python wheel imports from the zip
    else:
        found = f"from {path}"
        sys.path.insert(0, str(path.parent if path.name == "genai_prices" else path))
    return found


def model_changes(old: str, new: str) -> list[str]:
    """One line per model that the import adds, removes or changes (and what changes in it)."""
    try:
        before = {m["id"]: m for m in tomllib.loads(old).get("models", [])} if old else {}
    except tomllib.TOMLDecodeError:
        before = {}
    after = {m["id"]: m for m in tomllib.loads(new).get("models", [])}
    lines = [f"  + {k}" for k in sorted(after.keys() - before.keys())]
    lines += [f"  - {k}" for k in sorted(before.keys() - after.keys())]
    for k in sorted(after.keys() & before.keys()):
        a, b = before[k], after[k]
        if a == b:
            continue
        what = sorted(f for f in a.keys() | b.keys() if f != "prices" and a.get(f) != b.get(f))
        if a["prices"] != b["prices"]:
            was, now = ([e.get("from", "first") for e in m["prices"]] for m in (a, b))
            what.append(f"prices ({', '.join(was)} -> {', '.join(now)})")
        lines.append(f"  ~ {k}: {'; '.join(what)}")
    return lines


def header_for(provider: dict[str, Any], genai_version: str, litellm_version: str | None) -> list[str]:
    sources = f"genai-prices {genai_version}" + (f" and LiteLLM {litellm_version}" if litellm_version else "")
    lines = [
        f"Generated by scripts/import_prices.py from {sources} (both MIT licensed; their data, read as facts).",
        "Do not edit by hand without re-running the import diff: python scripts/import_prices.py",
    ]
    urls = provider.get("pricing_urls", [])
    if urls:
        lines.append("Pricing: " + urls[0])
        lines.extend("         " + u for u in urls[1:])
    return lines


def count(providers: list[dict[str, Any]]) -> Counter[str]:
    c: Counter[str] = Counter()
    for p in providers:
        c["providers"] += 1
        c["regions"] += len(p.get("regions", {}))
        for m in p["models"]:
            c["models"] += 1
            for e in m["prices"]:
                c["entries"] += 1
                c["windows"] += len(e.get("windows", []))
                for t in (*_TIER_KEYS, "fast"):
                    if t in e:
                        c[f"sheets.{t}"] += 1
    return c


def model_summary(old: str, new: str) -> str:
    try:
        before = {m["id"]: m for m in tomllib.loads(old).get("models", [])} if old else {}
    except tomllib.TOMLDecodeError:
        before = {}
    after = {m["id"]: m for m in tomllib.loads(new).get("models", [])}
    added = len(after.keys() - before.keys())
    removed = len(before.keys() - after.keys())
    changed = sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
    return f"models +{added} -{removed} ~{changed}"


CORRECTIONS = Path(__file__).resolve().parent / "price_corrections.toml"


# Where an entry came from, first in an entry: the keys that are not prices.
_PROVENANCE_ORDER = ("from", "checked", "origin", "source", "source_date", "notes")


def stamp_origin(entry: dict[str, Any], origin: str, **keys: str) -> None:
    """Adds `origin` to the entry's origin (and sets `keys`, e.g. source and source_date), provenance keys first."""
    entry.update(keys, origin=join_origins(entry.get("origin"), origin))
    ordered = {k: entry[k] for k in _PROVENANCE_ORDER if k in entry}
    ordered.update((k, v) for k, v in entry.items() if k not in ordered)
    entry.clear()
    entry.update(ordered)


def tier_keys(book: list[dict[str, Any]]) -> list[set[str]]:
    """The tier sheets of every entry of the book, in order (to see which ones a merge added)."""
    return [{k for k, v in e.items() if isinstance(v, dict) and "base" not in v} for e in entries(book)]


def entries(book: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for p in book for m in p["models"] for e in m["prices"]]


def apply_corrections(book: list[dict[str, Any]], path: Path) -> int:
    """Applies the corrections file; returns how many corrections were applied.

    A correction with a `prices` list replaces the model's prices; one with a `set` table sets those keys on one
    entry (`entry`: its `from` date, or "first"), leaving the rest of the imported data as it is. Each correction
    names the page its facts were read from (`page`) and the date of that page copy (`date`): the entries it writes
    get origin "hand", that page as `source` and that copy's date as `source_date` (`set` keeps the imported
    origin too; an entry of `prices` that gives its own `source_date` keeps its own `source`).
    """
    if not path.exists():
        return 0
    with path.open("rb") as f:
        data = tomllib.load(f)
    corrections = data.get("corrections", [])
    applied = 0
    # Regions genai-prices lacks: the provider's `[regions]` gains them (their reason and page stay in the file).
    for r in data.get("regions", []):
        provider = next((p for p in book if p["id"] == r["provider"]), None)
        if provider is None or not r.get("page"):
            sys.exit(f"{path.name}: region {r.get('name')!r} needs a provider of the book and a `page`")
        region = {k: r[k] for k in ("multiplier", "from", "until", "models") if k in r}
        provider.setdefault("regions", {})[r["name"]] = region
        applied += 1
    for c in corrections:
        provider = next((p for p in book if p["id"] == c["provider"]), None)
        model = next((m for m in provider["models"] if m["id"] == c["model"]), None) if provider else None
        if model is None:
            sys.exit(f"{path.name}: no model {c['model']!r} of provider {c['provider']!r} to correct")
        if not c.get("page") or not c.get("date"):
            sys.exit(
                f"{path.name}: the correction of {c['provider']}/{c['model']} needs `page` (the page its facts were "
                "read from) and `date` (the date of that page copy)"
            )
        if "prices" in c:
            model["prices"] = c["prices"]
            for e in model["prices"]:
                # The correction's page copy, unless the entry names its own page and copy date.
                page = {} if "source_date" in e else {"source": c["page"], "source_date": c["date"]}
                stamp_origin(e, "hand", **page)
        else:
            which = c.get("entry", "first")
            entry = model["prices"][0] if which == "first" else None
            entry = entry or next((e for e in model["prices"] if e.get("from") == which), None)
            if entry is None:
                sys.exit(f"{path.name}: {c['provider']}/{c['model']} has no entry from {which!r} to correct")
            entry.update(c["set"])
            stamp_origin(entry, "hand", source=c["page"], source_date=c["date"])
        applied += 1
    return applied


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--litellm", metavar="PATH", help="LiteLLM's model_prices_and_context_window.json or its wheel")
    ap.add_argument(
        "--litellm-version",
        default=LITELLM_VERSION,
        help=f"LiteLLM version for the headers when --litellm is a JSON file (default {LITELLM_VERSION})",
    )
    ap.add_argument("--no-litellm", action="store_true", help="genai-prices only")
    ap.add_argument(
        "--genai-prices",
        metavar="VERSION|PATH",
        help=f"genai-prices version (installed or its wheel in benches/.cache/genai-prices/), wheel or directory "
        f"(default {GENAI_PRICES_VERSION})",
    )
    ap.add_argument("--out", metavar="DIR", help="compare with and write to DIR instead of prices/")
    ap.add_argument("--write", action="store_true", help="write the files")
    ap.add_argument("--check", action="store_true", help="exit 1 if the book differs from the import (is behind)")
    ap.add_argument("--full", action="store_true", help="print the diffs in full")
    ap.add_argument("--diff-lines", type=int, default=60, help="lines of diff per file without --full (default 60)")
    ap.add_argument("--quiet", action="store_true", help="no report details")
    args = ap.parse_args(argv)

    genai_version = use_genai_prices(args.genai_prices)
    out_dir = Path(args.out) if args.out else PRICES

    report = ImportReport()
    book = from_genai_prices(report=report)
    for e in entries(book):
        stamp_origin(e, f"genai-prices {genai_version}")
    genai_counts = count(book)
    litellm_version: str | None = None
    litellm_report = ImportReport()
    added: Counter[str] = Counter()
    if not args.no_litellm:
        table, litellm_version, origin = load_litellm(args.litellm, args.litellm_version)
        print(f"LiteLLM {litellm_version}: {origin}", file=sys.stderr)
        litellm = from_litellm(table, report=litellm_report)
        before = tier_keys(book)
        added = merge_litellm_tiers(book, litellm, report=report)
        # An entry that got a tier sheet from LiteLLM says so in its origin.
        for e, had, has in zip(entries(book), before, tier_keys(book), strict=True):
            if has - had:
                stamp_origin(e, f"LiteLLM {litellm_version}")

    corrections = apply_corrections(book, CORRECTIONS)
    print(f"hand corrections applied: {corrections} (from {CORRECTIONS.relative_to(ROOT)})", file=sys.stderr)
    repeats = collapse_repeated_entries(book, report=report)
    print(
        f"dated entries that repeated the previous prices, merged (date kept as `checked`): {repeats}", file=sys.stderr
    )

    files: dict[str, str] = {}
    for p in book:
        files[f"{p['id']}.toml"] = emit(p, header_for(p, genai_version, litellm_version))

    # Summary and diff.
    changed = 0
    out = sys.stdout
    existing = {f.name for f in out_dir.glob("*.toml")}
    for name in sorted(files):
        path = out_dir / name
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        new = files[name]
        if old == new:
            continue
        changed += 1
        diff = list(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/prices/{name}", f"b/prices/{name}"
            )
        )
        plus = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        minus = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        state = "new" if not old else "changed"
        out.write(f"== prices/{name}: {state}, +{plus} -{minus} lines, {model_summary(old, new)}\n")
        out.writelines(line + "\n" for line in model_changes(old, new))
        shown = diff if args.full else diff[: args.diff_lines]
        out.writelines(shown)
        if len(shown) < len(diff):
            out.write(f"... {len(diff) - len(shown)} more diff lines (--full shows them)\n")
    stale = sorted(existing - set(files))
    for name in stale:
        out.write(f"== prices/{name}: not produced by the import (left as it is; delete it by hand if obsolete)\n")

    # Report.
    err = sys.stderr
    final = count(book)
    err.write("\n== import report\n")
    err.write(
        f"genai-prices {genai_version}: {genai_counts['providers']} providers, {genai_counts['models']} models, "
        f"{genai_counts['entries']} price entries, {genai_counts['windows']} time-of-day windows, "
        f"{genai_counts['regions']} regions\n"
    )
    err.write(
        "tier sheets from genai-prices: "
        + ", ".join(f"{t} {genai_counts[f'sheets.{t}']}" for t in (*_TIER_KEYS, "fast"))
        + "\n"
    )
    if litellm_version:
        err.write(
            f"LiteLLM {litellm_version}: {litellm_report.counts['litellm_models']} token-priced models in "
            f"{litellm_report.counts['litellm_providers']} providers; skipped entries: "
            + ", ".join(f"{r} {n}" for r, n in sorted(litellm_report.skipped.items()))
            + "\n"
        )
        err.write(
            "tier sheets added from LiteLLM: "
            + ", ".join(f"{t} {added[t]}" for t in _TIER_KEYS)
            + " (not added because the provider's tier rule already gives those prices: "
            + ", ".join(f"{t} {report.counts[f'litellm_sheet_implied_by_rule.{t}']}" for t in _TIER_KEYS)
            + ")\n"
        )
        if litellm_report.unmapped_keys:
            err.write(
                "LiteLLM keys with no schema unit (not imported): "
                + ", ".join(f"{k} {n}" for k, n in litellm_report.unmapped_keys.most_common())
                + "\n"
            )
    err.write(
        f"result: {final['providers']} providers, {final['models']} models, {final['entries']} entries, "
        f"{final['windows']} windows, tier sheets "
        + ", ".join(f"{t} {final[f'sheets.{t}']}" for t in (*_TIER_KEYS, "fast"))
        + "\n"
    )
    if report.skipped:
        err.write("skipped: " + ", ".join(f"{r} ({n})" for r, n in sorted(report.skipped.items())) + "\n")
    if report.unmapped_keys:
        err.write("unmapped genai-prices keys: " + ", ".join(f"{k} ({n})" for k, n in report.unmapped_keys.items()))
    if not args.quiet:
        for d in report.details:
            err.write(f"  - {d}\n")
    err.write(f"{changed} of {len(files)} files differ from prices/\n")

    if args.write:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = out_dir / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        err.write(f"wrote {changed} files to {out_dir}/\n")
    if args.check and changed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
