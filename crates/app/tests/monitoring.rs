//! The monitoring snapshot over a replayed demo installation: every count
//! matches the stored records it comes from.

use bedside_app::{App, AppConfig};
use bedside_store::DocFilter;
use bedside_views::monitoring::{MonitoringQuery, SCORE};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn demo_app(dir: &Path) -> App {
    let config = AppConfig::sqlite(dir)
        .model(root().join("models/sepsis-demo"))
        .pathway(root().join("pathways/sepsis-escalation.bpmn"));
    App::open(config).await.unwrap()
}

#[tokio::test]
async fn snapshot_of_the_demo_replay_traces_to_stored_records() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(dir.path()).await;
    bedside_app::replay::replay_dir(&app, &root().join("demo/cohort"), None)
        .await
        .unwrap();
    let now = app
        .views()
        .monitoring_clock("sepsis-demo")
        .await
        .unwrap()
        .unwrap();
    let snap = app
        .views()
        .monitoring(&MonitoringQuery {
            model_id: "sepsis-demo".into(),
            now,
        })
        .await
        .unwrap();
    if std::env::var("PRINT_SNAPSHOT").is_ok() {
        println!("{}", serde_json::to_string_pretty(&snap).unwrap());
    }
    let stored = app
        .store
        .list_documents(&DocFilter {
            kind: "prediction".into(),
            owner: Some("sepsis-demo".into()),
            since: Some(snap.window.start),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.created_at < now)
        .count() as u64;
    assert!(stored > 0);
    assert_eq!(snap.sources.predictions, stored);
    let l = &snap.labels;
    assert_eq!(l.positive + l.negative + l.pending, stored);
    assert_eq!(snap.performance.n, l.positive + l.negative);
    assert_eq!(snap.performance.positives, l.positive);
    assert!(l.positive > 0, "the demo cohort has sepsis cases");
    // Drift: every profiled feature and the score, against training.
    let names: Vec<&str> = snap
        .drift
        .training
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert!(
        names.contains(&"lactate_last") && names.contains(&SCORE),
        "{names:?}"
    );
    // JSON round trip (the dashboard reads this shape).
    let v = serde_json::to_value(&snap).unwrap();
    let back: bedside_views::monitoring::MonitoringSnapshot = serde_json::from_value(v).unwrap();
    assert_eq!(back.sources, snap.sources);
}

