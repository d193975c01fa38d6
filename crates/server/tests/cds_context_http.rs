//! CDS Hooks context over real HTTP: order context (`draftOrders`,
//! `selections`, what an order-sign draft lacks by the use case's rule), feedback checked against the card it names, and prefetch
//! fetched from the EHR's `fhirServer` (a FHIR stub on 127.0.0.1:0).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use bedside_app::hooks::HookConfig;
use bedside_server::HttpConfig;
use bedside_test_support::http::{post_json, Stub};
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MODEL: &str = "fixture-lgbm";

/// The fixture model, certified to alert on any risk, offering the demo's
/// sepsis suggestions; JWT checks off.
async fn start() -> TestServer {
    start_with(HookConfig::default()).await
}

async fn start_with(base: HookConfig) -> TestServer {
    let hooks = HookConfig {
        insecure_skip_auth: true,
        ..base
    };
    // The fixture model served as the sepsis use case (its suggestions).
    let dir = tempfile::tempdir().unwrap();
    let uc = bedside_test_support::use_cases::fixture_as_sepsis(dir.path());
    let s = TestServer::start_with(HttpConfig::default(), |c| c.use_case(uc).hooks(hooks)).await;
    s.app.set_certification(
        MODEL,
        bedside_test_support::decisions::certified(0.0, "test promise"),
    );
    s
}

fn call(hook: &str, pid: &str, drafts: Vec<Value>, selections: Vec<&str>) -> Value {
    let entry: Vec<Value> = drafts.into_iter().map(|r| json!({"resource": r})).collect();
    let mut context = json!({"userId": "Practitioner/doc-1", "patientId": pid});
    if hook.starts_with("order-") {
        context["draftOrders"] =
            json!({"resourceType": "Bundle", "type": "collection", "entry": entry});
    }
    if hook == "order-select" {
        context["selections"] = json!(selections);
    }
    json!({"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": context})
}

/// Every card of a call's answer (the answer validated).
async fn cards(s: &TestServer, hook: &str, body: &Value) -> Vec<Value> {
    let (status, v) = post_json(&s.base, &format!("/cds-services/{MODEL}-{hook}"), body).await;
    assert_eq!(status, 200, "{v}");
    let problems = bedside_cds::validate_response(&v);
    assert!(problems.is_empty(), "{problems:?}");
    v["cards"].as_array().cloned().unwrap_or_default()
}

/// The one risk card of an answer (the card with a uuid; a card saying
/// what the draft lacks has none).
async fn card(s: &TestServer, hook: &str, body: &Value) -> Value {
    let all = cards(s, hook, body).await;
    let risk: Vec<&Value> = all.iter().filter(|c| c["uuid"].is_string()).collect();
    assert_eq!(risk.len(), 1, "{all:?}");
    risk[0].clone()
}

/// The summaries of the cards without a uuid (what the draft lacks).
async fn lacks(s: &TestServer, hook: &str, body: &Value) -> Vec<Value> {
    cards(s, hook, body)
        .await
        .into_iter()
        .filter(|c| c["uuid"].is_null())
        .collect()
}

