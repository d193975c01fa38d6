#!/usr/bin/env bash
# Load and soak (issue 9): mixed traffic against the release binary on
# loopback. One third each: ingest (POST /fhir/Observation, a heart-rate
# Observation, round robin over the demo patients and 2000 synthetic ones,
# each with 4 Observations amended in turn), CDS Hooks patient-view of a demo patient (each with its
# own JWT from `bedside token --demo --count N`, signed 10 s ahead) and
# worklist GETs (the first page, 100 Tasks).
#
#  1. peak: PEAK_SECONDS (20) closed loop at PEAK_CONNECTIONS (64): the
#     peak mixed throughput;
#  2. soak: SOAK_WARMUP (120) s then SOAK_SECONDS (600) s, open loop at
#     SOAK_FRACTION (0.7) of it. The warm-up is the same traffic; its
#     errors count, its latencies and memory readings do not: the memory
#     baseline is the first measured minute, once the bounded caches
#     (SQLite pages, patient states) have filled.
#
# Pass: zero errors, last-minute p99 <= 1.5x first-minute p99, resident
# memory (VmRSS) growth under 10% from the soak's first minute to its
# last, each the median of its once-a-second readings (a single reading
# moves by +-10 MB within seconds at a steady load: the kernel reclaims
# and faults back the database's mapped pages). The single readings at
# start and end, and RssAnon / RssFile, are printed too.
# The per-client hook rate limit is off (the load comes from one client).
# Results: bench/out/soak-peak.json, bench/out/soak.json and a summary.
#
#   bash bench/soak.sh                  # 10 minutes
#   SOAK_SECONDS=120 bash bench/soak.sh # a short trial
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench/out}
TD=${CARGO_TARGET_DIR:-$ROOT/target}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_WARMUP=${SOAK_WARMUP:-120}
PEAK_SECONDS=${PEAK_SECONDS:-20}
PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-64}
SOAK_FRACTION=${SOAK_FRACTION:-0.7}
mkdir -p "$OUT"
WORK=$(mktemp -d)
SPID=
cleanup() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[soak] $*" >&2; }

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "building the release binary and the driver"
  cargo build --release -q -p bedside-cli --bin bedside --example soak_driver
fi
BIN=$TD/release/bedside
DRIVER=$TD/release/examples/soak_driver

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
log "starting bedside demo (replaying demo/cohort) on $BASE"
BEDSIDE_LOG=warn BEDSIDE_HOOK_RATE_LIMIT_PER_SEC=0 "$BIN" demo --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$OUT/soak-server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 3000); do curl -s -o /dev/null "$BASE/healthz" && break; sleep 0.2; done
curl -sf -o /dev/null "$BASE/healthz" || { log "the server did not come up"; tail -n 20 "$OUT/soak-server.log"; exit 1; }
python3 -c '
import gzip, json
with gzip.open("demo/cohort/Patient.ndjson.gz", "rt") as f:
    for line in f: print(json.loads(line)["id"])' >"$WORK/patients"

log "peak: ${PEAK_SECONDS}s closed loop at $PEAK_CONNECTIONS connections (load average $(cut -d' ' -f1 /proc/loadavg))"
"$DRIVER" peak --base "$BASE" --bin "$BIN" --patients "$WORK/patients" \
  --seconds "$PEAK_SECONDS" --connections "$PEAK_CONNECTIONS" >"$OUT/soak-peak.json"
PEAK=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["rps"], 1))' "$OUT/soak-peak.json")
RATE=$(python3 -c "print(round($PEAK * $SOAK_FRACTION, 1))")
log "peak $PEAK req/s (errors: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"])' "$OUT/soak-peak.json")); soak at $RATE req/s for ${SOAK_WARMUP}s warm-up + ${SOAK_SECONDS}s"
"$DRIVER" soak --base "$BASE" --bin "$BIN" --patients "$WORK/patients" \
  --seconds "$SOAK_SECONDS" --warmup "$SOAK_WARMUP" --rate "$RATE" --pid "$SPID" --samples "$OUT/soak-samples.txt" >"$OUT/soak.json"

python3 - "$OUT/soak-peak.json" "$OUT/soak.json" <<'PY'
import json, os, sys
peak, soak = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f, l = soak["first_minute_p99_ms"], soak["last_minute_p99_ms"]
mem = soak["memory"]
r0, r1 = mem["vmrss_first_minute_median_kib"], mem["vmrss_last_minute_median_kib"]
growth = (r1 - r0) / r0 if r0 else float("nan")
def pct(a, b): return f"{100 * (b - a) / a:+.1f}%" if a else "n/a"
ratio = l / f if f else float("nan")
print(f"\nSoak: peak {peak['rps']:.0f} req/s ({peak['connections']} connections, {peak['seconds']:.0f} s, errors {peak['errors']}); "
      f"soak at {soak['rate']:.0f} req/s for {soak['seconds']:.0f} s after {soak['warmup_seconds']} s warm-up, load average {os.getloadavg()[0]:.1f}")
print("| minute | requests | p99 ms |")
print("|---|---|---|")
for m in soak["per_minute"]:
    print(f"| {m['minute']} | {m['requests']} | {m['p99_ms']:.1f} |")
print(f"requests ok {soak['ok']} ({soak['ok_by_kind']}), errors {soak['errors']}")
print(f"p99 first minute {f:.1f} ms, last minute {l:.1f} ms: ratio {ratio:.2f} (target <= 1.5)")
print(f"VmRSS median of the first minute {r0} KiB, of the last minute {r1} KiB: growth {100 * growth:.1f}% (target < 10%)")
print(f"  of which RssAnon {mem['rss_anon_first_minute_median_kib']} -> {mem['rss_anon_last_minute_median_kib']} KiB "
      f"({pct(mem['rss_anon_first_minute_median_kib'], mem['rss_anon_last_minute_median_kib'])}), "
      f"RssFile (mapped database pages) {mem['rss_file_first_minute_median_kib']} -> {mem['rss_file_last_minute_median_kib']} KiB; "
      f"single readings at the soak's start and end: {soak['rss_start_kib']} -> {soak['rss_end_kib']} KiB "
      f"({pct(soak['rss_start_kib'], soak['rss_end_kib'])})")
for e in soak["first_errors"]:
    print("  error:", e)
ok = soak["errors"] == 0 and ratio <= 1.5 and growth < 0.10
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
