"""Corpus shards (``--output-format jsonl|parquet``): the rows are exactly the kept documents
of a ``files`` run, in manifest order; shards respect the size cap; parquet holds the jsonl
rows; the manifest's ``output``/``row`` find each document; ``files`` output is unchanged;
parquet without pyarrow is a usage error before the run."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cleaner.outputs.writers import JsonlShards, ParquetShards, parse_size

from .conftest import ROOT, read_manifest, run_cli, same_tree
from .test_index import mixed_corpus

CAP = 1200  # bytes: two blog stories or four records fit in a shard, a seed page does not


def corpus(raw: Path, root: Path) -> Path:
    """The mixed corpus (seeds, a republished mirror, a blog with a truncated copy: real
    duplicates) plus a JSONL container whose records carry ids and URLs (one duplicated)."""
    mixed_corpus(raw, root / "seeds")
    records = [{"id": f"r{i}", "url": f"http://harbour.example/{i}",
                "text": f"Record {i}: the harbour board met on Monday to discuss part {i} of the plans for a new "
                        f"pier, and agreed to publish the costs of item {i} before the summer."} for i in range(4)]
    records.append({"id": "r-copy", "url": "http://harbour.example/copy", "text": records[1]["text"]})
    (raw / "site").mkdir()
    (raw / "site" / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return raw


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, root: Path) -> dict[str, Path]:
    """One corpus cleaned in every output form (each run once for the module's tests)."""
    base = tmp_path_factory.mktemp("shards")
    raw = corpus(base / "raw", root)
    forms = {
        "default": [],
        "files": ["--output-format", "files"],
        "jsonl": ["--output-format", "jsonl"],
        "parquet": ["--output-format", "parquet"],
        "jsonl-small": ["--output-format", "jsonl", "--shard-size", str(CAP)],
        "gz-small": ["--output-format", "jsonl", "--shard-size", str(CAP), "--compress"],
        "parquet-small": ["--output-format", "parquet", "--shard-size", str(CAP)],
    }
    out = {"raw": raw}
    for name, args in forms.items():
        out[name] = base / name
        run_cli("clean", raw, "-o", out[name], "--workers", "1", *args)
    return out


def shards(out: Path) -> list[Path]:
    return sorted((out / "clean").iterdir())


def jsonl_rows(path: Path) -> list[dict]:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def rows_of(out: Path) -> list[list[dict]]:
    """The rows of each shard of a run, shard by shard."""
    return [parquet_rows(p) if p.suffix == ".parquet" else jsonl_rows(p) for p in shards(out)]


def files_texts(out: Path) -> dict[tuple[str, str | None], str]:
    """Each kept document's text in a ``files`` run, by manifest key: a clean file's content,
    or the ``text`` of a container's row."""
    texts = {}
    for rec in read_manifest(out):
        if rec["status"] != "kept":
            continue
        target = out / rec["output"]
        if rec["id"] is None:
            texts[(rec["path"], None)] = target.read_text(encoding="utf-8")
        else:
            match = [r for r in jsonl_rows(target) if r["id"] == rec["id"]]
            assert len(match) == 1, rec
            texts[(rec["path"], rec["id"])] = match[0]["text"] + "\n"
    return texts


def without_location(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("output", "row")} for r in records]


def test_jsonl_rows_are_the_kept_documents_in_manifest_order(runs: dict[str, Path]) -> None:
    manifest = read_manifest(runs["jsonl"])
    kept = [r for r in manifest if r["status"] == "kept"]
    assert any(r["status"] == "duplicate" for r in manifest), "the corpus really has duplicates to leave out"
    assert any(r["status"] == "duplicate" and r["id"] == "r-copy" for r in manifest)
    # the same fates as the files run: only where the texts went differs
    assert without_location(manifest) == without_location(read_manifest(runs["files"]))

    assert [p.name for p in shards(runs["jsonl"])] == ["part-00000.jsonl"]  # the default cap: one shard
    rows = [row for shard in rows_of(runs["jsonl"]) for row in shard]
    assert [(r["path"], r["id"]) for r in rows] == [(r["path"], r["id"]) for r in kept]
    assert [r["url"] for r in rows] == [r.get("url") for r in kept]
    assert any(r["url"] for r in rows) and any(r["id"] is None for r in rows)
    texts = files_texts(runs["files"])
    assert len(texts) == len(rows)
    for row in rows:
        assert row["text"] + "\n" == texts[(row["path"], row["id"])], row["path"]
        assert set(row) == {"path", "id", "url", "text"}


