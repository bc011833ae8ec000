"""The command line: `tokenprice count` (files, stdin, JSON output, one-line errors, bounded memory), and what
`price --json`, the price table, `--out` and `models --search` show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import tokenprice

from hostile import run_case

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "examples" / "texts").glob("*"))


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tokenprice", *args], input=stdin, capture_output=True, timeout=300)


def test_counts_each_file_and_the_total() -> None:
    assert SAMPLES, "examples/texts holds the bundled sample texts"
    result = run("count", *map(str, SAMPLES), "--model", "gpt-4o")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    enc = tokenprice.encoding_for_model("gpt-4o")
    expected = [enc.count(p.read_text(encoding="utf-8")) for p in SAMPLES]
    for line, path, n in zip(lines, SAMPLES, expected, strict=False):
        assert line.split() == [f"{n:,}", str(path)]
    assert lines[-1].split() == [f"{sum(expected):,}", "total"]
    assert b"o200k_base" in result.stderr


def test_json_output_and_stdin() -> None:
    text = "Counting from standard input works too.\n" * 100
    result = run("count", "-", "--model", "gpt-4", "--json", stdin=text.encode())
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    n = tokenprice.count_tokens(text, model="gpt-4")
    assert out == {
        "model": "gpt-4",
        "encoding": "cl100k_base",
        "approximate": False,
        "inputs": [{"path": "<stdin>", "tokens": n}],
        "total": n,
    }


def test_the_installed_script_runs() -> None:
    script = Path(sys.executable).parent / "tokenprice"
    assert script.exists(), "the package installs a `tokenprice` command"
    result = subprocess.run([str(script), "count", str(SAMPLES[0]), "-e", "o200k_base", "--json"], capture_output=True)
    assert result.returncode == 0 and json.loads(result.stdout)["total"] > 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["count", "no/such/file.txt", "--model", "gpt-4o"], "no/such/file.txt"),
        (["count", str(SAMPLES[0]), "--model", "gpt-9-turbo-ultra"], "unknown model"),
        (["count", str(SAMPLES[0]), "--model", "claude-sonnet-4-5"], "approximate"),
    ],
)
def test_errors_are_one_line_without_traceback(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_approximate_flag_says_so() -> None:
    result = run("count", str(SAMPLES[0]), "--model", "claude-sonnet-4-5", "--approximate", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["approximate"] is True


def test_invalid_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff not ok")
    result = run("count", str(bad), "--model", "gpt-4o")
    assert result.returncode == 2 and b"invalid UTF-8 at byte 3" in result.stderr
    assert run("count", str(bad), "--model", "gpt-4o", "--errors", "replace").returncode == 0


def _peak_rss_kib(args: list[str]) -> int:
    """Peak resident memory of one child process running the CLI: its own address space's (`VmHWM`, see
    tests/hostile.py), not `ru_maxrss`, which would carry this pytest process's size across fork and exec."""
    out = run_case(
        f"import runpy, sys\nsys.argv = ['tokenprice', *{args!r}]\nrunpy.run_module('tokenprice', run_name='__main__')"
    )
    return int(out.peak_mb * 1024)


