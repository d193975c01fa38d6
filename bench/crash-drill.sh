#!/usr/bin/env bash
# Crash drill (issue 9): SIGKILL `bedside demo --no-replay` (demo model,
# pathways, live policy) at BEDSIDE_DRILL_KILLS (20) random moments while the
# dev cohort is replayed to it over HTTP `$import`, restart, resume; then
# check against a clean run: no acknowledged resource lost, no duplicate
# alert or Task, every due timer fired, the audit chain verifies. See
# crates/cli/tests/crash_drill.rs for the checks. Not part of CI (minutes).
#
#   bash bench/crash-drill.sh
#   BEDSIDE_DRILL_KILLS=5 BEDSIDE_DRILL_SEED=42 bash bench/crash-drill.sh
#   BEDSIDE_DRILL_COHORT=demo/cohort bash bench/crash-drill.sh   # smaller
#
# Needs ../shared/data/dev-cohort beside the repository (or
# BEDSIDE_DRILL_COHORT). Output: the figures on stdout and
# bench/out/crash-drill.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
if [ -n "${BEDSIDE_DRILL_COHORT:-}" ]; then
  BEDSIDE_DRILL_COHORT=$(cd "$BEDSIDE_DRILL_COHORT" && pwd); export BEDSIDE_DRILL_COHORT
fi
cargo test --release -q -p bedside-cli --test crash_drill -- --ignored --nocapture --test-threads=1 2>&1 \
  | tee bench/out/crash-drill.log
exit "${PIPESTATUS[0]}"
