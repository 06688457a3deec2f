#!/usr/bin/env python3
"""Digests of what ``cleaner clean`` writes, to prove a refactor or a port changed nothing.

A reshape of the package (issue 17) or a native core (issue 18) must leave the outputs
byte-identical. This script runs ``cleaner clean`` on fixed corpora under several settings
and prints one SHA-256 per output (the ``clean/`` tree, ``manifest.jsonl``,
``duplicates.json``). ``summary.json`` and ``report.html`` are left out on purpose: they
carry wall times and worker counts, which differ between two runs of the same code.

    python bench/digests.py --save before.json          # record
    python bench/digests.py --check before.json         # exit 1 and name every difference

Corpora: the syndicated and syndicated-b raw scrapes from ../shared/bench, and a generated
crawl of ``--mb`` MB (bench/speed.py's builder, fixed seed, so the same bytes every time).
Configurations: default settings and ``--passages drop``, with one worker and with two;
``--ray`` adds the Ray engine (slow to start; needs ``scrape-cleaner[ray]``).
``--cleaner`` names another command (for example a worktree's wrapper).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from speed import SHARED, build_text_corpus  # noqa: E402

CONFIGS: dict[str, list[str]] = {
    "default-w1": ["--workers", "1"],
    "default-w2": ["--workers", "2"],
    "drop-w1": ["--passages", "drop", "--workers", "1"],
    "drop-w2": ["--passages", "drop", "--workers", "2"],
}
RAY_CONFIGS: dict[str, list[str]] = {
    "default-ray": ["--engine", "ray", "--workers", "2"],
    "drop-ray": ["--engine", "ray", "--workers", "2", "--passages", "drop"],
}


def tree_digest(folder: Path) -> str:
    """One digest over every file's relative path and bytes, in sorted order."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(folder)).encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def run(cleaner: list[str], raw: Path, out: Path, extra: list[str]) -> dict[str, str]:
    cmd = [*cleaner, "clean", str(raw), "-o", str(out), "-q", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: duplicates found is still a finished run
        raise SystemExit(f"{shlex.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return {
        "clean": tree_digest(out / "clean"),
        "manifest": file_digest(out / "manifest.jsonl"),
        "duplicates": file_digest(out / "duplicates.json"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0, help="size of the generated crawl (0: none)")
    ap.add_argument("--ray", action="store_true", help="also run the Ray engine")
    ap.add_argument("--cleaner", default=f"{sys.executable} -m cleaner", help="command to run")
    ap.add_argument("--save", type=Path, help="write the digests to this JSON file")
    ap.add_argument("--check", type=Path, help="compare with a saved JSON file; exit 1 on any difference")
    args = ap.parse_args()
    cleaner = shlex.split(args.cleaner)
    configs = dict(CONFIGS, **(RAY_CONFIGS if args.ray else {}))
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="cleaner-digests-") as tmp:
        corpora = {"syndicated": SHARED / "syndicated" / "raw", "syndicated-b": SHARED / "syndicated-b" / "raw"}
        if args.mb > 0:
            crawl = Path(tmp) / f"crawl-{args.mb:g}mb"
            build_text_corpus(crawl, args.mb)
            corpora[crawl.name] = crawl
        for cname, raw in corpora.items():
            for name, extra in configs.items():
                key = f"{cname}/{name}"
                results[key] = run(cleaner, raw, Path(tmp) / "out" / cname / name, extra)
                print(key, " ".join(f"{k}={v[:12]}" for k, v in results[key].items()), flush=True)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if args.check:
        before = json.loads(args.check.read_text())
        diffs = [f"{key} {part}" for key, parts in results.items() if key in before
                 for part, digest in parts.items() if before[key].get(part) != digest]
        missing = sorted(set(results) - set(before))
        for d in diffs:
            print("DIFFERS", d)
        if missing:
            print("not in the saved file:", ", ".join(missing))
        print(f"{len(results) - len(missing)} runs compared, {len(diffs)} outputs differ")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
