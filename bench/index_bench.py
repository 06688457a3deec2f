#!/usr/bin/env python3
"""Persistent index at scale: build, reopen and query, for the embedded (SQLite) index and
for Redis, printing the figures.

* indexes N passages (default 1,000,000) into an embedded index, with peak memory;
* reopens it (no rebuild: the bands are an indexed table) and times the open;
* queries 10,000 new passages (half are edited copies of indexed ones) in one batch,
  timing candidate lookup and confirmation, and counting the matches found;
* the same 10,000-passage batch against a Redis index (datasketch's Redis storage) holding
  a smaller sample (default 50,000), started from the redis-server binary on loopback.

Signatures are computed by cleaner itself from synthetic word sequences, so the band
keys are distributed as in real data.

    python bench/index_bench.py [--passages 1000000] [--queries 10000] [--redis-passages 50000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleaner.dedup import minhash  # noqa: E402
from cleaner.dedup.features import Sketch, similarity  # noqa: E402
from cleaner.dedup.index import Entry, compatible_meta, open_index  # noqa: E402
from cleaner.dedup.settings import DedupSettings  # noqa: E402

SETTINGS = DedupSettings()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_hashes(rng: np.random.Generator, n: int, words: int = 45) -> list[np.ndarray]:
    """Shingle-hash sets of n passages of ~45 words from a 50,000-word vocabulary."""
    out = []
    for _ in range(n):
        hs = rng.integers(0, 2**32, size=words - SETTINGS.ngram + 1, dtype=np.uint32)
        out.append(np.unique(hs))
    return out


def sketches(hash_sets: list[np.ndarray]) -> list[Sketch]:
    sigs = minhash.signatures(hash_sets, SETTINGS.num_perm, SETTINGS.seed)
    return [Sketch(hs[:3].tobytes().ljust(12, b"\0"), len(hs), sig) for hs, sig in zip(hash_sets, sigs, strict=True)]


def edited(hs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy with about a fifth of its shingles changed (a republisher's edit)."""
    keep = hs[rng.random(len(hs)) > 0.2]
    return np.unique(np.concatenate([keep, rng.integers(0, 2**32, size=len(hs) - len(keep), dtype=np.uint32)]))


def build(index, n: int, rng: np.random.Generator, keep_every: int, kept: list[np.ndarray]) -> float:
    t0 = time.perf_counter()
    done = 0
    while done < n:
        m = min(20000, n - done)
        hs = synthetic_hashes(rng, m)
        for i in range(0, m, keep_every):
            kept.append(hs[i])
        sk = sketches(hs)
        index.add(Entry("passage", f"doc{(done + i) // 20:07d}.txt", None, (done + i) % 20 * 2 + 1,
                        (done + i) % 20 * 2 + 1, s) for i, s in enumerate(sk))
        done += m
    index.commit()
    return time.perf_counter() - t0


def query(index, queries: list[Sketch]) -> tuple[float, int]:
    t0 = time.perf_counter()
    found = 0
    sigs = np.stack([q.sig for q in queries])
    for start in range(0, len(queries), 2000):
        cands = index.candidates("passage", sigs[start:start + 2000])
        for q, cs in zip(queries[start:start + 2000], cands, strict=True):
            if any(similarity(q, c.sketch)[0] >= SETTINGS.passage_threshold or
                   similarity(q, c.sketch)[1] >= SETTINGS.passage_containment for c in cs):
                found += 1
    return time.perf_counter() - t0, found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--redis-passages", type=int, default=50_000)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    meta = compatible_meta(SETTINGS, "bench")
    tmp = Path(tempfile.mkdtemp(prefix="cleaner-index-bench-"))
    try:
        path = tmp / "corpus.idx"
        idx = open_index(str(path), meta)
        kept: list[np.ndarray] = []
        secs = build(idx, args.passages, rng, max(1, args.passages // (args.queries // 2)), kept)
        idx.close()
        size = path.stat().st_size
        print(f"embedded: indexed {args.passages:,} passages in {secs:.1f} s "
              f"({args.passages / secs:,.0f}/s), file {size / 2**20:,.0f} MiB, peak RSS {peak_rss_mib():,.0f} MiB")
        t0 = time.perf_counter()
        idx = open_index(str(path), meta, create=False)
        print(f"embedded: reopened in {time.perf_counter() - t0:.3f} s (no rebuild)")
        half = args.queries // 2
        qs = sketches([edited(h, rng) for h in kept[:half]] + synthetic_hashes(rng, args.queries - half))
        qsecs, found = query(idx, qs)
        print(f"embedded: {len(qs):,} query passages in {qsecs:.2f} s; {found:,} matched "
              f"(expected about {half:,}: the edited copies)")
        idx.close()

        binary = shutil.which("redis-server")
        if binary is None:
            print("redis: redis-server not installed, skipped")
            return 0
        port = free_port()
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            ridx = open_index(f"redis://127.0.0.1:{port}/0?prefix=bench", meta)
            kept_r: list[np.ndarray] = []
            rsecs = build(ridx, args.redis_passages, np.random.default_rng(7),
                          max(1, args.redis_passages // half), kept_r)
            print(f"redis:    indexed {args.redis_passages:,} passages in {rsecs:.1f} s "
                  f"({args.redis_passages / rsecs:,.0f}/s)")
            rqs = sketches([edited(h, rng) for h in kept_r[:half]] + synthetic_hashes(rng, args.queries - half))
            rq, rfound = query(ridx, rqs)
            print(f"redis:    {len(rqs):,} query passages in {rq:.2f} s; {rfound:,} matched "
                  f"(expected about {min(half, len(kept_r)):,})")
            ridx.close()
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    raise SystemExit(main())
