//! The monitoring snapshot over a replayed demo installation: every count
//! matches the stored records it comes from.

use bedside_app::monitoring::{MonitoringQuery, SCORE};
use bedside_app::{App, AppConfig};
use bedside_store::DocFilter;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn demo_app(dir: &Path) -> App {
    App::open(AppConfig {
        store: bedside_store::StoreLocation::Sqlite {
            data_dir: dir.to_path_buf(),
        },
        channels: None,
        public_url: "http://localhost".into(),
        models: vec![root().join("models/sepsis-demo")],
        feature_specs: vec![],
        record_features: false,
        pathways: vec![root().join("pathways/sepsis-escalation.bpmn")],
        hooks: Default::default(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn snapshot_of_the_demo_replay_traces_to_stored_records() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(dir.path()).await;
    bedside_app::replay::replay_dir(&app, &root().join("demo/cohort"), None)
        .await
        .unwrap();
    let now = app.monitoring_clock("sepsis-demo").await.unwrap().unwrap();
    let snap = app
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
    let back: bedside_app::monitoring::MonitoringSnapshot = serde_json::from_value(v).unwrap();
    assert_eq!(back.sources, snap.sources);
}
