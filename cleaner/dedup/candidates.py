"""Candidate pairs from LSH and their confirmation: every backend (a numpy sort of each
band, datasketch's ``MinHashLSH``, a Ray Data shuffle) gives the same star pairs, chosen by
``DedupSettings.lsh_backend``, so the edges and clusters are the same whichever runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import minhash
from .clusters import _Forest
from .settings import DedupSettings

#: A :class:`PassageStore` (of documents or of passages): what :func:`confirmed_edges` reads.
SketchTable = Any

_BATCH = 16384  # pairs confirmed, or rows read, per step (bounds the temporaries)


def _band_chunks(table: SketchTable, nodes: np.ndarray, bands: int, rows: int) -> Iterator[np.ndarray]:
    """Star candidate pairs (see :func:`cleaner.dedup.minhash.bucket_stars`) of ``nodes``
    (positions in it), band by band: from the table's band files when it wrote them for
    this banding (the core reads each band), else from the signatures read in slices, so
    that at most ``_BATCH`` full rows are in memory at once."""
    banded = getattr(table, "bands", None) == (bands, rows)
    in_files = table.sig_rows(nodes) if banded else None  # the same rows in every band file
    for band in range(bands):
        if banded:
            head, member = table.band_stars(band, nodes, in_files)
        else:
            block = np.empty((len(nodes), rows), dtype=np.uint32)
            for start in range(0, len(nodes), _BATCH):
                part = table.sigs(nodes[start:start + _BATCH])
                block[start:start + _BATCH] = part[:, band * rows:(band + 1) * rows]
            head, member = minhash.bucket_stars(block)
            del block
        yield np.stack([head, member], axis=1)


def confirmed_edges(table: SketchTable, nodes: Iterable[int], s: DedupSettings, threshold: float,
                    lsh_threshold: float, kind: str, candidates: CandidateFn | None = None,
                    apart: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Edges ``(earlier, later)`` between duplicate items among ``nodes`` of ``table``, as
    an ``(m, 2)`` array, in time linear in the items (not in the pairs of a family).

    1. Exact duplicates collapse first: each links to the first item with the same text
       and takes no further part, so LSH sees one item per distinct text (a story copied
       a thousand times verbatim is one row in the buckets, not a thousand).
    2. The other items with a signature (the representatives) are bucketed band by band,
       and each bucket is a *star*: every member is verified against the bucket's first
       item (its head, the smallest node), never against every other member
       (:func:`cleaner.dedup.minhash.bucket_stars`). A bucket of ``k`` costs ``k - 1``
       verifications in each band, so a family of near-copies costs time linear in its
       size. A pair whose ends are already joined is not verified again, nor is a pair
       verified and refused in an earlier band (a near miss shares several bands: at
       200 MB a third of the verifications were of pairs refused before).

    ``candidates`` supplies the star pairs from elsewhere (``lsh_backend = "ray"``:
    :func:`ray_shuffle` groups band keys with a Ray Data shuffle and emits each bucket's head
    with its other members). By default they
    come from the core's grouping of each band (:func:`cleaner.dedup.minhash.bucket_stars`), or with
    ``lsh_backend="datasketch"`` from the buckets of datasketch's ``MinHashLSH``, the
    reference. Every way, the pairs are the same, so the edges and clusters are the same
    (the test suite compares them). The groups these edges connect are *candidate* groups:
    documents are then split around verified centres (:func:`centre_clusters`), so a
    chain of partial matches never makes a cluster.

    ``apart(u, v)`` says, for arrays of node pairs, which pairs may be linked at all (for
    passages: not two windows of one paragraph, which overlap by design).
    """
    nodes = np.asarray(list(nodes) if not isinstance(nodes, np.ndarray) else nodes)
    # int32 nodes (a large run's passages) stay int32: their sorted copy is held until the
    # band pass, and a node of int64 was twice the bytes
    nodes = np.sort(nodes if nodes.dtype in (np.int32, np.int64) else nodes.astype(np.int64))
    if len(nodes) == 0:
        return np.empty((0, 2), dtype=np.int64)
    # exact: each key's first occurrence (a stable sort keeps equal keys in node order);
    # only the keys that occur twice or more are handled further (most are unique)
    rows, sizes = minhash.shared_rows(table.exact_keys(nodes).view(np.uint32).reshape(len(nodes), -1))
    heads = np.repeat(rows[np.cumsum(sizes) - sizes], sizes)
    later = rows != heads
    linked = later.copy()
    if apart is not None:
        # an identical window of the head's own paragraph is not linked (see apart), but it
        # still collapses: whatever LSH would find for it, it finds for the head
        linked &= apart(nodes[heads], nodes[rows])
    exact_edges = np.stack([nodes[heads[linked]], nodes[rows[linked]]], axis=1)
    exact_edges = exact_edges[np.argsort(exact_edges[:, 1], kind="stable")]  # in node order
    dup = np.zeros(len(nodes), dtype=bool)
    dup[rows[later]] = True
    del rows, sizes, heads, later, linked
    reps = nodes[~dup & table.signed(nodes)]
    if nodes[-1] < 2**31:
        reps = reps.astype(np.int32, copy=False)  # half the width for the band pass's peak
    del dup, nodes  # the peak of a large run comes next: a band of every text
    b, r = s.lsh(lsh_threshold)
    forest = _Forest(len(reps))
    chunks: Iterable[np.ndarray]
    if candidates is None and s.lsh_backend == "datasketch":
        chunks = _as_chunks(_datasketch_stars(table, reps, s, b, r))
    elif candidates is not None:  # node pairs, in batches: as positions in reps (sorted)
        chunks = (np.searchsorted(reps, np.asarray(c, dtype=np.int64).reshape(-1, 2))
                  for c in candidates(kind, reps.tolist()))
    elif getattr(table, "bands", None) == (b, r):
        # the next band is read and bucketed on a thread while this one's pairs are
        # verified: both wait on reads or the core with the GIL released
        chunks = _ahead(_band_chunks(table, reps, b, r))
    else:
        chunks = _band_chunks(table, reps, b, r)
    merged = [np.empty((0, 2), dtype=np.int64)]
    # the pairs verified and refused so far (keys a * len(reps) + b, sorted): a pair of near
    # misses shares several bands, and each band's stars gave it again
    refused = np.empty(0, dtype=np.int64)
    for chunk in chunks:
        refused_now = []
        for start in range(0, len(chunk), _BATCH):
            batch = chunk[start:start + _BATCH]
            # a pair inside one component already changes nothing: not verified again
            batch = batch[forest.roots(batch[:, 0]) != forest.roots(batch[:, 1])]
            if apart is not None and len(batch):
                batch = batch[apart(reps[batch[:, 0]], reps[batch[:, 1]])]
            if len(batch) and len(refused):
                batch = batch[~_known(refused, _pair_keys(batch, len(reps)))]
            if len(batch):
                passed = _passes(reps[batch], table, threshold, s, kind)
                ok = batch[passed]
                forest.union(ok[:, 0], ok[:, 1])
                merged.append(reps[ok])
                refused_now.append(_pair_keys(batch[~passed], len(reps)))
        if refused_now:
            # two sorted runs (the new keys sorted first): a stable sort merges them in one pass
            refused = np.sort(np.concatenate([refused, np.sort(np.concatenate(refused_now))]), kind="stable")
    return np.concatenate([exact_edges, *merged])


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    """One int64 per pair of positions below ``n`` (``n`` < 2**31: the keys fit)."""
    return pairs[:, 0].astype(np.int64) * n + pairs[:, 1]


