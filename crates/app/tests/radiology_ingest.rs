//! An imaging-AI finding arriving through ingest opens the radiology review
//! (in the same commit), pre-filled with the study, the finding, contrast
//! allergies and prior imaging; the same finding again opens nothing; a
//! radiologist's own report opens nothing; a disagreeing final review
//! writes a DetectedIssue and opens the discordance QA task, an agreeing
//! one neither; the demo's synthetic imaging-AI data opens its reviews.

mod common;

use bedside_app::worklist::TaskAction;
use bedside_app::App;
use bedside_app::AppConfig;
use bedside_test_support::fhir;
use bedside_test_support::repo_path;
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The app serving the shipped imaging-AI use case only: what starts the
/// review (tags, QC code, messages, roles, allergy texts) is its TOML.
async fn app(dir: &Path) -> App {
    let config = AppConfig::sqlite(dir).use_case(repo_path("use-cases/imaging-ai-review"));
    App::open(config).await.unwrap()
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

    // ... and the discordance is a DetectedIssue, in the same commit.
    let issues = detected_issues(&app, &[("patient", "Patient/p-rad")]).await;
    assert_eq!(issues.len(), 1, "{issues:?}");
    let di = &issues[0];
    assert_eq!(di["resourceType"], "DetectedIssue");
    assert_eq!(di["status"], "final");
    assert_eq!(di["severity"], "moderate");
    assert_eq!(di["code"]["coding"][0]["code"], "ai-discordance");
    assert_eq!(di["patient"]["reference"], "Patient/p-rad");
    assert_eq!(di["implicated"][0]["reference"], "DiagnosticReport/ai-1");
    assert_eq!(di["author"]["reference"], "Practitioner/rad-7");
    assert!(di["identifiedDateTime"].is_string(), "{di}");
    let evidence = di["evidence"].to_string();
    assert!(
        evidence.contains("ImagingStudy/ct-2")
            && evidence.contains("DiagnosticReport/rad-report-1"),
        "{evidence}"
    );
    assert!(
        di["detail"]
            .as_str()
            .unwrap()
            .contains("disagrees with the AI finding: CT head AI triage"),
        "{di}"
    );
    let id = di["id"].as_str().unwrap();
    assert_eq!(&app.read_resource("DetectedIssue", id).await.unwrap(), di);
    let by_finding = detected_issues(&app, &[("implicated", "DiagnosticReport/ai-1")]).await;
    assert_eq!(by_finding.len(), 1);
    assert!(detected_issues(&app, &[("patient", "Patient/other")])
        .await
        .is_empty());
    // Provenance names it, as for every pathway write.
    let mut q = BTreeMap::new();
    q.insert("target".to_string(), format!("DetectedIssue/{id}"));
    let prov = app.search("Provenance", &q).await.unwrap();
    assert_eq!(prov["total"], 1, "{prov}");
    if let Ok(path) = std::env::var("BEDSIDE_TEST_DUMP_DETECTED_ISSUE") {
        // For checking with an external FHIR validator.
        std::fs::write(path, serde_json::to_vec_pretty(di).unwrap()).unwrap();
    }
}

/// `GET /fhir/DetectedIssue?...` entries.
async fn detected_issues(app: &App, q: &[(&str, &str)]) -> Vec<Value> {
    let q: BTreeMap<String, String> = q
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let b = app.search("DetectedIssue", &q).await.unwrap();
    assert_eq!(b["type"], "searchset", "{b}");
    b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect()
}

async fn complete(app: &App, task_id: &str, actor: &str, review: Value) {
    let mut out = Map::new();
    out.insert("review".into(), review);
    for a in [
        TaskAction::Claim,
        TaskAction::Acknowledge,
        TaskAction::Complete,
    ] {
        app.task_action(task_id, a, Some(actor), None, out.clone(), Utc::now())
            .await
            .unwrap();
    }
}

