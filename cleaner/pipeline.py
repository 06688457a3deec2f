"""The pipeline: source -> clean -> templates -> dedup -> writer, a list of steps
(:mod:`cleaner.steps`, one class per pass below) run in order over an on-disk spool.

Passes, and why there are several: template lines can only be told from content after
every document of a source has been seen, and a duplicate can only be kept or dropped
after every document has been hashed. So:

1. **read + clean** (parallel, per input file, and per :class:`Piece` of a container's
   records): documents are normalised and cleaned by rules and the furniture classifier,
   spooled to disk, and their lines counted per source.
2. **templates + features** (parallel, per document): template lines are removed (the
   workers are handed the corpus-wide line statistics once) and the dedup features
   (passages, shingle hashes, MinHash signatures) computed.
3. **dedup** (driver): LSH candidates, confirmed pairs, clusters, keep policy.
4. **write**: clean files (or shards), manifest, duplicates.json, report, published atomically.

Only small per-document records (signatures, counters) stay in memory; texts live in the
spool, so memory is bounded by the number of documents, not their size.
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .clean.furniture import TemplateStats, doc_token_of
from .clean.normalise import import_ftfy, import_html
from .clean.stages import CleanSettings
from .dedup.clusters import distinct
from .engines import Engine
from .engines.local import LocalEngine, driver_malloc
from .outputs.manifest import ManifestDigest
from .outputs.summary import RunResult, summary
from .outputs.writers import DEFAULT_SHARD_BYTES, MissingDependency, open_staging
from .sources import readers as sources
from .sources.storage import batch_name, location
from .steps import RunState, Step, default_steps
from .steps import explain as explain  # `rules explain` runs the steps' functions; its home is steps

log = logging.getLogger("cleaner")


@dataclass
class RunSettings:
    clean: CleanSettings = field(default_factory=CleanSettings)
    workers: int | None = None
    max_bytes: int = sources.MAX_BYTES
    fields: sources.Fields = sources.DEFAULT_FIELDS  # text, id and url fields of JSONL and Parquet records
    dedup: Any = None  # cleaner.dedup.DedupSettings, or None to skip duplicate detection
    write_corpus: bool = True
    report_html: bool = True
    progress: bool = False
    engine: str = "local"  # local | ray
    address: str | None = None  # Ray cluster address (engine ray)
    index: str | None = None  # path or redis:// URL of a persistent index
    index_update: bool = True  # add the kept documents to the index at the end
    index_create: bool = True  # create the index when it does not exist (the CLI asks for --create-index)
    batch: str | None = None  # the indexed documents' batch name (default: storage.batch_name(INPUT))
    # How kept texts are written (cleaner.outputs.writers): "files" (a file per document, mirroring
    # the scrape), or "jsonl" / "parquet" shards of at most shard_bytes each (a row's
    # uncompressed JSON size; see writer.ShardWriter); compress: .jsonl.gz shards.
    output_format: str = "files"
    shard_bytes: int = DEFAULT_SHARD_BYTES
    compress: bool = False
    # keep every line repeated in template_min_docs documents of a source, removed or not,
    # in RunResult.repeated (what ``rules suggest`` chooses from)
    repeated_lines: bool = False
    # Nothing in this process uses the rule set after the run's pass 1 (the CLI's `clean`,
    # which runs once and exits): pass 1 then lets the driver's copy go (see ReadClean),
    # which it would otherwise hold through dedup, the peak of a large run. Off by default:
    # a later run in the same process (`index add` after a run, a test suite) would build it
    # again, about 0.3 s of CPU.
    free_rules: bool = False


ProgressFn = Callable[[str, int, int | None, int], None]


def run(input_dir: Path | str, out_dir: Path | str, settings: RunSettings,
        on_progress: ProgressFn | None = None, steps: list[Step] | None = None) -> RunResult:
    """Clean ``input_dir`` into ``out_dir`` by running ``steps`` in order (by default
    :func:`cleaner.steps.default_steps`; see the module docstring for the passes). Either
    may be an object-store URI string (``s3://…``): see sources and writer.

    ``on_progress(stage, done, total, nbytes)`` is called as each stage goes: ``stage`` one
    of ``read+clean`` (``done`` inputs of ``total``, ``nbytes`` the bytes of the last one),
    ``templates`` and ``write`` (documents), ``dedup`` (``total`` None: it has no steps to
    count). The inputs are listed before anything is read, so every total is known.

    The driver opens what the steps share (the output staging, the index, the engine),
    runs the steps, and then publishes: summary.json (which reads each step's own
    statistics), the report, the index update."""
    def progress(stage: str, done: int, total: int | None, nbytes: int = 0) -> None:
        if on_progress is not None:
            on_progress(stage, done, total, nbytes)

    steps = default_steps() if steps is None else steps
    t_start = time.perf_counter()
    input_dir, out_dir = location(input_dir), location(out_dir)
    batch = settings.batch if settings.batch is not None else batch_name(input_dir)
    index = _open_index(settings, batch)
    site = SiteLearning(index, batch) if index is not None else None
    state: RunState | None = None
    staging = None
    try:
        staging = open_staging(out_dir, settings.output_format, settings.shard_bytes, settings.compress) \
            if settings.write_corpus else None
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=staging.dir if staging else None))
    except BaseException:
        # (an output folder another run holds): the index is closed, not left to the
        # interpreter's teardown, which python -m cleaner skips; SQLite would keep a new
        # index's schema in its -wal file only
        if staging is not None:
            staging.abandon()
        if index is not None:
            index.close()
        raise
    thaw = False  # the start-up's objects frozen by this run (see below)
    try:
        # A run that writes no output folder (check, dupes, index add) passes "." for it,
        # which must not hide the working directory when it lies inside the input.
        exclude = [str(out_dir)] if staging is not None else []
        items = list(sources.walk(input_dir, exclude))
        if isinstance(out_dir, Path) and isinstance(input_dir, Path) and \
                out_dir.resolve().is_relative_to(input_dir.resolve()):
            log.info("%s: output folder is inside the input; it is not read", out_dir)
        if (missing := sources.parquet_missing(items)) is not None:
            raise MissingDependency(missing)  # refused before any work, as --output-format parquet is
        engine = _engine(settings)  # (makes nothing yet: the pool forks at the first map)
        if settings.engine != "ray" and any(item.kind in ("html", "warc") for item in items):
            import_html()  # before the workers fork (see its docstring)
        if settings.engine != "ray" and engine.workers > 1:
            import_ftfy()  # before the workers fork (see its docstring)
            if settings.dedup is not None:
                _prepare_features(settings.dedup)
        # Only now the rules' matcher, which the core has been building on a thread of its
        # own since the CLI loaded the rule set: the imports above (ftfy: 35 ms of the
        # driver's CPU) run while it builds, instead of after it on the path to the first
        # document; the driver waits here for what is left of it.
        settings.clean.prepare()
        # What the start-up made (the modules, the rule set, the classifier) lives through the
        # run: out of the garbage collector's sight, a full collection no longer scans it
        # all again (27 ms of the driver's CPU in a one-worker run of the 20 MB crawl, its
        # only full collection). Freed objects still go by their reference counts (the rule
        # set after pass 1, see ReadClean); the driver's objects go back at the end. A pool's
        # fork thaws them in the driver (engines.local._forking): frozen there too, what
        # the passes' records left in reference cycles stayed through dedup (4 MiB more
        # at its start on the 20 MB crawl, two workers), whose peak is a large run's.
        if thaw := gc.get_freeze_count() == 0:
            gc.freeze()
        driver_malloc(parallel=settings.engine == "ray" or engine.workers > 1)
        state = RunState(settings, engine, work, items, progress, site=site, index=index, staging=staging)
        with engine:
            for step in steps:
                step(state)
        digest = state.digest if state.digest is not None else ManifestDigest(keep_all=staging is None)
        stats = {step.name: step.stats for step in steps}
        result_obj = RunResult(digest.counts, digest.errors, digest.over_cleaned, stats, state.duplicates,
                               digest.records, state.bytes_in, digest=digest)
        result_obj.seconds = time.perf_counter() - t_start
        result_obj.repeated = state.repeated
        finder = state.finder
        if staging is not None and state.manifest_fh is not None:
            state.manifest_fh.close()
            run_summary = summary(result_obj)
            staging.write_json("summary.json", run_summary)
            if settings.report_html:
                from .outputs import report

                staging.write_text("report.html", report.render_html(digest.records, state.duplicates,
                                                                     run_summary, state.texts))
            shutil.rmtree(work, ignore_errors=True)
            staging.publish()
        else:
            shutil.rmtree(work, ignore_errors=True)
        if index is not None and finder is not None:
            if settings.index_update:
                if state.site_update is not None:
                    index.add_site_stats(state.site_update)
                result_obj.indexed = index.add(finder.index_entries())
                index.commit()
            index.close()
        if finder is not None:
            finder.close()
        return result_obj
    except BaseException:
        if staging is not None:
            staging.abandon()
        shutil.rmtree(work, ignore_errors=True)
        if state is not None and state.finder is not None:
            state.finder.close()
        if index is not None:
            try:
                index.rollback()
                index.close()
            except Exception:  # the index may be what failed (Redis gone): its own recovery applies
                pass
        raise
    finally:
        if thaw:
            gc.unfreeze()


def _prepare_features(dedup: Any) -> None:
    """Build what pass 2's dedup features need once per process (the MinHash permutations,
    with numpy's random module; the core's class tables; the prose classifier), here in the
    driver of a local run with several workers, which inherit it when they fork: each built
    it again on its first document, about 20 ms of CPU per worker (and the first
    document's wait), and this runs while the core still builds the rules' matcher. A
    failure here is left to the workers, which make it each document's fate."""
    from .dedup.features import feature_columns

    try:
        feature_columns("", dedup)
    except Exception:  # reported document by document, as without this call
        pass


def _engine(settings: RunSettings) -> Engine:
    if settings.engine == "ray":
        from .engines.ray import RayEngine

        return RayEngine(settings.workers, settings.address)
    return LocalEngine(settings.workers)


def _open_index(settings: RunSettings, batch: str) -> Any:
    if settings.index is None:
        return None
    if settings.dedup is None:
        raise ValueError("an index needs duplicate detection (do not combine --index with --no-dedup)")
    from .dedup.index import compatible_meta, open_index

    meta = compatible_meta(settings.dedup, settings.clean.ruleset().version, settings.clean)
    return open_index(settings.index, meta, create=settings.index_create, batch=batch)


class SiteLearning:
    """What a run with a persistent index learns from it about the batch's sites, and what
    it teaches it (see :mod:`cleaner.dedup.index`).

    * Pass 1: each kept document's line keys are counted under a token of its batch-qualified
      name; a document the index has counted before (a rerun) is not counted again.
    * Before pass 2: the index's statistics of the batch's lines are added to the lookups,
      and the template lines the index knows for each source join the run's own.
    * Pass 2: the workers name the lines worth keeping (:func:`cleaner.steps._site_keys`).
    * At the end: the run's counts of those lines, the tokens it counted and the template
      lines it decided go to the index with its documents.
    """

    FLUSH = 1000  # documents per membership query

    def __init__(self, index: Any, batch: str):
        self.index = index
        self.batch = batch
        self._queue: list[tuple[str, Any, str, int]] = []
        self.tokens: list[int] = []
        self.known_keys = np.zeros(0, dtype=np.uint64)
        self.decided: dict[str, set[int]] = {}
        self._keys: list[np.ndarray] = []
        self._nkeys = 0
        self._distinct = 0  # how many distinct keys the last consolidation left

    def count(self, tstats: TemplateStats, source: str, keys: Any, key: str) -> None:
        name = f"{self.batch}\x00{key}"
        self._queue.append((source, keys, name, doc_token_of(name)))
        if len(self._queue) >= self.FLUSH:
            self.flush(tstats)

    def flush(self, tstats: TemplateStats) -> None:
        seen = self.index.known_docs([t for *_, t in self._queue]) if self._queue else set()
        for source, keys, name, token in self._queue:
            if token not in seen:
                tstats.add_keys(source, keys, name)
                self.tokens.append(token)
        self._queue = []

    def merge(self, tstats: TemplateStats, templates: dict[str, set[int]]) -> dict[str, set[int]]:
        self.decided = {source: set(keys) for source, keys in templates.items()}
        per_source = tstats.keys()
        every = distinct(np.concatenate(list(per_source.values()))) if per_source else np.zeros(0, np.uint64)
        keys, counts, sums = self.index.line_stats(every)
        tstats.add_known(keys, counts, sums)
        self.known_keys = keys
        out = {source: set(keys) for source, keys in templates.items()}
        for source, skeys in per_source.items():
            known = self.index.template_keys(source, skeys)
            if known:
                out[source] = out.get(source, set()) | known
        return out

    def collect(self, keys: Any) -> None:
        """Keep ``keys`` (a document's site keys) for :meth:`update`. They are made distinct
        as they grow, whenever they have doubled since the last time (at least 2^20): made
        distinct at every document once a million distinct keys were held, a long run with
        an index spent seconds a document on it."""
        self._keys.append(keys)
        self._nkeys += len(keys)
        if self._nkeys > max(1 << 20, 2 * self._distinct):
            self._keys = [distinct(np.concatenate(self._keys))]
            self._nkeys = self._distinct = len(self._keys[0])

    def update(self, tstats: TemplateStats) -> Any:
        from .dedup.index import SiteUpdate

        decided = [np.fromiter(v, dtype=np.uint64, count=len(v)) for v in self.decided.values()]
        keys = distinct(np.concatenate([np.zeros(0, np.uint64), self.known_keys, *self._keys, *decided]))
        counts, sums = tstats.run_totals(keys)
        mask = counts > 0
        return SiteUpdate(keys[mask], counts[mask], sums[mask], self.tokens, self.decided)
