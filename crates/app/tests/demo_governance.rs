//! `bedside demo` replays data from the very population its models were
//! trained on: its governance must not cry wolf. The demo's set-up (every
//! use case under `use-cases/`, the governance pathway, the demo policy)
//! replays every cohort under `demo/` at its recorded times, governance
//! evaluated after each chunk as in the demo; then every served model is
//! evaluated once more at its data clock. No drift alarm is raised, and
//! each model has at most one open governance review.

use bedside_app::pathway_rt::TASK;
use bedside_app::{App, AppConfig};
use bedside_monitor::alarms::AlarmKind;
use bedside_store::DocFilter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dirs(under: &str, marker: Option<&str>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(under))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && marker.is_none_or(|m| p.join(m).is_file()))
        .collect();
    out.sort();
    out
}

const DRIFT: [AlarmKind; 3] = [
    AlarmKind::PsiDrift,
    AlarmKind::KsDrift,
    AlarmKind::MissingnessDrift,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_replay_raises_no_drift_alarm_and_one_review_at_most_per_model() {
    let data = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(root().join("config/demo-policy.toml")).unwrap();
    let hooks = bedside_app::hooks::HookConfig {
        policy: bedside_policy::PolicyConfig::from_toml_str(&policy).unwrap(),
        ..Default::default()
    };
    let config = dirs("use-cases", Some("use-case.toml"))
        .into_iter()
        .fold(AppConfig::sqlite(data.path()), AppConfig::use_case)
        .pathway(root().join("pathways/model-governance.bpmn"))
        .hooks(hooks);
    let app = App::open(config).await.unwrap();
    for dir in dirs("demo", None) {
        bedside_app::replay::replay_dir(&app, &dir, None)
            .await
            .unwrap();
    }
    let models: Vec<String> = app
        .models
        .iter()
        .filter(|m| m.model.is_some())
        .map(|m| m.id().to_string())
        .collect();
    assert!(!models.is_empty());
    let mut evaluated = 0;
    let mut failures: Vec<String> = Vec::new();
    for id in &models {
        let Some(clock) = app.views().monitoring_clock(id).await.unwrap() else {
            continue;
        };
        evaluated += 1;
        let run = app.evaluate_governance(id, clock).await.unwrap();
        let snap = app
            .views()
            .monitoring(&bedside_views::monitoring::MonitoringQuery {
                model_id: id.clone(),
                now: clock,
            })
            .await
            .unwrap();
        let drift_tests = snap.drift.training.len() + snap.drift.reference.len();
        assert!(drift_tests > 0, "{id}: drift was measured");
        let ks: Vec<f64> = snap
            .drift
            .training
            .iter()
            .chain(&snap.drift.reference)
            .filter_map(|d| d.ks.as_ref().map(|k| k.pvalue))
            .collect();
        eprintln!(
            "{id}: {drift_tests} drift entries, {} KS tests, smallest p {:.2e}",
            ks.len(),
            ks.iter().copied().fold(1.0, f64::min)
        );
        let drift: Vec<_> = run
            .alarms
            .iter()
            .filter(|a| DRIFT.contains(&a.alarm.kind))
            .map(|a| a.alarm.message.clone())
            .collect();
        failures.extend(drift.into_iter().map(|m| format!("{id}: {m}")));
        let history: Vec<String> = app
            .alarm_history(id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| DRIFT.contains(&a.alarm.kind))
            .map(|a| a.alarm.message)
            .collect();
        failures.extend(history.into_iter().map(|m| format!("{id} (replay): {m}")));
    }
    assert!(failures.is_empty(), "drift alarms {failures:#?}");
    assert!(evaluated > 0, "no served model scored the demo cohort");
    // At most one open governance review per model.
    let mut open: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in app
        .store
        .list_documents(&DocFilter {
            kind: TASK.into(),
            ..Default::default()
        })
        .await
        .unwrap()
    {
        let t = &d.body;
        if t["instantiatesUri"] != "urn:bedside:pathway:model-governance" {
            continue;
        }
        let status = t["status"].as_str().unwrap_or("");
        if [
            "completed",
            "cancelled",
            "failed",
            "rejected",
            "entered-in-error",
        ]
        .contains(&status)
        {
            continue;
        }
        let model = t["focus"]["identifier"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string();
        open.entry(model).or_default().push(
            t["groupIdentifier"]["value"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    for (model, reviews) in &open {
        assert!(
            reviews.len() <= 1,
            "{model}: {} open governance reviews {reviews:?}",
            reviews.len()
        );
    }
}
