#!/usr/bin/env python3
"""Cost of a family: does ``cleaner clean`` grow linearly with the copies of one story?

Real crawls hold huge families (a wire story republished thousands of times, a degenerate
page of one repeated word). This builds, in a temporary folder:

* ``--small`` and ``--large`` near-copies (default 4,000 and 16,000) of one story of about
  600 words, each with 3 words edited at random places (so no two are exact copies), each
  in a site folder of its own, and
* one file holding a single line of ``--line-mb`` MB (default 10) of one repeated word,

runs ``python -m cleaner clean DIR -o OUT -q`` on each (this repository's code), checks that
every near-copy but one is reported as a duplicate, and prints the seconds, docs/s, the
ratio of the time per document of the large family to the small one (1.0 is linear), and
the time of the one-line page.

    python bench/family.py [--small 4000] [--large 16000] [--line-mb 10] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_VOCAB = ("the a of to and in that for on with said was as by at from its it has have were are "
          "market price trade bank loan rate oil grain company government minister official share "
          "profit quarter year month week analyst report export import tonne dollar yen mark "
          "production output demand supply contract agreement talks union strike plant").split()


def story(rng: random.Random, words: int = 600) -> list[str]:
    """Sentences of 12 to 20 words drawn from a newswire-like vocabulary."""
    out: list[str] = []
    while len(out) < words:
        n = rng.randint(12, 20)
        sent = [rng.choice(_VOCAB) for _ in range(n)]
        sent[0] = sent[0].capitalize()
        sent[-1] += "."
        out += sent
    return out


def write_family(folder: Path, copies: int, seed: int = 7) -> int:
    """``copies`` files of one story with 3 words edited each, one per site folder (as a
    story republished by many sites: in one folder its unedited paragraphs would be
    template of that source and removed); returns the bytes written."""
    rng = random.Random(seed)
    base = story(rng)
    total = 0
    folder.mkdir(parents=True)
    for k in range(copies):
        words = list(base)
        for pos in rng.sample(range(len(words)), 3):
            words[pos] = f"edit{k}x{pos}"
        # paragraphs of about 60 words, as a page's text
        text = "\n\n".join(" ".join(words[i:i + 60]) for i in range(0, len(words), 60)) + "\n"
        data = text.encode("utf-8")
        site = folder / f"site{k:06d}"
        site.mkdir()
        (site / "story.txt").write_bytes(data)
        total += len(data)
    return total


def clean(raw: Path, out: Path, workers: int | None) -> float:
    cmd = [sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(out), "-q", "--no-progress"]
    if workers:
        cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - start


def duplicates(out: Path) -> int:
    return sum(1 for ln in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
               if json.loads(ln)["status"] == "duplicate")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=4000)
    ap.add_argument("--large", type=int, default=16000)
    ap.add_argument("--line-mb", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cleaner-family-"))
    try:
        per_doc = {}
        print("| input | MB | seconds | docs/s | duplicates found |")
        print("| --- | --- | --- | --- | --- |")
        for n in (args.small, args.large):
            raw = tmp / f"family-{n}"
            size = write_family(raw, n)
            secs = clean(raw, tmp / f"out-{n}", args.workers)
            found = duplicates(tmp / f"out-{n}")
            per_doc[n] = secs / n
            print(f"| {n:,} near-copies | {size / 1e6:.1f} | {secs:.1f} | {n / secs:,.0f} | {found:,} of {n - 1:,} |",
                  flush=True)
            shutil.rmtree(raw)
            shutil.rmtree(tmp / f"out-{n}")
        raw = tmp / "line"
        raw.mkdir()
        words = int(args.line_mb * 1e6 / 5)
        (raw / "line.txt").write_text("word " * words + "\n", encoding="utf-8")
        secs = clean(raw, tmp / "out-line", args.workers)
        print(f"| one line of {words:,} words | {args.line_mb:.1f} | {secs:.1f} | | |")
        ratio = per_doc[args.large] / per_doc[args.small]
        print(f"\ntime per document, {args.large:,} vs {args.small:,} near-copies: {ratio:.2f}x "
              f"(goal <= 1.3x); {args.line_mb:g} MB line: {secs:.1f} s (goal < 30 s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
