"""The pipeline is a list of steps (cleaner.steps), each runnable alone on a few documents
with its own statistics; pipeline.run takes any such list."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cleaner.clean.furniture import TemplateStats, line_keys
from cleaner.clean.rules import RuleSet
from cleaner.clean.stages import CleanSettings
from cleaner.dedup.features import DocMeta, features
from cleaner.dedup.finder import Finder
from cleaner.dedup.settings import DedupSettings
from cleaner.document import Document
from cleaner.engines.local import LocalEngine
from cleaner.pipeline import RunSettings, run
from cleaner.sources import readers
from cleaner.steps import Dedup, ReadClean, RunState, Spool, Step, Templates, Write, default_steps

from .conftest import run_cli, same_tree

STORY = ("The harbour board met on a wet Tuesday to settle the ferry timetable for the winter months. "
         "After a long argument about the early crossing, it agreed to keep it for another year. ")
TEMPLATE = "The Harbour Gazette, printed in Port Ellis by the same family since the year the pier was built"


def _story(n: int) -> str:
    return f"Story number {n}: " + STORY * 2 + f"The count of the day was {n * 37} passengers."


def _state(tmp_path: Path, settings: RunSettings, **kw: object) -> RunState:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return RunState(settings, LocalEngine(1), work, **kw)  # type: ignore[arg-type]


def _spool(tmp_path: Path, docs: list[Document]) -> Spool:
    spool = Spool(tmp_path / "in.pkl")
    for doc in docs:
        spool.add(doc)
    spool.close()
    return spool


def test_read_clean_alone_spools_every_input_and_counts_lines(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "site").mkdir(parents=True)
    (raw / "site/a.txt").write_text(_story(1), encoding="utf-8")
    (raw / "site/b.txt").write_text("", encoding="utf-8")
    (raw / "site/c.bin").write_bytes(b"\x00\x01")
    state = _state(tmp_path, RunSettings(workers=1), items=list(readers.walk(raw)))
    step = ReadClean()
    step(state)
    docs = list(state.docs)
    assert [(d.path, d.status) for d in docs] == [("site/a.txt", "kept"), ("site/b.txt", "empty"),
                                                  ("site/c.bin", "skipped")]
    assert (step.stats.docs_in, step.stats.docs_out) == (3, 1)
    assert step.stats.seconds > 0
    assert state.count == 3 and state.bytes_in == len(_story(1)) + 2  # every input read, skipped or not
    assert state.tstats is not None and "site" in state.tstats.keys()


def test_templates_alone_removes_a_line_every_page_of_a_source_has(tmp_path: Path) -> None:
    docs = [Document(path=f"site/p{n}.txt", text=f"{_story(n)}\n\n{TEMPLATE}") for n in range(6)]
    tstats = TemplateStats()
    for doc in docs:  # the keys pass 1 takes (stages.clean_keys), of a text made by hand
        doc.line_keys, doc.head_keys = line_keys(doc.text.split("\n\n")), []
        tstats.add_keys(doc.source, np.unique(np.array(doc.line_keys, dtype=np.uint64)), doc.key)
    state = _state(tmp_path, RunSettings(workers=1), docs=_spool(tmp_path, docs), tstats=tstats)
    step = Templates()
    step(state)
    out = list(state.docs)
    assert all(TEMPLATE not in d.text and d.text.startswith("Story number") for d in out)
    assert (step.stats.docs_in, step.stats.docs_out) == (6, 6)
    assert state.tstats is None and state.template_report  # the statistics are dropped, the report kept


def _copy_and_other() -> tuple[DedupSettings, list[Document], Finder]:
    """A story, its copy and another story, the finder handed their features."""
    dedup = DedupSettings()
    docs = [Document(path="a/one.txt", text=_story(1)), Document(path="b/copy.txt", text=_story(1)),
            Document(path="c/other.txt", text=_story(2).replace("harbour", "railway") + " " + STORY[::-1])]
    finder = Finder(dedup)
    for seq, doc in enumerate(docs):
        finder.add_meta(DocMeta(seq, doc.path, doc.id, len(doc.text), doc.date), features(doc.text, dedup))
    return dedup, docs, finder


def test_dedup_alone_marks_the_copy(tmp_path: Path) -> None:
    dedup, docs, finder = _copy_and_other()
    state = _state(tmp_path, RunSettings(workers=1, dedup=dedup), docs=_spool(tmp_path, docs), finder=finder)
    step = Dedup()
    step(state)
    out = list(state.docs)
    finder.close()
    assert [d.status for d in out] == ["kept", "duplicate", "kept"]
    assert (step.stats.docs_in, step.stats.docs_out) == (3, 2)


def test_write_waits_for_the_clean_files_after_duplicates_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The clean files the core's threads still have queued when the last document is handed
    over are written while the step writes duplicates.json: the step waits for them
    (``Staging.flush``) after that, not before it with a core idle; every file is written."""
    from cleaner import steps
    from cleaner.outputs.writers import Staging

    order: list[str] = []
    real_flush, real_duplicates = Staging.flush, steps.write_duplicates

    def flush(self: Staging) -> None:
        order.append("flush")
        real_flush(self)

    def write_duplicates(*args: object) -> None:
        order.append("duplicates.json")
        real_duplicates(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(Staging, "flush", flush)
    monkeypatch.setattr(steps, "write_duplicates", write_duplicates)
    dedup, docs, finder = _copy_and_other()
    staging = Staging(tmp_path / "out")
    state = _state(tmp_path, RunSettings(workers=1, dedup=dedup), docs=_spool(tmp_path, docs), finder=finder,
                   staging=staging, count=3)
    try:
        Dedup()(state)
        Write()(state)
        state.manifest_fh.close()
        assert order == ["duplicates.json", "flush"]
        assert (staging.clean / "a/one.txt").read_text(encoding="utf-8") == _story(1) + "\n"
        assert (staging.clean / "c/other.txt").read_text(encoding="utf-8") == docs[2].text + "\n"
        assert not (staging.clean / "b/copy.txt").exists()
    finally:
        finder.close()
        staging.abandon()


def test_write_alone_digests_every_document(tmp_path: Path) -> None:
    docs = [Document(path="a.txt", text=_story(1)), Document(path="b.txt", status="empty", reason="empty file")]
    state = _state(tmp_path, RunSettings(workers=1), docs=iter(docs), count=2)
    step = Write()
    step(state)
    assert state.digest is not None and state.digest.counts == {"kept": 1, "empty": 1}
    assert [r["path"] for r in state.digest.records] == ["a.txt", "b.txt"]
    assert step.stats.docs_in == 2


class Shout(Step):
    """A step of a test's own: upper-cases every kept text as the documents stream by."""

    name = "shout"

    def run(self, state: RunState) -> None:
        def shout(docs: Iterator[Document]) -> Iterator[Document]:
            for doc in docs:
                self.stats.docs_in += 1
                if doc.status == "kept":
                    doc.text = doc.text.upper()
                    self.stats.docs_out += 1
                yield doc

        state.docs = shout(iter(state.docs))


def _raw(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    (raw / "site").mkdir(parents=True)
    for n in range(6):
        (raw / f"site/p{n}.txt").write_text(f"{_story(n)}\n\n{TEMPLATE}\n", encoding="utf-8")
    return raw


def test_the_pipeline_is_the_list_of_steps_it_is_given(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    settings = RunSettings(workers=1, dedup=None, report_html=False)
    assert [s.name for s in default_steps()] == ["read+clean", "templates", "dedup", "write"]
    run(raw, tmp_path / "default", settings)
    assert TEMPLATE not in (tmp_path / "default/clean/site/p0.txt").read_text()
    # the templates step left out: the template line stays; a step added: it runs, and the
    # summary reads its statistics
    run(raw, tmp_path / "custom", settings, steps=[ReadClean(), Dedup(), Shout(), Write()])
    text = (tmp_path / "custom/clean/site/p0.txt").read_text()
    assert TEMPLATE.upper() in text and text.startswith("STORY NUMBER 0")
    stages = json.loads((tmp_path / "custom/summary.json").read_text())["stages"]
    assert list(stages) == ["read+clean", "dedup", "shout", "write"]
    assert (stages["shout"]["docs_in"], stages["shout"]["docs_out"]) == (6, 6)


def test_site_keys_are_made_distinct_when_they_double_not_at_every_document() -> None:
    """``SiteLearning.collect`` keeps a run's site keys distinct as they grow, at most each
    time they double: once a million distinct keys were held, it used to sort them all
    again at every document (seconds a document on a long run with an index). What it
    keeps is still every key, each once."""
    import numpy as np

    from cleaner.dedup.clusters import distinct
    from cleaner.pipeline import SiteLearning

    site = SiteLearning(index=None, batch="b")
    big = np.arange(1 << 20, dtype=np.uint64) * 3
    site.collect(big[: 1 << 19])
    site.collect(big[1 << 19:])
    site.collect(np.array([5], dtype=np.uint64))  # past 2^20: made distinct once
    assert len(site._keys) == 1 and len(site._keys[0]) == (1 << 20) + 1
    for k in range(100):  # small documents: kept as they come, not sorted again each time
        site.collect(np.array([k, k + 1], dtype=np.uint64))
    assert len(site._keys) == 101
    every = distinct(np.concatenate(site._keys))
    assert np.array_equal(every, np.union1d(big, np.arange(101, dtype=np.uint64)))
    assert np.array_equal(distinct(np.array([3, 1, 3, 2, 1], dtype=np.int64)), np.array([1, 2, 3]))
    assert len(distinct(np.zeros(0, np.uint64))) == 0


def test_passes_send_the_local_engine_large_chunks_and_ray_small_batches() -> None:
    """The local engine's chunks grow to 64 items once its workers are busy (each chunk
    costs the driver CPU whatever it holds); Ray's batches stay at 16 whatever the passes
    ask, so that a window of 2,000 items is 125 tasks for a cluster's CPUs, not 32."""
    from cleaner import steps
    from cleaner.engines import ray as ray_engine
    from cleaner.engines.local import _chunk_sizes

    assert steps.PIECE_CHUNK == steps.UNTEMPLATE_CHUNK == 64
    sizes = _chunk_sizes(steps.PIECE_CHUNK, 2)
    assert [next(sizes) for _ in range(16)][-1] == 64
    assert ray_engine._batch_size(steps.PIECE_CHUNK) == ray_engine._batch_size(steps.UNTEMPLATE_CHUNK) == 16
    assert [ray_engine._batch_size(n) for n in (0, 1, 8, 16)] == [1, 1, 8, 16]


def test_template_statistics_hold_20_bytes_a_distinct_line() -> None:
    """The template statistics are held from the end of pass 1 through pass 2 (a large
    run's peak of memory): per distinct line of a source, a 64-bit key, a 32-bit count and
    a 64-bit fingerprint, 20 bytes (a 64-bit count made it 24), and a bit (whether the
    count is 1, which the core's lookup reads instead of the count) and at most half a byte
    (the keys' directory, where the core's lookup searches). Counts and lookups stay
    exact."""
    stats = TemplateStats()
    rng = np.random.default_rng(3)
    shared = rng.integers(0, 2**63, 50, dtype=np.uint64)
    for d in range(40):
        own = rng.integers(0, 2**63, 200, dtype=np.uint64)
        stats.add_keys("site", np.concatenate([shared, own]), f"doc{d}")
    keys = stats.keys()["site"]
    held = sum(col.nbytes for col in stats._cols["site"])
    directory = stats._cols["site"][4].nbytes  # 2**b + 1 positions, 2**b at most an eighth of the rows
    assert held == 20 * len(keys) + (len(keys) + 7) // 8 + directory and len(keys) == 50 + 40 * 200
    assert directory <= 4 * (len(keys) // 8 + 1)
    counts, _ = stats.lookup("site", shared.tolist())
    assert counts.dtype == np.int64 and counts.tolist() == [40] * 50
    assert stats.templates(40) == {"site": set(shared.tolist())}


def test_a_run_with_workers_imports_ftfy_before_they_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local run with several workers imports ftfy (and makes its first fix's tables) in the
    driver before the pool forks, so that its workers inherit it instead of each compiling
    ftfy's regular expressions again; a run in one process does not (it imports ftfy when a
    text needs it)."""
    import cleaner.pipeline as pipeline
    from cleaner.engines import local

    raw = tmp_path / "raw" / "site"
    raw.mkdir(parents=True)
    (raw / "a.txt").write_text(_story(1) + "\n\nCafÃ© society.\n", encoding="utf-8")
    forked: list[bool] = []
    calls: list[bool] = []
    pool = local._Pool

    def pool_(*a: object, **k: object) -> object:
        forked.append(True)
        return pool(*a, **k)

    monkeypatch.setattr(local, "_Pool", pool_)
    monkeypatch.setattr(pipeline, "import_ftfy", lambda: calls.append(not forked))
    run(tmp_path / "raw", tmp_path / "out2", RunSettings(workers=2))
    assert calls == [True] and forked  # once, before the first fork
    calls.clear()
    run(tmp_path / "raw", tmp_path / "out1", RunSettings(workers=1))
    assert calls == []


def test_a_new_document_makes_its_counters_without_counters_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """A document's two Counters start empty, its own, and are made without ``Counter.__init__``
    (Python code: two calls for every document read)."""
    from collections import Counter

    def init(*a: object, **k: object) -> None:
        raise AssertionError("Counter.__init__ called")

    monkeypatch.setattr(Counter, "__init__", init)
    a, b = Document(path="a.txt"), Document(path="b.txt")
    for c in (a.removed, a.removed_words, b.removed):
        assert type(c) is Counter and c == {} and c["x"] == 0
    a.removed["r"] += 2
    assert a.removed == {"r": 2} and b.removed == {} and a.removed_words == {}


def test_pass_one_sends_the_line_keys_as_bytes(tmp_path: Path) -> None:
    """A pass-1 record carries its document's distinct line keys as the bytes of
    ``clean_keys``' array (an array's pickle costs the worker and the driver several times
    more), and the driver counts the same keys from them."""
    from cleaner.clean.stages import CleanSettings, clean_keys
    from cleaner.steps import Piece, read_and_clean

    raw = tmp_path / "site"
    raw.mkdir()
    (raw / "a.txt").write_text("Home\nNews\n\n" + _story(3), encoding="utf-8")
    item = readers.InputFile(root=str(tmp_path), rel="site/a.txt", kind="text")
    [rec] = read_and_clean(Piece(0, item, [], True), CleanSettings(), readers.MAX_BYTES)
    _, keys = clean_keys(next(readers.read(item)), CleanSettings())
    assert rec.status == "kept" and keys is not None and len(keys) >= 3
    assert type(rec.keys) is bytes and rec.keys == keys.tobytes()
    stats = TemplateStats()
    stats.add_keys(rec.source, np.frombuffer(rec.keys, dtype=np.uint64), rec.key)
    assert stats.keys()["site"].tolist() == sorted(keys.tolist())


def _rules_alive_in_dedup(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the process's default rule set (the one a run with no rule options uses)
    is still alive when each run's dedup step starts, one entry a run."""
    alive: list[bool] = []
    ref = weakref.ref(CleanSettings().ruleset())
    dedup_run = Dedup.run

    def spy(self: Dedup, state: RunState) -> None:
        gc.collect()
        alive.append(ref() is not None and RuleSet.cached([], [], []) is ref())
        dedup_run(self, state)

    monkeypatch.setattr(Dedup, "run", spy)
    return alive


def test_the_cli_clean_run_lets_the_rules_go_after_pass_1_and_a_second_run_still_cleans(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cleaner clean` runs once per process, so its driver lets its rule set go after pass
    1 (``RunSettings.free_rules``): held through dedup, it was about 65 MiB of a 1 GB
    run's peak there. A second run in the same process builds the rules again and cleans
    the same (the tests run the CLI in-process)."""
    raw = _raw(tmp_path)
    (raw / "site/p0.txt").write_text(f"{_story(0)}\n\nShare this:\n\n{TEMPLATE}\n", encoding="utf-8")
    alive = _rules_alive_in_dedup(monkeypatch)
    run_cli("clean", raw, "-o", tmp_path / "one", "--workers", "2")
    run_cli("clean", raw, "-o", tmp_path / "two", "--workers", "1")
    assert alive == [False, False]
    assert same_tree(tmp_path / "one/clean", tmp_path / "two/clean")
    assert (tmp_path / "one/manifest.jsonl").read_bytes() == (tmp_path / "two/manifest.jsonl").read_bytes()
    text = (tmp_path / "two/clean/site/p0.txt").read_text()
    assert "Share this" not in text and text.startswith("Story number 0"), "the rules ran in the second run"


def test_a_library_run_keeps_the_rules_for_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``free_rules`` (a run from Python, ``index add``, the default) the rule set
    stays cached for the next run of the process."""
    alive = _rules_alive_in_dedup(monkeypatch)
    run(_raw(tmp_path), tmp_path / "out", RunSettings(workers=1, report_html=False))
    assert alive == [True]


class _Frozen(Step):
    """Notes how many objects the garbage collector leaves alone while the steps run."""

    name = "frozen"
    seen: list[int] = []

    def run(self, state: RunState) -> None:
        _Frozen.seen.append(gc.get_freeze_count())


@pytest.mark.parametrize("workers", [1, 2])
def test_the_start_up_is_frozen_for_the_run_and_thawed_after(tmp_path: Path, workers: int) -> None:
    """The start-up's objects (modules, the rule set) are out of the collector's sight while
    the steps of a run without a pool run, and back in it after any run, whether it ends
    well or not."""
    raw = _raw(tmp_path)
    settings = RunSettings(workers=workers, dedup=None, report_html=False)
    assert gc.get_freeze_count() == 0
    _Frozen.seen = []
    run(raw, tmp_path / "out", settings, steps=[ReadClean(), _Frozen(), Templates(), _Frozen(), Write()])
    assert len(_Frozen.seen) == 2
    if workers == 1:  # (a pool's fork thaws the driver's objects: see engines.local._forking)
        assert min(_Frozen.seen) > 10_000
    assert gc.get_freeze_count() == 0

    class Fails(Step):
        name = "fails"

        def run(self, state: RunState) -> None:
            raise RuntimeError("a step failed")

    with pytest.raises(RuntimeError, match="a step failed"):
        run(raw, tmp_path / "out2", settings, steps=[ReadClean(), Fails()])
    assert gc.get_freeze_count() == 0
