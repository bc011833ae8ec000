"""The README's examples run as written, so they stay true.

Each Python block runs alone in a fresh interpreter (its own imports, its own data), as a reader who copies one
block would run it. The quick start's first command runs in a fresh virtualenv without extras in
`make quickstart` (part of `make test`), not here: it installs the package from scratch.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_shows_the_api_in_python_blocks() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_alone(index: int) -> None:
    block = BLOCKS[index]
    proc = subprocess.run(
        [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"README block {index} failed when run alone:\n{block}\n{proc.stderr[-3000:]}"


def test_readme_quick_start_is_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quick.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # `make quickstart` runs exactly the README's first command, so the two cannot drift apart.
    assert commands[0] == "pip install . && tokenprice price examples/logs/gateway.jsonl.gz --by tenant,feature"
    assert f"QUICKSTART := {commands[0]}" in makefile
    assert commands[1] == "make test"
