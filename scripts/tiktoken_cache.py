"""Fill a tiktoken cache directory with the vocabulary files the tiktoken-rs crate ships, so that the tiktoken
package (the reference the tests compare against) works offline.

tiktoken looks for each file under ``$TIKTOKEN_CACHE_DIR/<sha1 of its download URL>`` and checks its sha256.
tiktoken's "gpt2" encoding is left out: the crate's copy of encoder.json is reformatted, so its hash differs, and
the ranks are those of r50k_base anyway. The crate's sources are located with ``cargo metadata`` (cargo has
already fetched them to build tokenprice).

Usage: python scripts/tiktoken_cache.py DIR
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

BASE = "https://openaipublic.blob.core.windows.net/"
FILES = {
    "r50k_base.tiktoken": BASE + "encodings/r50k_base.tiktoken",
    "p50k_base.tiktoken": BASE + "encodings/p50k_base.tiktoken",
    "cl100k_base.tiktoken": BASE + "encodings/cl100k_base.tiktoken",
    "o200k_base.tiktoken": BASE + "encodings/o200k_base.tiktoken",
}


def crate_assets() -> Path:
    meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1"], text=True))
    for package in meta["packages"]:
        if package["name"] == "tiktoken-rs":
            return Path(package["manifest_path"]).parent / "assets"
    raise SystemExit("tiktoken-rs is not among the crate's dependencies; run `cargo fetch` first")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    assets = crate_assets()
    for name, url in FILES.items():
        dest = target / hashlib.sha1(url.encode()).hexdigest()
        if not dest.exists():
            shutil.copyfile(assets / name, dest)
    print(f"tiktoken cache ready in {target} ({len(FILES)} files from {assets})")


if __name__ == "__main__":
    main()
