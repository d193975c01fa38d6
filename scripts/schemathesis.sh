#!/usr/bin/env bash
# Property-based API testing (issue 9): schemathesis drives every operation
# of the published OpenAPI document (GET /openapi.json) against a real
# `bedside demo` (demo cohort replayed, demo model and pathways) on a free
# loopback port with a temp data dir, and fails on any server error (5xx).
#
#   bash scripts/schemathesis.sh                 # 100 examples per operation
#   ST_MAX_EXAMPLES=20 bash scripts/schemathesis.sh
#   ST_CHECKS=all bash scripts/schemathesis.sh   # also conformance checks
#   ST_NO_REPLAY=1 bash scripts/schemathesis.sh  # empty store: starts at once
#   BEDSIDE_BIN=target/release/bedside BENCH_NO_BUILD=1 bash scripts/schemathesis.sh
#
# Installs schemathesis from PyPI into bench/out/schemathesis-venv (once).
# Report: bench/out/schemathesis/ (JUnit) and the run's summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/bench/out}
TD=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$OUT/schemathesis-venv
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
CHECKS=${ST_CHECKS:-not_a_server_error}
log() { echo "[schemathesis] $*" >&2; }
mkdir -p "$OUT"
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  log "installing schemathesis into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis
fi
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  cargo build -q -p bedside-cli --bin bedside
fi
BIN=${BEDSIDE_BIN:-$TD/debug/bedside}
# shellcheck source=lib/demo.sh
source scripts/lib/demo.sh
log "starting bedside demo"
BEDSIDE_LOG=warn demo_start "$BIN" "$OUT/schemathesis-server.log" healthz ${ST_NO_REPLAY:+--no-replay}
curl -sf -o /dev/null "$BASE/openapi.json" || { log "the server did not come up"; tail -n 20 "$OUT/schemathesis-server.log"; exit 1; }
log "running schemathesis (checks: $CHECKS, up to $MAX_EXAMPLES examples per operation)"
set +e
PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
"$VENV/bin/schemathesis" run "$BASE/openapi.json" \
  --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --workers 1 --seed "${ST_SEED:-9}" \
  --rate-limit auto --suppress-health-check all --request-timeout 30 \
  --report junit --report-dir "$OUT/schemathesis" --no-color 2>&1 | tee "$OUT/schemathesis.log"
rc=${PIPESTATUS[0]}
set -e
if ! kill -0 "$DEMO_PID" 2>/dev/null; then log "the server died during the run"; rc=1; fi
if grep -q "panicked" "$OUT/schemathesis-server.log"; then log "the server log has a panic"; rc=1; fi
exit "$rc"
