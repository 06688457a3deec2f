"""The writer's clean files: their names (collisions resolved as before), their bytes and
their permissions, and duplicates.json's indented JSON, each against the reference it
replaced (pathlib's normalisation, ``open(path, "w")``, ``json.dumps(indent=1)``)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.document import Document
from cleaner.outputs.writers import OutputNames, Staging, output_name
from cleaner.sources.readers import input_ext

from .conftest import run_cli


def reference_output_name(rel: str, container: bool) -> str:
    """The output name as it was made before the string fast path: through PurePosixPath."""
    p = PurePosixPath(rel)
    name = p.name
    ext = input_ext(name)
    if ext is not None:
        name = name[: -len(ext)]
    name += ".jsonl" if container else ".txt"
    out = str(p.parent / name) if str(p.parent) != "." else name
    parts = PurePosixPath(out).parts
    if PurePosixPath(out).is_absolute() or ".." in parts:
        raise ValueError(f"refusing output name outside the output folder: {out!r}")
    return out


def _outcome(fn: Any, *args: Any) -> tuple[str, str]:
    try:
        return "ok", fn(*args)
    except ValueError as exc:
        return "error", str(exc)


# path-like strings made of the pieces that matter to pathlib: separators, dots, endings
_piece = st.sampled_from(["/", ".", "..", "a", "B", "page", "é", " ", "\\", ".txt", ".html", ".HTML", ".warc.gz",
                          ".wet.gz", ".jsonl.zst", ".gz", ".json", "x.tar"])
_rels = st.lists(_piece, min_size=1, max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(_rels, st.booleans())
def test_output_name_equals_the_pathlib_reference(rel: str, container: bool) -> None:
    assert _outcome(output_name, rel, container) == _outcome(reference_output_name, rel, container)


@pytest.mark.parametrize("rel,container,expected", [
    ("a/b/page.html", False, "a/b/page.txt"),
    ("page.htm", False, "page.txt"),
    ("a/crawl.warc.gz", True, "a/crawl.jsonl"),
    ("a/crawl.WARC.GZ", True, "a/crawl.jsonl"),
    ("a//b/./page.html", False, "a/b/page.txt"),
    ("./page.html", False, "page.txt"),
    ("a/.hidden.txt", False, "a/.hidden.txt"),
    ("a/noext", False, "a/noext.txt"),
])
def test_output_names(rel: str, container: bool, expected: str) -> None:
    assert output_name(rel, container) == expected == reference_output_name(rel, container)


def test_an_output_name_outside_the_folder_is_refused() -> None:
    for rel in ("../x.html", "a/../../x.html", "/etc/x.html"):
        with pytest.raises(ValueError, match="outside the output folder"):
            output_name(rel, False)


def test_colliding_names_resolve_in_order_and_case_insensitively() -> None:
    names = OutputNames()
    assert names.get("s/page.html", False) == "s/page.txt"
    assert names.get("s/page.txt", False) == "s/page.txt.txt"  # the second comes second
    assert names.get("s/PAGE.htm", False) == "s/PAGE.htm.txt"  # case-insensitive file systems
    assert names.get("s/page.html", False) == "s/page.txt"  # asked again: the same name
    assert names.get("s/feed.jsonl", True) == "s/feed.jsonl"
    assert names.get("s/feed.jsonl.gz", True) == "s/feed.jsonl.gz.jsonl"
    assert names.get("t/page.html", False) == "t/page.txt"  # another folder: no collision


def test_a_fallback_name_already_taken_gets_a_counter() -> None:
    names = OutputNames()
    got = [names.get(rel, False) for rel in ("s/a.htm.html", "s/a.html", "s/a.htm", "s/A.HTM", "s/a.htm.2")]
    assert got == ["s/a.htm.txt", "s/a.txt", "s/a.htm.2.txt", "s/A.HTM.3.txt", "s/a.htm.2.2.txt"]
    assert len({g.casefold() for g in got}) == len(got)


def test_colliding_inputs_get_files_of_their_own(tmp_path: Path) -> None:
    """End to end, in the walk's (sorted) order: on a case-insensitive file system
    ``A.txt`` and ``a.txt`` are one name, and so are ``a.txt``'s fallback ``a.txt.txt`` and
    ``A.TXT.TXT``'s ``A.TXT.txt``; each input keeps a file of its own all the same."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "s").mkdir(parents=True)
    topics = {"A.TXT.TXT": "harbour", "A.txt": "railway", "a.txt": "library"}
    for name, topic in topics.items():
        (raw / "s" / name).write_text(f"The new {topic} opened this week after four years of building work.\n")
    run_cli("clean", str(raw), "-o", str(out), "-q")
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    outputs = {r["path"].rpartition("/")[2]: r["output"] for r in records if r["status"] == "kept"}
    assert set(outputs) == set(topics)
    assert len({o.casefold() for o in outputs.values()}) == 3
    for name, output in outputs.items():
        assert topics[name] in (out / output).read_text()


