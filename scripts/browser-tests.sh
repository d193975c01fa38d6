#!/usr/bin/env bash
# Browser tests of the web UI (issue 8): headless Chromium from Debian,
# driven over WebDriver by crates/ui-e2e against a real `bedside demo`.
# Installs chromium + chromium-driver when absent (idempotent, quiet),
# builds the bedside binary, runs the test with BEDSIDE_E2E=1.
# Screenshots: screenshots/ at the repo root (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver (Debian)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q chromium chromium-driver >/dev/null
fi

echo "== building bedside"
cargo build -q -p bedside-cli --bin bedside
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$(pwd)/$TARGET_DIR" ;; esac
export BEDSIDE_BIN="${BEDSIDE_BIN:-$TARGET_DIR/debug/bedside}"
export BEDSIDE_SCREENSHOTS="${BEDSIDE_SCREENSHOTS:-$(pwd)/screenshots}"
mkdir -p "$BEDSIDE_SCREENSHOTS"

echo "== browser tests (screenshots in $BEDSIDE_SCREENSHOTS)"
BEDSIDE_E2E=1 cargo test -q -p bedside-ui-e2e --test browser -- --nocapture
