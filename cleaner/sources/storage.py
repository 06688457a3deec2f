"""Where a scrape is read from and a corpus written to: local paths, or object-store URIs
(``s3://``, ``gs://``, anything ``pyarrow.fs.FileSystem.from_uri`` accepts), named the same way
by the readers (sources) and the writers (outputs), with one-line errors that name the location
and never its credentials."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


class LocationError(Exception):
    """An input or output location that cannot be used at all (no such bucket, no access,
    an unknown scheme); its message is one line naming the location."""


def is_uri(spec: str | os.PathLike[str]) -> bool:
    """True for ``scheme://…`` (a scheme of two letters or more, so ``C:/x`` stays a path).
    Only strings can be URIs: a :class:`~pathlib.Path` has already folded ``//`` into ``/``."""
    return isinstance(spec, str) and _URI.match(spec) is not None


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def location(spec: str | os.PathLike[str]) -> Path | str:
    """A command-line location as the pipeline uses it: a :class:`Path`, or a URI string.

    ``file://`` URIs become paths, so they get the local reader's symlink handling and the
    local writer's lock and atomic renames rather than pyarrow's generic local filesystem."""
    if is_uri(spec):
        parts = urlsplit(str(spec))
        if parts.scheme.lower() != "file":
            return str(spec)
        return Path(unquote(parts.path))
    return Path(spec)


def batch_name(root: str | os.PathLike[str]) -> str:
    """The default batch name of the documents a run adds to an index: the name of the
    input folder (``data/new`` -> ``new``), or the last part of a URI's path (its bucket
    for a bucket's root). Readable in matches (``new/story.txt``), and the same for every
    run over that folder, so a rerun replaces its documents instead of adding copies. Two
    different batches from folders of one name need ``--batch`` to stay apart."""
    if is_uri(root):
        parts = urlsplit(str(root))
        name = parts.path.rstrip("/").rpartition("/")[2] or parts.netloc.rpartition("@")[2]
        return unquote(name)
    return Path(os.path.abspath(root)).name or "/"


def display(uri: str) -> str:
    """The URI for a message: any ``user:secret@`` part is left out."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def filesystem(uri: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, path without trailing slash)`` for a URI, made once per process.

    The cache is per process id: a worker forked from the driver makes its own client
    instead of sharing the driver's connections (and never destroys the driver's)."""
    return _filesystem(os.getpid(), uri)


@cache
def _filesystem(pid: int, uri: str) -> tuple[Any, str]:
    try:
        from pyarrow import fs as pafs
    except ImportError:
        raise LocationError(f"{display(uri)}: object-store paths need pyarrow: "
                            "pip install 'scrape-cleaner[cloud]'") from None
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError: unknown scheme, bad option
        raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
    return fs, path.rstrip("/")


def error_line(exc: BaseException) -> str:
    """The first line of an error's message: pyarrow's and the AWS SDK's run to several."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def check_root(uri: str) -> None:
    """Fail early, with one line, when an input URI is not a listable directory."""
    from pyarrow import fs as pafs

    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound and not bucket_exists(fs, path):
            raise LocationError(f"{display(uri)}: no such bucket")
    except OSError as exc:  # no access, bad credentials, unreachable endpoint
        raise LocationError(f"{display(uri)}: {error_line(exc)}") from exc
    if info.type == pafs.FileType.NotFound:
        raise LocationError(f"{display(uri)}: no such directory (no object under this prefix)")
    if info.type != pafs.FileType.Directory:
        raise LocationError(f"{display(uri)}: not a directory")


def bucket_exists(fs: Any, path: str) -> bool:
    """False when ``path``'s bucket is missing on a store with buckets (S3, GCS); in a
    bucket a missing prefix is only an empty folder, a missing bucket is a typo."""
    from pyarrow import fs as pafs

    if fs.type_name not in ("s3", "gcs"):
        return True
    return bool(fs.get_file_info(path.split("/", 1)[0]).type != pafs.FileType.NotFound)
