//! Kill the server with SIGKILL in the middle of a `$import`, restart it,
//! import again, and check the final state equals a clean import's
//! (resources, versions and per-patient state, by digest).

use bedside_test_support::process::{self, BedsideProcess, Spawn};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn cohort() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/cohort")
}

/// `bedside serve` on port 0 with `data`, answering `/healthz`.
fn start(data: &Path) -> BedsideProcess {
    Spawn::serve(BIN)
        .data_dir(data)
        .start()
        .expect("start bedside serve")
}

fn replay(url: &str) -> std::process::Output {
    Command::new(BIN)
        .arg("replay")
        .arg(cohort())
        .args(["--url", url, "--json"])
        .output()
        .expect("run replay")
}

fn first_patient_id() -> String {
    let f = std::fs::File::open(cohort().join("Patient.ndjson.gz")).unwrap();
    let mut line = String::new();
    BufReader::new(flate2::read::GzDecoder::new(f))
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn sigkill_during_import_then_reimport_equals_clean_import() {
    let clean = tempfile::tempdir().unwrap();
    let s = start(clean.path());
    let out = replay(&s.base);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.sigkill();
    let want = process::digest(BIN, clean.path());

    let crashed = tempfile::tempdir().unwrap();
    let s = start(crashed.path());
    let mut r = Command::new(BIN)
        .arg("replay")
        .arg(cohort())
        .args(["--url", &s.base, "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first chunk is acknowledged (reference data and
    // patients come first), then SIGKILL mid-stream.
    let first = first_patient_id();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !matches!(s.get(&format!("/fhir/Patient/{first}")), Ok((200, _))) {
        assert!(std::time::Instant::now() < deadline, "import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.sigkill();
    let _ = r.wait();
    let partial = process::digest(BIN, crashed.path());
    assert_ne!(partial, want, "the kill should have interrupted the import");

    let s = start(crashed.path());
    let out = replay(&s.base);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.sigkill();
    assert_eq!(process::digest(BIN, crashed.path()), want);
}
