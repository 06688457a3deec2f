"""The Ray engine: the same stage functions, scheduled on a Ray cluster with Ray Data.

What runs where, and why:

* per-file work (read, decode, normalise, rules, furniture) and per-document work
  (templates, passages, shingles, signatures) run in ``map_batches`` tasks on the cluster,
  calling exactly the functions the local engine calls, so the outputs are identical;
* LSH candidate pairs are not the engine's: dedup's ``lsh_backend = "ray"`` (the CLI's
  default with ``--engine ray``) groups band keys with a Ray Data shuffle
  (:func:`cleaner.dedup.candidates.ray_shuffle`), on whatever cluster Ray is connected to;
* the driver streams documents in ordered windows (bounded memory), keeps one small record
  per document and per passage (passage signatures in a file), verifies the candidate
  pairs and forms the clusters exactly as the local engine does.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger("cleaner")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

WINDOW = 2000  # items sent to the cluster at a time (keeps the driver's memory bounded)
#: ... or fewer: a window also closes at this many bytes of pickled items. An item can be a
#: piece of a container (up to ~64 KB of records, see steps.Piece), and 2,000 of those
#: would be more than 100 MB in the driver and the object store.
WINDOW_BYTES = 64 << 20
#: Ray Data retries a task whose worker died without end (``max_retries=-1``): a document
#: that kills its worker every time (a segfault in a C library) would hang the run. A task
#: is retried this many times; then the window's items run again one task each, as the
#: local engine runs them alone (:meth:`RayEngine._alone`).
TASK_RETRIES = 1
#: A task holds at most this many items, whatever chunk size the caller asks: a window of
#: 2,000 items is then 125 tasks for a cluster's CPUs (at 64, 32, fewer than a large
#: cluster has). The local engine's chunks grow larger (each costs its driver CPU), so the
#: passes ask for 64; what a chunk costs here is a task, spread over the cluster.
MAX_BATCH = 16


def _batch_size(chunksize: int) -> int:
    """``map_batches``' ``batch_size`` for a map asked for ``chunksize`` items a chunk."""
    return min(max(1, chunksize), MAX_BATCH)


def _one(fn: Callable[[Any], Any], blob: bytes) -> Any:
    return fn(pickle.loads(blob))


def _died() -> tuple[type[BaseException], ...]:
    """What Ray raises for a task whose worker process died: a crash (a signal, the OOM
    killer), or Ray's own memory monitor ending it."""
    import ray.exceptions

    return ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError


