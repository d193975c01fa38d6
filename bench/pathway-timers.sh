#!/usr/bin/env bash
# Timer lateness with two `bedside serve` replicas on one PostgreSQL, one
# SIGKILLed mid-run (crates/cli/tests/replicas.rs at a larger size).
#
#   bash bench/pathway-timers.sh          # 1000 instances, 2000 timers
#   N=300 bash bench/pathway-timers.sh
#
# Starts a throwaway PostgreSQL (.ci/postgres.sh, installs it if absent),
# prints the drill's line: timers fired once each, lateness (fired - due)
# p50 / p99 / max away from the kill and around it, and how many each
# replica fired. Debug build, the same binaries the test suite uses.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash .ci/postgres.sh start)"
trap 'bash .ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT
BEDSIDE_DRILL_INSTANCES="${N:-1000}" cargo test -q -p bedside-cli --test replicas -- --nocapture 2>&1 |
  grep -E "replica drill|test result|panicked|assert"
