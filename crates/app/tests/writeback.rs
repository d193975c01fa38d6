//! Write-back of pathway Tasks, Communications and DetectedIssues to an external FHIR
//! server: a tiny axum FHIR server on 127.0.0.1:0 records every PUT and
//! refuses the first ones (503). The radiology pathway runs end to end
//! (AI finding → review task → overdue reminder Communication → discordant
//! report → DetectedIssue and QA task); every resource reaches the server in its final
//! stored version and no write-back job is left behind.

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::Router;
use bedside_app::worklist::TaskAction;
use bedside_test_support::http::Stub;
use bedside_test_support::jobs::drain;
use chrono::{Duration, Utc};
use common::pathway_app;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Recorder {
    /// (type, id, body) of every PUT answered 200, in order.
    got: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// PUTs still to refuse.
    refuse: Arc<Mutex<u32>>,
}

async fn put_resource(
    State(r): State<Recorder>,
    UrlPath((rtype, id)): UrlPath<(String, String)>,
    body: String,
) -> StatusCode {
    {
        let mut left = r.refuse.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    r.got.lock().unwrap().push((rtype, id, v));
    StatusCode::OK
}

/// The EHR's FHIR server, recording PUTs at `{base}/fhir`.
async fn fhir_server(rec: Recorder) -> Stub {
    Stub::serve(
        Router::new()
            .route("/fhir/{rtype}/{id}", put(put_resource))
            .with_state(rec),
    )
    .await
}

fn vars() -> Map<String, Value> {
    json!({
        "patient": {"identifiers": [{"value": "MRN-9"}]},
        "study": {"reference": "ImagingStudy/s1", "display": "CT head"},
        "finding": {"reference": "Observation/ai1", "display": "Intracranial haemorrhage (AI)"},
        "contrast_allergies": [{"display": "Iodinated contrast", "reference": "AllergyIntolerance/c1"}],
        "prior_imaging": [{"reference": "ImagingStudy/s0", "display": "CT head, earlier"}],
        "responsible_radiologist": "Practitioner/rad-7"
    })
    .as_object()
    .cloned()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_communications_are_written_back_with_retries() {
    let rec = Recorder::default();
    *rec.refuse.lock().unwrap() = 3;
    let ehr = fhir_server(rec.clone()).await;
    let base = ehr.url("/fhir");
    let dir = tempfile::tempdir().unwrap();
    let app = pathway_app(dir.path(), &["radiology-review.bpmn"]).await;
    assert!(app.set_writeback(Some("ftp://nope")).is_err());
    app.set_writeback(Some(&base)).unwrap();

    // The finding arrived 5 h ago: the 4 h overdue reminder is due.
    let t0 = Utc::now() - Duration::hours(5);
    app.start_pathway("imaging-ai-finding", "p-rad", "ai1", vars(), t0)
        .await
        .unwrap();
    drain(&app).await;
    let review = app.worklist(None, None, None).await.unwrap();
    assert_eq!(review.len(), 1);
    let review_id = review[0]["id"].as_str().unwrap().to_string();
    assert_eq!(review[0]["owner"]["reference"], "Practitioner/rad-7");

    // The radiologist's final report disagrees with the AI finding.
    let mut out = Map::new();
    out.insert(
        "review".into(),
        json!({"agrees_with_ai": false, "report": "No haemorrhage."}),
    );
    // Handed over to a colleague, who then reports.
    for action in [
        TaskAction::Claim,
        TaskAction::Reassign,
        TaskAction::Complete,
    ] {
        app.task_action(
            &review_id,
            action,
            Some("Practitioner/rad-7"),
            Some("Practitioner/rad-8"),
            out.clone(),
            Utc::now(),
        )
        .await
        .unwrap();
    }
    drain(&app).await;
    drop(ehr);

    assert_eq!(*rec.refuse.lock().unwrap(), 0, "the failures were not hit");
    let got = rec.got.lock().unwrap().clone();
    let mut last: BTreeMap<(String, String), Value> = BTreeMap::new();
    for (t, id, body) in &got {
        assert_eq!(body["resourceType"], t.as_str());
        assert_eq!(body["id"], id.as_str());
        last.insert((t.clone(), id.clone()), body.clone());
    }
    // Every stored Task, Communication and DetectedIssue arrived, newest
    // version last.
    let mut stored = 0;
    for kind in ["Task", "Communication", "DetectedIssue"] {
        for d in app
            .store
            .list_documents(&bedside_store::DocFilter {
                kind: kind.into(),
                patient_id: None,
                status: None,
                owner: None,
                since: None,
                limit: None,
            })
            .await
            .unwrap()
        {
            stored += 1;
            assert_eq!(
                last.get(&(kind.to_string(), d.id.clone())),
                Some(&d.body),
                "{kind}/{} not written back in its stored version",
                d.id
            );
        }
    }
    assert_eq!(stored, last.len());
    let kinds: Vec<String> = last
        .values()
        .map(|v| {
            format!(
                "{}:{}",
                v["resourceType"].as_str().unwrap(),
                v["code"]["coding"][0]["code"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert!(kinds.contains(&"Communication:-".to_string()), "{kinds:?}");
    assert_eq!(
        last.values()
            .filter(|v| v["resourceType"] == "Task")
            .count(),
        2,
        "review and QA tasks: {kinds:?}"
    );
    let comm = last
        .values()
        .find(|v| v["resourceType"] == "Communication")
        .unwrap();
    assert_eq!(comm["subject"]["reference"], "Patient/p-rad");
    let review = &last[&("Task".to_string(), review_id.clone())];
    assert_eq!(review["status"], "completed");
    assert_eq!(review["owner"]["reference"], "Practitioner/rad-8");
    assert_eq!(review["focus"]["reference"], "Observation/ai1");
    assert_eq!(comm["recipient"][0]["display"], "radiology-lead");
    // The discordance, written back like the Tasks.
    let issue = last
        .values()
        .find(|v| v["resourceType"] == "DetectedIssue")
        .unwrap_or_else(|| panic!("no DetectedIssue written back: {kinds:?}"));
    assert_eq!(issue["implicated"][0]["reference"], "Observation/ai1");
    assert_eq!(issue["patient"]["reference"], "Patient/p-rad");
    assert_eq!(app.store.pending_jobs().await.unwrap(), 0);
    // `scripts/fhir-validate.sh` validates what this pathway wrote (the
    // demo writes no Communication).
    if let Ok(dir) = std::env::var("BEDSIDE_FHIR_SAMPLES") {
        for ((kind, id), body) in &last {
            let path = std::path::Path::new(&dir).join(format!("writeback-{kind}-{id}.json"));
            std::fs::write(path, serde_json::to_vec_pretty(body).unwrap()).unwrap();
        }
    }
}
