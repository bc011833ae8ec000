"""Progress bars: ``price_logs(progress=True)`` drives tqdm's bar to the files' full size when someone watches (a
terminal or a notebook), a plain one-line bar without tqdm, nothing when no one watches; a callable still gets
(path, bytes, records). ``tokenprice price`` draws its bar on stderr only when stderr is a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest
import tqdm.std

import tokenprice
from tokenprice import _progress

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "logs" / "gateway.jsonl.gz"


def _watched(monkeypatch: pytest.MonkeyPatch, where: str | None) -> None:
    monkeypatch.setattr(_progress, "watched", lambda out: where)


def test_progress_true_drives_a_tqdm_bar_to_the_whole_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bars: list[Any] = []

    class Recorded(tqdm.std.tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    _watched(monkeypatch, "terminal")
    monkeypatch.setattr(_progress, "tqdm_class", lambda where: Recorded)
    logs = tokenprice.price_logs(SAMPLE, progress=True)
    (bar,) = bars
    assert bar.total == bar.n == SAMPLE.stat().st_size  # the bar runs over the compressed bytes: its ETA
    assert bar.n > 0
    err = capsys.readouterr().err
    assert "100%" in err and f"{logs.rows_read:,} records" in err and "records/s" in err
    # The data read is shown decompressed: more megabytes than the file has.
    read_mb = float(err.rsplit(" MB read", 1)[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert read_mb > SAMPLE.stat().st_size / 1e6


def test_in_a_notebook_the_bar_is_tqdms_notebook_one_when_it_can_be(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm import notebook

    monkeypatch.setattr(notebook, "IProgress", object(), raising=False)
    assert _progress.tqdm_class("notebook") is notebook.tqdm
    monkeypatch.setattr(notebook, "IProgress", None, raising=False)
    assert _progress.tqdm_class("notebook") is tqdm.std.tqdm  # no ipywidgets: the text bar, in the cell's output
    assert _progress.tqdm_class("terminal") is tqdm.std.tqdm


def test_without_tqdm_a_plain_bar(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _watched(monkeypatch, "terminal")
    monkeypatch.setattr(_progress, "tqdm_class", lambda where: None)
    logs = tokenprice.price_logs(SAMPLE, progress=True)
    err = capsys.readouterr().err
    last = err.rstrip("\n").rsplit("\r", 1)[-1]
    assert last.startswith("[" + "#" * _progress.TextBar.WIDTH + "] 100%")
    assert f"{logs.rows_read:,} records" in last and "records/s" in last and "ETA 0:00" in last


def test_no_bar_when_no_one_watches(capsys: pytest.CaptureFixture[str]) -> None:
    assert _progress.watched(sys.stderr) is None  # pytest's captured stderr is not a terminal
    quiet = tokenprice.price_logs(SAMPLE, progress=True)
    assert capsys.readouterr().err == ""
    assert quiet.total_cost == tokenprice.price_logs(SAMPLE, progress=False).total_cost


def test_a_callable_still_gets_path_bytes_records() -> None:
    calls: list[tuple[Any, ...]] = []
    logs = tokenprice.price_logs(SAMPLE, progress=lambda *a: calls.append(a))
    assert calls and all(len(c) == 3 for c in calls)
    assert calls[-1] == (str(SAMPLE), SAMPLE.stat().st_size, logs.rows_read)
    with pytest.raises(tokenprice.InvalidTypeError, match="progress must be True, False, None or a callable"):
        tokenprice.price_logs(SAMPLE, progress="yes")


def _cli(stderr: Any, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tokenprice", *(args or ("price", str(SAMPLE), "--by", "tenant"))],
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=300,
        check=True,
    )


def test_the_cli_draws_no_bar_without_a_terminal() -> None:
    done = _cli(subprocess.PIPE)
    assert b"records/s" not in done.stderr and b"\r" not in done.stderr and b"%" not in done.stderr
    assert b"globex" in done.stdout


@pytest.mark.parametrize("command", ["price", "report"])
def test_the_cli_draws_its_bar_on_a_terminal(command: str, tmp_path: Path) -> None:
    args = ("price", str(SAMPLE), "--by", "tenant")
    if command == "report":
        args = ("report", str(SAMPLE), "-o", str(tmp_path / "report.html"))
    leader, follower = pty.openpty()
    # A terminal 160 columns wide (a new pseudo-terminal has none, and tqdm fits its bar to the width).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    try:
        _cli(follower, *args)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: all read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert b"100%" in seen and b"records/s" in seen and b"MB read" in seen