def test_small_cap_makes_several_shards_each_within_it(runs: dict[str, Path]) -> None:
    paths = shards(runs["jsonl-small"])
    per_shard = rows_of(runs["jsonl-small"])
    assert len(paths) >= 4 and [p.name for p in paths] == [f"part-{i:05d}.jsonl" for i in range(len(paths))]
    # splitting changes where rows go, not what they are or their order
    assert [r for shard in per_shard for r in shard] == rows_of(runs["jsonl"])[0]
    sizes = [p.stat().st_size for p in paths]
    assert any(len(rows) > 1 for rows in per_shard), "some shards hold several documents"
    assert any(size > CAP for size in sizes), "the corpus has a document larger than the cap"
    for path, size, rows in zip(paths, sizes, per_shard, strict=True):
        assert size <= CAP or len(rows) == 1, (path.name, size, len(rows))
    # and a shard ends only when the next row would not fit (no needlessly small shards):
    # exactly the greedy cut of the one-shard run's lines
    expected: list[int] = []
    size = CAP + 1
    for line in shards(runs["jsonl"])[0].read_bytes().splitlines(keepends=True):
        if size + len(line) > CAP:
            expected.append(0)
            size = 0
        expected[-1] += 1
        size += len(line)
    assert [len(rows) for rows in per_shard] == expected


def test_compressed_shards_hold_the_same_bytes(runs: dict[str, Path]) -> None:
    plain, packed = shards(runs["jsonl-small"]), shards(runs["gz-small"])
    assert [p.name for p in packed] == [p.name + ".gz" for p in plain]
    for a, b in zip(plain, packed, strict=True):
        assert gzip.decompress(b.read_bytes()) == a.read_bytes()
        assert b.read_bytes()[4:8] == b"\0\0\0\0", "no timestamp in the gzip header: reruns are byte-identical"
    manifest = read_manifest(runs["gz-small"])
    assert all(r["output"].endswith(".jsonl.gz") for r in manifest if r["status"] == "kept")


def test_parquet_rows_equal_jsonl_rows(runs: dict[str, Path]) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    for jsonl, parquet in (("jsonl", "parquet"), ("jsonl-small", "parquet-small")):
        names = [p.name for p in shards(runs[parquet])]
        assert names == [p.name.replace(".jsonl", ".parquet") for p in shards(runs[jsonl])], "same shard cuts"
        assert rows_of(runs[parquet]) == rows_of(runs[jsonl])
    schema = pq.read_schema(shards(runs["parquet"])[0])
    assert schema.names == ["path", "id", "url", "text"]
    assert all(schema.field(n).type == pa.string() for n in schema.names)
    assert not schema.field("text").nullable and schema.field("id").nullable
    assert without_location(read_manifest(runs["parquet"])) == without_location(read_manifest(runs["jsonl"]))


