"""What a default run of text files leaves out of its start-up: scipy (via datasketch, for
the LSH banding: ``minhash.lsh_params`` computes it), and lxml (via jusText, for the
furniture classifier's stoplists, read from jusText's package data); HTML, Redis and the
other paths still import them when they run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cleaner.clean import furniture

HEAVY = ("datasketch", "scipy", "justext", "lxml", "trafilatura")


def test_a_text_run_imports_no_heavy_module(tmp_path: Path, root: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for seed in sorted((root / "seeds").glob("*.txt"))[:3]:
        (raw / seed.name).write_bytes(seed.read_bytes())
    code = ("import json, sys\nfrom cleaner.cli import main\n"
            "try:\n"
            f"    main(args=['clean', {str(raw)!r}, '-o', {str(tmp_path / 'out')!r}, '-q', '--workers', '1'],"
            " standalone_mode=False)\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert (tmp_path / "out" / "duplicates.json").is_file()
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


def test_stoplists_are_justexts() -> None:
    import justext

    assert furniture.stoplists() == {lang: frozenset(w.lower() for w in justext.get_stoplist(lang))
                                     for lang in furniture.LANGUAGES}


def _modules_after(code: str, root: Path, cache: Path) -> list[str]:
    """The modules loaded by ``code`` run in a fresh interpreter, with ``cache`` for its cache."""
    env = dict(os.environ, PYTHONPATH=str(root), XDG_CACHE_HOME=str(cache))
    done = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_rule_set_loads_before_numpy_and_ftfy(tmp_path: Path, root: Path) -> None:
    """The CLI loads the rule set first, so that the core builds its matcher on a thread of
    its own while the cleaning stages import numpy and ftfy: the rules module must import
    neither."""
    code = "from cleaner.clean.rules import RuleSet\nassert len(RuleSet.load()) > 100"
    loaded = _modules_after(code, root, tmp_path / "cache")
    assert [m for m in loaded if m.split(".")[0] in ("numpy", "ftfy")] == []


def test_a_run_of_texts_that_need_no_fixing_never_imports_ftfy(tmp_path: Path, root: Path) -> None:
    """The core's ftfy gate is kept in the cache; ftfy is imported only for a text it lets
    through (the first run of a fresh cache imports it to build the gate)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A plain page.\n\nIt has nothing an ftfy fixer would change, twice over.\n")
    (raw / "b.txt").write_text("Another plain page, with “curly quotes” and an é that are fine as they are.\n")
    run = ("from cleaner.cli import main\ntry:\n"
           f"    main(args=['clean', {str(raw)!r}, '-o', {str(tmp_path / 'out')!r}, '-q', '--workers', '1'],"
           " standalone_mode=False)\n"
           "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")
    cache = tmp_path / "cache"
    assert "ftfy" in _modules_after(run, root, cache)  # builds the gate from ftfy, and keeps it
    assert "ftfy" not in _modules_after(run, root, cache)
    (raw / "c.txt").write_text("Mojibake: donâ€™t.\n")  # a text the gate lets through
    assert "ftfy" in _modules_after(run, root, cache)


def test_the_kept_gate_is_ftfys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate from the cache is the one built from ftfy; a damaged entry is built again."""
    from cleaner.clean import normalise

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fresh = normalise._gate_from_ftfy()
    assert normalise._gate_args() == fresh  # written
    (kept,) = (tmp_path / "cleaner").glob("ftfy-gate*.json")
    assert normalise._gate_args() == fresh  # read back
    entry = json.loads(kept.read_text())
    for damaged in ("{not json", json.dumps({"key": entry["key"], "value": [1, 2]}),
                    json.dumps({"key": entry["key"], "value": [[["a", 1]], True, None, 1]})):
        kept.write_text(damaged)
        assert normalise._gate_args() == fresh


def _clean_code(raw: Path, out: Path, workers: str) -> str:
    """Python source that runs ``cleaner clean RAW -o OUT --workers N`` in its process (the
    command line's function, so the process' modules and caches can be inspected after)."""
    return ("from cleaner.cli import main\ntry:\n"
            f"    main(args=['clean', {str(raw)!r}, '-o', {str(out)!r}, '-q', '--workers', {workers!r}],"
            " standalone_mode=False)\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")


def test_the_driver_of_a_run_with_html_imports_trafilatura_for_its_workers(tmp_path: Path, root: Path) -> None:
    """Forked workers inherit the driver's imports: with HTML among the inputs, the driver
    imports trafilatura before it forks, instead of every worker importing it again."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A plain page.\n")
    run = _clean_code(raw, tmp_path / "out", "2")
    assert "trafilatura" not in _modules_after(run, root, tmp_path / "cache")
    (raw / "b.html").write_text("<html><body><article><p>A page, cleaned by a worker.</p></article></body></html>")
    assert "trafilatura" in _modules_after(run, root, tmp_path / "cache")


def test_a_second_run_takes_its_lsh_quadrature_from_the_cache(tmp_path: Path, root: Path) -> None:
    """The LSH banding's Gauss-Legendre rules are kept in the cache: the first run works them
    out (numpy's polynomial package, an eigenvalue problem each), a later one reads them."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for seed in sorted((root / "seeds").glob("*.txt"))[:3]:
        (raw / seed.name).write_bytes(seed.read_bytes())
    run = ("from cleaner.cli import main\ntry:\n"
           f"    main(args=['clean', {str(raw)!r}, '-o', {str(tmp_path / 'out')!r}, '-q', '--workers', '1'],"
           " standalone_mode=False)\n"
           "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")
    cache = tmp_path / "cache"
    assert "numpy.polynomial" in _modules_after(run, root, cache)
    assert list((cache / "cleaner").glob("gauss-legendre-*.json"))
    assert "numpy.polynomial" not in _modules_after(run, root, cache)


def test_a_run_with_one_worker_never_imports_multiprocessing(tmp_path: Path, root: Path) -> None:
    """One worker cleans in the driver: the process pool's modules (multiprocessing,
    concurrent.futures.process) are imported where a pool starts, not with the engine."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A plain page.\n\nWith a second paragraph of a few words.\n")
    (raw / "b.txt").write_text("Another plain page.\n")
    runs = {}
    for workers in ("1", "2"):
        run = _clean_code(raw, tmp_path / ("out" + workers), workers)
        runs[workers] = {m for m in _modules_after(run, root, tmp_path / "cache")
                         if m.split(".")[0] == "multiprocessing" or m == "concurrent.futures.process"}
    assert runs["1"] == set()
    assert {"multiprocessing", "concurrent.futures.process"} <= runs["2"]


def test_the_driver_builds_the_dedup_features_tables_for_its_workers(tmp_path: Path, root: Path) -> None:
    """Forked workers inherit the driver's tables: with several workers and dedup, the driver
    builds what pass 2's features need (the MinHash permutations, the core's class tables,
    the prose classifier) before it forks, instead of every worker building them again."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A plain page.\n\nWith a second paragraph of a few more words in it.\n")
    code = (_clean_code(raw, tmp_path / "out", "2") + "from cleaner.dedup import features, minhash\n"
            "print([f.cache_info().currsize for f in (minhash._permutation_bytes, minhash._tables,"
            " features._classifier)])\n")
    env = dict(os.environ, PYTHONPATH=str(root), XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[1, 1, 1]"
