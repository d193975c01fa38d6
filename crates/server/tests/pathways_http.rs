//! Sepsis pathway Tasks over HTTP: worklist claim / acknowledge / complete,
//! a forbidden transition is a 409, FHIR Task search with `_summary=count`;
//! and timers survive a restart and fire once.

use bedside_app::{App, AppConfig};
use bedside_server::HttpConfig;
use bedside_test_support::decisions::{certified, inpatient, prediction};
use bedside_test_support::http;
use bedside_test_support::server::TestServer;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// The sepsis use case's model: its predictions start the use case's
/// pathway.
const MODEL: &str = "sepsis-demo";

async fn open(dir: &Path) -> App {
    let uc = bedside_test_support::use_cases::sepsis(dir, "stage = \"live\"");
    let config = AppConfig::sqlite(dir.join("data")).use_case(uc);
    let app = App::open(config).await.unwrap();
    app.set_certification(MODEL, certified(0.3, "test"));
    app
}

fn t0() -> DateTime<Utc> {
    "2024-03-01T10:00:00Z".parse().unwrap()
}

async fn alert(app: &App, pid: &str, at: DateTime<Utc>) {
    let mut commit = bedside_store::Commit::default();
    app.on_prediction(
        &inpatient(pid, t0() - Duration::days(1)),
        &prediction(MODEL, "1", at, 0.8),
        &mut commit,
    )
    .await
    .unwrap();
    app.store.commit(commit).await.unwrap();
}

