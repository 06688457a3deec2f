"""Connected components of verified pairs (a union-find in the core, and a forest in numpy
over it for the confirmation of candidate pairs), for the millions of nodes a large run can
put in duplicate clusters; and the distinct values of large integer arrays (:func:`distinct`),
which dedup and the site statistics take of node, pair and line keys."""

from __future__ import annotations

import numpy as np

from ..native import core as _native


def distinct(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D integer array, by a sort and a comparison of neighbours:
    numpy 2.3 and later answer a bare ``np.unique`` from a hash table, which on two million
    64-bit keys took 1.5 s against 0.03 s for the sort (numpy 2.4.6, this machine)."""
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def components(edges: np.ndarray) -> list[list[int]]:
    """Connected components of an edge list (``(m, 2)`` ints), as sorted member lists of
    the components with more than one node, ordered by their smallest member
    (:func:`component_arrays` as lists: the document clusters, a few thousand)."""
    members, offsets = component_arrays(edges)
    flat = members.tolist()
    return [flat[lo:hi] for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def component_arrays(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of an edge list (``(m, 2)`` ints) as two arrays, ``members``
    (every component's members, ascending, component after component) and ``offsets``
    (component ``k`` is ``members[offsets[k]:offsets[k + 1]]``): the components of two nodes
    or more, ordered by their smallest member, whatever the order of the edges
    (deterministic), without a Python list per group, for the millions of passages a large
    run can have in duplicate clusters.

    A union-find in the core (``native/src/buckets.rs`` ``components``), in time about
    linear in the edges: label propagation in numpy (a pass over every edge per round,
    rounds growing with the clusters) grew 16 times from a 200 MB crawl to 1 GB."""
    edges = np.ascontiguousarray(np.asarray(edges, dtype=np.int64).reshape(-1, 2))
    if len(edges) == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64)
    members, offsets = _native.components(edges)  # read in place
    return np.frombuffer(members, dtype="<i8").astype(np.int64), np.frombuffer(offsets, dtype="<i8").astype(np.int64)


class _Forest:
    """Union-find over ``0 .. n-1`` in numpy, for the confirmation of candidate pairs.

    Why: a family of near-copies puts its members in the same buckets of many bands.
    Components only depend on which pairs connect, so a star pair whose ends are already
    connected (through another band) need not be verified, nor kept: the edges kept are
    fewer than the texts."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)

    def roots(self, x: np.ndarray) -> np.ndarray:
        r = self.parent[x]
        while True:
            nxt = self.parent[r]
            if np.array_equal(nxt, r):
                self.parent[x] = r  # path compression for the nodes asked about
                return r
            r = nxt

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join the components of each pair ``(a[i], b[i])``."""
        if len(a) == 0:
            return
        roots, inv = np.unique(np.concatenate([self.roots(a), self.roots(b)]), return_inverse=True)
        members, offsets = component_arrays(np.stack([inv[:len(a)], inv[len(a):]], axis=1))
        # every root of a component under its smallest (roots ascend; so do a group's members)
        first = np.repeat(members[offsets[:-1]], np.diff(offsets))
        self.parent[roots[members]] = roots[first]
