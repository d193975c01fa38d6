#!/usr/bin/env bash
# Train models/deterioration-demo/ from the deterioration cohort and report
# it next to NEWS2 (not part of CI; reproduces the committed package).
#
#   bash scripts/train-deterioration.sh [../shared/data/deterioration-cohort]
#   BEDSIDE_BIN=target/release/bedside BENCH_NO_BUILD=1 bash scripts/train-deterioration.sh
#
# 1. `bedside features` exports the scoring rows with their outcome labels
#    (the code that scores online, so no train/serve skew);
# 2. tools/train_deterioration_model.py (seeded; pinned packages in
#    bench/out/train-venv, installed once) fits, exports to ONNX and writes
#    the package files;
# 3. `bedside model validate` loads the package, and `bedside evaluate`
#    reports it on the held-out split next to NEWS2 at the same alert rate
#    (bench/out/deterioration-evaluate.json).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COHORT=${1:-$ROOT/../shared/data/deterioration-cohort}
OUT=${BENCH_OUT:-$ROOT/bench/out}
TD=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$OUT/train-venv
PKG=$ROOT/models/deterioration-demo
log() { echo "[train-deterioration] $*" >&2; }
mkdir -p "$OUT"
PINS="numpy==1.26.4 scipy==1.17.1 scikit-learn==1.5.2 skl2onnx==1.17.0 onnx==1.16.2 onnxruntime==1.19.2 protobuf==7.36.2"
if ! "$VENV/bin/python" -c 'import sklearn, skl2onnx, onnxruntime, scipy' >/dev/null 2>&1; then
  log "installing $PINS into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check $PINS
fi
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  cargo build -q --release -p bedside-cli --bin bedside
  BIN=${BEDSIDE_BIN:-$TD/release/bedside}
else
  BIN=${BEDSIDE_BIN:-$TD/release/bedside}
fi
log "exporting features from $COHORT"
"$BIN" features "$COHORT" --model "$PKG" --out "$OUT/deterioration-features.csv"
"$VENV/bin/python" tools/train_deterioration_model.py "$OUT/deterioration-features.csv" --cohort "$COHORT"
"$BIN" model validate "$PKG"
log "evaluating on the held-out split"
"$BIN" evaluate "$COHORT" --model "$PKG" --split test --json >"$OUT/deterioration-evaluate.json"
log "wrote $OUT/deterioration-evaluate.json"
