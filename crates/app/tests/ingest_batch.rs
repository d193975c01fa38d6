//! Concurrent single-resource writes are ingested in batches
//! (`App::ingest_one`); each writer still gets its own outcome: created,
//! updated, unchanged, or a 400 naming what is wrong with its resource
//! (which writes nothing), and every accepted resource is stored with the
//! patient states it changes.

mod common;

use bedside_test_support::fhir;
use common::plain_app;
use futures_util::future::join_all;
use serde_json::{json, Value};

fn heart_rate(id: &str, patient: &str, minute: u32, value: u32) -> Value {
    let at = format!("2024-05-01T10:{minute:02}:00Z");
    fhir::heart_rate(id, patient, &at, value.into())
}

#[tokio::test]
async fn concurrent_writes_get_their_own_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let app = plain_app(dir.path()).await;
    // Round 1: 60 new Observations over 6 patients, plus 4 invalid ones.
    let mut bodies: Vec<(String, Option<String>)> = Vec::new();
    for i in 0..60u32 {
        let v = heart_rate(&format!("o{i}"), &format!("p{}", i % 6), i % 60, 60 + i);
        bodies.push((v.to_string(), None));
    }
    for i in 0..4 {
        let mut v = heart_rate(&format!("bad{i}"), "p0", 1, 70);
        v["status"] = json!(42); // not a code
        bodies.push((v.to_string(), Some(format!("bad{i}"))));
    }
    let results = join_all(
        bodies
            .iter()
            .map(|(b, _)| app.write_resource("Observation", None, b.as_bytes())),
    )
    .await;
    for ((_, bad), r) in bodies.iter().zip(&results) {
        match (bad, r) {
            (None, Ok(w)) => assert!(w.created, "{}", w.location),
            (Some(id), Err(e)) => {
                assert_eq!(e.status, 400, "{id}: {}", e.outcome);
                let text = e.outcome.to_string();
                assert!(text.contains("status"), "{id}: names the element: {text}");
            }
            (bad, r) => panic!("{bad:?}: unexpected {:?}", r.as_ref().map(|w| &w.location)),
        }
    }
    // Round 2, concurrent again: the same 30 first ones resent (unchanged)
    // and the other 30 with new values (updated).
    let round2: Vec<String> = (0..60u32)
        .map(|i| {
            let v = if i < 30 { 60 + i } else { 100 + i };
            heart_rate(&format!("o{i}"), &format!("p{}", i % 6), i % 60, v).to_string()
        })
        .collect();
    let results = join_all(
        round2
            .iter()
            .map(|b| app.write_resource("Observation", None, b.as_bytes())),
    )
    .await;
    for (i, r) in results.iter().enumerate() {
        let w = r.as_ref().unwrap_or_else(|e| panic!("o{i}: {}", e.outcome));
        assert!(!w.created, "o{i} existed");
        let want = if i < 30 { 60.0 } else { 100.0 } + i as f64;
        assert_eq!(w.resource["valueQuantity"]["value"], want, "o{i}");
    }
    // Everything accepted is stored (and none of the invalid ones), and
    // each patient's state has its 10 heart rates.
    for i in 0..60 {
        assert!(app
            .read_resource("Observation", &format!("o{i}"))
            .await
            .is_ok());
    }
    for i in 0..4 {
        assert!(app
            .read_resource("Observation", &format!("bad{i}"))
            .await
            .is_err());
    }
    for p in 0..6 {
        let (_, state) = app
            .ingestor
            .state_versioned(&format!("p{p}"))
            .await
            .unwrap()
            .expect("a state");
        let n: usize = state.channels.values().map(|c| c.points.len()).sum();
        assert_eq!(
            n,
            10,
            "p{p}: {:?}",
            state.channels.keys().collect::<Vec<_>>()
        );
    }
}