def test_streaming_a_200_mb_file_stays_within_100_mb(tmp_path: Path) -> None:
    block = "\n".join(p.read_text(encoding="utf-8") for p in SAMPLES).encode() + b"\n"
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        for _ in range((200 << 20) // len(block) + 1):
            f.write(block)
    small = tmp_path / "small.txt"
    small.write_bytes(block)
    assert big.stat().st_size >= 200 << 20
    base = _peak_rss_kib(["count", str(small), "--model", "gpt-4o"])
    peak = _peak_rss_kib(["count", str(big), "--model", "gpt-4o"])
    grown_mib = (peak - base) / 1024
    assert grown_mib <= 100, f"resident memory grew by {grown_mib:.0f} MiB counting 200 MB"
    # The block ends in newlines and starts with "{", so no piece spans two copies: the total is exact.
    reps = big.stat().st_size // len(block)
    result = run("count", str(big), "--model", "gpt-4o", "--json")
    assert json.loads(result.stdout)["total"] == reps * tokenprice.count_tokens(block.decode(), model="gpt-4o")


# -- the small things users hit (issue 17) ------------------------------------------------------------------------

LOGS = ROOT / "examples" / "logs" / "gateway.jsonl.gz"


def test_price_json_has_counts_as_numbers_and_money_as_exact_text() -> None:
    result = run("price", str(LOGS), "--by", "tenant", "--period", "month", "--json", "--reconcile")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("rows_read", "rows_priced", "rows_rejected"):
        assert type(out[key]) is int
    assert out["groups"], "the sample has groups"
    for group in out["groups"]:
        assert type(group["rows"]) is int
        assert len(group["period"]) == 7 and group["period"][4] == "-"  # a month: 2025-01
        for key in ("input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "other_cost", "total_cost"):
            text = group[key]
            assert isinstance(text, str) and "E" not in text and (text == "0" or not text.endswith("0")), text
            Decimal(text)  # exact decimal text
    # The sample's other_cost is zero everywhere: "0", not "0E-18".
    assert {g["other_cost"] for g in out["groups"]} == {"0"}
    assert sum(g["rows"] for g in out["groups"]) == out["rows_priced"]
    assert sum(Decimal(g["total_cost"]) for g in out["groups"]) == Decimal(out["total_cost"])
    rec = out["reconciliation"]
    assert type(rec["compared"]) is int and type(rec["mismatches"]) is int
    assert all(type(n) is int for n in rec["causes"].values())
    assert all("E" not in v for v in rec["cause_costs"].values())


def test_price_table_shows_reported_cost_when_the_logs_carry_one(tmp_path: Path) -> None:
    result = run("price", str(LOGS), "--by", "tenant", "--period", "month")
    assert result.returncode == 0, result.stderr
    header, rule, first, *_ = result.stdout.decode().splitlines()
    assert header.split() == [
        "period", "tenant", "rows", "input_cost", "cache_read_cost", "cache_write_cost", "output_cost",
        "other_cost", "total_cost", "reported_cost",
    ]  # fmt: skip
    assert first.split()[0] == "2025-01"  # a month shows as its month
    # Records that carry no cost: no reported_cost column.
    bare = tmp_path / "bare.jsonl"
    record = {"created_at": "2025-03-01T00:00:00Z", "model": "gpt-4o", "tokens_in": 1000, "tokens_out": 10}
    bare.write_text(json.dumps(record) + "\n")
    plain = run("price", str(bare))
    assert plain.returncode == 0, plain.stderr
    assert "reported_cost" not in plain.stdout.decode() and "total_cost" in plain.stdout.decode()


def test_price_out_says_where_the_rejects_went(tmp_path: Path) -> None:
    out = tmp_path / "priced.parquet"
    result = run("price", str(LOGS), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rejects = tmp_path / "priced.rejects.parquet"
    assert f"priced lines written to {out}; 5 rejects to {rejects}" in result.stderr.decode()
    assert rejects.is_file()
    as_json = json.loads(run("price", str(LOGS), "--out", str(out), "--json").stdout)
    assert as_json["written"] == {"priced": str(out), "rejects": str(rejects)}


def test_models_search_finds_the_dated_id_a_response_carries() -> None:
    result = run("models", "--search", "claude-sonnet-4-5-20250929")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert any(line.split()[:2] == ["anthropic", "claude-sonnet-4-5"] for line in lines)
    as_json = json.loads(run("models", "--search", "claude-sonnet-4-5-20250929", "--json").stdout)
    assert ("anthropic", "claude-sonnet-4-5") in {(m["provider"], m["model"]) for m in as_json}


def test_models_table_fits_an_80_column_terminal() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "tokenprice", "models"], capture_output=True, timeout=300, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) > 1000  # the whole book
    assert max(len(line) for line in lines) <= 80
    # Ids are whole, never cut: a long one has the row to itself, its prices on the next line.
    long_id = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    [index] = [i for i, line in enumerate(lines) if long_id in line]
    assert lines[index].split() == ["aws", long_id]
    assert lines[index + 1].split() == ["3", "15", "0.3", "3.75", "200K"]
    assert len(result.stderr.decode().splitlines()[-1]) <= 80
