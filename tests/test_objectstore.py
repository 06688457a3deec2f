"""Object-store locations: a run reading s3://… (and writing s3://…) gives exactly the
outputs of a run on a local copy of the same tree. The store is moto's S3 server, a real
HTTP endpoint on a loopback port, reached through pyarrow's S3FileSystem as in production."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from cleaner.sources import readers as sources
from cleaner.sources import storage

from .conftest import _free_port, assert_same_run, read_manifest, run_cli, same_tree
from .test_bad_inputs import GOOD, _warc_record
from .test_index import mixed_corpus

pafs = pytest.importorskip("pyarrow.fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "scrapes"


class Store:
    """One moto S3 server, and the URIs a user would type for it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.endpoint = f"127.0.0.1:{self.port}"

    def uri(self, path: str) -> str:
        return f"s3://{path}?endpoint_override={self.endpoint}&scheme=http"

    def fs(self):  # type: ignore[no-untyped-def]
        return pafs.S3FileSystem(endpoint_override=self.endpoint, scheme="http", allow_bucket_creation=True)

    def upload(self, local: Path, path: str) -> None:
        pafs.copy_files(str(local), path, destination_filesystem=self.fs())

    def download(self, path: str, local: Path) -> Path:
        pafs.copy_files(path, str(local), source_filesystem=self.fs())
        return local


@pytest.fixture(scope="module")
def s3_server():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    store = Store()
    store.server.start()
    yield store
    store.server.stop()


