//! The web UI over real HTTP: every page is served with the security
//! headers and a Server-Timing header; a card's links lead to the model
//! facts page of its model version; the sandbox's token endpoint gives a
//! JWT that Bedside's own CDS services accept; an override shows on the
//! dashboard; the worklist's forms claim, reassign and complete a pathway
//! task started from the sandbox, and refuse what the Task state machine
//! forbids.

use bedside_app::hooks::HookConfig;
use bedside_server::HttpConfig;
use bedside_test_support::fhir;
use bedside_test_support::http::{self, client};
use bedside_test_support::server::TestServer;
use serde_json::{json, Value};
use std::path::PathBuf;

const MODEL: &str = "fixture-lgbm";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start() -> TestServer {
    let hooks = HookConfig::demo(&root().join("config/demo-ehr")).unwrap();
    // The fixture model served as the sepsis use case (its pathway starts
    // from the sandbox's demo control).
    let dir = tempfile::tempdir().unwrap();
    let uc = bedside_test_support::use_cases::fixture_as_sepsis(dir.path());
    TestServer::start_with(HttpConfig::default(), |c| c.use_case(uc).hooks(hooks)).await
}

/// GET a page: status, headers, body.
async fn get(base: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

async fn post_form(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = client()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A named patient ("Ada Testperson", female) with an active encounter
/// and septic vital signs.
async fn ingest_patient(base: &str, pid: &str) {
    let mut resources = fhir::septic_patient(pid);
    resources[0]["gender"] = json!("female");
    resources[0]["name"] = json!([{"given": ["Ada"], "family": "Testperson"}]);
    http::ingest(base, &fhir::transaction(resources)).await;
}

#[tokio::test]
async fn every_page_is_served_with_security_headers_and_timing() {
    let s = start().await;
    ingest_patient(&s.base, "p1").await;
    let pages = [
        ("/ui", "Monitoring dashboard"),
        ("/ui/worklist", "Worklist"),
        ("/ui/sandbox", "EHR sandbox"),
        ("/ui/sandbox?patient=p1", "Ada Testperson"),
        ("/ui/pathways", "Sepsis escalation"),
        ("/ui/pathways/sepsis-escalation", "Sepsis escalation"),
        ("/ui/models", "Models"),
    ];
    for (path, needle) in pages {
        let (status, h, body) = get(&s.base, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains(needle), "{path} lacks {needle:?}");
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        let timing = h["server-timing"].to_str().unwrap();
        let ms: f64 = timing
            .strip_prefix("app;dur=")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{path}: server-timing {timing:?}"));
        assert!(ms >= 0.0);
    }
    // The diagram is drawn from DI coordinates: one shape per flow node.
    let (_, _, body) = get(&s.base, "/ui/pathways/sepsis-escalation/diagram").await;
    assert!(body.starts_with("<div id=\"pathway-diagram\""), "{body}");
    assert!(body.matches("class=\"bpmn-shape").count() >= 10, "{body}");

    let (status, _, body) = get(&s.base, "/ui/no-such-page").await;
    assert_eq!(status, 404);
    assert!(body.contains("Page not found"));
    let (status, _, _) = get(&s.base, "/ui/pathways/nope").await;
    assert_eq!(status, 404);
    let (status, _, body) = get(&s.base, "/ui/sandbox?patient=not%20an%20id").await;
    assert_eq!(status, 400, "{body}");
    // The patient timeline shown (and the refused one) are in the audit
    // log; the patient list and the model facts are not patient records.
    let timeline: Vec<serde_json::Value> = s
        .app
        .store
        .audit_entries(1, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| bedside_app::audit::subtype_of(&e.body) == Some("ui-patient-timeline"))
        .map(|e| e.body)
        .collect();
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    assert_eq!(timeline[0]["entity"][0]["what"]["reference"], "Patient/p1");
    assert_eq!(timeline[0]["outcome"], "0");
    assert_eq!(timeline[1]["outcome"], "4");
    assert!(
        !serde_json::to_string(&timeline)
            .unwrap()
            .contains("Testperson"),
        "a patient name in the audit log"
    );
    let (status, h, body) = get(&s.base, "/ui/assets/htmx.min.js").await;
    assert_eq!(status, 200);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(body.len() > 10_000);
}

/// Fire patient-view as the sandbox does: token from /ui/sandbox/token,
/// then the CDS service with it. Returns the first card.
async fn fire_patient_view(base: &str, pid: &str) -> Value {
    let service = format!("{base}/cds-services/{MODEL}-patient-view");
    let (status, _, body) = get(
        base,
        &format!(
            "/ui/sandbox/token?aud={}",
            bedside_ui::encode_component(&service)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let req = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                     "fhirServer": format!("{base}/fhir"),
                     "context": {"userId": "Practitioner/demo", "patientId": pid}});
    let r = client()
        .post(&service)
        .bearer_auth(&token)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    v["cards"][0].clone()
}

#[tokio::test]
async fn sandbox_token_card_links_and_override_on_the_dashboard() {
    let s = start().await;
    ingest_patient(&s.base, "p1").await;
    let card = fire_patient_view(&s.base, "p1").await;
    let facts = format!("{}/ui/models/{MODEL}/", s.base);
    let links: Vec<&str> = card["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["url"].as_str())
        .collect();
    let facts_link = links
        .iter()
        .find(|u| u.starts_with(&facts))
        .unwrap_or_else(|| panic!("no model facts link in {links:?}"));
    let (status, _, body) = get(&s.base, facts_link.trim_start_matches(&s.base)).await;
    assert_eq!(status, 200, "{facts_link}");
    assert!(body.contains("Certified promise"));
    if let Some(src) = card["source"]["url"].as_str() {
        assert!(src.starts_with(&facts), "card source.url {src}");
    }

    // A token is only issued for Bedside's own services.
    let (status, _, _) = get(
        &s.base,
        "/ui/sandbox/token?aud=https%3A%2F%2Fevil.example%2Fcds-services%2Fnope",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&s.base, "/ui/sandbox/token").await;
    assert_eq!(status, 400);

    let (_, _, before) = get(&s.base, "/ui").await;
    assert!(!before.contains("Clinical picture not consistent"));
    let fb = json!({"feedback": [{
        "card": card["uuid"], "outcome": "overridden",
        "overrideReason": {"reason": {"system": "https://bedside.dev/override-reason", "code": "not-septic", "display": "Clinical picture not consistent"}},
        "outcomeTimestamp": chrono::Utc::now().to_rfc3339()
    }]});
    let service = format!("{}/cds-services/{MODEL}-patient-view", s.base);
    let token = s.app.demo_token(&service).unwrap();
    let r = client()
        .post(format!("{service}/feedback"))
        .bearer_auth(token)
        .json(&fb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, _, after) = get(&s.base, "/ui").await;
    assert!(
        after.contains("Clinical picture not consistent"),
        "override reason not on the dashboard"
    );
}

fn task_ids(html: &str) -> Vec<String> {
    html.split("data-task-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn worklist_forms_move_a_pathway_task_through_its_states() {
    let s = start().await;
    ingest_patient(&s.base, "p1").await;
    let (status, body) =
        post_form(&s.base, "/ui/sandbox/start-pathway", &[("patient", "p1")]).await;
    assert_eq!(status, 303, "{body}");
    let (status, body) =
        post_form(&s.base, "/ui/sandbox/start-pathway", &[("patient", "p1")]).await;
    assert_eq!(status, 409, "a second start is refused: {body}");
    let (_, _, page) = get(&s.base, "/ui/worklist").await;
    let ids = task_ids(&page);
    assert_eq!(ids.len(), 1, "{page}");
    let id = &ids[0];
    assert!(page.contains("Ada Testperson"));
    assert!(page.contains("data-deadline=\""), "the task has a deadline");
    let (_, _, diagram) = get(&s.base, "/ui/pathways/sepsis-escalation/diagram").await;
    assert!(diagram.contains("data-waiting=\"1\""), "one instance waits");

    let (status, body) = post_form(&s.base, &format!("/ui/worklist/{id}/claim"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Task claimed."));
    assert!(body.contains("<dd class=\"status\">accepted</dd>"));
    let (status, body) = post_form(&s.base, &format!("/ui/worklist/{id}/claim"), &[]).await;
    assert_eq!(status, 409, "claiming twice is refused: {body}");
    // The start and the claim are in the audit log; the escalation's
    // RiskAssessment and the Task have their Provenance.
    let audit = s.app.store.audit_entries(1, 1000).await.unwrap();
    let subs: Vec<&str> = audit
        .iter()
        .filter_map(|e| bedside_app::audit::subtype_of(&e.body))
        .collect();
    for want in [
        "prediction-escalated",
        "pathway-started",
        "pathway-write",
        "task-claim",
    ] {
        assert!(subs.contains(&want), "no {want} in {subs:?}");
    }
    let escalated = audit
        .iter()
        .find(|e| bedside_app::audit::subtype_of(&e.body) == Some("prediction-escalated"))
        .unwrap();
    let ra = escalated.body["entity"][1]["what"]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ra.starts_with("RiskAssessment/"), "{ra}");
    for target in [ra, format!("Task/{id}")] {
        let (status, _, body) = get(&s.base, &format!("/fhir/Provenance?target={target}")).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["total"].as_u64().unwrap() >= 1, "{target}: {v}");
    }
    let (status, body) = post_form(
        &s.base,
        &format!("/ui/worklist/{id}/reassign"),
        &[("to", "physician")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Task reassigned to physician."));
    let (status, _) = post_form(&s.base, &format!("/ui/worklist/{id}/explode"), &[]).await;
    assert_eq!(status, 400);
    // htmx gets the fragment only.
    let r = client()
        .post(format!("{}/ui/worklist/{id}/complete", s.base))
        .header("hx-request", "true")
        // The nurse review's step offers escalate / resolved.
        .form(&[("decision", "resolved")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.unwrap();
    assert!(body.starts_with("<div id=\"worklist\""), "{body}");
    assert!(body.contains("Task completed: "), "{body}");
    assert!(
        task_ids(&body).is_empty(),
        "completed tasks leave the worklist"
    );
    let t = s.app.read_task(id).await.unwrap();
    assert_eq!(t["status"], "completed");
    assert_eq!(t["owner"]["reference"], "physician");
}

#[tokio::test]
async fn worklist_snooze_form_disagrees_with_the_alert_and_ends_the_pathway() {
    let s = start().await;
    ingest_patient(&s.base, "p2").await;
    let (status, body) =
        post_form(&s.base, "/ui/sandbox/start-pathway", &[("patient", "p2")]).await;
    assert_eq!(status, 303, "{body}");
    let (_, _, page) = get(&s.base, "/ui/worklist").await;
    let ids = task_ids(&page);
    assert_eq!(ids.len(), 1, "{page}");
    let id = &ids[0];
    assert!(page.contains("Disagree and snooze"), "{page}");
    assert!(
        page.contains("value=\"not-septic\""),
        "the policy's coded reasons are offered"
    );

    let path = format!("/ui/worklist/{id}/snooze");
    let (status, _) = post_form(&s.base, &path, &[]).await;
    assert_eq!(status, 400, "a snooze needs a reason");
    let (status, _) = post_form(&s.base, &path, &[("reason", "bored")]).await;
    assert_eq!(status, 400, "only a configured reason");
    let (status, body) = post_form(&s.base, &path, &[("reason", "not-septic")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Alert snoozed (not-septic)"), "{body}");
    assert!(
        task_ids(&body).is_empty(),
        "the cancelled task leaves the worklist"
    );
    let t = s.app.read_task(id).await.unwrap();
    assert_eq!(t["status"], "cancelled");
}
