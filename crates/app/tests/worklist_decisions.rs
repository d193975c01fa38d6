//! Completing a worklist Task records the decision its pathway step offers
//! (`<bedside:decision>` in the shipped BPMN): it sets `Task.output`,
//! drives the gateway after the step, and is audited. Against the shipped
//! sepsis and radiology pathways.

use bedside_app::audit::Actor;
use bedside_app::pathway_rt::PATHWAY_INSTANCE;
use bedside_app::worklist::{DecisionInput, TaskAction};
use bedside_app::{App, AppConfig};
use bedside_record::{InstanceRecord, Record as _};
use bedside_test_support::repo_path;
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

async fn open(dir: &std::path::Path, pathway: &str) -> App {
    App::open(AppConfig::sqlite(dir).pathway(repo_path(pathway)))
        .await
        .unwrap()
}

fn vars(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn decided(d: &str, reason: Option<&str>, comment: Option<&str>) -> DecisionInput {
    DecisionInput {
        decision: Some(d.into()),
        reason: reason.map(Into::into),
        comment: comment.map(Into::into),
    }
}

/// Claim, acknowledge and complete `task` as `who` with `decision`.
async fn work(
    app: &App,
    who: &Actor,
    task: &str,
    decision: &DecisionInput,
) -> Result<Value, String> {
    // Claim and start the Task unless an earlier (refused) completion
    // already did.
    let status = app
        .read_resource("Task", task.trim_start_matches("Task/"))
        .await
        .map_err(|e| e.message())?["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let steps: &[TaskAction] = match status.as_str() {
        "in-progress" => &[],
        "accepted" => &[TaskAction::Acknowledge],
        _ => &[TaskAction::Claim, TaskAction::Acknowledge],
    };
    for a in steps.iter().copied() {
        app.task_action_decided(
            who,
            task,
            a,
            None,
            None,
            Map::new(),
            &DecisionInput::default(),
            Utc::now(),
        )
        .await
        .map_err(|e| e.message())?;
    }
    app.task_action_decided(
        who,
        task,
        TaskAction::Complete,
        None,
        None,
        Map::new(),
        decision,
        Utc::now(),
    )
    .await
    .map_err(|e| e.message())
}

fn nurse() -> Actor {
    Actor::new(Some("nurse-1"), Some("clinician")).with_practitioner(Some("Practitioner/n-1"))
}

async fn instance_running(app: &App, id: &str) -> bool {
    let d = app
        .store
        .get_document(PATHWAY_INSTANCE, id)
        .await
        .unwrap()
        .unwrap();
    InstanceRecord::from_document(&d)
        .unwrap()
        .instance
        .is_running()
}

fn output_code(task: &Value, kind: &str) -> Option<String> {
    task["output"]
        .as_array()?
        .iter()
        .find(|o| o["type"]["coding"][0]["code"] == kind)?["valueCodeableConcept"]["coding"][0]
        ["code"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn nurse_escalate_opens_the_physician_task_at_once_and_resolved_ends_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), "pathways/sepsis-escalation.bpmn").await;
    let start = |pid: &'static str| {
        app.start_pathway(
            "sepsis-alert",
            pid,
            "a1",
            vars(json!({"patient": {"identifiers": [{"value": pid}]}})),
            Utc::now(),
        )
    };
    let escalated = start("p-esc").await.unwrap();
    let resolved = start("p-res").await.unwrap();
    let nurse_task = |pid: &'static str| {
        let app = &app;
        async move {
            app.worklist(None, Some("nurse"), None)
                .await
                .unwrap()
                .into_iter()
                .find(|t| t["for"]["reference"] == format!("Patient/{pid}"))
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    // A decision the step does not offer, or none: refused, by name.
    let t = nurse_task("p-esc").await;
    let e = work(&app, &nurse(), &t, &decided("maybe", None, None))
        .await
        .unwrap_err();
    assert!(
        e.contains("\"maybe\" is not offered") && e.contains("escalate"),
        "{e}"
    );
    let e = work(&app, &nurse(), &t, &DecisionInput::default())
        .await
        .unwrap_err();
    assert!(e.contains("completed with a decision"), "{e}");
    let e = work(&app, &nurse(), &t, &decided("escalate", Some("x"), None))
        .await
        .unwrap_err();
    assert!(e.contains("takes no reason"), "{e}");

    let done = work(
        &app,
        &nurse(),
        &t,
        &decided("escalate", None, Some("mottled, MAP 60")),
    )
    .await
    .unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(output_code(&done, "decision").as_deref(), Some("escalate"));
    assert!(
        done["note"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Escalate"),
        "{done}"
    );
    let phys = app.worklist(None, Some("physician"), None).await.unwrap();
    assert_eq!(
        phys.len(),
        1,
        "the physician task is open at once: {phys:?}"
    );
    assert_eq!(phys[0]["for"]["reference"], "Patient/p-esc");
    assert!(instance_running(&app, &escalated).await);

    let t = nurse_task("p-res").await;
    let done = work(&app, &nurse(), &t, &decided("resolved", None, None))
        .await
        .unwrap();
    assert_eq!(output_code(&done, "decision").as_deref(), Some("resolved"));
    assert!(!instance_running(&app, &resolved).await, "resolved ends it");
    assert_eq!(
        app.worklist(None, Some("physician"), None)
            .await
            .unwrap()
            .len(),
        1,
        "no physician task for the resolved patient"
    );

    // The completion's audit entry names the decision and the nurse.
    let audit = app.store.audit_entries(1, 10_000).await.unwrap();
    let decisions: Vec<(&str, &Value)> = audit
        .iter()
        .filter(|e| bedside_app::audit::subtype_of(&e.body) == Some("task-complete"))
        .map(|e| {
            (
                bedside_app::audit::detail(&e.body, "decision").unwrap_or(""),
                &e.body["agent"][0]["who"]["reference"],
            )
        })
        .collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(decisions.iter().any(|(d, _)| *d == "escalate"));
    assert!(decisions.iter().any(|(d, _)| *d == "resolved"));
    assert!(decisions.iter().all(|(_, who)| **who == "Practitioner/n-1"));
}

#[tokio::test]
async fn a_radiologist_disagreeing_with_a_coded_reason_writes_a_detected_issue() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), "pathways/radiology-review.bpmn").await;
    let v = |pid: &str| {
        vars(json!({
            "patient": {"identifiers": [{"value": pid}]},
            "study": {"reference": "ImagingStudy/s1", "display": "CT head"},
            "finding": {"reference": "Observation/ai1", "display": "Intracranial haemorrhage (AI)"},
            "contrast_allergies": [], "prior_imaging": [],
            "responsible_radiologist": "Practitioner/rad-7"
        }))
    };
    app.start_pathway("imaging-ai-finding", "p-dis", "ai1", v("p-dis"), Utc::now())
        .await
        .unwrap();
    app.start_pathway("imaging-ai-finding", "p-agr", "ai2", v("p-agr"), Utc::now())
        .await
        .unwrap();
    let rad =
        Actor::new(Some("rad-7"), Some("clinician")).with_practitioner(Some("Practitioner/rad-7"));
    let task_of = |pid: &'static str| {
        let app = &app;
        async move {
            app.worklist(None, Some("radiologist"), None)
                .await
                .unwrap()
                .into_iter()
                .find(|t| t["for"]["reference"] == format!("Patient/{pid}"))
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let t = task_of("p-dis").await;
    // Disagreeing needs one of the option's coded reasons.
    let e = work(&app, &rad, &t, &decided("disagree", None, None))
        .await
        .unwrap_err();
    assert!(
        e.contains("needs a coded reason") && e.contains("ai-false-positive"),
        "{e}"
    );
    let e = work(&app, &rad, &t, &decided("disagree", Some("dunno"), None))
        .await
        .unwrap_err();
    assert!(e.contains("\"dunno\" is not one of"), "{e}");
    let done = work(
        &app,
        &rad,
        &t,
        &decided(
            "disagree",
            Some("ai-false-positive"),
            Some("no bleed on review"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(output_code(&done, "decision").as_deref(), Some("disagree"));
    assert_eq!(
        output_code(&done, "decision-reason").as_deref(),
        Some("ai-false-positive")
    );

    let t = task_of("p-agr").await;
    work(&app, &rad, &t, &decided("agree", None, None))
        .await
        .unwrap();

    let q: BTreeMap<String, String> = [("patient".to_string(), "Patient/p-dis".to_string())].into();
    let b = app.search("DetectedIssue", &q).await.unwrap();
    assert_eq!(b["total"], 1, "{b}");
    let di = &b["entry"][0]["resource"];
    assert_eq!(di["code"]["coding"][0]["code"], "ai-discordance");
    assert_eq!(di["author"]["reference"], "Practitioner/rad-7");
    let q: BTreeMap<String, String> = [("patient".to_string(), "Patient/p-agr".to_string())].into();
    assert_eq!(app.search("DetectedIssue", &q).await.unwrap()["total"], 0);
    assert_eq!(app.worklist(None, Some("qa"), None).await.unwrap().len(), 1);
}
