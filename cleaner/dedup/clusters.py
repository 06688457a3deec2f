"""Connected components of verified pairs, in numpy (label propagation and a union-find),
for the millions of nodes a large run can put in duplicate clusters; and the distinct
values of large integer arrays (:func:`distinct`), which dedup and the site statistics
take of node, pair and line keys."""

from __future__ import annotations

import numpy as np


def distinct(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D integer array, by a sort and a comparison of neighbours:
    numpy 2.3 and later answer a bare ``np.unique`` from a hash table, which on two million
    64-bit keys took 1.5 s against 0.03 s for the sort (numpy 2.4.6, this machine)."""
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def components(edges: np.ndarray) -> list[list[int]]:
    """Connected components of an edge list (``(m, 2)`` ints), as sorted member lists of
    the components with more than one node, ordered by their smallest member.

    Label propagation with pointer jumping in numpy: each node takes the smallest label of
    its neighbours until nothing changes, so a component's label is its smallest node,
    whatever the order of the edges (deterministic), in a few passes over the edge arrays
    instead of a Python dict entry per node."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) == 0:
        return []
    nodes, inverse = np.unique(edges, return_inverse=True)
    a, b = inverse.reshape(-1, 2).T
    label = _labels(len(nodes), a, b)
    order = np.lexsort((nodes, label))
    cut = np.flatnonzero(np.diff(label[order])) + 1
    groups = [nodes[part].tolist() for part in np.split(order, cut) if len(part) > 1]
    groups.sort(key=lambda g: g[0])
    return groups


def component_arrays(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`components` as two arrays, ``members`` (every group's members, group after
    group) and ``offsets`` (group ``k`` is ``members[offsets[k]:offsets[k + 1]]``): the same
    groups in the same order, without a Python list per group, for the millions of
    passages a large run can have in duplicate clusters."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64)
    nodes, inverse = np.unique(edges, return_inverse=True)
    a, b = inverse.reshape(-1, 2).T
    label = _labels(len(nodes), a, b)
    order = np.lexsort((nodes, label))
    lab = label[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(lab)) + 1))
    sizes = np.diff(np.concatenate((starts, [len(order)])))
    keep = np.repeat(sizes > 1, sizes)
    members = nodes[order][keep]
    sizes = sizes[sizes > 1]
    # a group's label is its smallest member, so groups sorted by label are sorted by it
    return members, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label propagation with pointer jumping (see :func:`components`)."""
    label = np.arange(n)
    while True:
        low = np.minimum(label[a], label[b])
        np.minimum.at(label, a, low)
        np.minimum.at(label, b, low)
        while True:
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
        if np.array_equal(label[a], label[b]):
            return label


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
        label = _labels(len(roots), inv[:len(a)], inv[len(a):])
        self.parent[roots] = roots[label]
