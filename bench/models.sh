#!/usr/bin/env bash
# Model runtime benchmark (issue 3 item 8) on the committed demo model:
# criterion `cargo bench -p bedside-models --bench score` (single-row score,
# score + calibration + interval, score + TreeSHAP, OOD check) next to the
# LightGBM Python peer bench/lightgbm_peer.py (single-row predict and
# pred_contrib) on the same model and rows. Not part of CI.
#
#   bash bench/models.sh          # BENCH_RUNS=2
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench/out}
RUNS=${BENCH_RUNS:-2}
mkdir -p "$OUT"
VENV=$OUT/lightgbm-venv
if ! "$VENV/bin/python" -c 'import lightgbm, numpy' 2>/dev/null; then
  echo "[models-bench] installing lightgbm into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q lightgbm numpy
fi
PKG=$ROOT/models/sepsis-demo
ROWS=$PKG/bench_rows.json
for run in $(seq 1 "$RUNS"); do
  "$VENV/bin/python" bench/lightgbm_peer.py "$PKG/model.txt" "$ROWS" >"$OUT/models-peer-$run.json"
  BEDSIDE_BENCH_PKG=$PKG BEDSIDE_BENCH_ROWS=$ROWS \
    cargo bench -q -p bedside-models --bench score -- --noplot 2>/dev/null | tee "$OUT/models-criterion-$run.txt" >&2
  echo "[models-bench] run $run: $(tr -d '\n' <"$OUT/models-peer-$run.json")" >&2
done
python3 - "$OUT" "$RUNS" <<'PY'
import json, os, re, sys
out, runs = sys.argv[1], int(sys.argv[2])
unit = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
print(f"\nModel runtime benchmark (demo model), load average {os.getloadavg()[0]:.1f}; Rust = criterion median, per call")
for r in range(1, runs + 1):
    peer = json.load(open(f"{out}/models-peer-{r}.json"))
    text = open(f"{out}/models-criterion-{r}.txt").read()
    rust = {}
    for m in re.finditer(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text, re.M):
        rust[m.group(1)] = float(m.group(2)) * unit[m.group(3)]
    print(f"run {r}: " + ", ".join(f"{k} {v:.1f} us" for k, v in rust.items()))
    print(f"       LightGBM {peer['lightgbm']} ({peer['trees']} trees): predict(raw_score) {peer['predict_raw_us']:.1f} us, "
          f"predict {peer['predict_us']:.1f} us, pred_contrib {peer['pred_contrib_us']:.1f} us")
    if "score_single_row" in rust:
        print(f"       margin: {peer['predict_raw_us'] / rust['score_single_row']:.1f}x faster than predict(raw_score)")
    shap = next((v for k, v in rust.items() if "shap" in k.lower()), None)
    if shap:
        print(f"       score+TreeSHAP: {peer['pred_contrib_us'] / shap:.2f}x faster than pred_contrib (target >= 1)")
PY
