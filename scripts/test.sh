#!/usr/bin/env bash
# The one test command (README, and .ci/run calls exactly this).
# Installs what the tests need when absent (idempotent, quiet), starts a
# throwaway PostgreSQL on loopback for the store suite, runs format, lint and
# every test, and stops PostgreSQL again whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
log() { printf '== %s\n' "$*"; }

# PostgreSQL for the store suite (both engines run the same suite).
log "starting a throwaway PostgreSQL"
eval "$(bash .ci/postgres.sh start)"
trap 'bash .ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "cargo test (SQLite and PostgreSQL: BEDSIDE_TEST_DATABASE_URL is set)"
cargo test --workspace --quiet
log "FHIR validation of what Bedside writes (fhir.resources + R4 JSON schema)"
bash scripts/fhir-validate.sh
if [ -x scripts/browser-tests.sh ]; then
  log "browser tests"
  bash scripts/browser-tests.sh
fi
if [ -x scripts/interop-healthchain.sh ]; then
  log "CDS client interop (HealthChain)"
  bash scripts/interop-healthchain.sh
fi
log "all tests passed"
