#!/usr/bin/env bash
# Audit log figures: replay ../shared/data/dev-cohort with the demo model,
# then `bedside demo` on the same data dir (stopped with SIGTERM once its
# replay is done, or after DEMO_SECS seconds), then count the entries by
# Bedside subtype (`bedside audit export`) and time `bedside audit verify`.
#   bash bench/audit.sh            # debug build; PROFILE=release for release
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
DEMO_SECS=${DEMO_SECS:-3600}
if [ "$PROFILE" = release ]; then cargo build -q --release -p bedside-cli; else cargo build -q -p bedside-cli; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/bedside
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$BIN" replay ../shared/data/dev-cohort --data-dir "$W/data" --model models/sepsis-demo --json > "$W/replay.json"
"$BIN" demo --data-dir "$W/data" --listen 127.0.0.1:0 2> "$W/demo.log" &
PID=$!
for _ in $(seq 1 "$DEMO_SECS"); do
  grep -q "demo cohort replayed" "$W/demo.log" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 1
done
grep -q "demo cohort replayed" "$W/demo.log" && echo "demo replay done" || echo "demo stopped after ${DEMO_SECS} s, mid-replay"
kill -TERM "$PID" 2>/dev/null || true
wait "$PID" || true
"$BIN" audit export --data-dir "$W/data" --out "$W/audit.ndjson"
python3 - "$W/audit.ndjson" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    b = json.loads(line)
    c[next(s["code"] for s in b["subtype"] if s["system"] == "https://bedside.dev/audit-event-subtype")] += 1
print(sum(c.values()), "entries:", dict(c.most_common()))
PY
for _ in 1 2 3; do /usr/bin/time -f "verify %e s (max RSS %M KB)" "$BIN" audit verify --data-dir "$W/data"; done
