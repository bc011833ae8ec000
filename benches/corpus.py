"""Build the token-counting benchmark corpus from text that is already on the machine.

The corpus is a list of documents (one per source file, long files cut into ~16 KB documents) drawn from four
kinds of text, so that the benchmark is not all English prose:

- prose: licence texts, Debian copyright files, vim's English help;
- code: the Python standard library's own sources;
- CJK and other scripts: vim's Japanese/Korean/Chinese tutors, the freedesktop MIME database (translations into
  dozens of languages), gnupg's Japanese help, CPython's CJK codec test files;
- emoji: the emoji table that pip vendors (rich), and emoji-rich test files.

Nothing is downloaded. Sources that are missing are skipped and reported; the script fails only if the corpus
would be smaller than the requested size.

Usage: python benches/corpus.py [--mb 6] [--out benches/corpus/corpus.jsonl]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sysconfig
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PURELIB = Path(sysconfig.get_paths()["purelib"])

SOURCES: dict[str, list[str]] = {
    "prose": [
        "/usr/share/common-licenses/*",
        "/usr/share/vim/vim*/doc/*.txt",
        "/usr/share/doc/*/copyright",
    ],
    "code": [str(STDLIB / "*.py"), str(STDLIB / "*/*.py")],
    "cjk": [
        "/usr/share/vim/vim*/tutor/tutor.ja.utf-8",
        "/usr/share/vim/vim*/tutor/tutor.ko.utf-8",
        "/usr/share/vim/vim*/tutor/tutor.zh_cn.utf-8",
        "/usr/share/vim/vim*/tutor/tutor.zh_tw.utf-8",
        "/usr/share/gnupg/help.ja.txt",
        str(STDLIB / "test/cjkencodings/*-utf8.txt"),
        "/usr/share/mime/packages/freedesktop.org.xml",
        "/usr/share/i18n/locales/iso14651_t1_pinyin",
    ],
    "emoji": [
        str(PURELIB / "pip/_vendor/rich/_emoji_codes.py"),
        str(STDLIB / "test/test_unicode*.py"),
        str(PURELIB / "pyarrow/tests/test_compute.py"),
    ],
}

# Share of the corpus each kind should take (by bytes), if the machine has enough of it.
SHARES = {"prose": 0.40, "code": 0.35, "cjk": 0.15, "emoji": 0.10}
DOC_BYTES = 16_000


def read_texts(patterns: list[str]) -> list[str]:
    texts = []
    seen: set[str] = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen or not os.path.isfile(real):
                continue
            seen.add(real)
            try:
                texts.append(Path(real).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, OSError):
                continue
    return texts


def cut(text: str) -> list[str]:
    """Cuts a long text into documents of about DOC_BYTES at line breaks."""
    docs, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line.encode())
        if size >= DOC_BYTES:
            docs.append("".join(current))
            current, size = [], 0
    if current:
        docs.append("".join(current))
    return docs


def build(total_mb: float) -> tuple[list[str], dict[str, int]]:
    target = int(total_mb * 1_000_000)
    docs: list[str] = []
    made: dict[str, int] = {}
    for kind, patterns in SOURCES.items():
        budget = int(target * SHARES[kind])
        got = 0
        for text in read_texts(patterns):
            for doc in cut(text):
                if got >= budget:
                    break
                docs.append(doc)
                got += len(doc.encode())
        made[kind] = got
    # Top up with code (always present where Python is) if a kind was short.
    short = target - sum(made.values())
    if short > 0:
        for text in read_texts([str(STDLIB / "*/*/*.py")]):
            for doc in cut(text):
                if short <= 0:
                    break
                docs.append(doc)
                made["code"] += len(doc.encode())
                short -= len(doc.encode())
    return docs, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=6.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "corpus" / "corpus.jsonl"))
    args = parser.parse_args()
    docs, made = build(args.mb)
    total = sum(made.values())
    if total < args.mb * 1_000_000 * 0.95:
        raise SystemExit(f"only {total / 1e6:.1f} MB of text found on this machine; wanted {args.mb} MB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    parts = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in made.items())
    print(f"corpus: {len(docs)} documents, {total / 1e6:.2f} MB ({parts}) -> {out}")


if __name__ == "__main__":
    main()