def _kept(path: str, text: str, rid: str | None = None, container: bool = False) -> Document:
    return Document(path=path, id=rid, text=text, container=container)


def test_staged_files_have_the_text_and_the_permissions_of_open(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        staging = Staging(tmp_path / "out")
        docs = [_kept("s/page.html", "é\n\nzwei"), _kept("s/page.txt", "second"), _kept("top.txt", "top"),
                _kept("s/d/feed.jsonl", "one", "r1", True), _kept("s/d/feed.jsonl", "two", "r2", True)]
        outputs = [staging.write_document(d)["output"] for d in docs]
        with open(tmp_path / "reference", "w", encoding="utf-8") as f:  # what the writer did before
            f.write("x\n")
        reference_mode = stat.S_IMODE((tmp_path / "reference").stat().st_mode)
        staging.publish()
    finally:
        os.umask(old)
    out = tmp_path / "out"
    assert outputs == ["clean/s/page.txt", "clean/s/page.txt.txt", "clean/top.txt", "clean/s/d/feed.jsonl",
                       "clean/s/d/feed.jsonl"]
    assert (out / "clean/s/page.txt").read_bytes() == "é\n\nzwei\n".encode()
    assert (out / "clean/s/page.txt.txt").read_bytes() == b"second\n"
    assert (out / "clean/top.txt").read_bytes() == b"top\n"
    rows = [json.loads(line) for line in (out / "clean/s/d/feed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows == [{"id": "r1", "url": None, "text": "one"}, {"id": "r2", "url": None, "text": "two"}]
    assert reference_mode == 0o640
    for name in ("clean/s/page.txt", "clean/s/page.txt.txt", "clean/top.txt", "clean/s/d/feed.jsonl"):
        assert stat.S_IMODE((out / name).stat().st_mode) == reference_mode, name


def test_a_document_pickles_with_its_counters() -> None:
    import pickle
    from collections import Counter

    doc = Document(path="a/b.txt", text="x y", removed=Counter({"r.one": 2, "chrome.template": 0}),
                   removed_words=Counter({"r.one": 5}), flags=["over_cleaned"])
    back = pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == doc
    assert type(back.removed) is Counter and type(back.removed_words) is Counter
    assert list(back.removed.items()) == [("r.one", 2), ("chrome.template", 0)]
    back.removed["r.two"] += 1  # a Counter still: a missing key counts 0
    assert back.removed["r.two"] == 1 and "r.two" not in doc.removed


_scalar = st.one_of(st.text(), st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                   st.floats())
_key = st.one_of(st.text(max_size=4), st.integers(), st.floats(), st.booleans(), st.none())
_json_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_key, inner, max_size=4)), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_json_value, st.integers(min_value=0, max_value=5))
def test_indented_json_is_json_dumps_indented(value: Any, level: int) -> None:
    """duplicates.json is written a value at a time (the C string encoder) by
    ``indented_json``; the reference is what was written before: ``json.dumps(indent=1)``,
    each line after the first indented by ``level`` (a member row's: four)."""
    from cleaner.outputs.duplicates import indented_json

    assert indented_json(value, level) == json.dumps(value, ensure_ascii=False, indent=1).replace(
        "\n", "\n" + " " * level)


@settings(max_examples=400, deadline=None)
@given(_json_value)
def test_json_line_is_json_dumps(value: Any) -> None:
    """The manifest's lines and the containers' rows: one C encoder made for the run writes
    what ``json.dumps(ensure_ascii=False)`` writes for any value it can encode, and the same
    again on a second call (the strategy makes only encodable values; what both refuse is
    :func:`test_json_line_refuses_what_json_refuses`'s)."""
    from cleaner.outputs.writers import json_line

    assert json_line(value) == json.dumps(value, ensure_ascii=False)
    assert json_line(value) == json.dumps(value, ensure_ascii=False)  # the encoder keeps no state


