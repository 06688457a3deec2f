#!/usr/bin/env python3
"""The dedup step alone (``Finder.finish``), on the features of a real run.

``capture`` runs ``cleaner clean RAW`` (in this process, ``--workers N``) and saves what the
driver's duplicate finder is handed: the settings and every kept document's record and
features. ``time`` replays them through the checkout on ``PYTHONPATH``: a fresh
:class:`Finder` is fed the features and ``finish`` runs, ``--reps`` times; it prints the wall
and CPU seconds of ``finish`` (best of the reps) and, with ``--save``, writes what it decided
(document clusters, dropped documents, passage clusters, drop keys), which ``--check``
compares with a file saved by another checkout: a change to dedup can be shown to decide
the same, before the slower digests check.

    PYTHONPATH=CHECKOUT python bench/finish.py capture RAW FILE [--workers 2]
    PYTHONPATH=CHECKOUT python bench/finish.py time FILE [--reps 3] [--save OUT | --check OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any


def capture(raw: Path, dest: Path, workers: int) -> None:
    import numpy as np

    from cleaner.cli import main as cli
    from cleaner.dedup.features import _columns
    from cleaner.dedup.finder import Finder
    from cleaner.steps import read_ref

    got: dict[str, Any] = {"added": []}
    real_add = Finder.add_meta

    def record(self: Finder, meta: Any, f: Any, sigs: Any = None) -> None:
        # the signatures a worker wrote to a file of its own are read: the file goes with the run
        got["settings"] = self.s
        if sigs is not None:
            sigs = sigs.copy() if isinstance(sigs, np.ndarray) else np.frombuffer(
                read_ref(sigs), dtype="<u4").reshape(-1, self.s.num_perm)
        # a worker's columns' bytes (a tuple) are kept as the Features they are the
        # arguments of: a Features pickles as those bytes, so an older checkout, whose
        # add_meta took only a Features, replays the capture too
        got["added"].append((meta, _columns(*f) if isinstance(f, tuple) else f, sigs))
        real_add(self, meta, f, sigs)

    Finder.add_meta = record  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="cleaner-finish-") as tmp:
        try:
            cli(args=["clean", str(raw), "-o", str(Path(tmp) / "out"), "-q", "--no-progress",
                      "--workers", str(workers)], prog_name="cleaner", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, 1, None):
                raise
    with open(dest, "wb") as f:
        pickle.dump(got, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"finish: {len(got['added'])} documents saved to {dest}")


def _decided(r: Any) -> bytes:
    """What ``finish`` decided, as one digest-able byte string."""
    pc = r.passages
    parts = [pickle.dumps((r.documents, sorted(r.dropped.items()), pc.heads), protocol=4)]
    for a in (pc.members, pc.offsets, pc.seq, pc.doc, pc.line_start, pc.line_end, pc.window,
              r.drop_keys, r.drop_windows):
        parts.append(a.dtype.str.encode() + a.tobytes())
    return b"".join(parts)


def replay(path: Path, reps: int, save: Path | None, check: Path | None) -> None:
    from cleaner.dedup.finder import Finder

    with open(path, "rb") as f:
        got = pickle.load(f)
    settings, added = got["settings"], got["added"]
    best_wall = best_cpu = float("inf")
    digest = ""
    for _ in range(reps):
        finder = Finder(settings)
        for meta, feats, *sigs in added:  # (older captures: no signatures of their own)
            finder.add_meta(meta, feats, *sigs)
        w, c = time.perf_counter(), time.process_time()
        result = finder.finish()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
        digest = hashlib.sha256(_decided(result)).hexdigest()
        finder.close()
    print(f"finish over {len(added)} documents: wall {best_wall:.2f} s, CPU {best_cpu:.2f} s "
          f"(best of {reps}); decided {digest[:16]}")
    if save is not None:
        save.write_text(digest + "\n")
    if check is not None:
        theirs = check.read_text().strip()
        print(f"check against {check}: {'same' if theirs == digest else 'DIFFERENT'}")
        if theirs != digest:
            raise SystemExit(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("raw", type=Path)
    c.add_argument("dest", type=Path)
    c.add_argument("--workers", type=int, default=2)
    t = sub.add_parser("time")
    t.add_argument("path", type=Path)
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--save", type=Path)
    t.add_argument("--check", type=Path)
    a = ap.parse_args()
    if a.cmd == "capture":
        capture(a.raw, a.dest, a.workers)
    else:
        replay(a.path, a.reps, a.save, a.check)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