def _known(keys_sorted: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` are in ``keys_sorted`` (a sorted array, not empty)."""
    at = np.minimum(np.searchsorted(keys_sorted, keys), len(keys_sorted) - 1)
    return keys_sorted[at] == keys


def _datasketch_stars(table: SketchTable, reps: np.ndarray, s: DedupSettings, b: int, r: int) -> np.ndarray:
    """The star pairs (see :func:`confirmed_edges`) of the buckets of datasketch's
    ``MinHashLSH``: every text inserted, then each bucket of each band read from its hash
    tables, its smallest key paired with the others."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(num_perm=s.num_perm, params=(b, r))
    for k, sig in enumerate(table.sigs(reps)):
        lsh.insert(k, minhash.to_minhash(sig, s.seed), check_duplication=False)
    found = []
    for table_ in lsh.hashtables:
        for key in table_.keys():
            members = sorted(table_.get(key))
            found.extend((members[0], m) for m in members[1:])
    return np.array(sorted(set(found)), dtype=np.int64).reshape(-1, 2)


def _passes(pairs: np.ndarray, table: SketchTable, threshold: float, s: DedupSettings, kind: str) -> np.ndarray:
    """Which candidate pairs :func:`similarity` confirms, vectorised over a batch of pairs
    (the same arithmetic in the same order, so the same decisions)."""
    # the core reads both ends (once each: a star's head is in many pairs) and counts
    j = table.equal_counts(pairs[:, 0], pairs[:, 1]) / table.num_perm
    na, nb = table.sizes(pairs[:, 0]), table.sizes(pairs[:, 1])
    inter = j * (na + nb) / (1 + j)
    c = np.minimum(1.0, inter / np.maximum(1, np.minimum(na, nb)))
    return (j >= threshold) | s.contained(kind, c, na, nb)


def _as_chunks(pairs: np.ndarray) -> Iterator[np.ndarray]:
    yield pairs


def _ahead(chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """``chunks`` in order, the next one made on a thread while the caller works on the one
    it has: the same chunks, and one more in memory at a time (a band's pairs; the band's
    values and sort keys stay in buffers the band thread keeps from band to band, see
    ``native/src/scratch.rs`` ``keeping_bands``, until the pass releases them)."""
    with ThreadPoolExecutor(1, thread_name_prefix="cleaner-bands") as pool:
        coming = pool.submit(next, chunks, None)
        while (chunk := coming.result()) is not None:
            coming = pool.submit(next, chunks, None)
            yield chunk


#: ``candidates(kind, nodes)`` -> batches of pairs ``(a, b)`` (``(m, 2)`` arrays), ``a < b``,
#: of the given nodes that share an LSH band (a pair may come more than once).
CandidateFn = Callable[[str, list[int]], Iterable[np.ndarray]]


def _bucket_pairs(group: dict[str, Any]) -> dict[str, Any]:
    """One bucket's star: its smallest node paired with each of the others, the pairs
    :func:`cleaner.dedup.minhash.bucket_stars` gives the local engine (``k - 1`` pairs for a
    bucket of ``k``, never all ``k(k-1)/2``)."""
    nodes = np.unique(np.asarray(group["node"], dtype=np.int64))
    return {"a": np.full(max(len(nodes) - 1, 0), nodes[0] if len(nodes) else 0, dtype=np.int64),
            "b": nodes[1:]}


#: The Ray shuffle's partitions: one per this many (band key, node) rows, at most
#: :data:`SHUFFLE_PARTITIONS` (Ray's own default).
SHUFFLE_ROWS = 1 << 18
SHUFFLE_PARTITIONS = 200
#: A shuffle of at most this many rows (one partition's worth) sorts the keys instead of
#: hash-partitioning them (see :func:`ray_shuffle`).
SORT_SHUFFLE_ROWS = SHUFFLE_ROWS


def ray_shuffle(sigs_of: Callable[[str, list[int]], np.ndarray], bands_rows: Callable[[str], tuple[int, int]]
                ) -> CandidateFn:
    """A candidate function for :func:`confirmed_edges` backed by a Ray Data shuffle
    (``lsh_backend = "ray"``): every signature is cut into bands, rows ``(band key, node)``
    are grouped by key with ``groupby().map_groups()``, and each bucket emits its star
    pairs (its smallest node with each other one), the pairs the numpy backend gives."""
    import ray.data

    try:
        from ray.data.context import ShuffleStrategy
    except ImportError:  # a Ray before its hash shuffle, whose groupby sorts already
        ShuffleStrategy = None  # noqa: N806

    def fn(kind: str, nodes: list[int]) -> Iterator[np.ndarray]:
        if len(nodes) < 2:
            return
        b, r = bands_rows(kind)
        rows = []
        for node, sig in zip(nodes, sigs_of(kind, nodes), strict=True):
            for band in range(b):
                # the band's own bytes, as datasketch's buckets key them, plus the band number
                rows.append({"key": band.to_bytes(2, "big") + minhash.datasketch_band_key(sig, band, r),
                             "node": node})
        # partitions sized to the rows: Ray's default (200 hash partitions, each an
        # aggregator actor of its own) costs seconds of set-up per shuffle, however few
        # the rows; which partition a bucket lands in changes no pair
        parts = max(1, min(SHUFFLE_PARTITIONS, -(-len(rows) // SHUFFLE_ROWS)))
        if len(rows) > SORT_SHUFFLE_ROWS:
            ds = ray.data.from_items(rows)
        else:
            # ... and even one aggregator is an actor: a worker process started for this
            # shuffle alone (Ray, pyarrow and Ray Data imported again: seconds), which
            # also costs the pool the idle workers that the next stage would reuse. A
            # sort groups the keys as well, with tasks on the pooled workers: one block
            # (a sort of n blocks makes n * n pieces), so a task to sample it, one to
            # sort it, one for the buckets. Ray Data's groupby still, and the groups (so
            # the pairs) are the same
            ds = ray.data.from_items(rows, override_num_blocks=1)
            if ShuffleStrategy is not None:
                ds.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        pairs = ds.groupby("key", num_partitions=parts).map_groups(_bucket_pairs, batch_format="numpy")
        # streamed to the driver's union-find a batch at a time: the driver never holds
        # the candidate pairs, only the components
        for batch in pairs.iter_batches(batch_format="numpy", batch_size=65536):
            yield np.stack([batch["a"], batch["b"]], axis=1).astype(np.int64)

    return fn
