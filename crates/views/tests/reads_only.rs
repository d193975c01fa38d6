//! The read side on its own, over a store written here directly (no app):
//! what it answers, and that answering writes nothing (the store's change
//! marker, which moves with any commit, is the same after every read).

use bedside_policy::{PolicyConfig, PolicyView};
use bedside_store::{Commit, ResourceKey, ResourceWrite, Store, StoreLocation, VersionInfo};
use bedside_views::{PolicySource, Views, ViewsConfig};
use std::sync::Arc;

struct Fixed(Arc<PolicyView>);

impl PolicySource for Fixed {
    fn policy_view(&self) -> Arc<PolicyView> {
        self.0.clone()
    }
}

fn patient(id: &str, body: serde_json::Value) -> ResourceWrite {
    ResourceWrite {
        key: ResourceKey {
            rtype: "Patient".into(),
            id: id.into(),
        },
        version: VersionInfo {
            version_id: None,
            last_updated: None,
            hash: format!("hash-{id}"),
        },
        patient_id: Some(id.into()),
        event_time: None,
        body: body.to_string(),
    }
}

async fn views_over(dir: &std::path::Path) -> (Arc<dyn Store>, Views) {
    let store = bedside_store::open(&StoreLocation::Sqlite {
        data_dir: dir.to_path_buf(),
    })
    .await
    .unwrap();
    let views = Views::new(ViewsConfig {
        store: store.clone(),
        models: Vec::new(),
        model_ids: Vec::new(),
        pathways: Vec::new(),
        public_url: "https://bedside.example/".into(),
        channel_units: vec![("heart_rate".into(), "/min".into())],
        policy: Arc::new(Fixed(Arc::new(PolicyView::new(
            PolicyConfig::default(),
            Default::default(),
            Default::default(),
        )))),
        hooks: vec!["patient-view".into()],
    });
    (store, views)
}

#[tokio::test]
async fn reads_answer_from_the_store_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, views) = views_over(dir.path()).await;
    let mut c = Commit::default();
    c.resources.push(patient(
        "p2",
        serde_json::json!({"resourceType": "Patient", "id": "p2",
            "name": [{"given": ["Ada"], "family": "Byron"}], "gender": "female"}),
    ));
    c.resources.push(patient(
        "p1",
        serde_json::json!({"resourceType": "Patient", "id": "p1"}),
    ));
    store.commit(c).await.unwrap();
    let before = store.change_marker().await.unwrap();
    assert!(before.is_some(), "SQLite has a change marker");

    // A model that is not served, and one with no stored prediction.
    let e = views.served_model("m").unwrap_err();
    assert_eq!((e.status, e.code), (404, "not-found"));
    assert!(views.monitoring_clock("m").await.unwrap().is_none());
    let e = views.readiness_report("m").await.unwrap_err();
    assert_eq!(e.status, 404, "{e}");
    let g = views.gauges().await.unwrap();
    assert!(g.models.is_empty());
    assert_eq!(g.queue_depth, 0);

    // The sandbox lists the stored patients by display name.
    let discovery = serde_json::json!({"services": [
        {"id": "m-order-sign", "hook": "order-sign", "title": "sign"},
        {"id": "m-discharge", "hook": "encounter-discharge", "title": "no"},
        {"id": "m-patient-view", "hook": "patient-view", "title": "view"}]});
    let t = views.ui_timeline("p2").await.unwrap();
    assert_eq!(t.display, "Ada Byron");
    assert_eq!(t.details.as_deref(), Some("female"));
    let v = views
        .ui_sandbox("", Some(t), &discovery, false)
        .await
        .unwrap();
    let listed: Vec<(&str, &str)> = v
        .patients
        .iter()
        .map(|p| (p.id.as_str(), p.display.as_str()))
        .collect();
    assert_eq!(listed, vec![("p2", "Ada Byron"), ("p1", "p1")]);
    let hooks: Vec<&str> = v.services.iter().map(|s| s.hook.as_str()).collect();
    assert_eq!(
        hooks,
        vec!["patient-view", "order-sign"],
        "chart, then orders"
    );
    assert_eq!(v.fhir_server, "https://bedside.example/fhir");
    let e = views.ui_timeline("not a patient id!").await.unwrap_err();
    assert_eq!((e.status, e.path.as_deref()), (400, Some("patient")));
    let e = views.ui_timeline("p9").await.unwrap_err();
    assert_eq!(e.status, 404);

    // The dashboard with no served model, and a configuration change.
    let d = views.ui_dashboard(None, chrono::Utc::now()).await.unwrap();
    assert!(d.selected.is_none());
    let mut cfg = views.monitoring_config();
    cfg.window_hours = 12.0;
    views.set_monitoring_config(cfg);
    assert_eq!(views.monitoring_config().window_hours, 12.0);

    assert_eq!(
        store.change_marker().await.unwrap(),
        before,
        "a read committed something"
    );
}
