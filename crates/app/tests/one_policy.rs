//! One alert policy per use case: hooks, scoring and pathway starts decide
//! with the same policy, so a use case's policy changed at run time is
//! followed at once by a hook card and by a pathway start.

use bedside_app::{App, AppConfig};
use bedside_store::{Commit, Document};
use bedside_test_support::decisions::prediction;
use bedside_test_support::decisions::{certified, inpatient, policy};
use bedside_test_support::use_cases::sepsis;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::path::Path;

const MODEL: &str = "sepsis-demo";

fn t0() -> DateTime<Utc> {
    "2024-03-01T10:00:00Z".parse().unwrap()
}

const USE_CASE: &str = "sepsis-screening";

async fn open(dir: &Path) -> App {
    let hooks = bedside_app::hooks::HookConfig {
        insecure_skip_auth: true,
        ..Default::default()
    };
    App::open(
        AppConfig::sqlite(dir.join("data"))
            .public_url("http://test")
            .use_case(sepsis(dir, "stage = \"silent\""))
            .hooks(hooks),
    )
    .await
    .unwrap()
}

/// A precomputed high risk for `pid`, as scoring after ingest stores it.
async fn store_risk(app: &App, pid: &str) {
    let p = prediction(MODEL, "0.1.0", t0(), 0.9);
    let mut c = Commit::default();
    c.documents.push(Document {
        kind: bedside_app::pipeline::LATEST_RISK.into(),
        id: bedside_app::scoring::latest_id(MODEL, pid),
        patient_id: Some(pid.into()),
        status: None,
        owner: Some(MODEL.into()),
        created_at: t0(),
        updated_at: t0(),
        body: serde_json::to_value(&p).unwrap(),
    });
    app.store.commit(c).await.unwrap();
}

async fn patient_view(app: &App, pid: &str) -> Vec<Value> {
    let body = json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": pid}
    })
    .to_string();
    let r = app
        .cds_call(
            &format!("{MODEL}-patient-view"),
            None,
            body.as_bytes(),
            t0() + Duration::minutes(5),
        )
        .await
        .unwrap();
    serde_json::to_value(&r).unwrap()["cards"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Scores `pid` at 0.8 as ingest would and commits what it decides.
async fn predict(app: &App, pid: &str) {
    let mut c = Commit::default();
    app.on_prediction(
        &inpatient(pid, t0() - Duration::days(1)),
        &prediction(MODEL, "0.1.0", t0(), 0.8),
        &mut c,
    )
    .await
    .unwrap();
    app.store.commit(c).await.unwrap();
}

async fn on_pathway(app: &App, pid: &str) -> bool {
    app.running_instance(pid, "sepsis-escalation", None)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_policy_changed_at_run_time_is_followed_by_hooks_and_pathways() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    app.set_certification(MODEL, certified(0.3, "test promise"));

    // Silent: the hook shows nothing and no pathway starts.
    store_risk(&app, "h1").await;
    assert!(patient_view(&app, "h1").await.is_empty());
    predict(&app, "p1").await;
    assert!(!on_pathway(&app, "p1").await);
    assert_eq!(format!("{:?}", app.policy_for(MODEL).stage), "Silent");

    // Live, changed once: both follow.
    app.set_use_case_policy(USE_CASE, policy("live"))
        .await
        .unwrap();
    app.set_certification(MODEL, certified(0.3, "test promise"));
    store_risk(&app, "h2").await;
    let cards = patient_view(&app, "h2").await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert!(
        cards[0]["detail"]
            .as_str()
            .unwrap()
            .contains("at least 1 in 4"),
        "the card carries the certification made under the policy in force (PPV at least 0.3): {}",
        cards[0]["detail"]
    );
    predict(&app, "p2").await;
    assert!(on_pathway(&app, "p2").await);

    // Silent again: both stop.
    app.set_use_case_policy(USE_CASE, policy("silent"))
        .await
        .unwrap();
    app.set_certification(MODEL, certified(0.3, "test promise"));
    store_risk(&app, "h3").await;
    assert!(patient_view(&app, "h3").await.is_empty());
    predict(&app, "p3").await;
    assert!(!on_pathway(&app, "p3").await);
}

#[tokio::test]
async fn a_policy_change_recertifies_every_served_model() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    app.set_certification(MODEL, certified(0.3, "test promise"));
    assert!(app
        .certification(MODEL)
        .unwrap()
        .statement()
        .contains("test promise"));
    // The new policy's certification replaces the one set by hand: a
    // certification is only valid under the policy it was made with.
    app.set_use_case_policy(USE_CASE, policy("live"))
        .await
        .unwrap();
    let cert = app.certification(MODEL).unwrap();
    assert!(!cert.statement().contains("test promise"), "{cert:?}");
}

#[tokio::test]
async fn every_write_queues_its_write_back_even_a_pathway_started_from_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    // Nothing listens there: jobs stay queued, which is what is counted.
    app.set_writeback(Some("http://127.0.0.1:9/fhir")).unwrap();
    store_risk(&app, "s1").await;
    let who = bedside_app::audit::Actor::anonymous();
    let tasks = app.ui_start_pathway(&who, "s1", t0()).await.unwrap();
    assert!(tasks > 0);
    let due = app
        .store
        .claim_jobs(Utc::now() + Duration::days(3650), 10_000, 5)
        .await
        .unwrap();
    let writebacks: Vec<_> = due
        .iter()
        .filter(|j| j.kind == bedside_app::writeback::WRITEBACK_JOB)
        .map(|j| j.payload["resourceType"].as_str().unwrap_or("").to_string())
        .collect();
    let task_jobs = writebacks.iter().filter(|k| *k == "Task").count();
    assert_eq!(task_jobs, tasks, "{writebacks:?}");
    assert!(
        writebacks.iter().any(|k| k == "RiskAssessment"),
        "{writebacks:?}"
    );
}

#[tokio::test]
async fn the_default_policy_does_not_reach_a_use_case() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    app.set_certification(MODEL, certified(0.3, "test promise"));
    // The default policy (models served without a use case) goes live;
    // the use case stays silent: it decides under its own policy only.
    app.set_policy(policy("live")).await.unwrap();
    assert_eq!(format!("{:?}", app.policy().stage), "Live");
    assert_eq!(format!("{:?}", app.policy_for(MODEL).stage), "Silent");
    store_risk(&app, "d1").await;
    assert!(patient_view(&app, "d1").await.is_empty());
    predict(&app, "d2").await;
    assert!(!on_pathway(&app, "d2").await);
    assert!(app
        .set_use_case_policy("no-such-use-case", policy("live"))
        .await
        .is_err());
}
