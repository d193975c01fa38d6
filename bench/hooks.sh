#!/usr/bin/env bash
# CDS Hooks load benchmark (issue 4 item 7): `patient-view` throughput and
# p50/p99 latency at 64 connections, next to (a) the same server's /healthz
# at the same load and (b) the peer, PyPI `prodrome[serve]` scoring one
# 24-hour stay on POST /score. Not part of CI.
#
#   bash bench/hooks.sh                 # BENCH_RUNS=2 BENCH_DURATION=10 by default
#   BEDSIDE_BIN=path/to/bedside bash bench/hooks.sh   # a prebuilt binary
#
# Every hook request is real: it carries its own JWT signed by the demo EHR
# key (`bedside token --demo --count N`), so the server's jti replay cache
# accepts each exactly once; verification stays on. Each run starts a fresh
# server on the same data dir (fresh replay cache) and pre-generates the
# tokens right before the load.
#
# Two floors are measured at the same load, with the same tokens and
# bodies as patient-view: `floor-http`, the same POSTs to a service that
# does not exist (404 before any verification: the HTTP cost of this
# request shape), and `floor-verified`, the same POSTs to the real service
# with a body made invalid by one trailing byte (400 after the JWT is
# verified and its jti recorded: the least any authenticated hook call
# costs). A patient-view does all that floor-verified does and more, so
# floor-verified / healthz bounds the throughput ratio patient-view can
# reach on this machine. Results: bench/out/hooks-<run>.json (with
# the server's disk writes per call), bench/out/hooks-wal-<run>.md (WAL
# frames by B-tree, bench/wal_pages.py) and a summary table on stdout.
# Needs: cargo, python3 (venv), wrk (installed from Debian if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
# The bench measures capacity from one client: the per-client hook rate limit is off.
export BEDSIDE_HOOK_RATE_LIMIT_PER_SEC=0
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench/out}
RUNS=${BENCH_RUNS:-2}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[hooks-bench] $*" >&2; }

# --- tools ------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi
VENV=$OUT/prodrome-venv
if ! "$VENV/bin/python" -c 'import prodrome, fastapi, uvicorn' 2>/dev/null; then
  log "installing prodrome[serve] into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'prodrome[serve]'
fi
# BEDSIDE_BIN: a prebuilt binary (no build); else the release build of
# this tree (in $CARGO_TARGET_DIR when set), built unless BENCH_NO_BUILD.
if [ -n "${BEDSIDE_BIN:-}" ]; then
  BIN=$BEDSIDE_BIN
else
  if [ -z "${BENCH_NO_BUILD:-}" ]; then
    log "building the release binary"
    cargo build --release -q -p bedside-cli
  fi
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/bedside
fi
[ -x "$BIN" ] || { log "no bedside binary at $BIN"; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  for _ in $(seq 1 $(($2 * 5))); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.2
  done
  log "no answer from $1 within $2 s"; return 1
}

# --- the peer ---------------------------------------------------------------
log "preparing the prodrome peer (synthetic corpus, train, calibrate)"
"$VENV/bin/python" bench/prodrome_peer.py setup "$OUT/prodrome-work"
"$VENV/bin/python" bench/prodrome_peer.py stay "$WORK/stay.json"
PPORT=$(free_port)
"$VENV/bin/python" bench/prodrome_peer.py serve "$OUT/prodrome-work" "$PPORT" >"$OUT/prodrome.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PPORT/health" 120
PEER_URL=http://127.0.0.1:$PPORT/score
code=$(curl -s -o "$WORK/peer.json" -w '%{http_code}' -H 'Content-Type: application/json' --data @"$WORK/stay.json" "$PEER_URL")
[ "$code" = 200 ] && grep -q '"risk"' "$WORK/peer.json" || { log "peer /score answered $code: $(head -c 300 "$WORK/peer.json")"; exit 1; }
log "peer check: /score 200, $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["risk"]))' "$WORK/peer.json") hourly risks"

