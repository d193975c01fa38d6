//! A use case that is not in the repository (its own model package,
//! policy, pathway and card text) deployed from files alone: its risk
//! starts its pathway with its own message, its card carries its own
//! suggestion and names it, and nothing of the shipped sepsis use case
//! appears anywhere.

use bedside_app::{App, AppConfig};
use bedside_store::{Commit, DocFilter};
use bedside_test_support::decisions::{certified, inpatient, prediction};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const MODEL: &str = "fixture-lgbm";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn t0() -> DateTime<Utc> {
    "2024-03-01T10:00:00Z".parse().unwrap()
}

/// A whole use case written as files in `dir`: a pathway drawn for it
/// (the shipped deterioration drawing with its own names), a policy, a
/// card with its own wording and a suggestion of its own.
fn write_use_case(dir: &Path) -> PathBuf {
    let uc = dir.join("aki");
    std::fs::create_dir_all(&uc).unwrap();
    let bpmn = std::fs::read_to_string(repo().join("pathways/deterioration-escalation.bpmn"))
        .unwrap()
        .replace("deterioration-escalation", "aki-escalation")
        .replace("Deterioration escalation", "AKI escalation")
        .replace("name=\"deterioration-alert\"", "name=\"aki-alert\"")
        .replace("name=\"care-under-way\"", "name=\"aki-plan-made\"")
        .replace("deterioration", "kidney injury");
    assert!(!bpmn.to_lowercase().contains("sepsis"));
    std::fs::write(uc.join("aki.bpmn"), bpmn).unwrap();
    std::fs::write(
        uc.join("policy.toml"),
        "stage = \"live\"\ncondition = \"acute kidney injury\"\n",
    )
    .unwrap();
    std::fs::write(
        uc.join("use-case.toml"),
        format!(
            r#"id = "aki-screening"
name = "Acute kidney injury screening"
model = "{model}"
policy = "policy.toml"

[trigger]
kind = "risk"

[pathway]
file = "aki.bpmn"
start = "aki-alert"
overridden = "alert-overridden"

[card]
title = "AKI risk"
statement = "AKI risk"
action = "review fluids and nephrotoxic drugs"

[[card.suggestions]]
label = "Order serum creatinine"
resource = {{ resourceType = "ServiceRequest", status = "draft", intent = "proposal", code = {{ coding = [{{ system = "http://loinc.org", code = "2160-0" }}] }}, subject = {{ reference = "Patient/{{{{patientId}}}}" }} }}
"#,
            model = repo().join("crates/models/tests/fixtures/pkg").display()
        ),
    )
    .unwrap();
    uc
}

#[tokio::test]
async fn a_use_case_from_files_alone_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let uc = write_use_case(dir.path());
    let problems =
        bedside_usecase::UseCase::validate(&uc, &bedside_ingest::ChannelMap::default_map());
    assert!(problems.is_empty(), "{problems:?}");
    let hooks = bedside_app::hooks::HookConfig {
        insecure_skip_auth: true,
        ..Default::default()
    };
    let app = App::open(
        AppConfig::sqlite(dir.path().join("data"))
            .public_url("http://test")
            .use_case(&uc)
            .hooks(hooks),
    )
    .await
    .unwrap();
    app.set_certification(MODEL, certified(0.3, "test promise"));
    assert_eq!(
        app.use_cases.for_model(MODEL).map(|u| u.id.as_str()),
        Some("aki-screening")
    );

    // Its risk escalates and starts its own pathway with its own message.
    let mut c = Commit::default();
    app.on_prediction(
        &inpatient("p1", t0() - Duration::days(1)),
        &prediction(MODEL, "0.0.1", t0(), 0.9),
        &mut c,
    )
    .await
    .unwrap();
    app.store.commit(c).await.unwrap();
    assert!(app
        .running_instance("p1", "aki-escalation", None)
        .await
        .unwrap()
        .is_some());
    let tasks = app
        .store
        .list_documents(&DocFilter {
            kind: "Task".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1, "the nurse review Task");

    // Its card: its own suggestion, named for its use case.
    let mut c = Commit::default();
    let risk = bedside_record::LatestRisk {
        patient_id: "h1".into(),
        prediction: prediction(MODEL, "0.0.1", t0(), 0.9),
        written_at: t0(),
    };
    c.documents.push(bedside_record::Record::to_document(&risk));
    app.store.commit(c).await.unwrap();
    let body = json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "h1"}
    })
    .to_string();
    let r = app
        .cds_call(
            &format!("{MODEL}-patient-view"),
            None,
            body.as_bytes(),
            t0() + Duration::minutes(5),
        )
        .await
        .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let card = &v["cards"][0];
    assert_eq!(card["source"]["topic"]["code"], "aki-screening", "{card}");
    let labels: Vec<&str> = card["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert_eq!(labels, ["Order serum creatinine"], "{card}");

    // Nothing of the shipped sepsis use case anywhere it wrote.
    let mut written: Vec<Value> = vec![v.clone()];
    written.extend(tasks.iter().map(|d| d.body.clone()));
    for w in written {
        assert!(
            !w.to_string().to_lowercase().contains("sepsis"),
            "sepsis text in {w}"
        );
    }
}
