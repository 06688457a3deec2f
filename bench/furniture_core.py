#!/usr/bin/env python3
"""Time the core's furniture calls on a folder of text: ``furniture()`` and ``main_block()``
of each document's collapsed lines (what pass 1 and the rules' guards ask), and
``classify()`` of the lines of the cleaned texts (what pass 2's dedup features ask).

    python bench/furniture_core.py RAW [--clean OUT/clean] [--root CHECKOUT] [--reps 3]
    python bench/furniture_core.py RAW --compare /work/wt-base   # this checkout, then that one

``--root``: the checkout whose ``cleaner`` is timed (default: this one); ``--compare``:
time this checkout and then that one, each in a process of its own (two ``cleaner``
packages cannot share one), in one run, and check that their results agree (exit 1 if
not). Prints the best of ``--reps`` in ms of CPU (this thread's) per MB of input text
(UTF-8) for each call, and a digest of the results, which must agree between checkouts.
``--only NAME`` (repeatable) times only those calls.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path, help="folder of .txt documents (searched recursively)")
    ap.add_argument("--clean", type=Path, help="folder of cleaned .txt documents (for classify)")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="a second checkout to time in the same run")
    ap.add_argument("--only", choices=("furniture", "main_block", "classify"), action="append",
                    help="time only these calls (repeatable)")
    args = ap.parse_args()
    if args.compare is not None:
        return compare(args)
    sys.path.insert(0, str(args.root.resolve()))
    from cleaner.clean import furniture as F
    from cleaner.clean.normalise import collapse

    def read(folder: Path) -> list[str]:
        return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*.txt"))]

    raw = read(args.raw)
    docs = [[collapse(ln) for ln in t.split("\n")] for t in raw]
    mb_raw = sum(len(t.encode()) for t in raw) / 1e6
    clean = read(args.clean) if args.clean else raw
    mb_clean = sum(len(t.encode()) for t in clean) / 1e6
    texts = [t.split("\n") for t in clean]
    F.prepare()
    calls = (
        ("furniture", mb_raw, lambda: [F.furniture(d, collapsed=True) for d in docs]),
        ("main_block", mb_raw, lambda: [F.main_block(d, collapsed=True) for d in docs]),
        ("classify", mb_clean, lambda: [F.classify(t) for t in texts]),
    )
    for name, mb, fn in calls:
        if args.only and name not in args.only:
            continue
        best, out = float("inf"), None
        for _ in range(args.reps):
            t = time.thread_time()
            out = fn()
            best = min(best, time.thread_time() - t)
        digest = hashlib.blake2b(repr(out).encode(), digest_size=8).hexdigest()
        print(f"{name:11s} {best * 1e3 / mb:8.1f} ms/MB  ({mb:.1f} MB, {len(out)} documents)  results {digest}")
    return 0


def compare(args: argparse.Namespace) -> int:
    """Run this script for ``--root`` and for ``--compare``, one subprocess each; print both
    and the ratio per call, and fail when a call's results differ."""
    import subprocess

    rows: dict[str, dict[str, tuple[float, str]]] = {}
    for root in (args.root, args.compare):
        cmd = [sys.executable, __file__, str(args.raw), "--root", str(root), "--reps", str(args.reps)]
        if args.clean:
            cmd += ["--clean", str(args.clean)]
        for name in args.only or ():
            cmd += ["--only", name]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(f"== {root}")
        print(out, end="")
        rows[str(root)] = {ln.split()[0]: (float(ln.split()[1]), ln.split()[-1]) for ln in out.splitlines()}
    mine, base = rows[str(args.root)], rows[str(args.compare)]
    same = True
    for name in mine:
        agree = mine[name][1] == base[name][1]
        same &= agree
        print(f"{name:11s} {base[name][0]:8.1f} -> {mine[name][0]:8.1f} ms/MB  "
              f"({base[name][0] / mine[name][0]:.2f}x)  results {'equal' if agree else 'DIFFER'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
