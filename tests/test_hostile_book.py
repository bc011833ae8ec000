"""Hostile use of the price book, each in a child process (see `hostile.run_case`): forks while tables are priced."""

from __future__ import annotations

from pathlib import Path

from hostile import run_case

TESTS = Path(__file__).resolve().parent


def test_forks_during_price_table_never_hang() -> None:
    # 200 forks while another thread prices tables with new unknown names; each child prices under a timeout.
    out = run_case(
        """
        import json
        from test_threads_and_fork import fork_while_pricing
        print(json.dumps(fork_while_pricing(200, child_timeout=20.0)))
        """,
        cwd=TESTS,
        timeout=240,
    )
    outcomes = out.json()
    assert isinstance(outcomes, dict)
    assert outcomes["ok"] == 200, outcomes
