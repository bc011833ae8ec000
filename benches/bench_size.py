"""Package size and first-use latency: what a user downloads and installs, and what the first calls cost.

1. The wheel (`pip wheel . --no-deps`), the installed size of its `tokenprice/` folder, and `_core.abi3.so`;
2. the first `get_encoding(name).count("x")` of each built-in encoding in a fresh process (the vocabulary is
   stored deflated and decoded on first use);
3. the first piece over 32 KiB in a fresh process (r50k/cl100k/o200k build their linear-time encoder then;
   p50k_base has none), and the time of 1 MB of one repeated character once it is built.

Results are printed and written to ``benches/RESULTS.md`` (the package-size section).

Usage: python benches/bench_size.py [--wheel-dir /tmp/w] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench_request import write

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Package size and first use (issue 13)"
NAMES = ["r50k_base", "p50k_base", "cl100k_base", "o200k_base", "o200k_harmony"]


def build_wheel(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("tokenprice-*.whl"):
        old.unlink()
    cmd = [sys.executable, "-m", "pip", "wheel", str(ROOT), "-w", str(out), "--no-deps", "--no-build-isolation"]
    subprocess.run(cmd, check=True, capture_output=True)
    return next(out.glob("tokenprice-*.whl"))


def installed_sizes(wheel: Path) -> tuple[int, int]:
    """(bytes of the installed tokenprice/ folder, bytes of the extension module)."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        z.extractall(tmp)
        folder = Path(tmp) / "tokenprice"
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        so = sum(p.stat().st_size for p in folder.glob("_core*.so"))
    return total, so


def fresh(code: str) -> float:
    """Seconds printed by `code` run in a fresh interpreter (best of 3)."""
    env = dict(os.environ, TOKENPRICE_NUM_THREADS="1")
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


FIRST_CALL = """
import time, tokenprice
t = time.perf_counter(); tokenprice.get_encoding({name!r}).count("x"); print(time.perf_counter() - t)
"""

FIRST_LONG = """
import time, tokenprice
e = tokenprice.get_encoding({name!r}); e.count("x")
t = time.perf_counter(); e.count("a" * 40_000); print(time.perf_counter() - t)
"""

MEGABYTE = """
import json, time, tokenprice
e = tokenprice.get_encoding({name!r}); e.count("a" * 40_000)
text = "a" * (1 << 20)
runs = []
for _ in range(5):
    t = time.perf_counter(); e.count(text); runs.append(time.perf_counter() - t)
print(min(runs))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel-dir", type=Path, default=Path(tempfile.gettempdir()) / "tokenprice-wheel")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    wheel = build_wheel(args.wheel_dir)
    folder, so = installed_sizes(wheel)
    first = {n: fresh(FIRST_CALL.format(name=n)) for n in NAMES}
    long = {n: fresh(FIRST_LONG.format(name=n)) for n in ["r50k_base", "cl100k_base", "o200k_base"]}
    mb = {n: fresh(MEGABYTE.format(name=n)) for n in ["cl100k_base", "o200k_base", "r50k_base", "p50k_base"]}
    mib = 1024 * 1024
    lines = [
        f"{SECTION} — {dt.date.today().isoformat()}",
        "",
        f"`python benches/bench_size.py` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Sizes of the release wheel built from this tree; latencies best of 3 fresh "
        "processes (`TOKENPRICE_NUM_THREADS=1`), the 1 MB time best of 5 in one process.",
        "",
        "| what | size |",
        "|---|---|",
        f"| wheel `{wheel.name}` | {wheel.stat().st_size / mib:.1f} MiB |",
        f"| installed `tokenprice/` folder | {folder / mib:.1f} MiB ({folder / 1e6:.1f} MB) |",
        f"| of which `_core.abi3.so` | {so / mib:.1f} MiB |",
        "",
        "| first use, fresh process | time |",
        "|---|---|",
    ]
    lines += [f'| `get_encoding({n!r}).count("x")` | {s * 1e3:.0f} ms |' for n, s in first.items()]
    lines += [
        f"| first piece over 32 KiB, {n} (builds the linear-time encoder) | {s * 1e3:.0f} ms |" for n, s in long.items()
    ]
    lines += [f"| 1 MB of one repeated character, {n}, once built | {s * 1e3:.1f} ms |" for n, s in mb.items()]
    section = "\n".join(lines) + "\n"
    sys.stdout.write(section)
    print(json.dumps({"median_first_ms": statistics.median(first.values()) * 1e3}))
    if not args.no_write:
        write(section, SECTION)


if __name__ == "__main__":
    main()