/// An Observation from an AI device on a study whose encounter names no
/// radiologist: the review goes to the radiologist on the encounter's
/// CareTeam, with the contrast allergy sent in the same bundle; an
/// agreeing review writes no DetectedIssue and opens no QA task.
#[tokio::test]
async fn the_care_team_radiologist_reviews_and_agreement_records_no_issue() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let encounter = json!({"resourceType": "Encounter", "id": "e-1", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/p-rad"},
        "period": {"start": "2024-05-02T08:00:00Z"},
        "participant": [{"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND"}]}],
            "individual": {"reference": "Practitioner/dr-im-1"}}]});
    let teams = [
        // Another encounter's radiologist, then this encounter's team.
        json!({"resourceType": "CareTeam", "id": "ct-old", "status": "inactive",
            "subject": {"reference": "Patient/p-rad"}, "encounter": {"reference": "Encounter/e-0"},
            "participant": [{"role": [{"text": "Radiologist"}], "member": {"reference": "Practitioner/rad-old"}}]}),
        json!({"resourceType": "CareTeam", "id": "ct-1", "status": "active",
            "subject": {"reference": "Patient/p-rad"}, "encounter": {"reference": "Encounter/e-1"},
            "participant": [
                {"role": [{"coding": [{"system": "http://snomed.info/sct", "code": "309343006", "display": "Physician"}]}],
                 "member": {"reference": "Practitioner/dr-im-1"}},
                {"role": [{"coding": [{"system": "http://snomed.info/sct", "code": "66862007", "display": "Radiologist"}]}],
                 "member": {"reference": "Practitioner/rad-3"}}]}),
    ];
    let mut s = study("cxr-1", "2024-05-02T09:00:00Z", "Chest X-ray PA");
    s.as_object_mut().unwrap().remove("interpreter");
    s["encounter"] = json!({"reference": "Encounter/e-1"});
    let allergy = json!({"resourceType": "AllergyIntolerance", "id": "al-g",
        "patient": {"reference": "Patient/p-rad"},
        "code": {"text": "Gadolinium-based contrast agent"}});
    let finding = json!({"resourceType": "Observation", "id": "ai-obs-1", "status": "final",
        "meta": {"tag": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}]},
        "code": {"text": "AI triage: Chest X-ray PA"},
        "valueCodeableConcept": {"text": "Right apical pneumothorax"},
        "subject": {"reference": "Patient/p-rad"},
        "device": {"reference": "Device/cxr-ai"},
        "derivedFrom": [{"reference": "ImagingStudy/cxr-1"}],
        "effectiveDateTime": "2024-05-02T09:05:00Z"});
    let mut all = vec![encounter, s, allergy, finding];
    all.extend(teams);
    app.process_bundle(&bundle(all)).await.unwrap();
    let tasks = app.worklist(None, Some("radiologist"), None).await.unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["owner"]["reference"], "Practitioner/rad-3");
    let inputs = input_text(&tasks[0]);
    for needle in [
        "Gadolinium-based contrast agent",
        "Right apical pneumothorax",
        "ImagingStudy/cxr-1",
        "Chest X-ray PA",
    ] {
        assert!(inputs.contains(needle), "{needle} missing from {inputs}");
    }

    let id = tasks[0]["id"].as_str().unwrap().to_string();
    complete(
        &app,
        &id,
        "Practitioner/rad-3",
        json!({"agrees_with_ai": true, "report": {"reference": "DiagnosticReport/r-9"}}),
    )
    .await;
    assert!(detected_issues(&app, &[]).await.is_empty());
    assert!(app
        .worklist(None, Some("qa"), None)
        .await
        .unwrap()
        .is_empty());
}

/// The demo's synthetic imaging-AI data (tools/make_imaging_ai_data.py),
/// replayed with the study data it refers to, opens one review per finding,
/// each for the radiologist who read the study, with the contrast
/// allergies and no other allergy; a disagreeing review writes a
/// DetectedIssue about that finding.
#[tokio::test]
async fn the_demo_imaging_ai_data_opens_reviews_for_its_radiologists() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let data = tempfile::tempdir().unwrap();
    let demo = bedside_test_support::repo_path("demo/cohort");
    for f in [
        "Patient.ndjson.gz",
        "Encounter.ndjson.gz",
        "ImagingStudy.ndjson.gz",
        "Practitioner.ndjson.gz",
        "Device.ndjson.gz",
        "CareTeam-radiology.ndjson.gz",
        "AllergyIntolerance.ndjson.gz",
        "DiagnosticReport-ai.ndjson.gz",
        "Observation-ai.ndjson.gz",
    ] {
        std::fs::copy(demo.join(f), data.path().join(f)).unwrap();
    }
    let findings = read_gz(&demo.join("DiagnosticReport-ai.ndjson.gz"))
        .into_iter()
        .chain(read_gz(&demo.join("Observation-ai.ndjson.gz")))
        .collect::<Vec<_>>();
    let allergies = read_gz(&demo.join("AllergyIntolerance.ndjson.gz"));
    assert!(findings.len() >= 10, "{}", findings.len());
    let summary = bedside_app::replay::replay_dir(&app, data.path(), None)
        .await
        .unwrap();
    assert_eq!(summary.rejected, 0, "{summary:?}");

    let tasks = app.worklist(None, Some("radiologist"), None).await.unwrap();
    assert_eq!(tasks.len(), findings.len(), "one review per AI finding");
    let mut with_contrast = 0;
    for t in &tasks {
        let owner = t["owner"]["reference"].as_str().unwrap_or_default();
        assert!(owner.starts_with("Practitioner/DR-RAD-"), "{t}");
        let pid = t["for"]["reference"].as_str().unwrap();
        let inputs = input_text(t);
        for a in &allergies {
            if a["patient"]["reference"] != pid {
                continue;
            }
            let text = a["code"]["text"].as_str().unwrap();
            let contrast = text.contains("contrast");
            assert_eq!(inputs.contains(text), contrast, "{text} in {inputs}");
            with_contrast += usize::from(contrast);
        }
    }
    assert!(with_contrast > 0, "no demo review shows a contrast allergy");

    let first = &tasks[0];
    let id = first["id"].as_str().unwrap().to_string();
    let owner = first["owner"]["reference"].as_str().unwrap().to_string();
    complete(&app, &id, &owner, json!({"agrees_with_ai": false})).await;
    let issues = detected_issues(&app, &[]).await;
    assert_eq!(issues.len(), 1);
    let implicated = issues[0]["implicated"][0]["reference"].as_str().unwrap();
    assert_eq!(Some(implicated), first["focus"]["reference"].as_str());
    assert_eq!(issues[0]["author"]["reference"], owner.as_str());
}

fn read_gz(path: &Path) -> Vec<Value> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_qc_failure_opens_a_review_even_before_its_study_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let qc = json!({"resourceType": "Observation", "id": "qc-1", "status": "final",
        "code": {"coding": [{"system": "https://bedside.dev/imaging-qc", "code": "qc-failure", "display": "Motion artefact"}]},
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
    assert!(
        inputs.contains("Imaging study") && inputs.contains("not received yet"),
        "{inputs}"
    );
}
