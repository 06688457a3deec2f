"""The CI gate on the syndicated dev set (issue 16): exit codes and duplicates of `cleaner
check` on a batch of fresh stories and on a batch of republished ones, against an index
built by `cleaner clean` from the first 100 files.

    python bench/gate.py [--cleaner "cleaner"] [--shared ../shared] [--redis redis://host:port/0]

The batches are the ones tests/test_gate.py uses: the corpus is the first 100 files in name
order; the fresh batch 40 stories from a seeded shuffle of the rest (none of the corpus's
articles, none twice); the republished batch the first 40 other files whose article is in
the corpus. Prints, per batch, the exit code and each duplicate with what it duplicates.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path


def batches(shared: Path, work: Path) -> dict[str, Path]:
    labels = json.loads((shared / "bench/syndicated/labels.json").read_text())
    files = sorted(labels)
    corpus = files[:100]
    seen = {labels[f] for f in corpus}
    rest = files[100:]
    random.Random(1).shuffle(rest)
    fresh: list[str] = []
    for f in rest:
        if labels[f] not in seen and labels[f] not in {labels[g] for g in fresh}:
            fresh.append(f)
        if len(fresh) == 40:
            break
    republished = [f for f in files[100:] if labels[f] in seen][:40]
    out = {}
    for name, chosen in (("corpus", corpus), ("fresh", fresh), ("republished", republished)):
        d = work / name
        d.mkdir()
        for f in chosen:
            shutil.copyfile(shared / "bench/syndicated/raw" / f, d / f)
        out[name] = d
    return out


def _name(ref: dict) -> str:
    """An indexed document as BATCH/PATH, one of the batch as PATH."""
    batch = f"{ref['batch']}/" if ref.get("indexed") and ref.get("batch") else ""
    return f"{batch}{ref.get('path')}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cleaner", default="cleaner", help="the cleaner command to measure")
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--redis", default=None, help="also measure a Redis index at this URL (prefix gatebench)")
    ap.add_argument("--create-flag", default="--create-index",
                    help="the option that creates the index (empty for a cleaner without it)")
    args = ap.parse_args()
    cmd = shlex.split(args.cleaner)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dirs = batches(args.shared, work)
        specs = [str(work / "corpus.idx")] + ([args.redis + "?prefix=gatebench"] if args.redis else [])
        for spec in specs:
            create = [args.create_flag] if args.create_flag else []
            subprocess.run([*cmd, "clean", str(dirs["corpus"]), "-o", str(work / "out"), "--index", spec, "-q",
                            *create], check=True)
            for name in ("fresh", "republished"):
                res = subprocess.run([*cmd, "check", str(dirs[name]), "--index", spec, "--format", "json", "-q"],
                                     capture_output=True, text=True)
                report = json.loads(res.stdout)
                dups = [f"{d['path']} of {_name(d['duplicate_of'] or {})}" for d in report["duplicates"]]
                print(f"{spec.split('?')[0].rsplit('/', 1)[-1]:<12} {name:<12} exit {res.returncode}  "
                      f"{len(dups)} duplicates: {', '.join(dups) if dups else '-'}")


if __name__ == "__main__":
    main()
