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
    assert float(next(v for k, v in rows.items() if k.startswith("cleaner pass 1"))) > 0
    assert float(next(v for k, v in rows.items() if k.startswith("dedup features"))) > 0
