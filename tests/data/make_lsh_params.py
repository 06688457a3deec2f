"""Writes lsh_params.json: datasketch's own LSH banding (``_optimal_param``, scipy's adaptive
quadrature) and error rates for a dense grid of thresholds, num_perm and weightings, the
cases tests/test_minhash.py holds cleaner's numpy search to. Takes a few minutes; run it
again only to extend the grid:

    python tests/data/make_lsh_params.py
"""

from __future__ import annotations

import json
from pathlib import Path

from datasketch.lsh import _false_negative_probability, _false_positive_probability, _optimal_param

ODD_THRESHOLDS = [0.005, 0.123, 1 / 3, 0.4999, 0.5001, 2 / 3, 0.777, 0.995]
WEIGHTS = [(0.5, 0.5), (0.9, 0.1), (0.1, 0.9), (0.25, 0.75)]


def main() -> None:
    thresholds = [round(0.01 * i, 2) for i in range(1, 100)] + ODD_THRESHOLDS
    cases = []
    for num_perm in (16, 32, 64, 128, 256):
        for w in WEIGHTS:
            for t in thresholds:
                b, r = _optimal_param(t, num_perm, *w)
                cases.append({"threshold": t, "num_perm": num_perm, "weights": list(w), "bands": int(b),
                              "rows": int(r), "fp": float(_false_positive_probability(t, b, r)),
                              "fn": float(_false_negative_probability(t, b, r))})
    out = Path(__file__).with_name("lsh_params.json")
    out.write_text("[\n" + ",\n".join(json.dumps(c) for c in cases) + "\n]\n", encoding="utf-8")  # a case a line
    print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
