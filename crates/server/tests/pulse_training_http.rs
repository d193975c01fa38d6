//! The trust pulse page and training before go-live, over real HTTP:
//! the card's pulse link answers 200 with the one question and an answer
//! shows on the dashboard; with `require_training = true` an untrained
//! clinician's patient-view gets a passive card with the training link,
//! and after the attestation the interruptive card.

use bedside_app::hooks::HookConfig;
use bedside_server::HttpConfig;
use bedside_test_support::http::{client, post_json};
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http, use_cases};
use serde_json::{json, Value};

const MODEL: &str = "fixture-lgbm";

/// The fixture model served as the sepsis use case, certified to alert on
/// any risk, patient-view interruptive; `require_training` as given; JWT
/// checks off; the pulse offered on every eligible item.
async fn start(dir: &std::path::Path, require_training: bool) -> TestServer {
    let uc = use_cases::with_model(
        dir,
        "sepsis-screening",
        &use_cases::repo().join("crates/models/tests/fixtures/pkg"),
        "stage = \"live\"\n[tiers]\npassive_hooks = []\ninterruptive_hooks = [\"patient-view\"]\n",
    );
    if require_training {
        let path = uc.join("use-case.toml");
        let text = std::fs::read_to_string(&path).unwrap().replacen(
            "policy = \"policy.toml\"",
            "policy = \"policy.toml\"\nrequire_training = true\ntraining_contact = \"The sepsis model owner, clinical informatics (ext. 4242)\"",
            1,
        );
        std::fs::write(&path, text).unwrap();
    }
    let hooks = HookConfig {
        insecure_skip_auth: true,
        ..HookConfig::default()
    };
    let s = TestServer::start_with(HttpConfig::default(), |c| c.use_case(uc).hooks(hooks)).await;
    s.app.set_certification(
        MODEL,
        bedside_test_support::decisions::certified(0.0, "test promise"),
    );
    let mut cfg = s.app.views().monitoring_config();
    cfg.pulse.sample_share = 1.0;
    s.app.views().set_monitoring_config(cfg);
    s
}

async fn patient_view(s: &TestServer, pid: &str, user: &str) -> Value {
    let body = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                      "context": {"userId": user, "patientId": pid}});
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

async fn get_text(url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut r = client().get(url);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_form(url: &str, form: &[(&str, &str)], cookie: Option<&str>) -> (u16, String) {
    let mut r = client().post(url).form(form);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_pulse_link_answers_200_and_an_answer_lands_on_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), false).await;
    let clinician = "Practitioner/doc-1";
    let offer = s
        .app
        .worklist_pulse(MODEL, clinician, chrono::Utc::now())
        .await
        .unwrap()
        .expect("offered (sample share 1)");
    let path = offer.url.strip_prefix(&s.base).unwrap().to_string();
    assert!(path.starts_with("/pulse?model="), "{path}");

    // The link: to the one-question page, which answers 200.
    let r = client().get(s.url(&path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/ui/pulse?model="), "{to}");
    let (status, page) = get_text(&s.url(&to), None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("How much do you trust this model"), "{page}");
    assert_eq!(page.matches("name=\"score\"").count(), 5, "{page}");
    assert!(page.contains("name=\"comment\""));

    // Not offered to someone else.
    let (status, page) = get_text(
        &s.url(&format!(
            "/ui/pulse?model={MODEL}&clinician=Practitioner%2Fother"
        )),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("was not offered to you"), "{page}");

    let form = [
        ("model", MODEL),
        ("clinician", clinician),
        ("score", "4"),
        ("comment", "fewer alerts at night please"),
    ];
    let (status, page) = post_form(&s.url("/ui/pulse"), &form, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("your answer (4 of 5) is recorded"), "{page}");
    // Once per offer.
    let (status, page) = post_form(&s.url("/ui/pulse"), &form, None).await;
    assert_eq!(status, 409, "{page}");

    let (status, dash) = get_text(&s.url(&format!("/ui?model={MODEL}")), None).await;
    assert_eq!(status, 200);
    assert!(dash.contains("id=\"trust-pulse\""), "the trust pulse chart");
    assert!(dash.contains("(1 answer)"), "{dash}");
    // Audited, the comment's words never in the log.
    let audit = s.app.store.audit_entries(1, 10_000).await.unwrap();
    let answers: Vec<&Value> = audit
        .iter()
        .map(|e| &e.body)
        .filter(|b| bedside_app::audit::subtype_of(b) == Some("pulse-answer"))
        .collect();
    assert_eq!(answers.len(), 1);
    assert!(!answers[0].to_string().contains("night"));
}

#[tokio::test]
async fn untrained_clinicians_get_a_passive_card_with_the_training_link_until_they_attest() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), true).await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("t1"))).await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("t2"))).await;
    http::ingest(&s.base, &fhir::transaction(fhir::septic_patient("t3"))).await;
    let nurse = "Practitioner/demo-nurse";

    let card = patient_view(&s, "t1", nurse).await;
    assert_eq!(card["indicator"], "info", "{card}");
    let training = card["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["url"]
                .as_str()
                .unwrap()
                .ends_with("/ui/training/sepsis-screening")
        })
        .unwrap_or_else(|| panic!("no training link: {card}"));
    assert!(training["label"].as_str().unwrap().contains("Training"));

    // The module, rendered from the package and the use case.
    let cookie = "bedside_act_as=Practitioner%2Fdemo-nurse";
    let (status, page) = get_text(&s.url("/ui/training/sepsis-screening"), Some(cookie)).await;
    assert_eq!(status, 200, "{page}");
    for part in [
        "What the model sees",
        "What it does not see",
        "Who it was validated on",
        "What the card's parts mean",
        "When to be skeptical",
        "How to override, and what happens then",
        "Who to tell when it is wrong",
        "ext. 4242",
        "Practitioner/demo-nurse",
    ] {
        assert!(page.contains(part), "{part:?} missing: {page}");
    }
    let (status, page) = post_form(
        &s.url("/ui/training/sepsis-screening"),
        &[("role", "nurse"), ("unit", "ward-3")],
        Some(cookie),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Attested by Practitioner/demo-nurse"),
        "{page}"
    );

    // Trained: the interruptive card, without the training link.
    let card = patient_view(&s, "t2", nurse).await;
    assert_eq!(card["indicator"], "warning", "{card}");
    assert!(!card.to_string().contains("/ui/training/"), "{card}");
    // Someone else is still untrained (another patient: t2's alert has
    // been shown, and an alert interrupts once).
    let card = patient_view(&s, "t3", "Practitioner/other").await;
    assert_eq!(card["indicator"], "info", "{card}");

    // Audited: who, which model version.
    let audit = s.app.store.audit_entries(1, 10_000).await.unwrap();
    let att: Vec<&Value> = audit
        .iter()
        .map(|e| &e.body)
        .filter(|b| bedside_app::audit::subtype_of(b) == Some("training-attested"))
        .collect();
    assert_eq!(att.len(), 1, "{att:?}");
    assert_eq!(att[0]["agent"][0]["who"]["reference"], nurse);
    assert!(bedside_app::audit::detail(att[0], "model")
        .unwrap()
        .starts_with("fixture-lgbm|"));

    // The dashboard: coverage by role and unit.
    let (status, dash) = get_text(&s.url(&format!("/ui?model={MODEL}")), None).await;
    assert_eq!(status, 200);
    assert!(dash.contains("id=\"training-coverage\""), "{dash}");
    assert!(dash.contains("nurse, ward-3"), "{dash}");
}
