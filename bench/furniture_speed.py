#!/usr/bin/env python3
"""Time the furniture classifier (``cleaner.clean.furniture.furniture``, its per-line work in
the core) against the plain-Python classifier it replaced (``tests/furniture_oracle.py``) on
the text files of a folder, and check that both decide the same for every document.

    python bench/furniture_speed.py /tmp/sp5/raw          # a raw scrape of .txt files

Prints seconds and characters per second of each, and the number of documents whose
decisions differ (it must be 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleaner.clean import furniture as F  # noqa: E402
from cleaner.clean.normalise import collapse  # noqa: E402
from tests import furniture_oracle as O  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="folder of .txt documents (searched recursively)")
    args = ap.parse_args()
    docs = [[collapse(ln) for ln in p.read_text(encoding="utf-8", errors="replace").split("\n")]
            for p in sorted(args.folder.rglob("*.txt"))]
    chars = sum(len(ln) for d in docs for ln in d)
    F.prepare()
    O.prepare()
    times, out = {}, {}
    for name, fn in (("python (oracle)", O.furniture), ("core", F.furniture)):
        t = time.perf_counter()
        out[name] = [fn(d, collapsed=True) for d in docs]
        times[name] = time.perf_counter() - t
    for name, dt in times.items():
        print(f"{name:16s} {dt:7.2f} s  {chars / dt / 1e6:6.2f} M chars/s  "
              f"({len(docs)} documents, {chars / 1e6:.1f} M chars)")
    differ = sum(a != b for a, b in zip(*out.values(), strict=True))
    print(f"speed-up {times['python (oracle)'] / times['core']:.1f}x; documents whose decisions differ: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
