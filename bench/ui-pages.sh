#!/usr/bin/env bash
# Server time of every web UI page with the demo data (issue 8 target:
# under 300 ms). Starts `bedside demo` on a free loopback port with a
# throwaway data directory, waits for the demo cohort replay, starts the
# escalation pathway for one patient (so the worklist and the pathway view
# have something to show), then requests every page N times and reports
# the `Server-Timing: app;dur=<ms>` the server measured (handler + render),
# p50 / p95 / max per page. Exits 1 when any page's p95 is 300 ms or more.
#
#   bash bench/ui-pages.sh [N]        (default N = 50)
#
# Binary: $BEDSIDE_BIN, else target/release/bedside, else target/debug/bedside
# (a debug build is slower; its figures are an upper bound).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-50}"
for tool in curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "$tool" >/dev/null
  fi
done
BIN="${BEDSIDE_BIN:-}"
if [ -z "$BIN" ]; then
  if [ -x target/release/bedside ]; then BIN=target/release/bedside; else BIN=target/debug/bedside; fi
fi
[ -x "$BIN" ] || { echo "no bedside binary at $BIN (cargo build -p bedside-cli)" >&2; exit 2; }

DATA="$(mktemp -d)"
LOG="$DATA/bedside.log"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BEDSIDE_LOG=info NO_COLOR=1 "$BIN" demo --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 600); do
  grep -q "demo cohort replayed" "$LOG" && break
  kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; exit 2; }
  sleep 0.5
done
grep -q "demo cohort replayed" "$LOG" || { echo "demo did not finish replaying" >&2; exit 2; }
BASE="http://127.0.0.1:$PORT"
PATIENT="$(curl -s "$BASE/ui/sandbox" | grep -o 'patient=[^"&]*' | head -1 | cut -d= -f2)"
curl -s -o /dev/null -X POST "$BASE/ui/sandbox/start-pathway" -d "patient=$PATIENT"
MODEL_FACTS="$(curl -s "$BASE/ui/models" | grep -o 'href="/ui/models/[^"]*"' | head -1 | cut -d'"' -f2)"
PAGES=(/ui /ui/worklist /ui/sandbox "/ui/sandbox?patient=$PATIENT" /ui/pathways
       /ui/pathways/sepsis-escalation/diagram /ui/models "$MODEL_FACTS")
echo "binary: $BIN; $N requests per page; $(grep -o 'resources=[0-9]*' "$LOG" | head -1) replayed"
for p in "${PAGES[@]}"; do
  for _ in $(seq 1 "$N"); do
    curl -s -o /dev/null -D - "$BASE$p" | tr -d '\r' | sed -n 's/^server-timing: app;dur=//Ip'
  done | python3 -c '
import sys
page = sys.argv[1]
v = sorted(float(x) for x in sys.stdin if x.strip())
if not v:
    print(f"{page:45s} no Server-Timing header"); sys.exit(1)
q = lambda f: v[min(len(v) - 1, int(round(f * (len(v) - 1))))]
flag = "" if q(0.95) < 300 else "  OVER 300 ms"
print(f"{page:45s} n={len(v):3d}  p50={q(0.5):7.1f} ms  p95={q(0.95):7.1f} ms  max={v[-1]:7.1f} ms{flag}")
sys.exit(1 if flag else 0)
' "$p" || FAIL=1
done
exit "${FAIL:-0}"
