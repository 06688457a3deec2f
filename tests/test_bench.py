"""The benchmark scripts' arithmetic: they print the figures the README quotes."""

from __future__ import annotations

import re
import subprocess
import sys

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
