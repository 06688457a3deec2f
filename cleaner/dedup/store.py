"""The sketches of a run as the driver holds them: columns in memory, signatures in a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .features import PassageFeature, Sketch

EXACT_DTYPE = np.dtype((np.void, 12))


class PassageStore:
    """The passages of a run as the driver holds them: fixed-width columns in memory
    (36 bytes a passage) and signatures in a file, read back in batches.

    Why: a run has tens of passages per document, and a 512-byte signature plus its Python
    objects per passage made the driver the one part whose memory grew with the corpus
    (about 1 KB a passage, 7 MB per MB of input). The file is written once, in order, and
    read by row: for LSH a band at a time, for confirmation the rows of a batch of pairs
    (see :meth:`sigs`)."""

    def __init__(self, num_perm: int, scratch: Path | None = None, name: str = "passage",
                 layout: Callable[[], tuple[int, int]] | None = None):
        self.num_perm = num_perm
        # LSH reads one band of every signature at a time: with the banding known
        # (``layout()`` gives bands and rows), each band is also written to a file of its
        # own, so a band is one sequential read of 4 x rows bytes a text instead of a pass
        # over the whole signature file
        self._layout = layout
        self.bands: tuple[int, int] | None = None
        self._band_fhs: list[Any] = []
        self._pending: list[np.ndarray] = []  # blocks of signatures not yet written
        self._npending = 0
        _sweep(Path(scratch or tempfile.gettempdir()))
        self.dir = Path(tempfile.mkdtemp(prefix=f"{_STORE_PREFIX}{os.getpid()}-", dir=scratch))
        self.path = self.dir / f"{name}-signatures.u32"
        self._fh: Any = open(self.path, "wb")
        self._fd: int | None = None  # read side, opened on the first read after freeze
        self.rows = 0
        self._cols = {name: array("i") for name in ("doc", "line_start", "line_end", "chars", "size")}
        self._sig_row = array("i")  # int32: a store holds fewer than 2**31 signatures
        self._exact = bytearray()
        self.doc = self.line_start = self.line_end = self.chars = self.size = np.empty(0, dtype=np.int32)
        self.sig_row = np.empty(0, dtype=np.int32)

    def add(self, doc: int, p: PassageFeature) -> None:
        sig = p.sketch.sig
        self.add_rows(doc, [p.line_start], [p.line_end], [p.chars], [p.sketch.size], p.sketch.exact,
                      np.empty((0, self.num_perm), np.uint32) if sig is None else np.asarray(sig)[None, :],
                      signed=np.array([sig is not None]))

    def add_rows(self, doc: int, line_start: Sequence[int], line_end: Sequence[int], chars: Sequence[int],
                 size: Sequence[int], exact: bytes, sigs: np.ndarray, signed: np.ndarray | None = None) -> None:
        """Passages of document ``doc``, as columns; ``sigs`` holds the signatures of the
        rows that have one (``signed``; by default the rows whose ``size`` is not 0, as
        :class:`Features` has them), in order."""
        n = len(size)
        if len(exact) != n * EXACT_DTYPE.itemsize:
            raise ValueError("exact keys are 12-byte digests")
        size = np.asarray(size, dtype=np.int32)
        if signed is None:
            signed = size != 0
        if int(np.count_nonzero(signed)) != len(sigs):
            raise ValueError("one signature per passage with shingles")
        for name, col in (("doc", np.full(n, doc)), ("line_start", line_start), ("line_end", line_end),
                          ("chars", chars), ("size", size)):
            self._cols[name].frombytes(np.asarray(col, dtype=np.int32).tobytes())
        self._exact += exact
        if self.rows + len(sigs) >= 2**31:
            raise ValueError("a signature store holds fewer than 2**31 signatures")
        row = np.full(n, -1, dtype=np.int32)
        row[signed] = np.arange(self.rows, self.rows + len(sigs))
        self._sig_row.frombytes(row.tobytes())
        if len(sigs):
            self._pending.append(sigs)
            self.rows += len(sigs)
            self._npending += len(sigs)
            if self._npending >= 4096:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        block = np.ascontiguousarray(np.concatenate(self._pending), dtype="<u4")
        self._pending = []
        self._npending = 0
        self._fh.write(block)  # the array's buffer: no bytes copy
        if self.bands is None and self._layout is not None:
            self.bands = self._layout()
            self._band_fhs = [open(self.dir / f"band-{k}.u32", "wb") for k in range(self.bands[0])]
        if self.bands is not None:
            rows = self.bands[1]
            for k, fh in enumerate(self._band_fhs):
                fh.write(np.ascontiguousarray(block[:, k * rows:(k + 1) * rows]))

    def band(self, k: int, nodes: np.ndarray) -> np.ndarray:
        """Band ``k`` (of :attr:`bands`) of the signatures of ``nodes``, ``(n, rows)``."""
        assert self.bands is not None
        rows = self.sig_row[nodes]
        if len(rows) > 1 and (np.diff(rows) < 0).any():  # read in file order, then put back
            order = np.argsort(rows, kind="stable")
            out = np.empty((len(rows), self.bands[1]), dtype=np.uint32)
            out[order] = self.band(k, np.asarray(nodes)[order])
            return out
        out = np.empty((len(rows), self.bands[1]), dtype=np.uint32)
        width = 4 * self.bands[1]
        step = 1 << 20  # rows read at a time: the band file is not held whole
        with open(self.dir / f"band-{k}.u32", "rb") as fh:
            for lo in range(0, self.rows, step):
                chunk = np.frombuffer(fh.read(step * width), dtype="<u4").reshape(-1, self.bands[1])
                a, b = np.searchsorted(rows, [lo, lo + len(chunk)])  # rows ascend with the nodes
                out[a:b] = chunk[rows[a:b] - lo]
        return out

    def freeze(self) -> None:
        """Done adding: the columns become numpy arrays."""
        if self._fh is not None:
            self._flush()
            self._fh.close()
            self._fh = None
            for fh in self._band_fhs:
                fh.close()
        for name, col in self._cols.items():
            setattr(self, name, np.frombuffer(col, dtype=np.int32) if len(col) else np.empty(0, np.int32))
        self.sig_row = np.frombuffer(self._sig_row, dtype=np.int32) if len(self._sig_row) else np.empty(0, np.int32)

    def __len__(self) -> int:
        return len(self._sig_row)

    def exact_keys(self, nodes: np.ndarray) -> np.ndarray:
        return np.frombuffer(self._exact, dtype=EXACT_DTYPE)[nodes]

    def sizes(self, nodes: np.ndarray) -> np.ndarray:
        return self.size[nodes].astype(np.float64)

    def signed(self, nodes: np.ndarray) -> np.ndarray:
        return self.sig_row[nodes] >= 0

    def sigs(self, nodes: np.ndarray) -> np.ndarray:
        """Signatures by node, read with ``pread``: one read per run of consecutive rows
        (and for consecutive rows in order, as a document's passages are, no sort either).

        Not a memory map: the rows of a batch of candidate pairs are scattered over the whole
        file, and a map that touches them counts every touched page of the file in the
        process's resident memory until it is unmapped (gigabytes on a large run)."""
        rows = self.sig_row[np.asarray(nodes, dtype=np.int64)]
        if len(rows) == 0:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        if (rows < 0).any():
            raise ValueError("a text without a signature was asked for its signature")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        width = 4 * self.num_perm
        if int(rows[-1]) - int(rows[0]) == len(rows) - 1 and (len(rows) == 1 or (np.diff(rows) == 1).all()):
            # consecutive rows (the passages of one document): one read, no sort
            data = os.pread(self._fd, len(rows) * width, int(rows[0]) * width)
            return np.frombuffer(data, dtype="<u4").reshape(len(rows), self.num_perm).copy()
        uniq, inverse = np.unique(rows, return_inverse=True)
        out = np.empty((len(uniq), self.num_perm), dtype=np.uint32)
        cut = np.flatnonzero(np.diff(uniq) != 1) + 1
        starts = np.concatenate(([0], cut)).tolist()
        ends = np.concatenate((cut, [len(uniq)])).tolist()
        for a, b in zip(starts, ends, strict=True):
            data = os.pread(self._fd, (b - a) * width, int(uniq[a]) * width)
            out[a:b] = np.frombuffer(data, dtype="<u4").reshape(b - a, self.num_perm)
        return out[inverse.reshape(-1)]

    def sketches(self, nodes: Iterable[int]) -> list[Sketch]:
        nodes = np.asarray(list(nodes), dtype=np.int64)
        signed = nodes[self.signed(nodes)] if len(nodes) else nodes
        sig_of = dict(zip(signed.tolist(), self.sigs(signed), strict=True))
        exact = self.exact_keys(nodes)
        return [Sketch(bytes(key), int(self.size[n]), sig_of.get(n))
                for n, key in zip(nodes.tolist(), exact, strict=True)]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for fh in self._band_fhs:
            fh.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        shutil.rmtree(self.dir, ignore_errors=True)


_STORE_PREFIX = ".cleaner-dedup-"


def _sweep(scratch: Path) -> None:
    """Remove the stores of runs that died without cleaning up (killed): their folder names
    carry the process id, and a process that no longer exists will not come back for them."""
    for d in scratch.glob(f"{_STORE_PREFIX}*"):
        try:
            pid = int(d.name[len(_STORE_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue  # not ours to judge: another user's process, or not a store
