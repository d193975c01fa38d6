//! A replay with nothing running on event time (no model, no pathway) is a
//! plain load of data: it commits in size-bounded chunks and prepares
//! chunk k+1 while chunk k is written (`bedside_ingest::Pending`). It must
//! store exactly what the serial path stores, and count exactly the same
//! outcomes, including a resource whose copy or newer version is in the
//! next chunk (read from the pending commit, not from the store).

mod common;

use bedside_app::replay::{read_dir_sorted, replay_chunks, replay_dir, CHUNK};
use bedside_app::{App, ImportSummary};
use common::plain_app;
use serde_json::json;
use std::path::Path;

/// The serial path: every replay chunk through `ingest_lines`, one commit
/// after the other.
async fn serial(app: &App, cohort: &Path) -> ImportSummary {
    let lines = read_dir_sorted(cohort).unwrap();
    let mut summary = ImportSummary::default();
    for l in &lines {
        *summary.resources.entry(l.rtype.clone()).or_default() += 1;
    }
    for chunk in replay_chunks(&lines) {
        let bytes = chunk.iter().map(|l| l.bytes.clone()).collect();
        app.ingest_lines(bytes, &mut summary).await.unwrap();
    }
    app.finish_summary(&mut summary).await.unwrap();
    summary
}

fn counts(s: &ImportSummary) -> (u64, u64, u64, u64) {
    (s.created, s.updated, s.unchanged, s.rejected)
}

#[tokio::test]
async fn bulk_replay_of_the_demo_cohort_stores_what_the_serial_path_stores() {
    let cohort = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/cohort");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bulk = plain_app(a.path()).await;
    assert!(!bulk.runs_on_event_time());
    let s1 = replay_dir(&bulk, &cohort, None).await.unwrap();
    let ser = plain_app(b.path()).await;
    let s2 = serial(&ser, &cohort).await;
    assert!(s1.created > 1000, "{s1:?}");
    assert_eq!(counts(&s1), counts(&s2));
    assert_eq!(s1.stored, s2.stored);
    assert_eq!((s1.patients, s1.encounters), (s2.patients, s2.encounters));
    let digest = bulk.digest().await.unwrap();
    assert_eq!(digest, ser.digest().await.unwrap());
    // Again: nothing created or updated, nothing changed.
    let again = replay_dir(&bulk, &cohort, None).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 0), "{again:?}");
    assert_eq!(again.unchanged, s1.read_total() - s1.rejected - s1.ignored);
    assert_eq!(bulk.digest().await.unwrap(), digest);
}

#[tokio::test]
async fn a_copy_or_newer_version_in_the_next_chunk_is_unchanged_or_updated() {
    // CHUNK - 1 earlier Observations, then the target as the last line of
    // the first chunk, its exact copy and its version 2 opening the next.
    let obs = |id: &str, minute: usize, value: f64, version: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "meta": {"versionId": version},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p-bulk"},
            "effectiveDateTime": format!("2024-03-01T{:02}:{:02}:00Z", minute / 60 % 24, minute % 60),
            "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}})
        .to_string()
    };
    let mut lines: Vec<String> = (0..CHUNK - 1)
        .map(|i| obs(&format!("hr-{i}"), i / 2, 80.0, "1"))
        .collect();
    let last = (CHUNK - 1) / 2 + 1;
    lines.push(obs("target", last, 90.0, "1"));
    lines.push(obs("target", last, 90.0, "1"));
    lines.push(obs("target", last, 120.0, "2"));
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    std::fs::create_dir_all(&cohort).unwrap();
    std::fs::write(cohort.join("Observation.ndjson"), lines.join("\n")).unwrap();

    let bulk = plain_app(&dir.path().join("a")).await;
    let s = replay_dir(&bulk, &cohort, None).await.unwrap();
    assert_eq!(counts(&s), (CHUNK as u64, 1, 1, 0), "{s:?}");
    let ser = plain_app(&dir.path().join("b")).await;
    let s2 = serial(&ser, &cohort).await;
    assert_eq!(counts(&s), counts(&s2));
    assert_eq!(bulk.digest().await.unwrap(), ser.digest().await.unwrap());
    let stored = bulk.read_resource("Observation", "target").await.unwrap();
    assert_eq!(stored["meta"]["versionId"], "2");
    assert_eq!(stored["valueQuantity"]["value"], 120.0);
    // The state was written by both chunks in turn (version 2).
    let (version, _) = bulk
        .ingestor
        .state_versioned("p-bulk")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 2);
}
