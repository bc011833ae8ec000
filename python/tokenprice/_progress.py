"""Progress bars for pricing log files: ``price_logs(progress=True)`` and ``tokenprice price``.

The ledger reports after each block of a file: the file, its bytes taken (compressed: progress against the files'
sizes, hence the ETA), the records read so far and the file's bytes read decompressed (the data a bar shows as
read, and its rate). ``progress=True`` draws tqdm's bar — its notebook widget in Jupyter when ipywidgets is
there, its terminal bar otherwise — when tqdm is installed (``pip install tokenprice[progress]``), and a plain
one-line bar without it; nothing at all when no one watches (stderr not a terminal, outside a notebook)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any


class Progress:
    """How far a run over files is: per file, bytes taken (compressed) and read (decompressed); records read."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.sizes = {p: os.path.getsize(p) for p in paths if os.path.isfile(p)}
        self.total = sum(self.sizes.values())
        self.taken: dict[str, int] = {}
        self.read: dict[str, int] = {}
        self.records = 0
        self.start = time.perf_counter()

    def update(self, path: str, taken: int, records: int, read: int | None = None) -> None:
        self.taken[path] = taken
        self.read[path] = taken if read is None else read
        self.records = records

    @property
    def share(self) -> float:
        done = sum(self.taken.values())
        return min(done / self.total, 1.0) if self.total else 1.0

    def line(self, now: float | None = None) -> str:
        """What the bar says besides the bar: data read (decompressed), records, records/s and the time left."""
        elapsed = (time.perf_counter() if now is None else now) - self.start
        read = sum(self.read.values())
        rate = self.records / elapsed if elapsed > 0 else 0.0
        left = elapsed * (1 - self.share) / self.share if 0 < self.share < 1 else 0.0
        return (
            f"{read / 1e6:,.1f} MB read, {self.records:,} records, {rate:,.0f} records/s, "
            f"ETA {int(left) // 60}:{int(left) % 60:02d}"
        )


class TextBar:
    """A one-line bar on ``out`` (stderr), drawn at most ten times a second: the command line's, and
    ``progress=True``'s without tqdm."""

    WIDTH = 30

    def __init__(self, paths: Sequence[str], out: Any) -> None:
        self.progress = Progress(paths)
        self.out = out
        self.last = 0.0
        self.drawn = False

    def __call__(self, path: str, taken: int, records: int, read: int | None = None) -> None:
        self.progress.update(path, taken, records, read)
        now = time.perf_counter()
        if now - self.last < 0.1 and self.progress.share < 1:
            return
        self.last = now
        filled = int(self.progress.share * self.WIDTH)
        bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.progress.share:4.0%} "
        self.out.write("\r" + bar + self.progress.line(now))
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.out.write("\n")
            self.out.flush()


def tqdm_class(where: str) -> Any:
    """tqdm's bar for a notebook (its widget, when ipywidgets is installed) or a terminal; None without tqdm."""
    try:
        from tqdm import std
    except ImportError:
        return None
    if where == "notebook":
        try:
            from tqdm import notebook

            if getattr(notebook, "IProgress", None) is not None:
                return notebook.tqdm
        except ImportError:
            pass
    return std.tqdm


class TqdmBar:
    """tqdm's bar over the files' bytes (its ETA), with the data read, records and records/s after it."""

    def __init__(self, paths: Sequence[str], cls: Any, out: Any) -> None:
        self.progress = Progress(paths)
        self.bar = cls(
            total=self.progress.total,
            unit="B",
            unit_scale=True,
            desc="pricing",
            file=out,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
        )

    def __call__(self, path: str, taken: int, records: int, read: int | None = None) -> None:
        before = sum(self.progress.taken.values())
        self.progress.update(path, taken, records, read)
        self.bar.set_postfix_str(self.progress.line().rsplit(", ETA", 1)[0], refresh=False)
        self.bar.update(sum(self.progress.taken.values()) - before)

    def close(self) -> None:
        self.bar.close()


def watched(out: Any) -> str | None:
    """Where someone watches a run: "notebook" (a Jupyter kernel), "terminal" (``out`` is one), else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        return "notebook"
    isatty = getattr(out, "isatty", None)
    return "terminal" if isatty is not None and isatty() else None


def bar_for(paths: Sequence[str], out: Any = None) -> TextBar | TqdmBar | None:
    """The bar ``progress=True`` draws for these files on ``out`` (stderr), or None when no one watches."""
    out = sys.stderr if out is None else out
    where = watched(out)
    if where is None:
        return None
    cls = tqdm_class(where)
    return TqdmBar(paths, cls, out) if cls is not None else TextBar(paths, out)
