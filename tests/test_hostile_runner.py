"""The hostile-input runner itself: a crash, a hang and runaway memory in the child each fail the case."""

from __future__ import annotations

import pytest

from hostile import run_case


def test_a_crash_is_reported() -> None:
    with pytest.raises(AssertionError, match="crashed with SIGSEGV"):
        run_case("import ctypes; ctypes.string_at(0)")


def test_a_hang_is_reported() -> None:
    with pytest.raises(AssertionError, match="hung"):
        run_case("import time; time.sleep(30)", timeout=1)


def test_memory_is_limited_and_measured() -> None:
    out = run_case("b = bytearray(200 * 1024 * 1024); print(len(b))")
    assert out.peak_mb >= 190
    over = run_case("b = bytearray(3000 * 1024 * 1024)", limit_mb=1024, expect_ok=False)
    assert over.returncode != 0 and "MemoryError" in over.stderr
