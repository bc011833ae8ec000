"""Hostile use of the price book, each in a child process (see `hostile.run_case`): forks while tables are priced."""

from __future__ import annotations

from pathlib import Path

from hostile import run_case

TESTS = Path(__file__).resolve().parent


def _forks(call: str, forks: int) -> dict[str, int]:
    """Runs `test_threads_and_fork.<call>` in a fresh interpreter (a child process under a timeout)."""
    code = f"""
        import json
        from test_threads_and_fork import {call.split("(")[0]}
        print(json.dumps({call}))
        """
    outcomes = run_case(code, cwd=TESTS, timeout=400).json()
    assert isinstance(outcomes, dict) and outcomes["ok"] == forks, outcomes
    return outcomes


def test_forks_during_price_table_never_hang() -> None:
    # 200 forks while another thread prices tables with new unknown names; each child prices under a timeout.
    _forks("fork_while_pricing(200, child_timeout=20.0)", 200)


def test_forks_during_first_use_never_hang() -> None:
    # Fresh interpreters: the first calls (encodings built, per-thread caches made, Python classes looked up, the
    # first Arrow table read) run in threads while the main thread forks; threads that count once and exit keep
    # per-thread state changing. A child must never give a wrong answer, die or wait. Until pyo3-arrow was replaced
    # (src/py/capsule.rs), about 1 child in 250 waited inside price_table's first Arrow read (an interned-name
    # once-cell taken by another thread at the fork; docs/counting.md "Threads and fork").
    for _ in range(3):
        code = """
            import json
            from test_threads_and_fork import fork_during_first_use
            print(json.dumps(fork_during_first_use(40, child_timeout=20.0)))
            """
        outcomes = run_case(code, cwd=TESTS, timeout=400).json()
        assert outcomes == {"ok": 40, "wrong": 0, "hung": 0, "died": 0}, outcomes