def test_parquet_row_groups_are_written_as_the_run_goes(tmp_path: Path, runs: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer buffers a row group, not a shard: with groups of 3 rows a shard of 15
    rows has 5 groups, and the rows are the same."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    monkeypatch.setattr(ParquetShards, "GROUP_ROWS", 3)
    run_cli("clean", runs["raw"], "-o", tmp_path / "out", "--workers", "1", "--output-format", "parquet")
    [shard] = shards(tmp_path / "out")
    meta = pq.ParquetFile(shard).metadata
    assert meta.num_rows == len(rows_of(runs["jsonl"])[0]) > 6
    assert meta.num_row_groups == -(-meta.num_rows // 3)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups - 1)] == [3] * (meta.num_row_groups - 1)
    assert rows_of(tmp_path / "out") == rows_of(runs["jsonl"])


@pytest.mark.parametrize("form", ["jsonl", "jsonl-small", "gz-small", "parquet", "parquet-small"])
def test_manifest_output_and_row_find_the_document(runs: dict[str, Path], form: str) -> None:
    if "parquet" in form:
        pytest.importorskip("pyarrow")
    out = runs[form]
    cache: dict[str, list[dict]] = {}
    seen = set()
    for rec in read_manifest(out):
        if rec["status"] != "kept":
            assert "output" not in rec and "row" not in rec
            continue
        name = rec["output"]
        assert name.startswith("clean/part-")
        if name not in cache:
            cache[name] = rows_of(out)[shards(out).index(out / name)]
        row = cache[name][rec["row"]]
        assert (row["path"], row["id"]) == (rec["path"], rec["id"])
        assert len(row["text"]) == rec["chars_out"]
        seen.add((name, rec["row"]))
    assert seen == {(f"clean/{p.name}", i) for p in shards(out) for i in range(len(rows_of(out)[shards(out).index(p)]))}
    assert len(cache) == len(shards(out))


def test_files_output_is_unchanged(runs: dict[str, Path]) -> None:
    a, b = runs["default"], runs["files"]
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert same_tree(a / "clean", b / "clean")
    assert not list((a / "clean").rglob("part-*"))
    kept = [r for r in read_manifest(a) if r["status"] == "kept"]
    assert kept and all("row" not in r for r in kept)
    assert (a / "clean" / "blog" / "comet.txt").is_file() and (a / "clean" / "site" / "records.jsonl").is_file()
    assert {r["output"] for r in kept} >= {"clean/blog/comet.txt", "clean/site/records.jsonl"}


def test_shards_replace_a_previous_runs_clean_folder(tmp_path: Path, runs: dict[str, Path]) -> None:
    out = tmp_path / "out"
    run_cli("clean", runs["raw"], "-o", out, "--workers", "1", "--no-dedup")
    assert (out / "clean" / "blog" / "comet.txt").exists()
    run_cli("clean", runs["raw"], "-o", out, "--workers", "1", "--no-dedup", "--output-format", "jsonl")
    assert sorted(p.name for p in (out / "clean").iterdir()) == ["part-00000.jsonl"]
    assert not list(out.glob(".staging-*")) and not list(out.glob(".old-*"))
    run_cli("clean", runs["raw"], "-o", out, "--workers", "1", "--no-dedup", "--output-format", "jsonl",
            "--shard-size", str(CAP))
    assert len(list((out / "clean").iterdir())) >= 4


def test_parquet_without_pyarrow_fails_before_the_run(tmp_path: Path, runs: dict[str, Path]) -> None:
    out = tmp_path / "out"
    code = "import sys; sys.modules['pyarrow'] = None; from cleaner.cli import main; main(prog_name='cleaner')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, "clean", str(runs["raw"]), "-o", str(out),
                           "--output-format", "parquet"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cleaner: error: --output-format parquet needs pyarrow"), lines
    assert "pip install 'scrape-cleaner[parquet]'" in lines[0]
    assert not out.exists(), "nothing was written"
    # the other formats do not need pyarrow
    proc = subprocess.run([sys.executable, "-c", code, "clean", str(runs["raw"]), "-o", str(out),
                           "--output-format", "jsonl", "--workers", "1", "-q"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "clean" / "part-00000.jsonl").read_bytes() == shards(runs["jsonl"])[0].read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--compress"], "--compress applies to --output-format jsonl"),
    (["--output-format", "parquet", "--compress"], "--compress applies to --output-format jsonl"),
    (["--shard-size", "1MB"], "--shard-size applies to --output-format jsonl or parquet"),
    (["--output-format", "jsonl", "--shard-size", "12XB"], "not a size"),
    (["--output-format", "jsonl", "--shard-size", "0"], "at least 1 byte"),
])
def test_option_misuse_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("The committee met on Tuesday to discuss the budget.\n", encoding="utf-8")
    res = run_cli("clean", raw, "-o", tmp_path / "out", *args, expect=2)
    assert message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()


def test_cap_is_inclusive_and_a_large_row_gets_its_own_shard(tmp_path: Path) -> None:
    """Rows of exactly known sizes: a shard fills up to the cap inclusive, the next row
    opens a new one, an oversized row is alone, and the row numbers restart per shard."""
    def row(n: int) -> dict:
        base = len(json.dumps({"path": "p", "id": None, "url": None, "text": ""}) + "\n")
        return {"path": "p", "id": None, "url": None, "text": "x" * (n - base)}

    writer = JsonlShards(tmp_path, shard_bytes=300)
    got = [writer.add(row(n)) for n in (180, 120, 60, 500, 299, 60)]
    writer.close()
    assert got == [("part-00000.jsonl", 0), ("part-00000.jsonl", 1), ("part-00001.jsonl", 0),
                   ("part-00002.jsonl", 0), ("part-00003.jsonl", 0), ("part-00004.jsonl", 0)]
    assert [p.stat().st_size for p in sorted(tmp_path.iterdir())] == [300, 60, 500, 299, 60]


def test_parse_size() -> None:
    assert parse_size("256MB") == 256_000_000 == parse_size("256m") == parse_size(" 256 mb ")
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1.5G") == 1_500_000_000
    assert parse_size("4096") == 4096 == parse_size("4096B") == parse_size("4KiB")
    for bad in ("", "MB", "-1", "12XB", "1 2", "0", "0.1"):
        with pytest.raises(ValueError):
            parse_size(bad)
