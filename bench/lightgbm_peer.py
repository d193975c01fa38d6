#!/usr/bin/env python3
"""Peer timing for crates/models benches: LightGBM's Python single-row
predict (raw margin) and pred_contrib (TreeSHAP) on the same model and rows
as `cargo bench -p bedside-models --bench score`.

    python3 bench/lightgbm_peer.py [MODEL_TXT] [ROWS_JSON]

Defaults: the test fixture model and rows. Prints JSON with microseconds
per call (median of 5 repeats over the first 200 rows, one row per call).
"""
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "crates", "models", "tests", "fixtures")
model_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIX, "pkg", "model.txt")
rows_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(FIX, "rows.json")

booster = lgb.Booster(model_file=model_path)
with open(rows_path) as f:
    raw_rows = json.load(f)["rows"][:200]
rows = [np.array([[np.nan if v is None else v for v in r]], dtype=np.float64) for r in raw_rows]


def per_call_us(fn):
    for r in rows[:20]:
        fn(r)  # warm-up
    best = []
    for _ in range(5):
        t0 = time.perf_counter()
        for r in rows:
            fn(r)
        best.append((time.perf_counter() - t0) / len(rows) * 1e6)
    return sorted(best)[len(best) // 2]


out = {
    "model": os.path.relpath(model_path, ROOT),
    "lightgbm": lgb.__version__,
    "trees": booster.num_trees(),
    "rows": len(rows),
    "predict_raw_us": per_call_us(lambda r: booster.predict(r, raw_score=True, num_threads=1)),
    "predict_us": per_call_us(lambda r: booster.predict(r, num_threads=1)),
    "pred_contrib_us": per_call_us(lambda r: booster.predict(r, pred_contrib=True, num_threads=1)),
}
print(json.dumps(out, indent=1))
