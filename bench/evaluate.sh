#!/usr/bin/env bash
# `bedside evaluate` against `bedside replay` (issue 23 item 7): the same
# cohort replayed in-process without a model, then evaluated as shipped
# (`--certified`: the model scores every row, the policy and the baselines
# are replayed, the promise table is computed), in one run on the same
# machine. Target: evaluate <= 3x replay. Not part of CI.
#
#   bash bench/evaluate.sh [COHORT_DIR]   # default ../shared/data/dev-cohort; BENCH_RUNS=2
#   (BENCH_NO_BUILD=1 skips the build; BENCH_BIN picks the binary;
#   BENCH_MODEL / BENCH_POLICY pick the package and the policy)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COHORT=$(realpath "${1:-../shared/data/dev-cohort}")
RUNS=${BENCH_RUNS:-2}
OUT=${BENCH_OUT:-$ROOT/bench/out}
MODEL=${BENCH_MODEL:-$ROOT/models/sepsis-demo}
POLICY=${BENCH_POLICY:-$ROOT/use-cases/sepsis-screening/policy.toml}
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
log() { echo "[evaluate-bench] $*" >&2; }
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "building the release binary"
  cargo build --release -q -p bedside-cli
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BENCH_BIN:-$TARGET/release/bedside}
secs() { python3 -c 'import time; print(time.monotonic())'; }

res=$OUT/evaluate.json
: >"$res"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/data"
  t0=$(secs)
  "$BIN" replay "$COHORT" --data-dir "$WORK/data" --json >"$WORK/replay.json"
  t1=$(secs)
  "$BIN" evaluate "$COHORT" --model "$MODEL" --policy "$POLICY" --certified --json >"$WORK/evaluate.json"
  t2=$(secs)
  python3 - "$run" "$t0" "$t1" "$t2" "$WORK/evaluate.json" >>"$res" <<'PY'
import json, sys
run, t0, t1, t2, path = int(sys.argv[1]), *map(float, sys.argv[2:5]), sys.argv[5]
rep = json.load(open(path))
replay, evaluate = t1 - t0, t2 - t1
print(json.dumps({"run": run, "replay_s": round(replay, 2), "evaluate_s": round(evaluate, 2),
                  "ratio": round(evaluate / replay, 2), "patients": rep["patients"]}))
PY
  log "run $run: $(tail -1 "$res")"
done
python3 - "$res" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = min(rows, key=lambda r: r["ratio"])
worst = max(rows, key=lambda r: r["ratio"])
print(f"replay (no model): {min(r['replay_s'] for r in rows):.1f} s; "
      f"evaluate --certified: {min(r['evaluate_s'] for r in rows):.1f} s; "
      f"ratio {best['ratio']:.2f}-{worst['ratio']:.2f} (target <= 3)")
PY
