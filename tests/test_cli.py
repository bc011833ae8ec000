"""The `tokenprice count` command: files, stdin, JSON output, one-line errors, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tokenprice

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
    """Peak resident memory of one child process running the CLI (the kernel's accounting, via wait4)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenprice", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss


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
