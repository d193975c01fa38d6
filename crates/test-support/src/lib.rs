//! Set-up shared by Bedside's tests, so each test states only what it
//! checks:
//!
//! - [`use_cases`]: a shipped use case copied with its policy replaced;
//! - [`process`]: the `bedside` binary started on `127.0.0.1:0`, awaited
//!   until `/healthz` answers 200 (with a timeout), killed when dropped;
//! - [`fhir`]: FHIR R4 resources and Bundles as JSON (Patient, Encounter,
//!   Observation with a LOINC code, transaction entries);
//! - [`server`] (feature `in-process`): the app served in process on
//!   port 0 with a fresh SQLite data dir, stopped when dropped;
//! - [`http`] (feature `in-process`): GET / POST of JSON with reqwest,
//!   asserting the status, and stub HTTP servers on port 0;
//! - [`decisions`] (feature `in-process`): a policy at a stage, a
//!   certification, a prediction of a given probability;
//! - [`jobs`] (feature `in-process`): the app's due jobs run until none
//!   is pending;
//! - [`postgres`] (feature `in-process`): a fresh schema of the test
//!   database (`BEDSIDE_TEST_DATABASE_URL`) per test.
//!
//! Used only as a dev-dependency. Invariant: everything a helper starts
//! listens on 127.0.0.1 with a port the OS chose, and stops when its
//! guard is dropped.

pub mod fhir;
pub mod process;
pub mod use_cases;

#[cfg(feature = "in-process")]
pub mod decisions;
#[cfg(feature = "in-process")]
pub mod http;
#[cfg(feature = "in-process")]
pub mod jobs;
#[cfg(feature = "in-process")]
pub mod postgres;
#[cfg(feature = "in-process")]
pub mod server;

use std::path::{Path, PathBuf};

/// The workspace root (the repository's `models/`, `pathways/`,
/// `config/` and `demo/` are below it).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `path` below the workspace root.
pub fn repo_path(path: &str) -> PathBuf {
    repo_root().join(path)
}

/// The patient ids of the committed demo cohort `demo/{dir}` (its
/// `Patient.ndjson.gz`), in file order: what `bedside demo` replays, for
/// tests that visit every demo patient (the FHIR API has no unfiltered
/// Patient search).
pub fn demo_patient_ids(dir: &str) -> Vec<String> {
    use std::io::BufRead;
    let path = repo_root().join("demo").join(dir).join("Patient.ndjson.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| l.expect("Patient.ndjson.gz reads"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l).expect("a Patient per line");
            v["id"].as_str().expect("Patient.id").to_string()
        })
        .collect()
}