fn labels(card: &Value) -> Vec<String> {
    card["suggestions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["label"].as_str().unwrap().to_string())
        .collect()
}

fn antibiotic_draft(id: &str) -> Value {
    json!({"resourceType": "MedicationRequest", "id": id, "status": "draft", "intent": "order",
           "subject": {"reference": "Patient/o1"},
           "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "74169", "display": "piperacillin / tazobactam"}]}})
}

fn blood_culture_draft(id: &str) -> Value {
    json!({"resourceType": "ServiceRequest", "id": id, "status": "draft", "intent": "order",
           "subject": {"reference": "Patient/o1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "600-7", "display": "Blood culture"}]}})
}

#[tokio::test]
async fn drafted_orders_are_never_suggested_again() {
    let s = start().await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("o1"))).await;

    // Nothing drafted: every suggestion, each with isRecommended, and
    // every link with autolaunchable in both casings.
    let all = card(&s, "order-sign", &call("order-sign", "o1", vec![], vec![])).await;
    let every = labels(&all);
    assert!(
        every.contains(&"Start empiric antibiotics".to_string()),
        "{every:?}"
    );
    assert!(
        every.contains(&"Order blood cultures".to_string()),
        "{every:?}"
    );
    for sg in all["suggestions"].as_array().unwrap() {
        assert!(sg["isRecommended"].is_boolean(), "{sg}");
    }
    for l in all["links"].as_array().unwrap() {
        assert!(l["autolaunchable"].is_boolean(), "{l}");
        assert_eq!(l["autolaunchable"], l["autoLaunchable"], "{l}");
    }
    // The use case's SMART link: Bedside's launch endpoint, the patient in
    // its appContext.
    let smart: Vec<&Value> = all["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["type"] == "smart")
        .collect();
    assert_eq!(smart.len(), 1, "{all}");
    assert_eq!(smart[0]["url"], format!("{}/smart/launch", s.base));
    assert_eq!(smart[0]["appContext"], "patient=o1");

    // An antibiotic (RxNorm, matched by the class the demo suggests) in
    // the draft: no antibiotics suggestion; the rest stays.
    let c = card(
        &s,
        "order-sign",
        &call("order-sign", "o1", vec![antibiotic_draft("m1")], vec![]),
    )
    .await;
    let got = labels(&c);
    assert!(
        !got.contains(&"Start empiric antibiotics".to_string()),
        "{got:?}"
    );
    assert!(got.contains(&"Order blood cultures".to_string()), "{got:?}");
    assert_eq!(got.len(), every.len() - 1, "{got:?}");

    // Antibiotics and blood cultures (same LOINC code as the suggestion)
    // in the draft: neither is suggested.
    let c = card(
        &s,
        "order-sign",
        &call(
            "order-sign",
            "o1",
            vec![antibiotic_draft("m1"), blood_culture_draft("s1")],
            vec![],
        ),
    )
    .await;
    let got = labels(&c);
    assert!(
        !got.contains(&"Start empiric antibiotics".to_string()),
        "{got:?}"
    );
    assert!(
        !got.contains(&"Order blood cultures".to_string()),
        "{got:?}"
    );
    assert_eq!(got.len(), every.len() - 2, "{got:?}");

    // order-select: the selected blood culture is drafted too.
    let c = card(
        &s,
        "order-select",
        &call(
            "order-select",
            "o1",
            vec![blood_culture_draft("s1")],
            vec!["ServiceRequest/s1"],
        ),
    )
    .await;
    let got = labels(&c);
    assert!(
        !got.contains(&"Order blood cultures".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"Start empiric antibiotics".to_string()),
        "{got:?}"
    );

    // A cancelled draft orders nothing.
    let mut cancelled = antibiotic_draft("m2");
    cancelled["status"] = json!("cancelled");
    let c = card(
        &s,
        "order-sign",
        &call("order-sign", "o1", vec![cancelled], vec![]),
    )
    .await;
    assert_eq!(labels(&c), every);
}

#[tokio::test]
async fn order_sign_says_what_the_draft_lacks() {
    let s = start().await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("o1"))).await;
    let sign = |drafts: Vec<Value>| call("order-sign", "o1", drafts, vec![]);

    // Antibiotics drafted, no blood culture drafted or on record: a
    // warning card says what is lacking (the use case's rule), and the
    // risk card still does not suggest antibiotics.
    let l = lacks(&s, "order-sign", &sign(vec![antibiotic_draft("m1")])).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["indicator"], "warning");
    let summary = l[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Blood cultures before antibiotics"),
        "{summary}"
    );
    let detail = l[0]["detail"].as_str().unwrap();
    assert!(detail.contains("antibiotic ordered"), "{detail}");
    assert!(detail.contains("blood culture ordered"), "{detail}");
    assert_eq!(l[0]["source"]["label"], "Sepsis screening");
    let risk = card(&s, "order-sign", &sign(vec![antibiotic_draft("m2")])).await;
    assert!(
        !labels(&risk).contains(&"Start empiric antibiotics".to_string()),
        "{risk}"
    );

    // Both drafted: nothing lacks.
    let l = lacks(
        &s,
        "order-sign",
        &sign(vec![antibiotic_draft("m3"), blood_culture_draft("s3")]),
    )
    .await;
    assert!(l.is_empty(), "{l:?}");
    // Blood cultures alone, or nothing drafted: the rule does not apply.
    assert!(
        lacks(&s, "order-sign", &sign(vec![blood_culture_draft("s4")]))
            .await
            .is_empty()
    );
    assert!(lacks(&s, "order-sign", &sign(vec![])).await.is_empty());
    // order-select is not the moment: only order-sign checks the draft.
    let select = call(
        "order-select",
        "o1",
        vec![antibiotic_draft("m5")],
        vec!["MedicationRequest/m5"],
    );
    assert!(lacks(&s, "order-select", &select).await.is_empty());

    // A blood culture already ordered (on record): antibiotics alone lack
    // nothing.
    let culture = json!({"resourceType": "ServiceRequest", "id": "o1-bc", "status": "active",
        "intent": "order", "subject": {"reference": "Patient/o1"},
        "authoredOn": "2024-01-01T02:30:00Z",
        "code": {"coding": [{"system": "http://loinc.org", "code": "600-7", "display": "Blood culture"}]}});
    http::ingest(&s.base, &fhir::transaction(vec![culture])).await;
    let l = lacks(&s, "order-sign", &sign(vec![antibiotic_draft("m6")])).await;
    assert!(l.is_empty(), "{l:?}");
}

fn feedback(items: Vec<Value>) -> Value {
    json!({ "feedback": items })
}

fn accepted(card: &str, suggestion: &str) -> Value {
    json!({"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
           "outcomeTimestamp": "2024-01-01T03:00:00Z"})
}

fn overridden(card: &str, system: &str, code: &str) -> Value {
    json!({"card": card, "outcome": "overridden",
           "overrideReason": {"reason": {"system": system, "code": code}},
           "outcomeTimestamp": "2024-01-01T03:00:00Z"})
}

#[tokio::test]
async fn feedback_is_checked_against_the_card_it_names() {
    let s = start().await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("f1"))).await;
    let c = card(
        &s,
        "patient-view",
        &call("patient-view", "f1", vec![], vec![]),
    )
    .await;
    let uuid = c["uuid"].as_str().unwrap();
    let sugg = c["suggestions"][0]["uuid"].as_str().unwrap();
    let reason = &c["overrideReasons"][0];
    let (rs, rc) = (
        reason["system"].as_str().unwrap(),
        reason["code"].as_str().unwrap(),
    );
    let path = format!("/cds-services/{MODEL}-patient-view/feedback");
    let refused = |v: &Value| {
        v["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // Each refusal is a 400 naming the item's field and what is wrong,
    // and stores nothing, not even the good item before it.
    let cases = [
        (
            accepted("6f1f5a8e-0000-4000-8000-000000000000", sugg),
            "feedback[1].card",
            "6f1f5a8e-0000-4000-8000-000000000000",
        ),
        (
            accepted(uuid, "not-a-suggestion-of-this-card"),
            "feedback[1].acceptedSuggestions[0].id",
            "not-a-suggestion-of-this-card",
        ),
        (
            overridden(uuid, "https://bedside.dev/override-reason", "made-up"),
            "feedback[1].overrideReason.reason",
            "https://bedside.dev/override-reason|made-up",
        ),
    ];
    for (bad, field, named) in cases {
        let body = feedback(vec![accepted(uuid, sugg), bad]);
        let (status, v) = post_json(&s.base, &path, &body).await;
        assert_eq!(status, 400, "{v}");
        let d = refused(&v);
        assert!(d.contains(field) && d.contains(named), "{d}");
        assert!(
            s.documents("feedback").await.is_empty(),
            "stored despite a 400"
        );
    }
    // A card of another service is not this service's to take feedback on.
    let (status, v) = post_json(
        &s.base,
        &format!("/cds-services/{MODEL}-order-sign/feedback"),
        &feedback(vec![accepted(uuid, sugg)]),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(refused(&v).contains("feedback[0].card"), "{v}");

    // What the card carried is accepted.
    let body = feedback(vec![accepted(uuid, sugg), overridden(uuid, rs, rc)]);
    let (status, v) = post_json(&s.base, &path, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["stored"], 2);
    assert_eq!(s.documents("feedback").await.len(), 2);
}

/// The EHR's FHIR server in a test: answers the prefetch searches for one
/// patient from `resources` when the bearer token is right, after
/// `delay`; counts the requests it answered.
#[derive(Clone)]
struct Ehr {
    resources: Arc<Vec<Value>>,
    token: &'static str,
    delay: Duration,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn ehr_read(
    State(ehr): State<Ehr>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    tokio::time::sleep(ehr.delay).await;
    authorized(&ehr, &headers)?;
    ehr.seen.lock().unwrap().push(format!("{rtype}/{id}"));
    ehr.resources
        .iter()
        .find(|r| r["resourceType"] == rtype.as_str() && r["id"] == id.as_str())
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

async fn ehr_search(
    State(ehr): State<Ehr>,
    Path(rtype): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    tokio::time::sleep(ehr.delay).await;
    authorized(&ehr, &headers)?;
    let pid = q.get("patient").cloned().unwrap_or_default();
    ehr.seen
        .lock()
        .unwrap()
        .push(format!("{rtype}?patient={pid}"));
    let want = format!("Patient/{pid}");
    // The fixture's Observations are vital signs, none a laboratory result.
    if q.get("category").map(String::as_str) == Some("laboratory") {
        return Ok(Json(
            json!({"resourceType": "Bundle", "type": "searchset", "entry": []}),
        ));
    }
    let entry: Vec<Value> = ehr
        .resources
        .iter()
        .filter(|r| {
            r["resourceType"] == rtype.as_str() && r["subject"]["reference"] == want.as_str()
        })
        .map(|r| json!({"resource": r}))
        .collect();
    Ok(Json(
        json!({"resourceType": "Bundle", "type": "searchset", "entry": entry}),
    ))
}

fn authorized(ehr: &Ehr, headers: &HeaderMap) -> Result<(), StatusCode> {
    let want = format!("Bearer {}", ehr.token);
    match headers.get("authorization").and_then(|h| h.to_str().ok()) {
        Some(h) if h == want => Ok(()),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}

async fn ehr(resources: Vec<Value>, delay: Duration) -> (Stub, Ehr) {
    let ehr = Ehr {
        resources: Arc::new(resources),
        token: "ehr-access-token",
        delay,
        seen: Arc::default(),
    };
    let router = Router::new()
        .route("/fhir/{rtype}/{id}", get(ehr_read))
        .route("/fhir/{rtype}", get(ehr_search))
        .with_state(ehr.clone());
    (Stub::serve(router).await, ehr)
}

fn with_ehr(mut body: Value, fhir_server: &str, token: &str) -> Value {
    body["fhirServer"] = json!(fhir_server);
    body["fhirAuthorization"] = json!({"access_token": token, "token_type": "Bearer",
        "expires_in": 300, "scope": "user/Patient.read user/Observation.read", "subject": "bedside"});
    body
}

const INCOMPLETE: &str = "may be incomplete";

#[tokio::test]
async fn missing_prefetch_is_fetched_from_the_ehr_with_its_token() {
    let s = start().await;
    let (stub, ehr) = ehr(fhir::septic_patient("e1"), Duration::ZERO).await;
    let body = with_ehr(
        call("patient-view", "e1", vec![], vec![]),
        &stub.url("/fhir"),
        ehr.token,
    );
    // Bedside has nothing of e1: a card can only come from fetched data.
    let c = card(&s, "patient-view", &body).await;
    let cards = s.documents("card").await;
    assert_eq!(cards[0].body["risk_source"], "Fetched", "{}", cards[0].body);
    assert!(!c["detail"].as_str().unwrap().contains(INCOMPLETE), "{c}");
    let seen = ehr.seen.lock().unwrap().clone();
    assert!(seen.contains(&"Patient/e1".to_string()), "{seen:?}");
    assert!(
        seen.contains(&"Observation?patient=e1".to_string()),
        "{seen:?}"
    );

    // The same data sent as prefetch scores the same probability.
    let mut inline = call("patient-view", "e2", vec![], vec![]);
    let obs: Vec<Value> = fhir::septic_patient("e2")
        .into_iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| json!({"resource": r}))
        .collect();
    inline["prefetch"] = json!({
        "patient": fhir::septic_patient("e2")[0],
        "vitals": {"resourceType": "Bundle", "type": "searchset", "entry": obs},
    });
    card(&s, "patient-view", &inline).await;
    let recorded = s.documents("card").await;
    let p = |pid: &str| {
        recorded
            .iter()
            .find(|d| d.patient_id.as_deref() == Some(pid))
            .unwrap()
            .body["probability"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(p("e1"), p("e2"));

    // A wrong token gets nothing from the EHR: no data, no card.
    let body = with_ehr(
        call("patient-view", "e3", vec![], vec![]),
        &stub.url("/fhir"),
        "wrong-token",
    );
    let (status, v) = post_json(
        &s.base,
        &format!("/cds-services/{MODEL}-patient-view"),
        &body,
    )
    .await;
    assert_eq!((status, v), (200, json!({"cards": []})));
}

#[tokio::test]
async fn a_slow_or_stopped_ehr_gets_an_answer_from_what_bedside_has() {
    let timeout = Duration::from_millis(400);
    let s = start_with(HookConfig {
        ehr_timeout: timeout,
        ..HookConfig::default()
    })
    .await;
    // Bedside has ingested the patient (a precomputed risk).
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("d1"))).await;
    let path = format!("/cds-services/{MODEL}-patient-view");

    // Slow: the EHR answers after 30 s; Bedside answers within its timeout.
    let (slow, ehr_slow) = ehr(fhir::septic_patient("d1"), Duration::from_secs(30)).await;
    let body = with_ehr(
        call("patient-view", "d1", vec![], vec![]),
        &slow.url("/fhir"),
        ehr_slow.token,
    );
    let t = std::time::Instant::now();
    let (status, v) = post_json(&s.base, &path, &body).await;
    let took = t.elapsed();
    assert_eq!(status, 200, "{v}");
    assert!(
        took < timeout + Duration::from_secs(2),
        "answered after {took:?}"
    );
    let detail = v["cards"][0]["detail"]
        .as_str()
        .expect("a card")
        .to_string();
    assert!(detail.contains(INCOMPLETE), "{detail}");

    // Stopped: nothing listens at the EHR's address any more.
    let (stopped, ehr_stopped) = ehr(fhir::septic_patient("d1"), Duration::ZERO).await;
    let url = stopped.url("/fhir");
    drop(stopped);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = with_ehr(
        call("patient-view", "d1", vec![], vec![]),
        &url,
        ehr_stopped.token,
    );
    let t = std::time::Instant::now();
    let (status, v) = post_json(&s.base, &path, &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(t.elapsed() < timeout + Duration::from_secs(2));
    let detail = v["cards"][0]["detail"]
        .as_str()
        .expect("a card")
        .to_string();
    assert!(detail.contains(INCOMPLETE), "{detail}");
    assert!(ehr_stopped.seen.lock().unwrap().is_empty());
}

/// The standard prefetch served by Bedside's own `/fhir`: one Bedside
/// (no model, holding the patient's data) is the EHR of another.
#[tokio::test]
async fn another_bedsides_fhir_serves_the_prefetch() {
    let timeout = Duration::from_millis(1500);
    let ehr = TestServer::start().await;
    let vital = |mut r: Value| {
        if r["resourceType"] == "Observation" {
            r["category"] = json!([{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs"}]}]);
        }
        r
    };
    let e1: Vec<Value> = fhir::septic_patient("e1").into_iter().map(vital).collect();
    http::ingest(&ehr.base, &fhir::transaction(e1.clone())).await;
    // The EHR answers the templates as discovery states them.
    let vitals = http::get_ok(
        &ehr.base,
        "/fhir/Observation?patient=e1&category=vital-signs&_sort=-date&_count=100",
    )
    .await;
    assert_eq!(vitals["total"], 3, "{vitals}");
    let labs = http::get_ok(
        &ehr.base,
        "/fhir/Observation?patient=e1&category=laboratory&_sort=-date&_count=100",
    )
    .await;
    assert_eq!(labs["total"], 0, "{labs}");

    let s = start_with(HookConfig {
        ehr_timeout: timeout,
        ..HookConfig::default()
    })
    .await;
    // Bedside has nothing of e1: the card comes from what the EHR served.
    let body = with_ehr(
        call("patient-view", "e1", vec![], vec![]),
        &ehr.url("/fhir"),
        "ehr-access-token",
    );
    let c = card(&s, "patient-view", &body).await;
    assert!(!c["detail"].as_str().unwrap().contains(INCOMPLETE), "{c}");
    // The same data sent inline as prefetch scores the same probability.
    let mut inline = call("patient-view", "e2", vec![], vec![]);
    let e2: Vec<Value> = fhir::septic_patient("e2").into_iter().map(vital).collect();
    let obs: Vec<Value> = e2
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| json!({"resource": r}))
        .collect();
    inline["prefetch"] = json!({
        "patient": e2[0],
        "vitals": {"resourceType": "Bundle", "type": "searchset", "entry": obs},
    });
    card(&s, "patient-view", &inline).await;
    let recorded = s.documents("card").await;
    let rec = |pid: &str| {
        recorded
            .iter()
            .find(|d| d.patient_id.as_deref() == Some(pid))
            .unwrap()
            .body
            .clone()
    };
    assert_eq!(rec("e1")["risk_source"], "Fetched", "{}", rec("e1"));
    assert_eq!(rec("e1")["probability"], rec("e2")["probability"]);

    // The EHR stopped: Bedside answers within its timeout from what it
    // has of d1, and the card says data may be incomplete.
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("d1"))).await;
    let url = ehr.url("/fhir");
    drop(ehr);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = with_ehr(
        call("patient-view", "d1", vec![], vec![]),
        &url,
        "ehr-access-token",
    );
    let t = std::time::Instant::now();
    let (status, v) = post_json(
        &s.base,
        &format!("/cds-services/{MODEL}-patient-view"),
        &body,
    )
    .await;
    let took = t.elapsed();
    assert_eq!(status, 200, "{v}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "answered after {took:?}"
    );
    let detail = v["cards"][0]["detail"].as_str().expect("a card");
    assert!(detail.contains(INCOMPLETE), "{detail}");
}