#[tokio::test]
async fn worklist_claim_acknowledge_complete_and_task_search() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(open(dir.path()).await);
    alert(&app, "p1", t0()).await;
    let server = TestServer::serve(app.clone(), HttpConfig::default()).await;
    let base = &server.base;

    let (st, tasks) = http::get(base, "/worklist?role=nurse").await;
    assert_eq!(st, 200);
    let tasks = tasks.as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let nurse = &tasks[0];
    assert_eq!(nurse["status"], "requested");
    assert_eq!(nurse["for"]["reference"], "Patient/p1");
    assert_eq!(nurse["code"]["coding"][0]["code"], "Task_NurseReassessment");
    let id = nurse["id"].as_str().unwrap().to_string();
    let inputs = nurse["input"].to_string();
    assert!(inputs.contains("Location/ward-3"), "{inputs}");
    assert!(inputs.contains("none recorded"), "{inputs}");

    // requested -> completed skips the lifecycle.
    let (st, oo) = http::post_json(
        base,
        &format!("/worklist/{id}/complete"),
        &json!({"actor": "Practitioner/n-1"}),
    )
    .await;
    assert_eq!(st, 409);
    let msg = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        msg.contains("requested") && msg.contains("completed"),
        "{msg}"
    );

    let (st, t) = http::post_json(
        base,
        &format!("/worklist/{id}/claim"),
        &json!({"actor": "Practitioner/n-1"}),
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "accepted");
    assert_eq!(t["owner"]["reference"], "Practitioner/n-1");
    let (_, mine) = http::get(base, "/worklist?owner=Practitioner/n-1").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let (st, t) = http::post_json(base, &format!("/worklist/{id}/acknowledge"), &json!({})).await;
    assert_eq!((st, t["status"].as_str()), (200, Some("in-progress")));
    let (st, t) = http::post_json(
        base,
        &format!("/worklist/{id}/complete"),
        &json!({"actor": "Practitioner/n-1", "output": {"nurse": {"decision": "escalate"}}}),
    )
    .await;
    assert_eq!((st, t["status"].as_str()), (200, Some("completed")));

    // The nurse escalated: the physician task is open.
    let (_, phys) = http::get(base, "/worklist?role=physician").await;
    let phys = phys.as_array().unwrap();
    assert_eq!(phys.len(), 1);
    assert_eq!(phys[0]["code"]["coding"][0]["code"], "Task_PhysicianReview");

    let (st, b) = http::get(base, "/fhir/Task?patient=p1&_summary=count").await;
    assert_eq!((st, b["total"].as_u64()), (200, Some(2)));
    let (_, b) = http::get(base, "/fhir/Task?status=completed").await;
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["id"], id.as_str());
    let (st, t) = http::get(base, &format!("/fhir/Task/{id}")).await;
    assert_eq!((st, t["status"].as_str()), (200, Some("completed")));
    let (st, _) = http::post_json(
        base,
        "/worklist/nope/claim",
        &json!({"actor": "Practitioner/x"}),
    )
    .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn timers_survive_a_restart_and_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = open(dir.path()).await;
        alert(&app, "p2", t0()).await;
        assert_eq!(app.store.pending_jobs().await.unwrap(), 1);
    }
    let app = open(dir.path()).await;
    assert_eq!(
        app.run_due_timers(t0() + Duration::minutes(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.run_due_timers(t0() + Duration::minutes(16))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.run_due_timers(t0() + Duration::minutes(16))
            .await
            .unwrap(),
        0
    );
    let open_tasks = app.worklist(None, None, None).await.unwrap();
    assert_eq!(open_tasks.len(), 1);
    assert_eq!(
        open_tasks[0]["code"]["coding"][0]["code"],
        "Task_PhysicianReview"
    );
    assert_eq!(open_tasks[0]["owner"]["reference"], "Practitioner/doc-1");
    let cancelled = app.worklist(None, None, Some("cancelled")).await.unwrap();
    assert_eq!(cancelled.len(), 1);
    // Far past both deadlines: the physician timer fires, once.
    assert_eq!(
        app.run_due_timers(t0() + Duration::hours(2)).await.unwrap(),
        1
    );
    assert_eq!(
        app.run_due_timers(t0() + Duration::hours(2)).await.unwrap(),
        0
    );
    let open_tasks = app.worklist(None, Some("rrt"), None).await.unwrap();
    assert_eq!(open_tasks.len(), 1);
    assert_eq!(open_tasks[0]["priority"], "stat");
}

#[tokio::test]
async fn worklist_snooze_overrides_the_alert_and_ends_the_pathway() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(open(dir.path()).await);
    alert(&app, "p2", t0()).await;
    let server = TestServer::serve(app.clone(), HttpConfig::default()).await;
    let base = &server.base;
    let (_, tasks) = http::get(base, "/worklist?role=nurse").await;
    let id = tasks[0]["id"].as_str().unwrap().to_string();
    let path = format!("/worklist/{id}/snooze");

    // A reason outside the policy's coded list, and hours beyond the
    // maximum, are refused and change nothing.
    let (st, oo) = http::post_json(
        base,
        &path,
        &json!({"actor": "Practitioner/n-1", "reason": "bored"}),
    )
    .await;
    assert_eq!(st, 400);
    let msg = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(msg.contains("bored") && msg.contains("not-septic"), "{msg}");
    let (st, _) = http::post_json(
        base,
        &path,
        &json!({"actor": "Practitioner/n-1", "reason": "not-septic", "hours": 10000}),
    )
    .await;
    assert_eq!(st, 400);
    let (_, still) = http::get(base, "/worklist?role=nurse").await;
    assert_eq!(still.as_array().unwrap().len(), 1);
    let (st, _) = http::post_json(base, &path, &json!({})).await;
    assert_eq!(st, 400);

    let (st, t) = http::post_json(
        base,
        &path,
        &json!({"actor": "Practitioner/n-1", "reason": {"system": "https://bedside.dev/override-reason", "code": "not-septic"}}),
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "cancelled", "{t}");
    let (_, open_tasks) = http::get(base, "/worklist?role=nurse").await;
    assert!(open_tasks.as_array().unwrap().is_empty(), "{open_tasks}");

    let mem = app
        .store
        .get_document(bedside_app::hooks::ALERT_MEMORY, &format!("{MODEL}|p2"))
        .await
        .unwrap()
        .expect("alert memory");
    assert_eq!(mem.body["memory"]["snooze"]["reason"]["code"], "not-septic");
    assert_eq!(mem.body["memory"]["snooze"]["by"], "Practitioner/n-1");

    // The override is in the audit log, once, with its reason.
    let overrides: Vec<_> = app
        .store
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| bedside_app::audit::subtype_of(&e.body) == Some("alert-override-worklist"))
        .collect();
    assert_eq!(overrides.len(), 1);
    assert!(overrides[0].body.to_string().contains("not-septic"));

    // Still high an hour later: snoozed, so no new pathway and no new Task.
    alert(&app, "p2", t0() + Duration::hours(1)).await;
    let (_, b) = http::get(base, "/fhir/Task?patient=p2&_summary=count").await;
    assert_eq!(b["total"], 1, "{b}");

    // A Task that does not exist is a 404.
    let (st, _) = http::post_json(
        base,
        "/worklist/nope/snooze",
        &json!({"reason": "not-septic"}),
    )
    .await;
    assert_eq!(st, 404);
}

