//! A challenger model in shadow (policy `shadow_models`): scored and
//! decided side by side with the primary on the replayed demo cohort,
//! never shown, never starting a pathway, and compared in the silent report.

use bedside_app::pathway_rt::{DECISION, PATHWAY_INSTANCE};
use bedside_app::pipeline::PREDICTION;
use bedside_app::{App, AppConfig};
use bedside_store::DocFilter;
use std::path::{Path, PathBuf};

const CHALLENGER: &str = "sepsis-challenger";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo package under another id (a challenger of the same shape).
fn challenger_package(dir: &Path) -> PathBuf {
    let src = root().join("models/sepsis-demo");
    let dst = dir.join("challenger");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    let toml = std::fs::read_to_string(dst.join("model.toml")).unwrap();
    let changed = toml.replacen("id = \"sepsis-demo\"", &format!("id = \"{CHALLENGER}\""), 1);
    assert_ne!(toml, changed, "model.toml id line not found");
    std::fs::write(dst.join("model.toml"), changed).unwrap();
    dst
}

fn docs(kind: &str, owner: &str) -> DocFilter {
    DocFilter {
        kind: kind.into(),
        owner: Some(owner.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn challenger_runs_in_shadow_beside_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut policy = std::fs::read_to_string(root().join("config/demo-policy.toml")).unwrap();
    policy.push_str(&format!("\nshadow_models = [\"{CHALLENGER}\"]\n"));
    // The challenger belongs to the sepsis use case as its shadow.
    let config = AppConfig::sqlite(data)
        .use_case(bedside_test_support::use_cases::sepsis(dir.path(), &policy))
        .model(challenger_package(dir.path()));
    let app = App::open(config).await.unwrap();
    assert_eq!(
        app.policy_for(CHALLENGER).role_of(CHALLENGER),
        bedside_policy::ModelRole::Shadow
    );
    bedside_app::replay::replay_dir(&app, &root().join("demo/cohort"), None)
        .await
        .unwrap();

    // Side by side: the challenger scored at the primary's scoring times.
    let primary = app
        .store
        .list_documents(&docs(PREDICTION, "sepsis-demo"))
        .await
        .unwrap();
    let shadow = app
        .store
        .list_documents(&docs(PREDICTION, CHALLENGER))
        .await
        .unwrap();
    assert!(!primary.is_empty());
    assert_eq!(primary.len(), shadow.len());

    // Decided like the primary, recorded as shadow, never shown.
    let p_dec = app
        .store
        .list_documents(&docs(DECISION, "sepsis-demo"))
        .await
        .unwrap();
    let s_dec = app
        .store
        .list_documents(&docs(DECISION, CHALLENGER))
        .await
        .unwrap();
    assert!(
        !p_dec.is_empty(),
        "the demo policy alerts on the demo cohort"
    );
    assert!(!s_dec.is_empty(), "the shadow model's alerts are recorded");
    for d in &s_dec {
        assert_eq!(d.body["role"], "shadow", "{}", d.body);
        assert_eq!(d.body["shown"], false, "{}", d.body);
    }
    assert!(p_dec.iter().any(|d| d.body["shown"] == true));

    // Only the primary starts pathways.
    let instances = app
        .store
        .list_documents(&DocFilter {
            kind: PATHWAY_INSTANCE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!instances.is_empty());
    assert!(
        instances.iter().all(|i| !i.id.starts_with(CHALLENGER)),
        "a shadow model started a pathway"
    );

    // The silent report of the primary compares the two.
    let report = app.views().silent_report("sepsis-demo").await.unwrap();
    let section = report
        .sections
        .iter()
        .find(|s| s.question.contains(CHALLENGER))
        .expect("a challenger section");
    let paired = section
        .figures
        .iter()
        .find(|f| f.label == "paired predictions")
        .unwrap();
    assert_eq!(paired.value.as_u64(), Some(shadow.len() as u64));
    // Same trees under another id: the probabilities agree exactly.
    let diff = section
        .figures
        .iter()
        .find(|f| f.label == "mean absolute probability difference")
        .unwrap();
    assert_eq!(diff.value.as_f64(), Some(0.0));
}
