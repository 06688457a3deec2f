"""``cleaner._native``, the Rust core (``native/``), loaded once for every module that calls it.

Cleaning (normalise, rules, furniture) and dedup (passages, MinHash) all call the same
extension; this module is the one place that finds it, refuses one built from other sources,
and installs the interpreter's Unicode tables into it (:mod:`cleaner.unicode`) before any text
reaches it. Import :data:`core` from here, never ``cleaner._native`` directly.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .unicode import install as install_unicode


def _source_digest(native: Path) -> str:
    """The digest ``native/build.rs`` records in the extension, of this checkout's sources."""
    h = hashlib.blake2b(digest_size=16)
    for name in ["Cargo.toml", *sorted(f"src/{p.name}" for p in (native / "src").glob("*.rs"))]:
        h.update(name.encode() + b"\0" + (native / name).read_bytes() + b"\0")
    return h.hexdigest()


def load() -> ModuleType:
    """``cleaner._native``, the Rust core.

    Normally it sits beside this file (an installed wheel, or a build in place). A source
    checkout run in place without one (``pip install .``, then ``python -m pytest`` from the
    checkout, as the README's test command does) takes the one pip installed, provided it was
    built from this checkout's ``native/`` sources: an extension built from other sources
    (an older install, another checkout) is refused, never silently used."""
    here = Path(__file__).resolve().parent  # the cleaner package
    checkout = here.parent / "native"
    try:
        from . import _native as mod
    except ImportError:
        mod = None
        others = [p for p in sys.path if p and Path(p).resolve() != here.parent]
        spec = importlib.machinery.PathFinder.find_spec("cleaner", others)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for so in sorted(Path(folder).glob("_native.*")):
                if so.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
                    ext = importlib.util.spec_from_file_location("cleaner._native", so)
                    if ext is not None and ext.loader is not None:
                        mod = importlib.util.module_from_spec(ext)
                        ext.loader.exec_module(mod)
                        sys.modules[ext.name] = mod
                        break
            if mod is not None:
                break
        if mod is None:
            raise ImportError("cleaner._native, the Rust core, is not built: install with `pip install .` (needs a "
                              "Rust toolchain), or build it in place (see README, Building from source)") from None
    if (checkout / "Cargo.toml").is_file() and getattr(mod, "SOURCE_DIGEST", None) != _source_digest(checkout):
        raise ImportError(f"cleaner._native ({mod.__file__}) was built from other sources than {checkout}: "
                          "rebuild it (`pip install .`, or in place: see README, Building from source)")
    return mod



#: The loaded core, with the interpreter's Unicode tables installed.
core = load()
install_unicode(core)
