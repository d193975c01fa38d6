//! An imaging-AI finding arriving through ingest opens the radiology review
//! (in the same commit), pre-filled with the study, the finding, contrast
//! allergies and prior imaging; the same finding again opens nothing; a
//! radiologist's own report opens nothing; a disagreeing final review
//! opens the discordance QA task.

mod common;

use bedside_app::worklist::TaskAction;
use bedside_app::App;
use bedside_test_support::fhir;
use chrono::Utc;
use common::pathway_app;
use serde_json::{json, Map, Value};
use std::path::Path;

async fn app(dir: &Path) -> App {
    pathway_app(dir, &["radiology-review.bpmn"]).await
}

fn bundle(resources: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&fhir::transaction(resources)).unwrap()
}

fn study(id: &str, started: &str, description: &str) -> Value {
    json!({"resourceType": "ImagingStudy", "id": id, "status": "available",
        "subject": {"reference": "Patient/p-rad"},
        "identifier": [{"system": "urn:dicom:uid", "value": format!("urn:oid:2.25.{}", id.len())}],
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        "numberOfSeries": 2, "numberOfInstances": 180,
        "started": started, "description": description,
        "interpreter": [{"reference": "Practitioner/rad-7"}]})
}

fn ai_report(id: &str, performer: &str) -> Value {
    json!({"resourceType": "DiagnosticReport", "id": id, "status": "final",
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}]},
        "code": {"text": "CT head AI triage"},
        "subject": {"reference": "Patient/p-rad"},
        "imagingStudy": [{"reference": "ImagingStudy/ct-2"}],
        "performer": [{"reference": performer}],
        "effectiveDateTime": "2024-05-02T10:00:00Z",
        "conclusion": "Suspected intracranial haemorrhage"})
}

fn input_text(task: &Value) -> String {
    task["input"].to_string()
}

#[tokio::test]
async fn an_ingested_ai_finding_opens_a_prefilled_review_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let patient = json!({"resourceType": "Patient", "id": "p-rad",
        "identifier": [{"system": "urn:mrn", "value": "MRN-42"}]});
    let allergy = json!({"resourceType": "AllergyIntolerance", "id": "al-1",
        "patient": {"reference": "Patient/p-rad"},
        "code": {"text": "Iodinated contrast media"}});
    let other_allergy = json!({"resourceType": "AllergyIntolerance", "id": "al-2",
        "patient": {"reference": "Patient/p-rad"}, "code": {"text": "Penicillin"}});
    app.process_bundle(&bundle(vec![
        patient,
        allergy,
        other_allergy,
        study("ct-1", "2023-11-01T08:00:00Z", "CT head (prior)"),
    ]))
    .await
    .unwrap();
    assert!(app.worklist(None, None, None).await.unwrap().is_empty());

    // The study and the AI's report arrive together.
    let b = bundle(vec![
        study("ct-2", "2024-05-02T09:40:00Z", "CT head without contrast"),
        ai_report("ai-1", "Device/ich-ai"),
    ]);
    app.process_bundle(&b).await.unwrap();
    let tasks = app.worklist(None, Some("radiologist"), None).await.unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let t = &tasks[0];
    assert_eq!(t["for"]["reference"], "Patient/p-rad");
    assert_eq!(t["owner"]["reference"], "Practitioner/rad-7");
    let inputs = input_text(t);
    for needle in [
        "MRN-42",
        "CT head without contrast, CT, started 2024-05-02T09:40:00Z, 2 series",
        "AI finding: CT head AI triage: Suspected intracranial haemorrhage",
        "ImagingStudy/ct-2",
        "Suspected intracranial haemorrhage",
        "Iodinated contrast media",
        "CT head (prior) (2023-11-01T08:00:00Z)",
    ] {
        assert!(inputs.contains(needle), "{needle} missing from {inputs}");
    }
    assert!(!inputs.contains("Penicillin"), "{inputs}");

    // Seen again (same bundle), and a new version of the same finding:
    // still one review.
    app.process_bundle(&b).await.unwrap();
    let mut v2 = ai_report("ai-1", "Device/ich-ai");
    v2["conclusion"] = json!("Suspected intracranial haemorrhage, left");
    app.process_bundle(&bundle(vec![v2])).await.unwrap();
    // The radiologist's own report on the study is not an AI finding.
    let mut human = ai_report("rad-report-1", "Practitioner/rad-7");
    human["meta"] = json!({});
    app.process_bundle(&bundle(vec![human])).await.unwrap();
    let all = app.worklist(None, None, None).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");

    // The final report disagrees: discordance QA task.
    let id = all[0]["id"].as_str().unwrap().to_string();
    let mut out = Map::new();
    out.insert(
        "review".into(),
        json!({"agrees_with_ai": false, "report": {"reference": "DiagnosticReport/rad-report-1"}}),
    );
    for a in [
        TaskAction::Claim,
        TaskAction::Acknowledge,
        TaskAction::Complete,
    ] {
        app.task_action(
            &id,
            a,
            Some("Practitioner/rad-7"),
            None,
            out.clone(),
            Utc::now(),
        )
        .await
        .unwrap();
    }
    let qa = app.worklist(None, Some("qa"), None).await.unwrap();
    assert_eq!(qa.len(), 1, "{qa:?}");
    assert!(input_text(&qa[0]).contains("ImagingStudy/ct-2"));
}

#[tokio::test]
async fn a_qc_failure_opens_a_review_even_before_its_study_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let qc = json!({"resourceType": "Observation", "id": "qc-1", "status": "final",
        "code": {"coding": [{"system": bedside_app::imaging::QC_FAILURE_SYSTEM, "code": "qc-failure", "display": "Motion artefact"}]},
        "subject": {"reference": "Patient/p-qc"},
        "partOf": [{"reference": "ImagingStudy/mr-9"}],
        "effectiveDateTime": "2024-05-03T11:00:00Z"});
    let out = app.process_bundle(&bundle(vec![qc])).await.unwrap();
    assert_eq!(out["type"], "transaction-response", "{out}");
    let tasks = app.worklist(None, Some("radiologist"), None).await.unwrap();
    assert_eq!(tasks.len(), 1);
    let inputs = input_text(&tasks[0]);
    assert!(
        inputs.contains("QC failure: Motion artefact") && inputs.contains("ImagingStudy/mr-9"),
        "{inputs}"
    );
    // The study is not stored yet: the review says so rather than failing.
    assert!(inputs.contains("study not received yet"), "{inputs}");
}