#[tokio::test]
async fn reports_render_for_the_demo_installation_with_sources() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(dir.path()).await;
    assert!(
        app.views().readiness_report("sepsis-demo").await.is_err(),
        "no predictions yet: a clear error, not an empty report"
    );
    bedside_app::replay::replay_dir(&app, &root().join("demo/cohort"), None)
        .await
        .unwrap();
    let stored = app
        .store
        .count_documents(&DocFilter {
            kind: "prediction".into(),
            owner: Some("sepsis-demo".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for r in [
        app.views().readiness_report("sepsis-demo").await.unwrap(),
        app.views().silent_report("sepsis-demo").await.unwrap(),
    ] {
        assert!(!r.sections.is_empty());
        for s in &r.sections {
            assert!(!s.figures.is_empty(), "{}", s.question);
            for f in &s.figures {
                assert!(!f.source.trim().is_empty(), "{} has no source", f.label);
            }
        }
        // The whole record: every stored prediction is covered.
        assert_eq!(r.evidence.sources.predictions, stored, "{}", r.kind);
        let html = bedside_views::reports::render_html(&r);
        for s in &r.sections {
            assert!(html.contains(&s.question.replace('\'', "&#39;")));
        }
        assert!(!html.contains("<script"), "self-contained, no scripts");
    }
    let readiness = app.views().readiness_report("sepsis-demo").await.unwrap();
    assert_eq!(readiness.sections.len(), 6, "the six questions");
    let wrong = &readiness.sections[2];
    assert_eq!(wrong.figures[0].value, serde_json::json!(stored));
}

#[tokio::test]
async fn trust_pulse_is_offered_once_per_period_and_answers_are_trended() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(dir.path()).await;
    let mut cfg = app.views().monitoring_config();
    cfg.pulse.sample_share = 1.0;
    cfg.pulse.period_days = 14.0;
    app.views().set_monitoring_config(cfg);
    let t0: chrono::DateTime<chrono::Utc> = "2024-09-01T08:00:00Z".parse().unwrap();
    let doc = "Practitioner/doc-1";
    let offer = app.worklist_pulse("sepsis-demo", doc, t0).await.unwrap();
    assert!(offer
        .unwrap()
        .url
        .contains("clinician=Practitioner%2Fdoc-1"));
    let again = t0 + chrono::Duration::days(3);
    assert!(
        app.worklist_pulse("sepsis-demo", doc, again)
            .await
            .unwrap()
            .is_none(),
        "once per period"
    );
    let later = t0 + chrono::Duration::days(15);
    assert!(app
        .worklist_pulse("sepsis-demo", doc, later)
        .await
        .unwrap()
        .is_some());
    let answer = |who: &str, score: u8| {
        serde_json::json!({"model": "sepsis-demo", "clinician": who, "score": score}).to_string()
    };
    let bad = app
        .record_pulse_answer(answer(doc, 6).as_bytes(), later)
        .await
        .unwrap_err();
    assert_eq!(bad.status, 400);
    assert!(bad.message().contains("1 to 5"), "{}", bad.message());
    let stranger = app
        .record_pulse_answer(answer("Practitioner/other", 4).as_bytes(), later)
        .await
        .unwrap_err();
    assert!(
        stranger.message().contains("not offered"),
        "{}",
        stranger.message()
    );
    app.record_pulse_answer(answer(doc, 2).as_bytes(), t0)
        .await
        .unwrap();
    app.record_pulse_answer(answer(doc, 5).as_bytes(), later)
        .await
        .unwrap();
    let snap = app
        .views()
        .monitoring(&MonitoringQuery {
            model_id: "sepsis-demo".into(),
            now: later + chrono::Duration::hours(1),
        })
        .await
        .unwrap();
    assert_eq!(snap.sources.pulse_answers, 2);
    let scores: Vec<f64> = snap.trust_pulse.iter().map(|p| p.mean_score).collect();
    assert_eq!(scores, vec![2.0, 5.0], "one period each, in order");
}

/// The dashboard is reused while nothing is written, and a feedback
/// committed after a load shows on the next load.
#[tokio::test]
async fn dashboard_is_reused_until_the_record_changes() {
    use bedside_record::{CardRecord, FeedbackRecord, Record};
    use bedside_store::Commit;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(dir.path()).await;
    let t0 = chrono::Utc::now();
    let first = app.views().ui_dashboard(None, t0).await.unwrap();
    assert_eq!(first.as_of, t0);
    assert!(first.override_reasons.is_empty());
    let second = app
        .views()
        .ui_dashboard(None, t0 + chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(second, first, "nothing written: the cached view, as of t0");

    // A shown card and an override of it, as the hooks path writes them.
    let shown = t0 - chrono::Duration::minutes(30);
    let card = CardRecord {
        uuid: "card-1".into(),
        patient_id: "p1".into(),
        owner: "sepsis-demo".into(),
        recorded_at: shown,
        service: "sepsis-demo-patient-view".into(),
        hook: "patient-view".into(),
        hook_instance: "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea".into(),
        user: Some("Practitioner/d".into()),
        model_id: "sepsis-demo".into(),
        model_version: "0.1.0".into(),
        probability: 0.4,
        predicted_at: shown,
        risk_source: "Precomputed".into(),
        tier: "interruptive".into(),
        policy_tier: bedside_policy::Tier::Interruptive,
        suppressed: None,
        shown: true,
        summary: None,
        latency_ms: 1.0,
    };
    let feedback = FeedbackRecord {
        patient_id: Some("p1".into()),
        owner: "sepsis-demo".into(),
        received_at: t0 - chrono::Duration::minutes(20),
        service: "sepsis-demo-patient-view".into(),
        item: serde_json::from_value(json!({
            "card": "card-1", "outcome": "overridden",
            "outcomeTimestamp": t0 - chrono::Duration::minutes(20),
            "overrideReason": {"reason": {"system": "https://bedside.dev/override-reason", "code": "not-septic"}}
        }))
        .unwrap(),
        card_known: true,
    };
    app.commit(Commit {
        documents: vec![card.to_document(), feedback.to_document()],
        ..Commit::default()
    })
    .await
    .unwrap();
    let t1 = t0 + chrono::Duration::seconds(6);
    let third = app.views().ui_dashboard(None, t1).await.unwrap();
    assert_eq!(third.as_of, t1, "recomputed after the commit");
    assert_eq!(
        third.override_reasons.len(),
        1,
        "{:?}",
        third.override_reasons
    );
    assert_eq!(third.override_reasons[0].value, 1.0);
    assert_eq!(third.time_to_action_minutes, vec![10.0]);

    // Unchanged record, but older than the bound: recomputed.
    let late = t1 + chrono::Duration::seconds(bedside_views::ui::DASHBOARD_MAX_AGE_SECS);
    assert_eq!(
        app.views().ui_dashboard(None, late).await.unwrap().as_of,
        late
    );
    // A monitoring configuration change is not a store write: it clears.
    let t2 = late + chrono::Duration::seconds(1);
    app.views()
        .set_monitoring_config(app.views().monitoring_config());
    assert_eq!(app.views().ui_dashboard(None, t2).await.unwrap().as_of, t2);
}
