"""Writer: the end of the pipeline. Clean files, the manifest, atomically.

A run builds its whole output in a staging folder inside ``OUT`` and swaps each finished
artefact into place with ``os.replace``; so a run killed at any instant leaves either the
previous run's files or the new ones under their final names, never a half-written file,
and a rerun produces exactly what an uninterrupted run would.

An object store (``OUT`` = ``s3://…``, ``gs://…``) has no rename of a folder, so there the
run is staged in a local folder under ``$TMPDIR`` exactly as above and then uploaded
(:class:`UploadStaging`): every artefact first, ``manifest.jsonl`` last, so a manifest in
the store means a complete run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from .document import Document
from .sources import LocationError, bucket_exists, display, error_line, filesystem, location

CONTAINER_KINDS = ("jsonl", "warc")


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file so that readers see the old content or the new, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def output_name(rel: str, container: bool) -> str:
    """``a/b/page.html`` -> ``a/b/page.txt``; a container ``a/crawl.warc.gz`` -> ``a/crawl.jsonl``.

    The extension (and a ``.gz`` before it) is replaced; the relative path is kept as is,
    so outputs mirror the scrape's layout. Names are relative and POSIX by construction
    (they come from walking the input), so nothing can land outside ``OUT/clean``.
    """
    p = PurePosixPath(rel)
    name = p.name
    lower = name.lower()
    for ext in (".warc.gz", ".jsonl.gz", ".xhtml", ".html", ".htm", ".text", ".txt", ".md", ".warc", ".jsonl"):
        if lower.endswith(ext):
            name = name[: -len(ext)]
            break
    name += ".jsonl" if container else ".txt"
    out = str(p.parent / name) if str(p.parent) != "." else name
    parts = PurePosixPath(out).parts
    if PurePosixPath(out).is_absolute() or ".." in parts:
        raise ValueError(f"refusing output name outside the output folder: {out!r}")
    return out


class OutputBusy(RuntimeError):
    """Another run holds the output folder."""


class OutputNames:
    """Assigns each input file its output name, resolving collisions deterministically
    (``page.html`` and ``page.txt`` in one folder: the second becomes ``page.html.txt``)."""

    def __init__(self) -> None:
        self.by_input: dict[str, str] = {}
        self.used: set[str] = set()

    def get(self, rel: str, container: bool) -> str:
        if rel not in self.by_input:
            name = output_name(rel, container)
            if name.casefold() in self.used:
                name = rel + (".jsonl" if container else ".txt")
            self.used.add(name.casefold())
            self.by_input[rel] = name
        return self.by_input[rel]


class Staging:
    """The output of one run, built in ``OUT/.staging-*`` and published at the end."""

    ARTEFACTS = ("clean", "manifest.jsonl", "duplicates.json", "report.html", "summary.json")

    def __init__(self, out: Path):
        import fcntl

        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        # One run per output folder: a second concurrent run would publish over the first.
        self._lock = open(self.out / ".cleaner.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutputBusy(f"{self.out}: another cleaner run is writing to this output folder") from None
        for stale in self.out.glob(".staging-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.out))
        self.clean = self.dir / "clean"
        self.clean.mkdir()
        self.names = OutputNames()
        self._open: dict[str, Any] = {}

    def write_document(self, doc: Document) -> str:
        """Write a kept document; returns its output path relative to ``OUT``."""
        container = doc.container
        name = self.names.get(doc.path, container)
        target = self.clean / name
        if container:
            fh = self._open.get(name)
            if fh is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                fh = self._open[name] = open(target, "w", encoding="utf-8")
            fh.write(json.dumps({"id": doc.id, "url": doc.url, "text": doc.text}, ensure_ascii=False) + "\n")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8") as f:
                f.write(doc.text + "\n")
        return f"clean/{name}"

    def write_json(self, name: str, obj: Any) -> None:
        with open(self.dir / name, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")

    def open_text(self, name: str) -> TextIO:
        """A file in the staging folder to write as the run goes (published with the rest)."""
        return open(self.dir / name, "w", encoding="utf-8")

    def write_jsonl(self, name: str, rows: Iterable[dict[str, Any]]) -> None:
        with open(self.dir / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def write_text(self, name: str, text: str) -> None:
        (self.dir / name).write_text(text, encoding="utf-8")

    def publish(self) -> None:
        """Swap every finished artefact into ``OUT`` (each with one rename)."""
        for fh in self._open.values():
            fh.close()
        self._open.clear()
        for name in self.ARTEFACTS:
            src = self.dir / name
            if not src.exists():
                continue
            dst = self.out / name
            if src.is_dir():
                old = self.out / f".old-{name}"
                shutil.rmtree(old, ignore_errors=True)
                if dst.exists():
                    os.replace(dst, old)
                os.replace(src, dst)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(src, dst)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.close()

    def abandon(self) -> None:
        for fh in self._open.values():
            fh.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.close()


class UploadStaging(Staging):
    """The output of one run for an object-store ``OUT``: staged locally, then uploaded.

    Publication, in this order: the old ``manifest.jsonl`` is deleted (from then on the
    store holds no complete run), the old ``clean/`` is deleted, the new ``clean/``,
    ``duplicates.json``, ``report.html`` and ``summary.json`` are uploaded, and the new
    ``manifest.jsonl`` is uploaded last. Each object is replaced whole, but there is no
    atomic swap of the folder: a reader must wait for the manifest, and a run killed
    during the upload leaves a prefix without one (a rerun completes it). Nothing in the
    store says that a run is writing, so two runs into one ``OUT`` are not refused here.
    """

    MARKER = "manifest.jsonl"

    def __init__(self, uri: str):
        from pyarrow import fs as pafs

        self.uri = uri
        self.fs, self.base = filesystem(uri)
        try:  # fail before the run, not after it: a typo in the bucket is the usual mistake
            if not bucket_exists(self.fs, self.base):
                raise LocationError(f"{display(uri)}: no such bucket")
            if self.fs.get_file_info(self.base).type == pafs.FileType.File:
                raise LocationError(f"{display(uri)}: not a directory")
            if self.fs.type_name not in ("s3", "gcs"):  # stores with real folders
                self.fs.create_dir(self.base, recursive=True)
        except OSError as exc:
            raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
        self.dir = Path(tempfile.mkdtemp(prefix="cleaner-staging-"))
        self.clean = self.dir / "clean"
        self.clean.mkdir()
        self.names = OutputNames()
        self._open: dict[str, Any] = {}

    def publish(self) -> None:
        from pyarrow import fs as pafs

        for fh in self._open.values():
            fh.close()
        self._open.clear()
        local = pafs.LocalFileSystem()
        names = [n for n in self.ARTEFACTS if n != self.MARKER and (self.dir / n).exists()]
        try:
            if self._exists(self.MARKER):
                self.fs.delete_file(self._dst(self.MARKER))
            for name in names:
                src = self.dir / name
                if src.is_dir():
                    self.fs.delete_dir_contents(self._dst(name), missing_dir_ok=True)
                pafs.copy_files(str(src), self._dst(name), source_filesystem=local,
                                destination_filesystem=self.fs)
            if (self.dir / self.MARKER).exists():
                pafs.copy_files(str(self.dir / self.MARKER), self._dst(self.MARKER),
                                source_filesystem=local, destination_filesystem=self.fs)
        except OSError as exc:
            raise LocationError(f"{display(self.uri)}: upload failed, the run is not published "
                                f"(no {self.MARKER}): {error_line(exc)}") from exc
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def abandon(self) -> None:
        for fh in self._open.values():
            fh.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _dst(self, name: str) -> str:
        return f"{self.base}/{name}" if self.base else name

    def _exists(self, name: str) -> bool:
        from pyarrow import fs as pafs

        return bool(self.fs.get_file_info(self._dst(name)).type != pafs.FileType.NotFound)


def open_staging(out: str | os.PathLike[str]) -> Staging:
    """The staging for ``OUT``: a folder inside it, or for a URI one under ``$TMPDIR``
    that is uploaded at the end."""
    where = location(out)
    return UploadStaging(where) if isinstance(where, str) else Staging(where)
