#!/usr/bin/env bash
# Interoperability with a CDS client Bedside did not write: HealthChain's
# SandboxClient (PyPI `healthchain`, pinned) drives `bedside demo` at
# patient-view and order-sign, and its response models must parse every
# answer (scripts/interop_healthchain.py). The venv is made under the
# cargo target dir when absent or not at the pinned version (idempotent,
# quiet); the demo server listens on 127.0.0.1 at a free port, in a
# throwaway data dir, and is stopped whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

HEALTHCHAIN_VERSION="0.16.1"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$(pwd)/$TARGET_DIR" ;; esac
VENV="$TARGET_DIR/interop-venv"

if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('healthchain') != '$HEALTHCHAIN_VERSION')" 2>/dev/null; then
  echo "== installing healthchain $HEALTHCHAIN_VERSION in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "healthchain==$HEALTHCHAIN_VERSION"
fi

echo "== building bedside"
cargo build -q -p bedside-cli --bin bedside
BEDSIDE="${BEDSIDE_BIN:-$TARGET_DIR/debug/bedside}"

# shellcheck source=lib/demo.sh
source scripts/lib/demo.sh
echo "== bedside demo (replaying the demo cohort)"
demo_start "$BEDSIDE" "$TARGET_DIR/interop-bedside.log" healthz
DATA=$DEMO_DATA
echo "== bedside demo on $BASE"

# Hook JWTs signed by the demo EHR key, one per call (each jti is used once).
TOKENS="$DATA/tokens.json"
{
  printf '{'
  sep=""
  for hook in patient-view order-sign; do
    aud="$BASE/cds-services/sepsis-demo-$hook"
    printf '%s"%s": [' "$sep" "$aud"
    "$BEDSIDE" token --demo --aud "$aud" --count 60 | sed 's/.*/"&"/' | paste -sd, -
    printf ']'
    sep=","
  done
  printf '}'
} >"$TOKENS"

echo "== HealthChain SandboxClient against bedside demo"
"$VENV/bin/python" scripts/interop_healthchain.py "$BASE" "$TOKENS"
