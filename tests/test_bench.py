"""The benchmark scripts' arithmetic: they print the figures the README quotes."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_budget_sums_the_floor_and_sets_the_budget() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "budget.py"), "--raw", str(ROOT / "seeds"),
                          "--target", "20", "--cores", "4"], capture_output=True, text=True, check=True).stdout
    assert "= 200 ms of CPU per MB" in out  # 4 cores / 20 MB/s
    rows = dict(re.findall(r"^  (.+?)\s+([\d.]+) ms/MB", out, re.M))
    steps = {k: float(v) for k, v in rows.items() if not k.startswith(("floor", "cleaner", "dedup"))}
    assert {k.split(" ")[0] for k in steps} == {"read", "ftfy", "tokenise", "rules", "minhash"}
    assert all(v > 0 for v in steps.values()), steps
    rule_forms = [v for k, v in steps.items() if k.startswith("rules")]
    assert len(rule_forms) == 2
    expected = sum(v for k, v in steps.items() if not k.startswith("rules")) + min(rule_forms)
    floor = float(rows["floor, sum of the above"])
    assert abs(floor - expected) <= 0.3, (floor, expected)  # the rows are rounded to 0.1
    ratio = float(re.search(r"floor, sum.*\(([\d.]+)x the budget\)", out).group(1))
    assert abs(ratio - floor / 200) < 0.01
    # pass 1 cleans every document (normalise with the ftfy gate, rules, furniture): it was
    # once timed on documents read after the corpus was deleted, all errors, at 1.0 ms/MB
    assert float(next(v for k, v in rows.items() if k.startswith("cleaner pass 1"))) > steps["ftfy (gated fix_text)"]
    assert float(next(v for k, v in rows.items() if k.startswith("dedup features"))) > 0


def test_budget_stage_table_splits_a_whole_run_and_compares_checkouts() -> None:
    """The per-stage table: every stage of cleaner's own run has a row, the rows add up to
    the run's CPU, and --compare puts a second checkout (here the same one) beside it."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "budget.py"), "--raw", str(ROOT / "seeds"),
                          "--no-floor", "--compare", str(ROOT)], capture_output=True, text=True, check=True).stdout
    table = out[out.index("cleaner's stages"):]
    rows = {k: (float(a), float(b)) for k, a, b in
            re.findall(r"^  (\S.*?)\s+([\d.]+)\s+([\d.]+)(?:\s+[\d.]+x)?$", table, re.M)}
    for stage in ("start-up", "read/decode", "normalise + ftfy gate", "rules", "furniture", "template line keys",
                  "templates (removal)", "dedup features", "LSH / clusters", "write", "total"):
        assert any(k.startswith(stage) for k in rows), (stage, table)
    for col in (0, 1):
        parts = sum(v[col] for k, v in rows.items() if k != "total")
        assert abs(parts - rows["total"][col]) <= 0.05 * len(rows), (parts, rows["total"])
        # pass 1's normalisation, rules and furniture are one call to the core (with its
        # assembly and line keys)
        assert rows["rules + furniture + assembly (one core call; newer: + normalise)"][col] > 0
    assert "not in this checkout" not in out  # every probe found its function


def _bench(code: str, *args: str) -> None:
    """``code`` in a fresh interpreter with bench/ and this checkout importable (the
    recorders patch cleaner's modules, which must not leak into the test session)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); {code}",
                    *args], env=env, check=True, capture_output=True, text=True)


def test_feature_kernels_records_the_texts_pass_2_sketches(tmp_path: Path) -> None:
    """Pass 2 calls ``feature_columns``, not ``features``: the recorder must see its texts
    (it once wrapped ``features`` alone and recorded none, timing nothing)."""
    dest = tmp_path / "kernels.pickle"
    _bench("from pathlib import Path; from feature_kernels import _record; "
           "_record(Path(sys.argv[1]), Path(sys.argv[2]))", str(ROOT / "seeds"), str(dest))
    got = pickle.loads(dest.read_bytes())
    assert got["features"] and all(isinstance(t, str) for t in got["features"])
    assert got["normalise"]


def test_finish_capture_keeps_features_any_checkout_reads(tmp_path: Path) -> None:
    """What a worker sends (its columns' bytes, a tuple) is kept as a Features, which
    pickles as those bytes: an older checkout's add_meta, which took only a Features,
    replays the capture; this one replays it too."""
    from cleaner.dedup.features import Features

    dest = tmp_path / "finish.pickle"
    _bench("from pathlib import Path; from finish import capture; "
           "capture(Path(sys.argv[1]), Path(sys.argv[2]), 1)", str(ROOT / "seeds"), str(dest))
    got = pickle.loads(dest.read_bytes())
    assert got["added"] and all(type(f) is Features for _, f, _ in got["added"])
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "finish.py"), "time", str(dest), "--reps", "1"],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, check=True)
    assert f"finish over {len(got['added'])} documents" in out.stdout