def test_json_line_refuses_what_json_refuses() -> None:
    from cleaner.outputs.writers import json_line

    class Num(float):
        pass

    assert json_line({"a": [Num(1.5), "x"], "b": float("-inf")}) == '{"a": [1.5, "x"], "b": -Infinity}'
    for bad in ({"a": [object()]}, {(1, 2): 3}):
        with pytest.raises(TypeError) as ours:
            json_line(bad)
        with pytest.raises(TypeError) as theirs:
            json.dumps(bad, ensure_ascii=False)
        assert str(ours.value) == str(theirs.value)
    assert json_line({"after": "an error"}) == '{"after": "an error"}'


def test_indented_json_leaves_other_values_to_json() -> None:
    """A value ``json`` refuses is refused alike (the whole object goes through ``json.dumps``)."""
    from cleaner.outputs.duplicates import indented_json

    class Num(float):
        pass

    assert indented_json({"a": [Num(1.5), "x"]}, 2) == '{\n   "a": [\n    1.5,\n    "x"\n   ]\n  }'
    with pytest.raises(TypeError):
        indented_json({"a": [object()]})
    circle: list[Any] = []
    circle.append(circle)
    with pytest.raises(ValueError):
        indented_json([1, circle])


def test_words_out_is_counted_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept document's word count is kept with the very text it counted: read again, it
    is not counted again; another text (even an equal one) is counted anew; and it travels
    in the pickle of a document whose templates are removed (pass 2's), so the write step
    reads it without counting."""
    import pickle

    import cleaner.document as document

    calls: list[str] = []
    real = document._word_count
    monkeypatch.setattr(document, "_word_count", lambda text: calls.append(text) or real(text))
    doc = Document("a.txt", text="one two three")
    assert doc.words_out == doc.words_out == 3 and len(calls) == 1
    doc.text = "one two"
    assert doc.words_out == 2 and len(calls) == 2
    doc.text = "".join(["one", " two"])  # equal, but another str: counted again
    assert doc.words_out == 2 and len(calls) == 3
    doc.status = "empty"
    assert doc.words_out == 0
    doc.status = "kept"
    back = pickle.loads(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == doc and back.words_out == 2 and len(calls) == 3
    back.text += " four"
    assert back.words_out == 3 and len(calls) == 4
    # pass 1's pickle (template keys still on the document): its text may change, no count
    first = Document("b.txt", text="x y", line_keys=[1, 2])
    again = pickle.loads(pickle.dumps(first, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(calls) == 4 and again.words_out == 2 and len(calls) == 5


def _inode_flags(path: Path) -> int:
    """The inode flags (``lsattr``), read by the writer's own helper; a test calls it only
    once it knows the file system keeps them."""
    from cleaner.outputs.writers import inode_flags

    flags = inode_flags(path)
    assert flags is not None
    return flags


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_clean_folder_spreads_its_folders_while_written_and_is_published_unmarked(tmp_path: Path) -> None:
    """``clean/`` carries ext4's ``T`` (Orlov's top of unrelated hierarchies) while its
    folders are made, so that they go to groups of inodes not just freed; the published
    folder carries no such mark, and the folder's descriptor is closed."""
    from cleaner.outputs.writers import _FS_TOPDIR_FL

    fds = _open_fds()
    staging = Staging(tmp_path / "out")
    if staging._unspread is None:
        staging.abandon()
        pytest.skip("this file system keeps no FS_TOPDIR_FL (not ext2/3/4)")
    assert _inode_flags(staging.clean) & _FS_TOPDIR_FL
    assert staging.write_document(_kept("site/a/page.html", "text"))["output"] == "clean/site/a/page.txt"
    staging.flush()
    assert not _inode_flags(staging.clean) & _FS_TOPDIR_FL
    staging.publish()
    assert (tmp_path / "out/clean/site/a/page.txt").read_bytes() == b"text\n"
    assert not _inode_flags(tmp_path / "out/clean") & _FS_TOPDIR_FL
    assert _open_fds() == fds

    abandoned = Staging(tmp_path / "other")
    abandoned.write_document(_kept("s/p.txt", "x"))
    abandoned.abandon()
    assert _open_fds() == fds


def test_a_folder_marked_already_keeps_its_mark(tmp_path: Path) -> None:
    """The mark is taken off only by the call that put it on: a folder the user marked keeps it."""
    from cleaner.outputs import writers

    folder = tmp_path / "marked"
    folder.mkdir()
    unspread = writers.spread_subfolders(folder)
    if unspread is None:
        pytest.skip("this file system keeps no FS_TOPDIR_FL (not ext2/3/4)")
    assert _inode_flags(folder) & writers._FS_TOPDIR_FL
    assert writers.spread_subfolders(folder) is None  # marked already
    unspread()
    assert not _inode_flags(folder) & writers._FS_TOPDIR_FL
    assert writers.inode_flags(folder, set_bits=writers._FS_TOPDIR_FL) is not None
    assert writers.spread_subfolders(folder) is None
    assert _inode_flags(folder) & writers._FS_TOPDIR_FL


