"""Engines schedule the pipeline's work: a local process pool, or a Ray cluster. They run
the functions they are handed (:mod:`cleaner.steps`) and own no cleaning or dedup logic;
both have the shape of :class:`Engine`, which is all the pipeline relies on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


@runtime_checkable
class Engine(Protocol):
    """What the pipeline asks of an engine: ordered maps over work items, and a context
    in which its workers exist."""

    name: str
    workers: Any
    #: The workers are processes on the driver's machine: they can write files in the run's
    #: working folder for the driver (and each other) to read, and read its files (the
    #: steps then keep documents out of the driver: see cleaner.steps.worker_spool).
    shares_files: bool

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 8,
            lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
            ) -> Iterator[R]:
        """``fn`` over ``items``, results in the order of the items. ``lost(item, cause)``
        is the result of an item whose worker process died every time it ran (a signal,
        the OOM killer); without it, that fails the map. ``split(item)``, where results
        are lists, gives the parts of such an item to try alone before giving it up, so
        that only the part that kills its worker is lost. Workers that keep dying whatever
        they run fail the map too, with one line: it never hangs."""
        ...

    def map_shared(self, fn: Callable[[S, T], R], shared: S, items: Iterable[T], chunksize: int = 8,
                   lost: Callable[[T, str], R] | None = None, split: Callable[[T], list[T]] | None = None
                   ) -> Iterator[R]:
        """``fn(shared, item)`` over ``items`` in order; ``shared`` is sent to each worker
        once. ``lost`` and ``split`` as in :meth:`map`."""
        ...

    def release_workers(self) -> None:
        """The parallel passes are over: free what the workers hold."""
        ...
