#!/usr/bin/env python3
"""Cost of big sites: does dedup grow linearly with the pages of one site?

A crawl holds sites of thousands of pages, and every page of a site repeats its wrapper
(menus, bylines, reprint notices). What template statistics leave of it recurs in many
pages and is found as passage clusters, which dedup must then tell from copied text
(issue 16: :func:`cleaner.dedup.finder._without_wrappers`). bench/family.py measures big
families of copies; this measures big sites.

It builds bench/speed.py's crawl corpus (same generator, same site templates) into only
``--sites`` of its 50 sites, at ``--pages`` pages per site each time, runs
``python -m cleaner clean DIR -o OUT -q`` (this repository's code), and prints for each
size the documents, the whole run's seconds, the dedup stage's seconds (``finish``: the
candidates, clusters and wrapper test; from summary.json), and the dedup seconds per
1,000 documents, whose ratio between the largest and smallest run is 1.0 when dedup is
linear in the corpus.

    python bench/bigsite.py [--sites 4] [--pages 50 150 500] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from speed import build_text_corpus  # noqa: E402

#: Average bytes of a document of the crawl corpus (measured: 1.6 MB is 195 documents).
DOC_BYTES = 8200


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=4, help="sites holding the pages (1 to 50)")
    ap.add_argument("--pages", type=int, nargs="+", default=[50, 150, 500], help="pages per site, one run each")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cleaner-bigsite-"))
    try:
        per_doc = {}
        print("| pages per site | docs | MB | run s | dedup s | dedup ms per doc |")
        print("| --- | --- | --- | --- | --- | --- |")
        for pages in args.pages:
            raw, out = tmp / f"raw-{pages}", tmp / f"out-{pages}"
            size, docs = build_text_corpus(raw, pages * args.sites * DOC_BYTES / 1e6, sites=args.sites)
            cmd = [sys.executable, "-m", "cleaner", "clean", str(raw), "-o", str(out), "-q", "--no-progress"]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=False)
            secs = time.perf_counter() - t0
            dedup = json.loads((out / "summary.json").read_text())["stages"]["dedup"]["seconds"]
            per_doc[pages] = dedup / docs
            print(f"| {docs / args.sites:.0f} | {docs:,} | {size / 1e6:.1f} | {secs:.1f} | {dedup:.2f} | "
                  f"{1000 * dedup / docs:.2f} |", flush=True)
            shutil.rmtree(raw)
            shutil.rmtree(out)
        lo, hi = min(per_doc), max(per_doc)
        print(f"\ndedup time per document, {hi} vs {lo} pages per site: {per_doc[hi] / per_doc[lo]:.2f}x "
              f"(1.0 is linear)  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
