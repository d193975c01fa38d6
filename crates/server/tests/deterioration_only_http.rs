//! A server with the deterioration use case only: its demo data replayed,
//! patient-view fired for every patient, and nothing anywhere (discovery,
//! cards, Tasks, the UI's dashboard, worklist, models, model facts,
//! pathways and sandbox pages) names sepsis: no text, no suggestion, no
//! pathway. What a use case shows comes from its own files.

use bedside_app::hooks::HookConfig;
use bedside_app::{App, AppConfig};
use bedside_server::HttpConfig;
use bedside_test_support::http::client;
use bedside_test_support::server::TestServer;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn text(base: &str, path: &str) -> String {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "GET {path}");
    r.text().await.unwrap()
}

/// Where "sepsis" appears in `s` (case-insensitive), with some context.
fn sepsis_in(s: &str) -> Option<String> {
    let lower = s.to_lowercase();
    let i = lower.find("sepsis")?;
    let from = lower[..i]
        .char_indices()
        .rev()
        .nth(80)
        .map_or(0, |(j, _)| j);
    Some(s[from..(i + 40).min(s.len())].to_string())
}

#[tokio::test]
async fn deterioration_alone_shows_no_sepsis_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = HookConfig::demo(&root().join("config/demo-ehr")).unwrap();
    let app = App::open(
        AppConfig::sqlite(dir.path())
            .use_case(root().join("use-cases/deterioration"))
            .hooks(hooks),
    )
    .await
    .unwrap();
    bedside_app::replay::replay_dir(&app, &root().join("demo/deterioration-cohort"), None)
        .await
        .unwrap();
    let s = TestServer::serve(Arc::new(app), HttpConfig::default()).await;
    let base = s.base.clone();

    // Discovery: the use case's services, described from its file.
    let d: Value = serde_json::from_str(&text(&base, "/cds-services").await).unwrap();
    let services = d["services"].as_array().unwrap();
    assert_eq!(services.len(), 5, "{d}");
    for sv in services {
        assert!(
            sv["id"].as_str().unwrap().starts_with("deterioration-"),
            "{sv}"
        );
        assert!(sv["description"].as_str().unwrap().chars().count() <= 100);
    }
    assert_eq!(
        services
            .iter()
            .find(|s| s["hook"] == "patient-view")
            .unwrap()["description"],
        "Deterioration risk for this patient, with the reasons"
    );
    assert_eq!(sepsis_in(&d.to_string()), None);

    // patient-view for every replayed patient, as the sandbox fires it.
    let service = format!("{base}/cds-services/deterioration-patient-view");
    let ids = bedside_test_support::demo_patient_ids("deterioration-cohort");
    assert!(ids.len() > 10, "{} patients replayed", ids.len());
    let mut cards = Vec::new();
    for pid in &ids {
        // One token per call: each jti is accepted once.
        let token: Value = serde_json::from_str(
            &text(
                &base,
                &format!(
                    "/ui/sandbox/token?aud={}",
                    bedside_ui::encode_component(&service)
                ),
            )
            .await,
        )
        .unwrap();
        let token = token["token"].as_str().unwrap().to_string();
        let req = json!({"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                         "context": {"userId": "Practitioner/demo", "patientId": pid}});
        let r = client()
            .post(&service)
            .bearer_auth(&token)
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        cards.extend(v["cards"].as_array().cloned().unwrap_or_default());
    }
    assert!(
        !cards.is_empty(),
        "no deterioration card for any of {} patients",
        ids.len()
    );
    for c in &cards {
        assert_eq!(sepsis_in(&c.to_string()), None, "{c}");
        assert!(
            c["summary"]
                .as_str()
                .unwrap()
                .starts_with("Deterioration risk"),
            "{c}"
        );
    }

    // Tasks: the deterioration pathway's only.
    let tasks: Value = serde_json::from_str(&text(&base, "/fhir/Task?_count=1000").await).unwrap();
    let tasks = tasks["entry"].as_array().cloned().unwrap_or_default();
    assert!(
        !tasks.is_empty(),
        "the replay started no deterioration pathway"
    );
    for t in &tasks {
        assert_eq!(
            t["resource"]["instantiatesUri"], "urn:bedside:pathway:deterioration-escalation",
            "{t}"
        );
        assert_eq!(sepsis_in(&t.to_string()), None, "{t}");
    }

    // The UI pages about models, pathways and work.
    for path in [
        "/ui/",
        "/ui/worklist",
        "/ui/models",
        "/ui/models/deterioration-demo/0.1.0",
        "/ui/pathways",
        "/ui/pathways/deterioration-escalation",
        "/ui/sandbox",
    ] {
        let page = text(&base, path).await;
        assert_eq!(sepsis_in(&page), None, "{path}");
    }
}
