//! Use and trust over real HTTP: cards answered by CDS Hooks and their
//! feedback feed the monitoring snapshot (shown, accepted, overridden with
//! reasons, latency) and its alarm rules, and the `/metrics` gauges.

use bedside_app::hooks::HookConfig;
use bedside_monitor::alarms::AlarmKind;
use bedside_server::HttpConfig;
use bedside_test_support::server::TestServer;
use bedside_test_support::{fhir, http};
use bedside_views::monitoring::MonitoringQuery;
use serde_json::{json, Value};

const MODEL: &str = "fixture-lgbm";

/// A patient with an active encounter and septic vital signs (the
/// pipeline precomputes the risk at ingest).
async fn ingest_patient(base: &str, pid: &str) {
    http::ingest(base, &fhir::transaction(fhir::septic_patient(pid))).await;
}

/// Feedback on `card` (a card as answered: accepting takes its first
/// suggestion).
fn feedback(card: &Value, outcome: &str) -> Value {
    let mut item = json!({"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": chrono::Utc::now().to_rfc3339()});
    if outcome == "accepted" {
        item["acceptedSuggestions"] = json!([{"id": card["suggestions"][0]["uuid"]}]);
    }
    if outcome == "overridden" {
        item["overrideReason"] = json!({"reason": {"system": "https://bedside.dev/override-reason", "code": "not-septic", "display": "Clinical picture not consistent"}});
    }
    json!({ "feedback": [item] })
}

#[tokio::test]
async fn cards_and_feedback_feed_use_metrics_alarms_and_gauges() {
    let hooks = HookConfig {
        insecure_skip_auth: true,
        ..HookConfig::default()
    };
    // The fixture model served as the sepsis use case (its suggestions).
    let dir = tempfile::tempdir().unwrap();
    let uc = bedside_test_support::use_cases::fixture_as_sepsis(dir.path());
    let s = TestServer::start_with(HttpConfig::default(), |c| c.use_case(uc).hooks(hooks)).await;
    // Certified to alert on any risk: cards carry suggestions to accept.
    s.app.set_certification(
        MODEL,
        bedside_test_support::decisions::certified(0.0, "test promise"),
    );
    let path = format!("/cds-services/{MODEL}-patient-view");
    let mut cards = Vec::new();
    for pid in ["m1", "m2"] {
        ingest_patient(&s.base, pid).await;
        let req = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                         "context": {"userId": "Practitioner/doc-1", "patientId": pid}});
        let (status, v) = http::post_json(&s.base, &path, &req).await;
        assert_eq!(status, 200, "{v}");
        assert!(v["cards"][0]["suggestions"][0]["uuid"].is_string(), "{v}");
        cards.push(v["cards"][0].clone());
    }
    assert_eq!(
        http::post_json(
            &s.base,
            &format!("{path}/feedback"),
            &feedback(&cards[0], "overridden")
        )
        .await
        .0,
        200
    );
    assert_eq!(
        http::post_json(
            &s.base,
            &format!("{path}/feedback"),
            &feedback(&cards[1], "accepted")
        )
        .await
        .0,
        200
    );

    let mut cfg = s.app.views().monitoring_config();
    cfg.alarms.overrides.rate_limit = 0.4;
    cfg.alarms.overrides.min_shown = 2;
    cfg.alarms.latency.slo_ms = 1e-6;
    s.app.views().set_monitoring_config(cfg);
    let q = MonitoringQuery {
        model_id: MODEL.into(),
        now: chrono::Utc::now() + chrono::Duration::seconds(1),
    };
    let snap = s.app.views().monitoring(&q).await.unwrap();
    let u = &snap.usage.overall;
    assert_eq!((u.alerts, u.shown, u.accepted, u.overridden), (2, 2, 1, 1));
    assert_eq!(u.override_reasons.get("not-septic"), Some(&1));
    assert_eq!(u.override_rate.as_ref().unwrap().value, 0.5);
    assert_eq!(
        snap.usage.by_unit.keys().collect::<Vec<_>>(),
        vec!["class:IMP"]
    );
    assert_eq!(snap.sources.feedback, 2);
    let lat = &snap.latency["cds:patient-view"];
    assert_eq!(lat.n, 2);
    assert!(lat.p50 > 0.0 && lat.p50 <= lat.max);
    let kinds: Vec<AlarmKind> = snap.alarms.iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&AlarmKind::OverrideRate), "{kinds:?}");
    assert!(kinds.contains(&AlarmKind::LatencySlo), "{kinds:?}");

    let text = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!("bedside_overrides_total{{model=\"{MODEL}\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("bedside_cards_shown_total{{model=\"{MODEL}\"}} 2")),
        "{text}"
    );
    assert!(text.contains("endpoint=\"/cds-services/{id}\""), "{text}");
}
