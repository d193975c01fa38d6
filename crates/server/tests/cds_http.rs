//! CDS Hooks over real HTTP: the specification's example requests,
//! discovery, JWT refusals, errors, cards from precomputed risk, feedback
//! and silent mode. The spec examples are read in place from
//! `../shared/cds-hooks` (a loud skip when absent).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_app::hooks::HookConfig;
use bedside_cds::{sign_with_jwk, validate_discovery, validate_response, JwkSet, TrustedIssuer};
use bedside_policy::PolicyConfig;
use bedside_server::HttpConfig;
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http};
use serde_json::{json, Value};
use std::path::PathBuf;

const MODEL: &str = "fixture-lgbm";
const SPEC_ISS: &str = "https://fhir-ehr.example.com/";

fn root() -> PathBuf {
    bedside_test_support::repo_root()
}

fn shared() -> Option<PathBuf> {
    let p = root().join("../shared/cds-hooks");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: {} is absent; spec conformance not checked",
            p.display()
        );
        None
    }
}

fn model_pkg() -> PathBuf {
    root().join("crates/models/tests/fixtures/pkg")
}

fn read_json(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn policy(stage: &str) -> PolicyConfig {
    PolicyConfig::from_toml_str(&format!("stage = \"{stage}\"")).unwrap()
}

fn insecure(stage: &str) -> HookConfig {
    HookConfig {
        insecure_skip_auth: true,
        policy: policy(stage),
        ..HookConfig::default()
    }
}

async fn start(hooks: HookConfig) -> TestServer {
    TestServer::start_with(HttpConfig::default(), |c| c.model(model_pkg()).hooks(hooks)).await
}

async fn post(base: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn hook_request(hook: &str, patient: &str) -> String {
    json!({
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": patient, "encounterId": "e1",
                    "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": []},
                    "selections": []}
    })
    .to_string()
}

fn diagnostics(v: &Value) -> String {
    v["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn every_spec_request_gets_a_valid_200() {
    let Some(dir) = shared() else { return };
    let s = start(insecure("live")).await;
    let mut n = 0;
    for e in std::fs::read_dir(dir.join("requests")).unwrap() {
        let path = e.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        let hook = read_json(&path)["hook"].as_str().unwrap().to_string();
        let (status, resp) = post(
            &s.base,
            &format!("/cds-services/{MODEL}-{hook}"),
            None,
            &body,
        )
        .await;
        assert_eq!(status, 200, "{}: {resp}", path.display());
        let v = validate_response(&resp);
        assert!(v.is_empty(), "{}: {v:?}", path.display());
        n += 1;
    }
    assert!(n >= 10, "only {n} spec requests found");
}

#[tokio::test]
async fn discovery_lists_a_service_per_hook_and_validates() {
    let s = start(HookConfig::default()).await;
    let d: Value = reqwest::get(format!("{}/cds-services", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        validate_discovery(&d).is_empty(),
        "{:?}",
        validate_discovery(&d)
    );
    let ids: Vec<&str> = d["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for hook in bedside_app::hooks::HOOKS {
        assert!(ids.contains(&format!("{MODEL}-{hook}").as_str()), "{ids:?}");
    }
    assert_eq!(ids.len(), 5);
    assert!(d["services"][0]["prefetch"]["patient"].is_string());
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn jwt_refusals_over_http() {
    let Some(dir) = shared() else { return };
    let jwks: JwkSet = serde_json::from_value(read_json(&dir.join("jwt/jwks.json"))).unwrap();
    let private = read_json(&dir.join("jwt/private-jwk.json"));
    let hooks = HookConfig {
        // The spec's example token names this jku.
        trusted: vec![TrustedIssuer::with_jwks(SPEC_ISS, jwks)
            .allow_jku("https://fhir-ehr.example.com/jwk_uri")],
        policy: policy("live"),
        ..HookConfig::default()
    };
    let s = start(hooks).await;
    let path = format!("/cds-services/{MODEL}-patient-view");
    let aud = format!("{}{path}", s.base);
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": SPEC_ISS, "aud": aud, "iat": now - 10, "exp": exp, "jti": jti});
    let body = hook_request("patient-view", "p-none");

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "missing Authorization"),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT", "kid": "example-kid"})),
                b64(&claims(&aud, now + 300, "a1"))
            )),
            "alg none",
        ),
        (
            "expired",
            Some(sign_with_jwk(&private, &claims(&aud, now - 3600, "a2")).unwrap()),
            "expired",
        ),
        (
            "wrong aud",
            Some(
                sign_with_jwk(
                    &private,
                    &claims("https://elsewhere.example/cds-services/x", now + 300, "a3"),
                )
                .unwrap(),
            ),
            "does not match service URL",
        ),
        (
            "unknown kid",
            Some({
                let mut k = private.clone();
                k["kid"] = json!("not-in-jwks");
                sign_with_jwk(&k, &claims(&aud, now + 300, "a4")).unwrap()
            }),
            "unknown kid",
        ),
        (
            "spec example token",
            Some(
                std::fs::read_to_string(dir.join("jwt/token.txt"))
                    .unwrap()
                    .trim()
                    .to_string(),
            ),
            "expired",
        ),
    ];
    for (name, token, reason) in cases {
        let (status, v) = post(&s.base, &path, token.as_deref(), &body).await;
        assert_eq!(status, 401, "{name}: {v}");
        assert!(
            diagnostics(&v).contains(reason),
            "{name}: {}",
            diagnostics(&v)
        );
    }

    // A valid token works once; its replay is refused.
    let good = sign_with_jwk(&private, &claims(&aud, now + 300, "once")).unwrap();
    let (status, v) = post(&s.base, &path, Some(&good), &body).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post(&s.base, &path, Some(&good), &body).await;
    assert_eq!(status, 401, "{v}");
    assert!(diagnostics(&v).contains("replayed"), "{v}");
}

