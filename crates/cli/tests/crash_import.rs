//! Kill the server with SIGKILL in the middle of a `$import`, restart it,
//! import again, and check the final state equals a clean import's
//! (resources, versions and per-patient state, by digest).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn cohort() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/cohort")
}

/// Start `bedside serve` on port 0 and read the bound address from its log.
fn start(data: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--auth-mode",
            "off",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .env("BEDSIDE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bedside");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(i) = line.find("addr=") {
            let rest = &line[i + 5..];
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

fn replay(url: &str) -> std::process::Output {
    Command::new(BIN)
        .arg("replay")
        .arg(cohort())
        .args(["--url", url, "--json"])
        .output()
        .expect("run replay")
}

/// Status code of a plain HTTP GET (no client library needed here).
fn http_status(base: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let Ok(mut c) = std::net::TcpStream::connect(host) else {
        return 0;
    };
    let _ = write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let mut buf = String::new();
    let _ = c.read_to_string(&mut buf);
    buf.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
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

fn digest(data: &Path) -> String {
    let out = Command::new(BIN)
        .args(["digest", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sigkill_during_import_then_reimport_equals_clean_import() {
    let clean = tempfile::tempdir().unwrap();
    let (mut s, url) = start(clean.path());
    let out = replay(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.kill().unwrap();
    s.wait().unwrap();
    let want = digest(clean.path());

    let crashed = tempfile::tempdir().unwrap();
    let (mut s, url) = start(crashed.path());
    let mut r = Command::new(BIN)
        .arg("replay")
        .arg(cohort())
        .args(["--url", &url, "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first chunk is acknowledged (reference data and
    // patients come first), then SIGKILL mid-stream.
    let first = first_patient_id();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while http_status(&url, &format!("/fhir/Patient/{first}")) != 200 {
        assert!(std::time::Instant::now() < deadline, "import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill().unwrap(); // SIGKILL
    s.wait().unwrap();
    let _ = r.wait();
    let partial = digest(crashed.path());
    assert_ne!(partial, want, "the kill should have interrupted the import");

    let (mut s, url) = start(crashed.path());
    let out = replay(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.kill().unwrap();
    s.wait().unwrap();
    assert_eq!(digest(crashed.path()), want);
}
