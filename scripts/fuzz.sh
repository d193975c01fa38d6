#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS each (default 600), one after the
# other on one core (-jobs=1 -workers=1), seeded from the repository's real
# files (demo cohort lines and Bundles made from them, CDS Hooks fixtures,
# shipped BPMN pathways, the demo model package, config files). Exits
# non-zero when any target crashes (its input is under fuzz/artifacts/).
#
#   bash scripts/fuzz.sh            # 600 s per target
#   bash scripts/fuzz.sh 60         # a short trial
#   FUZZ_TARGETS="cds_hooks bpmn_import" bash scripts/fuzz.sh 120
#
# Needs the nightly toolchain (rustup); installs cargo-fuzz from crates.io
# when absent. Builds without a sanitizer (-s none): the code under test
# is safe Rust, so a bug shows as a panic, and the uninstrumented build is
# about twice as fast per execution. The per-target figures (executions,
# seconds, corpus size) are printed at the end and written to
# fuzz/out/summary.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-600}
TARGETS=${FUZZ_TARGETS:-"fhir_resource fhir_bundle fhir_ingest cds_hooks bpmn_import model_package settings_toml"}
OUT=$ROOT/fuzz/out
log() { echo "[fuzz] $*" >&2; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  log "the nightly toolchain is missing (rustup toolchain install nightly)"; exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (crates.io)"
  cargo install -q --locked cargo-fuzz
fi

# --- seed corpora from the repository's own files ---------------------------
SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
python3 - "$ROOT" "$SEEDS" <<'PY'
import glob, gzip, json, os, sys
root, seeds = sys.argv[1], sys.argv[2]
def put(target, name, data):
    d = os.path.join(seeds, target); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
# FHIR: a few lines of every resource type of the demo cohort; NDJSON chunks
# and Bundles (transaction and batch) made of them.
lines = []
for p in sorted(glob.glob(os.path.join(root, "demo/cohort/*.ndjson.gz"))):
    with gzip.open(p, "rt") as f:
        for i, line in enumerate(f):
            if i >= 8: break
            lines.append(line.strip())
for i, l in enumerate(lines):
    put("fhir_resource", f"line-{i}", l)
    put("fhir_ingest", f"line-{i}", l)
for k in range(0, len(lines), 16):
    chunk = lines[k:k + 16]
    put("fhir_ingest", f"ndjson-{k}", "\n".join(chunk) + "\n")
    for btype in ("transaction", "batch"):
        entries = []
        for l in chunk:
            r = json.loads(l)
            entries.append({"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r,
                            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}})
        b = json.dumps({"resourceType": "Bundle", "type": btype, "entry": entries})
        put("fhir_bundle", f"{btype}-{k}", b)
        put("fhir_ingest", f"{btype}-{k}", b)
# CDS Hooks: the specification's requests, responses, discovery, feedback, JWT.
for p in sorted(glob.glob(os.path.join(root, "../shared/cds-hooks/*/*"))):
    with open(p, "rb") as f:
        put("cds_hooks", os.path.basename(os.path.dirname(p)) + "-" + os.path.basename(p), f.read())
# BPMN: the shipped pathways and the engine's test fixtures.
for p in sorted(glob.glob(os.path.join(root, "pathways/*.bpmn")) + glob.glob(os.path.join(root, "crates/pathways/tests/fixtures/*"))):
    with open(p, "rb") as f:
        put("bpmn_import", os.path.basename(p), f.read())
# Model package: one seed per replaceable file (first byte = the file's index
# in fuzz_targets/model_package.rs FILES), its real content after it.
files = ["model.toml", "model.txt", "calibration.json", "training_profile.json", "card.md",
         "split.json", "calibration_set.json", "metrics.json"]
for i, name in enumerate(files):
    p = os.path.join(root, "models/sepsis-demo", name)
    if os.path.exists(p):
        with open(p, "rb") as f:
            put("model_package", name, bytes([i]) + f.read())
# Config: the shipped TOML files and a server config naming every kind of value.
for p in sorted(glob.glob(os.path.join(root, "config/*.toml"))):
    with open(p, "rb") as f:
        put("settings_toml", os.path.basename(p), f.read())
put("settings_toml", "server.toml", 'listen = "127.0.0.1:8080"\ndata_dir = "bedside-data"\nmax_body_mib = 32\n'
    'request_timeout_secs = 30\nmodels = ["models/sepsis-demo"]\npathways = ["pathways/sepsis-escalation.bpmn"]\n'
    'log_format = "json"\ninsecure_skip_hook_auth = false\n')
PY

# --- run ------------------------------------------------------------------------
mkdir -p "$OUT"
SUMMARY=$OUT/summary.tsv
printf 'target\texecutions\tseconds\texec_per_s\tcorpus\tresult\n' >"$SUMMARY"
failed=0
cd "$ROOT/fuzz"
# A target dir of its own (nightly + coverage flags rebuild everything):
# under CARGO_TARGET_DIR when that is set, else fuzz/target.
TD=()
if [ -n "${CARGO_TARGET_DIR:-}" ]; then TD=(--target-dir "$CARGO_TARGET_DIR/fuzz"); fi
log "building the fuzz targets (nightly, no sanitizer)"
for t in $TARGETS; do cargo +nightly fuzz build "${TD[@]}" -s none -O "$t" >&2; done
for t in $TARGETS; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log "$t: ${SECONDS_PER_TARGET}s"
  start=$(date +%s)
  set +e
  cargo +nightly fuzz run "${TD[@]}" -s none -O "$t" "corpus/$t" "$SEEDS/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -jobs=1 -workers=1 -print_final_stats=1 \
    -max_len=65536 -timeout=20 -rss_limit_mb=2048 >"$OUT/$t.log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$' | tail -n 1)
  result=ok
  if [ "$rc" -ne 0 ]; then result="CRASH (rc $rc, see fuzz/out/$t.log and fuzz/artifacts/$t)"; failed=1; fi
  n=$(ls "corpus/$t" | wc -l)
  rate=$(python3 -c "print(round(${execs:-0} / max($secs, 1)))")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-0}" "$secs" "$rate" "$n" "$result" >>"$SUMMARY"
  log "$t: ${execs:-0} executions in ${secs}s: $result"
done
column -t -s $'\t' "$SUMMARY"
exit $failed