# --- Bedside ----------------------------------------------------------------
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
DATA=$WORK/data
SERVICE=sepsis-demo-patient-view
HOOK_URL=$BASE/cds-services/$SERVICE
BPID=
start_bedside() { # extra args
  BEDSIDE_LOG=${BENCH_SERVER_LOG:-warn} "$BIN" demo --listen "127.0.0.1:$PORT" --data-dir "$DATA" "$@" >>"$OUT/bedside.log" 2>&1 &
  BPID=$!
  PIDS+=($BPID)
  wait_http "$BASE/healthz" 600
}
stop_bedside() { kill "$BPID"; wait "$BPID" 2>/dev/null || true; }
: >"$OUT/bedside.log"
log "starting bedside demo (replaying demo/cohort, precomputing risk)"
start_bedside

# One patient-view body per demo patient whose precomputed risk yields a card.
python3 - "$WORK/candidates.ndjson" <<'PY'
import gzip, json, sys, uuid
with gzip.open("demo/cohort/Patient.ndjson.gz", "rt") as f, open(sys.argv[1], "w") as out:
    for line in f:
        pid = json.loads(line)["id"]
        out.write(json.dumps({"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                              "context": {"userId": "Practitioner/bench-clinician", "patientId": pid}},
                             separators=(",", ":")) + "\n")
PY
: >"$WORK/bodies.ndjson"
n=0
while IFS= read -r body; do
  tok=$("$BIN" token --demo --aud "$HOOK_URL")
  code=$(curl -s -o "$WORK/one.json" -w '%{http_code}' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data "$body" "$HOOK_URL")
  [ "$code" = 200 ] || { log "patient-view check answered $code: $(head -c 300 "$WORK/one.json")"; exit 1; }
  if grep -q '"summary"' "$WORK/one.json"; then echo "$body" >>"$WORK/bodies.ndjson"; n=$((n + 1)); fi
done <"$WORK/candidates.ndjson"
[ "$n" -gt 0 ] || { log "no demo patient gets a card; nothing to measure"; exit 1; }
log "$n of $(wc -l <"$WORK/candidates.ndjson") demo patients get a card at patient-view"
# The check must be a real refusal too: a reused token is a 401.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data "$body" "$HOOK_URL")
[ "$code" = 401 ] || { log "a replayed token was answered $code, expected 401"; exit 1; }

# The floor-verified bodies: each patient-view body with one trailing byte.
sed 's/$/x/' "$WORK/bodies.ndjson" >"$WORK/bad-bodies.ndjson"

load() { # NAME URL TOKENS BODIES EXPECT [STATUS [CYCLE]] -> JSON line on stdout
  BENCH_THREADS=$THREADS BENCH_TOKENS=$3 BENCH_BODIES=$4 BENCH_EXPECT=$5 \
    BENCH_STATUS=${6:-200} BENCH_TOKENS_CYCLE=${7:-0} \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 30s -s bench/hooks.lua "$2" | tail -n 1 \
    | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["name"]=sys.argv[1]; print(json.dumps(d))' "$1"
}

TOKENS_PER_SEC=${BENCH_TOKENS_PER_SEC:-6000}
FLOOR_TOKENS_PER_SEC=${BENCH_FLOOR_TOKENS_PER_SEC:-30000}
for run in $(seq 1 "$RUNS"); do
  if [ "$run" -gt 1 ]; then stop_bedside; start_bedside --no-replay; fi
  res=$OUT/hooks-$run.json
  : >"$res"
  load healthz "$BASE/healthz" "" "" '"status":"ok"' >>"$res"
  # Floors (see the header). Every verified token is used once: enough
  # tokens for the floor's rate, which is well above patient-view's.
  "$BIN" token --demo --aud "$HOOK_URL" --count "$((FLOOR_TOKENS_PER_SEC * DURATION))" >"$WORK/floor-tokens"
  load floor-http "$BASE/cds-services/bench-no-such-service" "$WORK/floor-tokens" "$WORK/bodies.ndjson" '' 404 1 >>"$res"
  load floor-verified "$HOOK_URL" "$WORK/floor-tokens" "$WORK/bad-bodies.ndjson" '' 400 >>"$res"
  count=$((TOKENS_PER_SEC * DURATION))
  for attempt in 1 2 3; do
    "$BIN" token --demo --aud "$HOOK_URL" --count "$count" >"$WORK/tokens"
    w0=$(awk '/^write_bytes/{print $2}' "/proc/$BPID/io")
    line=$(load patient-view "$HOOK_URL" "$WORK/tokens" "$WORK/bodies.ndjson" '"summary"')
    w1=$(awk '/^write_bytes/{print $2}' "/proc/$BPID/io")
    echo "$line" | grep -q '"tokens_exhausted": true' || break
    log "run $run: $count tokens were not enough; restarting with twice as many"
    count=$((count * 2)); stop_bedside; start_bedside --no-replay
  done
  # Write amplification: bytes the server had written to disk (WAL frames
  # and checkpoints) per recorded card, and the B-trees the WAL's current
  # frames belong to (bench/wal_pages.py).
  line=$(echo "$line" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["written_bytes_per_call"]=round(int(sys.argv[1])/max(d["expected_body"],1)); print(json.dumps(d))' "$((w1 - w0))")
  python3 bench/wal_pages.py "$DATA/bedside.db" >"$OUT/hooks-wal-$run.md" || log "run $run: WAL attribution failed (see above)"
  echo "$line" >>"$res"
  load prodrome-score "$PEER_URL" "" "$WORK/stay.json" '"risk"' >>"$res"
  log "run $run (load average $(cut -d' ' -f1-3 /proc/loadavg)): $(tr '\n' ' ' <"$res")"
done

python3 - "$OUT" "$RUNS" "$CONNS" "$DURATION" <<'PY'
import json, os, sys
out, runs, conns, dur = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cpus = os.cpu_count()
print(f"\nCDS Hooks benchmark: {conns} connections, {dur} s per measurement, load average {os.getloadavg()[0]:.1f}, {cpus} cores")
print("| run | endpoint | req/s | p50 ms | p99 ms | wanted status | with expected body | 401 | other |")
print("|---|---|---|---|---|---|---|---|---|")
bad = False
for r in range(1, runs + 1):
    rows = {d["name"]: d for d in map(json.loads, open(f"{out}/hooks-{r}.json"))}
    for name in ("healthz", "floor-http", "floor-verified", "patient-view", "prodrome-score"):
        d = rows[name]
        print(f"| {r} | {name} | {d['rps']:.0f} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {d['status_ok']} | {d['expected_body']} | {d['status_401']} | {d['status_other'] + d['socket_errors']} |")
        bad |= d["status_ok"] != d["expected_body"] or d["status_401"] or d["status_other"] or d["socket_errors"] or d["tokens_exhausted"]
    h, p, q = rows["healthz"], rows["patient-view"], rows["prodrome-score"]
    fh, fv = rows["floor-http"], rows["floor-verified"]
    # Machine time per request (server, wrk and kernel share the cores,
    # every measurement saturates them): cores / throughput.
    us = lambda d: cpus / d["rps"] * 1e6
    print(f"|   | writes | {p['written_bytes_per_call']} bytes written to disk per patient-view call (WAL frames by B-tree: {out}/hooks-wal-{r}.md) | | | | | | |")
    print(f"|   | ratios | patient-view/healthz throughput {p['rps']/h['rps']:.2f} (target >= 0.5); "
          f"p99 {p['p99_ms']/h['p99_ms']:.2f}x healthz (target <= 2); {p['rps']/q['rps']:.0f}x prodrome (target >= 20) | | | | | | |")
    print(f"|   | floors | machine time per request: healthz {us(h):.0f} us, floor-http {us(fh):.0f} us, floor-verified {us(fv):.0f} us, patient-view {us(p):.0f} us; "
          f"the 50% target allows {2 * us(h):.0f} us, {2 * us(h) - us(fv):.0f} us beyond floor-verified (patient-view uses {us(p) - us(fv):.0f}); "
          f"floor-verified/healthz throughput {fv['rps']/h['rps']:.2f} bounds the ratio | | | | | | |")
if bad:
    print("\nWARNING: some responses were not the wanted status with the expected body (see the counts); the figures above are not valid")
    sys.exit(1)
PY
