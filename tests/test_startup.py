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