def test_folders_under_clean_are_made_once_whatever_the_order(tmp_path: Path) -> None:
    """A top folder made under a random name is renamed to its own (nothing else is left
    in ``clean/``), one made as the parent of a deeper folder first is reused, and a file
    at the top needs no folder."""
    staging = Staging(tmp_path / "out")
    docs = [_kept("a/b/one.html", "one"), _kept("a/two.html", "two"), _kept("top.html", "top"),
            _kept("c/three.txt", "three"), _kept("c/d/e/four.txt", "four"), _kept("f/g.jsonl", "r", "1", True)]
    outputs = [staging.write_document(d)["output"] for d in docs]
    staging.publish()
    clean = tmp_path / "out/clean"
    assert sorted(os.listdir(clean)) == ["a", "c", "f", "top.txt"]
    assert sorted(str(p.relative_to(clean)) for p in clean.rglob("*")) == [
        "a", "a/b", "a/b/one.txt", "a/two.txt", "c", "c/d", "c/d/e", "c/d/e/four.txt", "c/three.txt", "f",
        "f/g.jsonl", "top.txt"]
    for doc, output in zip(docs[:5], outputs[:5], strict=True):
        assert (tmp_path / "out" / output).read_text() == doc.text + "\n"


def test_taking_the_mark_off_clears_only_its_bit_and_holds_no_descriptor(tmp_path: Path) -> None:
    """Between the mark and its removal no descriptor is open (a staging dropped, or one
    whose start failed, leaks none); the removal clears ``T`` alone, keeping a flag set
    meanwhile (``chattr +A``, no atime updates), and does nothing once the folder is gone."""
    from cleaner.outputs import writers

    folder = tmp_path / "marked"
    folder.mkdir()
    fds = _open_fds()
    unspread = writers.spread_subfolders(folder)
    if unspread is None:
        pytest.skip("this file system keeps no FS_TOPDIR_FL (not ext2/3/4)")
    assert _open_fds() == fds
    noatime = 0x00000080  # FS_NOATIME_FL
    assert writers.inode_flags(folder, set_bits=noatime) is not None
    unspread()
    flags = _inode_flags(folder)
    assert flags & noatime and not flags & writers._FS_TOPDIR_FL
    assert _open_fds() == fds

    gone = writers.spread_subfolders(folder)
    assert gone is not None
    folder.rmdir()
    gone()  # the folder removed meanwhile: nothing to take off, nothing raised
    assert writers.inode_flags(folder) is None


def test_the_mark_comes_off_even_when_abandoning_the_writer_fails(tmp_path: Path) -> None:
    """``abandon`` takes the mark off (drops its call) even when stopping the writer's
    threads raised; and a mark that cannot be taken off does not fail a complete run."""
    calls: list[str] = []

    class Failing:
        def abandon(self) -> None:
            raise OSError("disk gone")

    staging = Staging(tmp_path / "out")
    staging._unspread = lambda: calls.append("off")
    staging._files = Failing()
    with pytest.raises(OSError, match="disk gone"):
        staging.abandon()
    assert calls == ["off"] and staging._unspread is None

    def refuse() -> None:
        calls.append("refused")
        raise PermissionError("EPERM")

    staging = Staging(tmp_path / "out")
    staging._unspread = refuse
    staging.write_document(_kept("site/page.html", "text"))
    staging.publish()
    assert calls == ["off", "refused"]
    assert (tmp_path / "out/clean/site/page.txt").read_bytes() == b"text\n"


