"""Runs one hostile-input case in a child process under an address-space limit and a timeout.

Every case of the hostile-input suite (`tests/test_hostile_*.py`) goes through [`run_case`]: a crash (SIGSEGV,
SIGBUS, SIGABRT), a hang or runaway memory in the child fails the test instead of killing pytest. The child
reports its peak resident memory so a case can assert a bound on it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The child writes its peak RSS on its last line of stderr, after the case's own output. It reads the peak of its
# own address space (`VmHWM`, new at exec) rather than `ru_maxrss`, which Linux keeps across fork and exec: a child
# of a pytest process that has grown to 1 GB (Spark's, Dask's and the browser's clients loaded) would report that.
_PEAK_MARK = "HOSTILE-PEAK-RSS-KB="
_PREAMBLE = f"""\
import atexit as _atexit, resource as _resource, sys as _sys
def _hostile_peak():
    try:
        with open("/proc/self/status") as _status:
            _kb = next(int(l.split()[1]) for l in _status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        _kb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    _sys.stderr.write("\\n{_PEAK_MARK}%d\\n" % _kb)
    _sys.stderr.flush()
_atexit.register(_hostile_peak)
"""

# Virtual address space is far larger than resident memory for a process with threads, mimalloc arenas and
# pyarrow's pools; this limit stops runaway growth, and `peak_mb` checks what was really used.
DEFAULT_LIMIT_MB = 6144
DEFAULT_TIMEOUT_S = 120.0


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float

    def json(self) -> object:
        """The last stdout line, read as JSON (a case prints its findings as one JSON line)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert lines, f"the case printed nothing; stderr:\n{self.stderr[-3000:]}"
        return json.loads(lines[-1])


def _limit(limit_mb: int) -> None:
    limit = limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_case(
    code: str,
    *,
    limit_mb: int = DEFAULT_LIMIT_MB,
    timeout: float = DEFAULT_TIMEOUT_S,
    expect_ok: bool = True,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Outcome:
    """Runs `code` (dedented) in a fresh interpreter under `RLIMIT_AS` and a timeout.

    Fails the calling test when the child is killed by a signal (a crash) or runs past the timeout (a hang), and,
    with `expect_ok`, when it exits non-zero.  `args` run a command instead of Python code (`code` is then unused).
    """
    child_env = dict(os.environ)
    child_env.setdefault("PYTHONFAULTHANDLER", "1")
    if env:
        child_env.update(env)
    if args is None:
        argv = [sys.executable, "-c", _PREAMBLE + textwrap.dedent(code)]
    else:
        argv = args
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            cwd=cwd or ROOT,
            env=child_env,
            preexec_fn=lambda: _limit(limit_mb),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the case hung: no exit within {timeout} s; stderr so far:\n{e.stderr!r}") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise AssertionError(f"the case crashed with {name}; stderr:\n{proc.stderr[-4000:]}")
    peak_kb = 0
    stderr_lines = []
    for line in proc.stderr.splitlines():
        if line.startswith(_PEAK_MARK):
            peak_kb = int(line[len(_PEAK_MARK) :])
        else:
            stderr_lines.append(line)
    stderr = "\n".join(stderr_lines).strip()
    if expect_ok and proc.returncode != 0:
        raise AssertionError(f"the case exited with {proc.returncode}; stderr:\n{stderr[-4000:]}")
    return Outcome(proc.returncode, proc.stdout, stderr, peak_kb / 1024)