def _apply(batch: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    out = [pickle.dumps(fn(pickle.loads(x)), protocol=pickle.HIGHEST_PROTOCOL) for x in batch["item"]]
    return {"out": np.array(out, dtype=object)}


_SHARED: dict[str, Any] = {}  # a worker process's copy of the current map_shared value


def _call_shared(fn: Callable[[Any, T], R], ref: list[Any], item: T) -> R:
    """``fn(value, item)``; ``ref`` is a one-item list so that Ray hands the reference,
    not the value, to the task (a top-level argument would be resolved per batch)."""
    import ray

    key = ref[0].hex()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = ray.get(ref[0])
    return fn(_SHARED[key], item)


def _cause(exc: BaseException) -> str:
    """The local engine's words for a worker death (Ray does not tell the signal)."""
    import ray.exceptions

    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return "worker process died (ended by Ray's memory monitor: out of memory)"
    return "worker process died"


def cluster_address(address: str | None, environ: Mapping[str, str]) -> str:
    """The ``address`` the engine passes to ``ray.init``: ``--address`` when given, else
    ``RAY_ADDRESS`` (Ray's own convention: a Ray job's entrypoint runs with it set), else
    ``"local"``, a new local instance.

    Not ``None``: with no address, ``ray.init`` also connects to the last cluster that
    ``ray start`` started on this machine, and then refuses the ``num_cpus`` that
    ``--workers`` asks of a local instance; the help promises a local Ray by default, and
    ``--address auto`` is how a run asks for the machine's cluster."""
    if address:
        return address
    return environ.get("RAY_ADDRESS") or "local"


class RayEngine:
    """Ordered maps on Ray (which cluster: :func:`cluster_address`)."""

    name = "ray"
    shares_files = False  # a cluster's workers may be on other machines: they return what they make

    def __init__(self, workers: int | None = None, address: str | None = None):
        self.workers = workers
        self.address = address

    def __enter__(self) -> RayEngine:
        import ray
        import ray.data

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False,
                                      "include_dashboard": False, "configure_logging": False}
            address = cluster_address(self.address, os.environ)
            kwargs["address"] = address
            if address == "local" and self.workers:
                kwargs["num_cpus"] = self.workers
            elif self.workers:
                log.info("--workers %d: the Ray cluster at %s schedules on its own CPUs", self.workers, address)
            ray.init(**kwargs)
            self._owns = True
        else:
            self._owns = False
        import logging

        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        if self._owns:
            ray.shutdown()

    def release_workers(self) -> None:
        """Nothing to end: Ray's workers belong to the cluster, and dedup's shuffle uses them."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 8,
            lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
            ) -> Iterator[R]:
        """Ordered map: items go to the cluster in windows (of ``WINDOW`` items or
        ``WINDOW_BYTES``), results come back in order. A window whose task's worker died
        (past :data:`TASK_RETRIES`) is finished item by item (:meth:`_alone`); ``lost``
        and ``split`` as in :meth:`cleaner.engines.local.LocalEngine.map`."""
        import ray.data

        from .local import _Deaths

        window: list[bytes] = []
        size = 0
        deaths = _Deaths()

        def flush(window: list[bytes]) -> Iterator[R]:
            ds = ray.data.from_items([{"item": x} for x in window])
            with warnings.catch_warnings():
                # Ray 2.60 deprecates remote arguments given this way and names no other for
                # max_retries; until it does, this is the one that bounds the retries
                warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
                ds = ds.map_batches(_apply, fn_kwargs={"fn": fn}, batch_size=_batch_size(chunksize),
                                    batch_format="numpy", max_retries=TASK_RETRIES)
            done = 0
            try:
                for row in ds.iter_rows():
                    yield pickle.loads(row["out"])
                    done += 1
            except _died() as exc:
                deaths.died(_cause(exc))
                log.warning("%s; the %d items of its window that had not come back run again, one task each",
                            _cause(exc), len(window) - done)
                yield from self._alone(fn, window[done:], lost, split, deaths)

        for item in items:
            window.append(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
            size += len(window[-1])
            if len(window) >= WINDOW or size >= WINDOW_BYTES:
                yield from flush(window)
                window, size = [], 0
        if window:
            yield from flush(window)

    def _alone(self, fn: Callable[[T], R], blobs: list[bytes], lost: Callable[[T, str], R] | None,
               split: Callable[[T], list[T]] | None, deaths: Any) -> Iterator[R]:
        """``fn`` over the pickled items, one Ray task each (Ray schedules them all), results
        in order; an item whose worker dies is retried up to ``SOLO_TRIES`` times, then its
        parts (``split``) go the same way, or its result is ``lost(item, cause)``."""
        import ray

        from .local import SOLO_TRIES, WorkerDied

        task = ray.remote(_one).options(max_retries=0)
        refs = [task.remote(fn, blob) for blob in blobs]
        for blob, ref in zip(blobs, refs, strict=True):
            for tries in range(1, SOLO_TRIES + 1):
                try:
                    value = ray.get(ref)
                except _died() as exc:
                    cause = _cause(exc)
                    deaths.died(cause)
                    if tries < SOLO_TRIES:
                        ref = task.remote(fn, blob)
                        continue
                    item = pickle.loads(blob)
                    if split is not None and len(parts := split(item)) > 1:
                        pickled = [pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL) for p in parts]
                        yield [x for r in self._alone(fn, pickled, lost, split, deaths) for x in r]  # type: ignore
                    elif lost is None:
                        raise WorkerDied(f"{cause} every time this item ran alone: {item!r:.200}") from None
                    else:
                        yield lost(item, cause)
                    break
                deaths.done()
                yield value
                break

    def map_shared(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T], chunksize: int = 8,
                   lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
                   ) -> Iterator[R]:
        """``fn(shared, item)`` over ``items`` in order; ``shared`` (large, read-only) goes
        to the object store once, and each worker process fetches it once (numpy arrays in
        it are read from shared memory without a copy on the worker's node)."""
        import ray

        ref = ray.put(shared)
        return self.map(functools.partial(_call_shared, fn, [ref]), items, chunksize, lost, split)