#[tokio::test]
async fn demo_config_trusts_its_own_token() {
    let hooks = HookConfig::demo(&root().join("config/demo-ehr")).unwrap();
    let s = start(hooks).await;
    let path = format!("/cds-services/{MODEL}-patient-view");
    let token = s.app.demo_token(&format!("{}{path}", s.base)).unwrap();
    let (status, v) = post(
        &s.base,
        &path,
        Some(&token),
        &hook_request("patient-view", "p1"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let token = s
        .app
        .demo_token("https://other.example/cds-services/x")
        .unwrap();
    let (status, _) = post(
        &s.base,
        &path,
        Some(&token),
        &hook_request("patient-view", "p1"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn malformed_body_is_400_and_unknown_service_404() {
    let s = start(insecure("live")).await;
    let path = format!("/cds-services/{MODEL}-patient-view");
    let (status, v) = post(&s.base, &path, None, "{not json").await;
    assert_eq!(status, 400, "{v}");
    assert!(diagnostics(&v).contains("invalid JSON"), "{v}");
    let (status, v) = post(
        &s.base,
        &path,
        None,
        r#"{"hook":"patient-view","context":{}}"#,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(diagnostics(&v).contains("hookInstance"), "{v}");
    let (status, v) = post(&s.base, &path, None, &hook_request("order-sign", "p1")).await;
    assert_eq!(status, 400, "wrong hook for the service: {v}");
    let (status, _) = post(
        &s.base,
        "/cds-services/nope-patient-view",
        None,
        &hook_request("patient-view", "p1"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(
        &s.base,
        "/cds-services/nope/feedback",
        None,
        r#"{"feedback":[]}"#,
    )
    .await;
    assert_eq!(status, 404);
}

/// A patient with an active encounter and vital signs (systolic blood
/// pressure 92 besides [`fhir::septic_patient`]), ingested over HTTP so
/// the pipeline precomputes the risk.
async fn ingest_patient(base: &str, pid: &str) {
    let mut resources = fhir::septic_patient(pid);
    resources.push(fhir::observation(
        &format!("{pid}-sbp"),
        pid,
        fhir::SYSTOLIC_BP,
        92.0,
        "mm[Hg]",
        "2024-01-01T02:00:00Z",
    ));
    http::ingest(base, &fhir::transaction(resources)).await;
}

#[tokio::test]
async fn precomputed_risk_gives_a_card_with_the_probability_and_feedback_is_stored() {
    let s = start(insecure("live")).await;
    ingest_patient(&s.base, "p7").await;
    let latest = s
        .app
        .store
        .get_document("latest_risk", &format!("{MODEL}|p7"))
        .await
        .unwrap()
        .expect("the pipeline precomputed the risk at ingest");
    let p = latest.body["probability"].as_f64().unwrap();
    let pct = format!("{:.0}%", p * 100.0);

    let path = format!("/cds-services/{MODEL}-patient-view");
    let (status, v) = post(&s.base, &path, None, &hook_request("patient-view", "p7")).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        validate_response(&v).is_empty(),
        "{:?}",
        validate_response(&v)
    );
    let card = &v["cards"][0];
    let summary = card["summary"].as_str().unwrap();
    assert!(summary.contains(&pct), "summary {summary:?} lacks {pct}");
    // The fixture package has no calibration set: the card says so.
    assert!(
        card["detail"].as_str().unwrap().contains("Not certified"),
        "{card}"
    );
    assert_eq!(card["indicator"], "info");
    let uuid = card["uuid"].as_str().unwrap().to_string();
    let cards = s.documents("card").await;
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].id, uuid);
    assert_eq!(cards[0].status.as_deref(), Some("shown"));
    assert_eq!(cards[0].body["risk_source"], "Precomputed");

    let fb = json!({"feedback": [{
        "card": uuid, "outcome": "overridden",
        "overrideReason": {"reason": {"system": "https://bedside.dev/override-reason", "code": "not-septic", "display": "Clinical picture not consistent"}, "userComment": "reviewed"},
        "outcomeTimestamp": "2024-01-01T03:00:00Z"
    }]});
    let (status, v) = post(&s.base, &format!("{path}/feedback"), None, &fb.to_string()).await;
    assert_eq!(status, 200, "{v}");
    let stored = s.documents("feedback").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].id,
        format!("{uuid}|overridden|2024-01-01T03:00:00+00:00")
    );
    assert_eq!(stored[0].patient_id.as_deref(), Some("p7"));
    let mem = s
        .app
        .store
        .get_document("alert_memory", &format!("{MODEL}|p7"))
        .await
        .unwrap()
        .expect("override snoozed the alert");
    assert_eq!(mem.body["memory"]["snooze"]["reason"]["code"], "not-septic");

    // Both are in the audit log: the card returned (with its uuid, the
    // model and the hook user) and the override with its reason.
    let audit = s.app.store.audit_entries(1, 1000).await.unwrap();
    let of = |sub: &str| {
        audit
            .iter()
            .find(|e| bedside_app::audit::subtype_of(&e.body) == Some(sub))
            .unwrap_or_else(|| panic!("no {sub} entry"))
            .body
            .clone()
    };
    let returned = of("card-returned");
    assert_eq!(returned["entity"][0]["what"]["reference"], "Patient/p7");
    assert_eq!(returned["entity"][1]["what"]["identifier"]["value"], uuid);
    assert!(returned["entity"][2]["what"]["identifier"]["value"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{MODEL}|")));
    let overridden = of("card-overridden");
    assert_eq!(
        bedside_app::audit::detail(&overridden, "reason"),
        Some("https://bedside.dev/override-reason|not-septic")
    );
    assert_eq!(overridden["agent"][0]["who"], returned["agent"][0]["who"]);

    let (status, v) = post(
        &s.base,
        &format!("{path}/feedback"),
        None,
        r#"{"feedback":[{"card":"x"}]}"#,
    )
    .await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test]
async fn prefetch_is_scored_when_nothing_was_ingested() {
    let s = start(insecure("live")).await;
    let obs = json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/q1"}, "effectiveDateTime": "2024-02-01T02:00:00Z",
        "valueQuantity": {"value": 130.0, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}});
    let mut req: Value = serde_json::from_str(&hook_request("patient-view", "q1")).unwrap();
    req["prefetch"] = json!({
        "patient": {"resourceType": "Patient", "id": "q1", "gender": "female", "birthDate": "1940-01-01"},
        "vitals": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": obs}]}
    });
    let path = format!("/cds-services/{MODEL}-patient-view");
    let (status, v) = post(&s.base, &path, None, &req.to_string()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["cards"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(s.documents("card").await[0].body["risk_source"], "Prefetch");
}

#[tokio::test]
async fn silent_stage_records_the_card_and_returns_none() {
    let s = start(insecure("silent")).await;
    ingest_patient(&s.base, "p9").await;
    let path = format!("/cds-services/{MODEL}-patient-view");
    let (status, v) = post(&s.base, &path, None, &hook_request("patient-view", "p9")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"cards": []}));
    let cards = s.documents("card").await;
    assert_eq!(
        cards.len(),
        1,
        "the card that would have been shown is recorded"
    );
    assert_eq!(cards[0].status.as_deref(), Some("silent"));
    assert_eq!(cards[0].body["shown"], false);
    assert_eq!(cards[0].patient_id.as_deref(), Some("p9"));
}
