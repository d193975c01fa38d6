#!/usr/bin/env bash
# Ingest throughput benchmark (issue 2 item 7): the dev cohort's
# Observations through the real ingest path, in-process (`bedside replay
# DIR --data-dir`, store commits included) and over HTTP (`bedside replay
# DIR --url`, i.e. POST /fhir/$import to a running `bedside serve`), next to
# the parse-only floor (serde_json::Value over the same bytes,
# crates/cli/examples/parse_floor.rs) on the same machine, in the same
# run. Not part of CI.
#
#   bash bench/ingest.sh [COHORT_DIR]     # default ../shared/data/dev-cohort; BENCH_RUNS=2
#   (BENCH_NO_BUILD=1 skips the build; BENCH_BIN, BENCH_FLOOR pick binaries;
#   BENCH_NO_HTTP=1 measures in-process only)
#
# Per-event state-update cost at hour 10 vs hour 200 of a stay is the
# criterion bench `cargo bench -p bedside-ingest --bench ingest -- state_update`
# (set BENCH_CRITERION=1 to run it at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COHORT=$(realpath "${1:-../shared/data/dev-cohort}")
RUNS=${BENCH_RUNS:-2}
OUT=${BENCH_OUT:-$ROOT/bench/out}
mkdir -p "$OUT"
OBS_FILE=$COHORT/Observation.ndjson.gz
[ -f "$OBS_FILE" ] || OBS_FILE=$COHORT/Observation.ndjson
[ -f "$OBS_FILE" ] || { echo "no Observation.ndjson(.gz) in $COHORT" >&2; exit 1; }
WORK=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "[ingest-bench] $*" >&2; }

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "building the release binary and the parse floor"
  cargo build --release -q -p bedside-cli
  cargo build --release -q -p bedside-cli --example parse_floor
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
# BENCH_BIN / BENCH_FLOOR: measure other builds (e.g. an older commit's).
BIN=${BENCH_BIN:-$TARGET/release/bedside}
FLOOR=${BENCH_FLOOR:-$TARGET/release/examples/parse_floor}
mkdir -p "$WORK/obs" "$WORK/obs-plain"
ln -s "$OBS_FILE" "$WORK/obs/"
# The same bytes uncompressed (not timed): in-process ingest of plain
# NDJSON is set against the parse-only floor, of gzip against gunzip+parse.
case "$OBS_FILE" in
  *.gz) gzip -dc "$OBS_FILE" >"$WORK/obs-plain/Observation.ndjson" ;;
  *) ln -s "$OBS_FILE" "$WORK/obs-plain/Observation.ndjson" ;;
esac
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secs() { python3 -c 'import time; print(time.monotonic())'; }

res=$OUT/ingest.json
: >"$res"
for run in $(seq 1 "$RUNS"); do
  "$FLOOR" "$OBS_FILE" 3 | python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]="floor"; d["run"]=int(sys.argv[1]); print(json.dumps(d))' "$run" >>"$res"

  for src in obs obs-plain; do
    name=in-process; [ "$src" = obs-plain ] && name=in-process-plain
    t0=$(secs)
    BEDSIDE_LOG=warn "$BIN" replay "$WORK/$src" --data-dir "$WORK/inproc-$run" --json >"$WORK/inproc.json"
    t1=$(secs)
    python3 - "$WORK/inproc.json" "$t0" "$t1" "$run" "$name" >>"$res" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = float(sys.argv[3]) - float(sys.argv[2])
n = s["resources"].get("Observation", 0)
print(json.dumps({"name": sys.argv[5], "run": int(sys.argv[4]), "observations": n, "seconds": t, "per_sec": n / t,
                  "created": s["created"], "rejected": s["rejected"], "stored": s["stored"].get("Observation", 0)}))
PY
    rm -rf "$WORK/inproc-$run"
  done

  if [ -z "${BENCH_NO_HTTP:-}" ]; then
    PORT=$(free_port)
    BEDSIDE_LOG=warn "$BIN" serve --auth-mode off --listen "127.0.0.1:$PORT" --data-dir "$WORK/http-$run" >"$OUT/ingest-serve.log" 2>&1 &
    SPID=$!
    for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
    t0=$(secs)
    BEDSIDE_LOG=warn "$BIN" replay "$WORK/obs" --url "http://127.0.0.1:$PORT" --json >"$WORK/http.json"
    t1=$(secs)
    kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
    python3 - "$WORK/http.json" "$t0" "$t1" "$run" http >>"$res" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = float(sys.argv[3]) - float(sys.argv[2])
n = s["resources"].get("Observation", 0)
print(json.dumps({"name": sys.argv[5], "run": int(sys.argv[4]), "observations": n, "seconds": t, "per_sec": n / t,
                  "created": s["created"], "rejected": s["rejected"], "stored": s["stored"].get("Observation", 0)}))
PY
  fi
  rm -rf "$WORK/http-$run"
  log "run $run done"
done

python3 - "$res" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\nIngest benchmark: dev cohort Observations, load average {os.getloadavg()[0]:.1f}")
print("| run | path | observations/s | seconds | ratio to parse-only floor | ratio to gunzip+parse floor |")
print("|---|---|---|---|---|---|")
bad = False
for run in sorted({r["run"] for r in rows}):
    by = {r["name"]: r for r in rows if r["run"] == run}
    f = by["floor"]
    print(f"| {run} | parse-only floor (serde_json::Value, in memory) | {f['parse_only']['per_sec']:.0f} | {f['parse_only']['seconds']:.2f} | 1 | |")
    print(f"| {run} | gunzip + parse floor | {f['gunzip_and_parse']['per_sec']:.0f} | {f['gunzip_and_parse']['seconds']:.2f} | | 1 |")
    labels = {"in-process": "in-process ingest, gzip (`bedside replay`)",
              "in-process-plain": "in-process ingest, plain NDJSON (`bedside replay`)",
              "http": "HTTP ingest, gzip (`bedside replay --url`)"}
    for name in ("in-process-plain", "in-process", "http"):
        if name not in by:
            continue
        r = by[name]
        print(f"| {run} | {labels[name]} | {r['per_sec']:.0f} | {r['seconds']:.2f} | "
              f"{r['per_sec'] / f['parse_only']['per_sec']:.3f} | {r['per_sec'] / f['gunzip_and_parse']['per_sec']:.3f} |")
        bad |= r["rejected"] != 0 or r["stored"] != r["observations"] or r["observations"] != f["lines"]
if bad:
    print("\nWARNING: some Observations were rejected or not stored; see bench/out/ingest.json")
    sys.exit(1)
PY
if [ "${BENCH_CRITERION:-0}" = 1 ]; then
  cargo bench -p bedside-ingest --bench ingest -- state_update
fi
