//! A card at or above the alert threshold that is only passive says why,
//! over real HTTP: the first patient-view interrupts, the next one for the
//! same patient reads "alert already shown just now", not the passive action
//! ("for awareness"), which would read as if the risk were low. The card's
//! promise, from a whole-policy certification, is about alerts and their
//! rate.

use bedside_app::hooks::HookConfig;
use bedside_policy::certify::{Certified, METHOD_WHOLE_POLICY};
use bedside_policy::Certification;
use bedside_server::HttpConfig;
use bedside_test_support::http::post_json;
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http, use_cases};
use serde_json::{json, Value};

const MODEL: &str = "fixture-lgbm";

async fn patient_view(s: &TestServer, pid: &str) -> Value {
    let body = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                      "context": {"userId": "Practitioner/demo-nurse", "patientId": pid}});
    let (status, v) = post_json(
        &s.base,
        "/cds-services/sepsis-screening-patient-view",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(bedside_cds::validate_response(&v).is_empty(), "{v}");
    assert_eq!(v["cards"].as_array().map(Vec::len), Some(1), "{v}");
    v["cards"][0].clone()
}

#[tokio::test]
async fn a_passive_card_after_the_alert_says_the_alert_was_shown() {
    let dir = tempfile::tempdir().unwrap();
    // Certified to alert on any risk; patient-view both interrupts (once)
    // and shows the passive card after that; no escalation, so no pathway
    // Task (a passive card names an open Task first).
    let uc = use_cases::with_model(
        dir.path(),
        "sepsis-screening",
        &use_cases::repo().join("crates/models/tests/fixtures/pkg"),
        "stage = \"live\"\n[tiers]\npassive_hooks = [\"patient-view\"]\ninterruptive_hooks = [\"patient-view\"]\nescalate = \"never\"\n",
    );
    let hooks = HookConfig {
        insecure_skip_auth: true,
        ..HookConfig::default()
    };
    let s = TestServer::start_with(HttpConfig::default(), |c| c.use_case(uc).hooks(hooks)).await;
    // A whole-policy certification: the card's promise is about alerts.
    s.app.set_certification(
        MODEL,
        Certification::Certified(Certified {
            threshold: 0.0,
            ppv: 0.34,
            ppv_lower: 0.26,
            confidence: 0.95,
            ppv_floor: 0.2,
            alert_rate_per_100_patient_days: 2.1,
            alert_rate_upper_per_100_patient_days: Some(2.6),
            alert_budget_per_100_patient_days: 5.0,
            horizon_hours: Some(24.0),
            method: METHOD_WHOLE_POLICY.into(),
            ..Certified::default()
        }),
    );
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("r1"))).await;

    let first = patient_view(&s, "r1").await;
    assert_eq!(first["indicator"], "warning", "{first}");
    let detail = first["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "About 1 in 3 of these alerts is followed by sepsis within 24 h \
             (at least 1 in 4 with 95% confidence). Expect about 2 such alerts \
             per 100 patient-days (at most 3)."
        ),
        "{detail}"
    );
    let second = patient_view(&s, "r1").await;
    assert_eq!(second["indicator"], "info", "{second}");
    let summary = second["summary"].as_str().unwrap();
    assert!(
        summary.ends_with(": alert already shown just now") || summary.ends_with(" min ago"),
        "{summary}"
    );
    assert!(!summary.contains("for awareness"), "{summary}");
}
