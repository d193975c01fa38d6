//! Two use cases on one patient each decide for themselves: the sepsis and
//! the deterioration use case served side by side, one patient, patient-
//! view fired at each use case's service. Each answers with its own card
//! (its own statement first, its own service named on the card's source),
//! and neither card carries the other's words.

use bedside_app::hooks::HookConfig;
use bedside_server::HttpConfig;
use bedside_test_support::http::post_json;
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http, use_cases};
use serde_json::{json, Value};

async fn patient_view(s: &TestServer, service: &str, pid: &str) -> Vec<Value> {
    let body = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                      "context": {"userId": "Practitioner/doc-1", "patientId": pid}});
    let (status, v) = post_json(&s.base, &format!("/cds-services/{service}"), &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(bedside_cds::validate_response(&v).is_empty(), "{v}");
    v["cards"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn one_patient_gets_a_card_from_each_use_case_naming_its_own() {
    let dir = tempfile::tempdir().unwrap();
    // Both live, certified to alert on any risk: what each shows is then
    // up to its own policy, memory and wording alone.
    let live =
        "stage = \"live\"\n[tiers]\npassive_hooks = []\ninterruptive_hooks = [\"patient-view\"]\n";
    let sepsis = use_cases::shipped_with_policy(dir.path(), "sepsis-screening", live);
    let deterioration = use_cases::shipped_with_policy(dir.path(), "deterioration", live);
    let hooks = HookConfig {
        insecure_skip_auth: true,
        ..HookConfig::default()
    };
    let s = TestServer::start_with(HttpConfig::default(), |c| {
        c.use_case(sepsis).use_case(deterioration).hooks(hooks)
    })
    .await;
    for model in ["sepsis-demo", "deterioration-demo"] {
        s.app.set_certification(
            model,
            bedside_test_support::decisions::certified(0.0, "test promise"),
        );
    }
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("both-1"))).await;

    let sepsis_cards = patient_view(&s, "sepsis-screening-patient-view", "both-1").await;
    let det_cards = patient_view(&s, "deterioration-patient-view", "both-1").await;
    assert_eq!(sepsis_cards.len(), 1, "{sepsis_cards:?}");
    assert_eq!(det_cards.len(), 1, "{det_cards:?}");
    let (a, b) = (&sepsis_cards[0], &det_cards[0]);
    assert!(
        a["summary"].as_str().unwrap().starts_with("Sepsis risk"),
        "{a}"
    );
    assert!(
        b["summary"]
            .as_str()
            .unwrap()
            .starts_with("Deterioration risk"),
        "{b}"
    );
    // Each card is its own decision: the fixture patient is outside the
    // sepsis model's training population (a passive card that says so),
    // while the deterioration use case, whose pathway the ingest started,
    // names its own open Task.
    assert_eq!(a["indicator"], "info", "{a}");
    assert!(
        a["detail"]
            .as_str()
            .unwrap()
            .contains("Outside the training population"),
        "{a}"
    );
    assert!(
        b["detail"].as_str().unwrap().contains("Already open"),
        "{b}"
    );
    assert!(
        !a["detail"].as_str().unwrap().contains("Already open"),
        "{a}"
    );
    assert!(!b.to_string().to_lowercase().contains("sepsis"), "{b}");
    assert!(
        !a.to_string().to_lowercase().contains("deterioration"),
        "{a}"
    );
    assert_ne!(a["uuid"], b["uuid"]);
    // The card names its use case (source.topic).
    assert_eq!(a["source"]["topic"]["code"], "sepsis-screening", "{a}");
    assert_eq!(b["source"]["topic"]["code"], "deterioration", "{b}");
}
