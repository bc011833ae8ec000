"""The fixture records under tests/fixtures/ (usage/: one file per format; sources/: a folder per system; see their
READMEs): each file holds ``cases``, each case an ``input`` and what reading it must give. Read here once for
tests/test_extract.py, tests/test_sources.py and scripts/fixtures/check_readers.py."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import tokenprice

FIXTURES = Path(__file__).resolve().parent / "fixtures"
USAGE = FIXTURES / "usage"
SOURCES = FIXTURES / "sources"

# What a record holds when a case's expectation does not name the field.
DEFAULTS: dict[str, Any] = {
    "provider": None,
    "model": None,
    "served_model": None,
    "timestamp": None,
    "parts": [],
    "service_tier": None,
    "region": None,
    "cache_hit": False,
    "status": "ok",
    "status_code": None,
    "metadata": {},
    "reported_cost": None,
    "id": None,
    "has_usage": True,
}


def files(folder: Path) -> list[Path]:
    """The fixture files below `folder`, in a stable order."""
    return sorted(folder.rglob("*.json"))


def cases_of(path: Path) -> list[dict[str, Any]]:
    """The cases of one fixture file."""
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


def named_cases(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every case below `folder` with its name: the file's path in the folder (no suffix), then the case's name."""
    return [
        (f"{path.relative_to(folder).with_suffix('').as_posix()}: {case['name']}", case)
        for path in files(folder)
        for case in cases_of(path)
    ]


def full_usage(counts: dict[str, int]) -> dict[str, int]:
    """A full usage dict from the non-zero counts a case lists (requests defaults to 1)."""
    out = {f: 0 for f in tokenprice.Usage.fields}
    out["requests"] = 1
    out.update(counts)
    return out


def expected(want: dict[str, Any], defaults: dict[str, Any] = DEFAULTS) -> dict[str, Any]:
    """A case's expectation with every field the record has: the defaults filled in, its time and reported cost
    parsed, its usage (and each part's) full."""
    out = {**defaults, **{k: v for k, v in want.items() if k not in ("usage", "extra")}}
    if out["timestamp"] is not None:
        out["timestamp"] = dt.datetime.fromisoformat(out["timestamp"])
    if out["reported_cost"] is not None:
        out["reported_cost"] = Decimal(out["reported_cost"])
    if out.get("parts"):
        out["parts"] = [(model, full_usage(counts)) for model, counts in out["parts"]]
    out["usage"] = full_usage(want["usage"])
    return out