@pytest.fixture
def store(s3_server: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    # moto accepts any key; what matters is that none comes from the machine, and that the
    # SDK never asks an EC2 metadata service (a non-loopback address) for one
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fs = s3_server.fs()
    if fs.get_file_info(BUCKET).type == pafs.FileType.NotFound:
        fs.create_dir(BUCKET)
    fs.delete_dir_contents(BUCKET)
    return s3_server


def corpus(raw: Path, root: Path) -> Path:
    """The Ray test's mixed corpus (seeds, a republished mirror, a blog with a truncated
    copy: real duplicates) plus one of each other input kind, a bad file, a file at the
    top next to folders (walk order: a folder's files before its subfolders) and nested
    folders."""
    mixed_corpus(raw, root / "seeds")
    page = f"<html><head><title>t</title></head><body><nav>Home | News</nav><article><p>{GOOD}</p>" \
           "<p>The mayor said the vote would take place next month.</p></article></body></html>"
    (raw / "site" / "pages").mkdir(parents=True)
    (raw / "site" / "pages" / "page.html").write_text(page, encoding="utf-8")
    (raw / "site" / "records.jsonl").write_text("\n".join([
        json.dumps({"id": "r1", "url": "http://records.example/1", "text": GOOD.replace("budget", "harbour")}),
        "{not json",
    ]) + "\n", encoding="utf-8")
    (raw / "site" / "crawl.warc.gz").write_bytes(
        b"".join(gzip.compress(_warc_record(f"http://w.example/{i}", page.replace("mayor", f"mayor {i}")))
                 for i in range(2)))
    (raw / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (raw / "cut.jsonl.gz").write_bytes(gzip.compress(json.dumps({"text": GOOD}).encode() * 20)[:-30])
    (raw / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return raw


@pytest.fixture
def local_run(tmp_path: Path, root: Path) -> tuple[Path, Path]:
    raw = corpus(tmp_path / "raw", root)
    out = tmp_path / "local"
    run_cli("clean", raw, "-o", out, "--workers", "2", expect=1)  # exit 1: the bad files
    return raw, out


def test_walk_order_and_ids_match_local(tmp_path: Path, root: Path, store: Store) -> None:
    raw = corpus(tmp_path / "raw", root)
    store.upload(raw, f"{BUCKET}/raw")
    local = [(i.rel, i.kind, i.note) for i in sources.walk(raw)]
    remote = list(sources.walk(store.uri(f"{BUCKET}/raw")))
    assert [(i.rel, i.kind, i.note) for i in remote] == local
    assert local[0][0] == "cut.jsonl.gz" and local.index(("image.txt", "text", "")) < local.index(
        ("blog/comet.txt", "text", "")), "a folder's files come before its subfolders"
    assert all(i.size == (raw / i.rel).stat().st_size for i in remote)


def test_s3_input_equals_local_copy(tmp_path: Path, store: Store, local_run) -> None:
    raw, local = local_run
    store.upload(raw, f"{BUCKET}/raw")
    res = run_cli("clean", store.uri(f"{BUCKET}/raw"), "-o", tmp_path / "s3in", "--workers", "2", expect=1)
    assert_same_run(local, tmp_path / "s3in")
    m = {(r["path"], r["id"]): r for r in read_manifest(tmp_path / "s3in")}
    # the bad object is reported like the bad local file: in the manifest and on stderr
    assert m[("image.txt", None)]["status"] == "error" and "PNG" in m[("image.txt", None)]["reason"]
    assert "truncated" in m[("cut.jsonl.gz", None)]["reason"]
    assert m[("logo.png", None)]["reason"] == "unsupported file type"
    warc = [m[k] for k in sorted(m) if k[0] == "site/crawl.warc.gz"]  # read through a buffered stream
    assert len(warc) == 2 and all(r["status"] in ("kept", "duplicate") and r["chars_in"] > 0 for r in warc)
    assert any("image.txt" in ln and "PNG" in ln for ln in res.stderr.splitlines()), res.stderr
    summary = [json.loads((d / "summary.json").read_text()) for d in (local, tmp_path / "s3in")]
    assert summary[0]["bytes_in"] == summary[1]["bytes_in"] > 0


def test_s3_output_is_uploaded_manifest_last(tmp_path: Path, store: Store, local_run,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    raw, local = local_run
    # the run stages under a temporary folder of this test's own, so another run's staging
    # folder in the shared /tmp cannot fail the last assertion
    import tempfile

    own_tmp = tmp_path / "tmpdir"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    out = f"{BUCKET}/runs/out"
    # a previous run's files: the new clean/ replaces them, as a local OUT/clean is replaced
    stale = tmp_path / "stale"
    (stale / "clean").mkdir(parents=True)
    (stale / "clean" / "gone.txt").write_text("from an earlier run\n")
    (stale / "manifest.jsonl").write_text("{}\n")
    store.upload(stale, out)
    res = run_cli("clean", raw, "-o", store.uri(out), "--workers", "2", expect=1)
    assert "runs/out" in res.stderr and "endpoint" in res.stderr  # the summary names the URI
    got = store.download(out, tmp_path / "downloaded")
    assert_same_run(local, got)
    assert not (got / "clean" / "gone.txt").exists()
    assert (got / "summary.json").exists() and (got / "report.html").exists()
    assert not list(got.glob(".*")), "no lock or staging folder in the store"
    assert tempfile.gettempdir() == str(own_tmp)
    assert not list(own_tmp.glob("cleaner-staging-*")), "local staging removed"


def test_upload_order(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleaner.outputs import writers as writer
    copied: list[str] = []
    real = pafs.copy_files

    def spy(src, dst, **kw):  # type: ignore[no-untyped-def]
        copied.append(dst.rsplit("/", 1)[1])
        return real(src, dst, **kw)

    monkeypatch.setattr(pafs, "copy_files", spy)
    staging = writer.open_staging(store.uri(f"{BUCKET}/o"))
    assert isinstance(staging, writer.UploadStaging)
    staging.write_jsonl("manifest.jsonl", [{"path": "a.txt"}])
    staging.write_json("summary.json", {})
    staging.publish()
    assert copied == ["clean", "summary.json", "manifest.jsonl"]


def test_s3_output_inside_s3_input_is_not_read(tmp_path: Path, store: Store) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text(GOOD, encoding="utf-8")
    store.upload(raw, f"{BUCKET}/raw")
    for _ in range(2):  # the second run must not read the first run's output
        run_cli("clean", store.uri(f"{BUCKET}/raw"), "-o", store.uri(f"{BUCKET}/raw/out"), "--no-dedup")
    got = store.download(f"{BUCKET}/raw/out", tmp_path / "got")
    assert [r["path"] for r in read_manifest(got)] == ["good.txt"]
    assert (got / "clean" / "good.txt").read_text(encoding="utf-8").startswith("The committee met")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_s3_in_and_out_equals_local(tmp_path: Path, store: Store, local_run, ray_local) -> None:
    pytest.importorskip("ray")
    raw, local = local_run
    store.upload(raw, f"{BUCKET}/raw")
    run_cli("clean", store.uri(f"{BUCKET}/raw"), "-o", store.uri(f"{BUCKET}/ray-out"),
            "--engine", "ray", "--workers", "2", expect=1)
    assert_same_run(local, store.download(f"{BUCKET}/ray-out", tmp_path / "ray"))


@pytest.mark.parametrize("where", ["input", "output"])
def test_missing_bucket_is_a_one_line_error(tmp_path: Path, store: Store, where: str) -> None:
    uri = store.uri("no-such-bucket/raw")
    args = [uri, "-o", tmp_path / "out"] if where == "input" else [tmp_path, "-o", uri]
    res = run_cli("clean", *args, expect=2)
    lines = res.stderr.strip().splitlines()
    assert lines == [f"cleaner: error: {uri}: no such bucket"], res.stderr


def test_rejected_credentials_are_a_one_line_error(tmp_path: Path, store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto now checks the key
    for args in ([store.uri(f"{BUCKET}/raw"), "-o", tmp_path / "out"], [tmp_path, "-o", store.uri(f"{BUCKET}/o")]):
        res = run_cli("clean", *args, expect=2)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith(f"cleaner: error: s3://{BUCKET}/") and "ACCESS_DENIED" in lines[0]


def test_missing_prefix_and_bad_scheme(store: Store, tmp_path: Path) -> None:
    res = run_cli("dupes", store.uri(f"{BUCKET}/nothing-here"), expect=2)
    assert res.stderr.strip().splitlines() == [
        f"cleaner: error: {store.uri(f'{BUCKET}/nothing-here')}: no such directory (no object under this prefix)"]
    res = run_cli("clean", "nosuchscheme://x/y", "-o", tmp_path / "o", expect=2)
    assert len(res.stderr.strip().splitlines()) == 1 and "nosuchscheme://x/y" in res.stderr


def test_object_vanishing_during_the_run(tmp_path: Path, store: Store) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("gone.txt", "stays.txt"):
        (raw / name).write_text(GOOD, encoding="utf-8")
    store.upload(raw, f"{BUCKET}/raw")
    items = list(sources.walk(store.uri(f"{BUCKET}/raw")))
    store.fs().delete_file(f"{BUCKET}/raw/gone.txt")  # between listing and reading
    docs = {d.path: d for it in items for d in sources.read(it)}
    assert (docs["gone.txt"].status, docs["gone.txt"].reason) == ("error", "vanished during the run")
    assert docs["stays.txt"].status == "kept" and docs["stays.txt"].text == GOOD
    assert docs["stays.txt"].date is not None  # the object's time, for --keep newest


def test_uri_helpers(tmp_path: Path) -> None:
    assert storage.is_uri("s3://b/p") and storage.is_uri("gs://b") and not storage.is_uri("C:/x")
    assert not storage.is_uri(Path("s3://b"))  # a Path has already lost the '//'
    assert storage.location(f"file://{tmp_path}") == tmp_path
    assert storage.display("s3://AKIA:secret@bucket/p?region=x") == "s3://bucket/p?region=x"


def test_dupes_reads_s3(tmp_path: Path, store: Store, root: Path) -> None:
    raw = corpus(tmp_path / "raw", root)
    store.upload(raw, f"{BUCKET}/raw")
    remote = json.loads(run_cli("dupes", store.uri(f"{BUCKET}/raw"), "--format", "json", "--workers", "1",
                                expect=1).stdout)
    assert remote == json.loads(run_cli("dupes", raw, "--format", "json", "--workers", "1", expect=1).stdout)
    assert remote["documents"], "there are duplicates to agree on"


def test_same_tree_helper_sees_differences(tmp_path: Path) -> None:
    """The comparisons above would pass vacuously if same_tree ignored contents."""
    for d, text in (("a", "x"), ("b", "y")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "f.txt").write_text(text)
    assert not same_tree(tmp_path / "a", tmp_path / "b")


def test_s3_output_shards(tmp_path: Path, store: Store, root: Path) -> None:
    """Shards are files of the staged clean/ like any other: uploaded as they were written
    locally, replacing a previous run's clean files."""
    raw = mixed_corpus(tmp_path / "raw", root / "seeds")
    shard = ["--output-format", "jsonl", "--compress", "--shard-size", "3000", "--workers", "2"]
    run_cli("clean", raw, "-o", tmp_path / "local", *shard)
    out = f"{BUCKET}/shards"
    run_cli("clean", raw, "-o", store.uri(out), "--workers", "2")  # a files run first: its clean/ goes
    run_cli("clean", raw, "-o", store.uri(out), *shard)
    got = store.download(out, tmp_path / "downloaded")
    assert_same_run(tmp_path / "local", got)
    names = sorted(p.name for p in (got / "clean").iterdir())
    assert len(names) > 1 and all(n.startswith("part-") and n.endswith(".jsonl.gz") for n in names), names
    assert {r["output"] for r in read_manifest(got) if r["status"] == "kept"} == {f"clean/{n}" for n in names}


def test_s3_containers_equal_local_copy(tmp_path: Path, store: Store) -> None:
    """WET, zstd JSONL and Parquet objects (a Parquet file is read with ranged requests,
    the others as buffered streams) give the outputs of the same files on disk."""
    from .test_formats import big_containers

    raw = big_containers(tmp_path / "raw")
    store.upload(raw, f"{BUCKET}/big")
    run_cli("clean", raw, "-o", tmp_path / "local", "--workers", "2")
    run_cli("clean", store.uri(f"{BUCKET}/big"), "-o", tmp_path / "remote", "--workers", "2")
    assert (tmp_path / "local" / "manifest.jsonl").read_bytes() == (tmp_path / "remote" / "manifest.jsonl").read_bytes()
    assert same_tree(tmp_path / "local" / "clean", tmp_path / "remote" / "clean")
    read = {r["path"] for r in read_manifest(tmp_path / "remote") if r["status"] in ("kept", "duplicate")}
    assert {"crawl.warc.wet.gz", "data.jsonl.zst", "data.parquet"} <= read  # the parquet rows copy the jsonl