/// `GET /worklist` pages: `_count` Tasks newest first, a `Link` rel=next
/// to the rest, the pages together are the whole worklist in order; the
/// role filter pages the same way; bad paging parameters are a 400.
#[tokio::test]
async fn worklist_pages_follow_the_next_links() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(open(dir.path()).await);
    for (i, p) in ["p1", "p2", "p3", "p4", "p5"].iter().enumerate() {
        alert(&app, p, t0() + Duration::minutes(i as i64)).await;
    }
    let all: Vec<Value> = app.worklist(None, None, None).await.unwrap();
    let nurse: Vec<Value> = app.worklist(None, Some("nurse"), None).await.unwrap();
    assert_eq!(nurse.len(), 5, "one nurse Task per alert");
    assert!(all.len() >= nurse.len());
    let server = TestServer::serve(app.clone(), HttpConfig::default()).await;
    let base = &server.base;
    let client = reqwest::Client::new();
    for (first, want) in [
        ("/worklist?_count=2".to_string(), &all),
        ("/worklist?role=nurse&_count=2".to_string(), &nurse),
    ] {
        let mut next = Some(first);
        let mut got: Vec<Value> = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            next = r.headers().get("link").map(|l| {
                let l = l.to_str().unwrap();
                assert!(l.ends_with("; rel=\"next\""), "{l}");
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
            let page: Vec<Value> = r.json().await.unwrap();
            assert!(page.len() <= 2, "{path}: {} Tasks", page.len());
            assert!(
                !page.is_empty() || next.is_none(),
                "{path}: empty page with a next link"
            );
            got.extend(page);
            pages += 1;
            assert!(pages <= 10, "paging does not end");
        }
        assert_eq!(pages, want.len().div_ceil(2));
        assert_eq!(
            &got, want,
            "pages together = the whole worklist, newest first"
        );
    }
    // Newest first: created times never increase down the list.
    let times: Vec<&str> = all
        .iter()
        .map(|t| t["authoredOn"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    for bad in [
        "_count=-1",
        "_count=1001",
        "_count=x",
        "_offset=y",
        "page=2",
    ] {
        let (st, oo) = http::get(base, &format!("/worklist?{bad}")).await;
        assert_eq!(st, 400, "{bad}: {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome", "{bad}");
    }
}

/// A risk pathway's Task lists what a responder reads first, not the
/// feature vector: the latest value of each channel the model reads (a
/// charted channel it does not read is left out) and the active orders of
/// the use case's `task.medications` channels (antibiotics for sepsis; an
/// active non-antibiotic and a stopped antibiotic are left out).
#[tokio::test]
async fn task_inputs_are_the_models_channels_and_the_use_cases_medications() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(open(dir.path()).await);
    let server = TestServer::serve(app.clone(), HttpConfig::default()).await;
    let med = |id: &str, status: &str, system: &str, code: &str, text: &str| {
        json!({"resourceType": "MedicationRequest", "id": id, "status": status,
               "intent": "order", "subject": {"reference": "Patient/p1"},
               "authoredOn": "2024-03-01T08:00:00Z",
               "medicationCodeableConcept": {"coding": [{"system": system, "code": code, "display": text}], "text": text}})
    };
    let rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
    http::ingest(
        &server.base,
        &bedside_test_support::fhir::transaction([
            bedside_test_support::fhir::patient("p1"),
            med("m-ab", "active", rxnorm, "2193", "Ceftriaxone"),
            med("m-para", "active", rxnorm, "161", "Acetaminophen"),
            med("m-old", "stopped", rxnorm, "733", "Ampicillin"),
        ]),
    )
    .await;
    let mut state = inpatient("p1", t0() - Duration::days(1));
    for (channel, v) in [("heart_rate", 121.0), ("hemoglobin", 9.1)] {
        state
            .channels
            .entry(channel.into())
            .or_default()
            .points
            .push_back(bedside_core::Point {
                t: t0() - Duration::hours(1),
                v,
                source: format!("Observation/{channel}"),
            });
    }
    let mut commit = bedside_store::Commit::default();
    app.on_prediction(&state, &prediction(MODEL, "1", t0(), 0.8), &mut commit)
        .await
        .unwrap();
    app.store.commit(commit).await.unwrap();

    let (st, tasks) = http::get(&server.base, "/worklist?role=nurse").await;
    assert_eq!(st, 200);
    let inputs = tasks[0]["input"].to_string();
    assert!(inputs.contains("Heart rate 121 /min"), "{inputs}");
    assert!(!inputs.contains("emoglobin"), "{inputs}");
    assert!(inputs.contains("MedicationRequest/m-ab"), "{inputs}");
    assert!(!inputs.contains("m-para"), "{inputs}");
    assert!(!inputs.contains("m-old"), "{inputs}");
}