def test_each_top_folder_is_made_under_a_random_name_and_renamed_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the file system: with the mark on, each folder right under ``clean/`` is made
    as ``.new-*`` and renamed once (no ``makedirs`` after it for the top folder itself), a
    deeper folder is made in place; without the mark, or with shards (no folders), nothing
    is renamed and the mark is not asked for."""
    from cleaner.outputs import writers

    renames: list[tuple[str, str]] = []
    makedirs: list[str] = []
    real_rename, real_makedirs = writers.os.rename, writers.os.makedirs

    def rename(src: str, dst: str) -> None:
        renames.append((os.path.basename(src), os.path.relpath(dst, tmp_path)))
        real_rename(src, dst)

    depth = [0]

    def record_makedirs(name: str, exist_ok: bool = False) -> None:
        if not depth[0]:  # os.makedirs calls itself (this) for the missing parents
            makedirs.append(os.path.relpath(name, tmp_path))
        depth[0] += 1
        try:
            real_makedirs(name, exist_ok=exist_ok)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(writers.os, "rename", rename)
    monkeypatch.setattr(writers.os, "makedirs", record_makedirs)
    asked: list[Path] = []

    def spread(folder: Path) -> Any:
        asked.append(folder)
        return lambda: None

    monkeypatch.setattr(writers, "spread_subfolders", spread)
    docs = [_kept("a/b/one.html", "one"), _kept("a/two.html", "two"), _kept("top.html", "top"),
            _kept("c/three.txt", "three"), _kept("c/d/e/four.txt", "four"), _kept("f/g.jsonl", "r", "1", True)]
    staging = Staging(tmp_path / "out")
    for doc in docs:
        staging.write_document(doc)
    folder = os.path.relpath(staging.clean, tmp_path)
    assert [dst for _, dst in renames] == [f"{folder}/a", f"{folder}/c", f"{folder}/f"]
    assert all(src.startswith(".new-") for src, _ in renames)
    # a/b is made in the top folder a renamed for it; a, asked for next, exists already
    assert makedirs == [f"{folder}/a/b", f"{folder}/a", f"{folder}/c/d/e"]
    staging.publish()
    assert sorted(os.listdir(tmp_path / "out/clean")) == ["a", "c", "f", "top.txt"]

    renames.clear()
    makedirs.clear()
    monkeypatch.setattr(writers, "spread_subfolders", lambda folder: None)
    staging = Staging(tmp_path / "plain")
    for doc in docs:
        staging.write_document(doc)
    assert renames == []
    assert sorted(makedirs) == sorted(f"{os.path.relpath(staging.clean, tmp_path)}/{f}"
                                      for f in ("a/b", "a", "c", "c/d/e", "f"))
    staging.publish()

    asked.clear()
    monkeypatch.setattr(writers, "spread_subfolders", spread)
    sharded = Staging(tmp_path / "shards", output_format="jsonl")
    sharded.write_document(_kept("a/b/one.html", "one"))
    sharded.publish()
    assert asked == [] and renames == []


def test_a_staging_that_fails_to_start_leaves_no_folder_and_frees_the_lock(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the staging starts (here its shard writer) raises, and leaves neither
    a ``.staging-*`` folder nor the output folder locked: the next run starts."""
    from cleaner.outputs import writers

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    out = tmp_path / "out"
    with monkeypatch.context() as m:
        m.setattr(writers, "shards_for", broken)
        with pytest.raises(OSError, match="No space left"):
            Staging(out)
    assert [p.name for p in out.iterdir()] == [".cleaner.lock"]
    again = Staging(out)  # the lock was released: no OutputBusy
    again.abandon()


@pytest.mark.parametrize("batch", [1, 2, 3, 256])
def test_the_manifest_is_written_in_batches_of_lines_and_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               batch: int) -> None:
    """The write step joins the manifest's lines ``MANIFEST_LINES`` at a time: every
    record once, in order, one a line, whatever the batch and the remainder; the clean
    files are the texts as UTF-8 (from the bytes the final pickle carried)."""
    from cleaner import steps

    monkeypatch.setattr(steps, "MANIFEST_LINES", batch)
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "s").mkdir(parents=True)
    topics = ["harbour", "railway", "library", "café — théâtre", "museum"]
    texts = {f"s/p{k}.txt": f"The new {topic} opened this week after four years of works {k}.\n"
             for k, topic in enumerate(topics)}
    for path, page in texts.items():
        (raw / path).write_text(page, encoding="utf-8")
    (raw / "s" / "empty.txt").write_text("", encoding="utf-8")
    run_cli("clean", str(raw), "-o", str(out), "-q")
    text = (out / "manifest.jsonl").read_text(encoding="utf-8")
    assert text.endswith("}\n") and "\n\n" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["path"] for r in records] == sorted(f"s/{p.name}" for p in (raw / "s").iterdir())
    for r in records:
        if r["status"] == "kept":
            written = (out / r["output"]).read_bytes()
            assert written == texts[r["path"]].encode("utf-8") and len(texts[r["path"]]) - 1 == r["chars_out"]
    assert sum(r["status"] == "kept" for r in records) == len(topics)
