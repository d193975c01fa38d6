//! FHIR Task building for user tasks.
//!
//! The golden Tasks under tests/fixtures/ were validated against the R4(B)
//! Task model of the `fhir.resources` Python library by
//! tools/reference/pathways_task_fhir.py, which records the SHA-256 of each
//! file it validated; a golden file changed without re-validation fails here.
//! Regenerate with `BEDSIDE_UPDATE_GOLDEN=1 cargo test -p bedside-pathways
//! --test task`, then run the script.

use bedside_core::PatientRef;
use bedside_pathways::*;
use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

fn fixtures() -> String {
    format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"))
}

fn sepsis() -> Definition {
    let path = format!(
        "{}/../../pathways/sepsis-escalation.bpmn",
        env!("CARGO_MANIFEST_DIR")
    );
    Definition::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vars() -> Map<String, Value> {
    json!({
        "patient": {
            "identifiers": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-00042"}],
            "location": {"reference": "Location/4W-12", "display": "4 West, bed 12"}
        },
        "risk": {"probability": 0.42, "low": 0.31, "high": 0.55, "model": "sepsis-v1",
                 "tier": "escalation", "reference": "RiskAssessment/ra-9",
                 "top_factors": [
                     {"name": "lactate", "value": "4.1 mmol/L", "contribution": 0.12},
                     {"name": "respiratory rate", "value": 28, "contribution": 0.07},
                     {"name": "procalcitonin", "contribution": -0.02}
                 ],
                 "earlier": [{"hours_before": 24, "probability": 0.08}, {"hours_before": 6, "probability": 0.21}]},
        "observations": [
            {"name": "Lactate", "value": 4.1, "unit": "mmol/L", "time": "2026-01-05T07:30:00Z", "reference": "Observation/lac-1"},
            {"name": "Heart rate", "value": 118, "unit": "/min", "time": "2026-01-05T07:55:00Z"},
            {"name": "Mean arterial pressure", "value": 95.66666666666667, "unit": "mm[Hg]", "time": "2026-01-05T07:55:00Z"},
            {"name": "Temperature", "value": 38.44, "unit": "Cel", "time": "2026-01-05T07:40:00Z"},
            {"name": "Creatinine", "value": 1.9, "unit": "mg/dL", "time": "2026-01-03T07:00:00Z"}
        ],
        "allergies": [{"display": "Penicillin (anaphylaxis)", "reference": "AllergyIntolerance/al-1"}],
        "medications": [{"display": "Metoprolol 25 mg PO BID", "reference": "MedicationRequest/mr-3"}, "Heparin SC"],
        "covering_physician": "Practitioner/dr-1"
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn nurse_task() -> (CreateTask, chrono::DateTime<Utc>) {
    let now = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
    let (_, fx) = Engine::start(
        &sepsis(),
        "alert-42",
        &StartTrigger::Message("sepsis-alert".into()),
        vars(),
        now,
    )
    .unwrap();
    let Some(Effect::CreateTask(c)) = fx.into_iter().next() else {
        panic!("no task")
    };
    (c, now)
}

fn inputs_named<'a>(task: &'a Value, code: &str) -> Vec<&'a Value> {
    task["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"]["coding"][0]["code"] == json!(code))
        .collect()
}

#[test]
fn nurse_task_is_a_complete_r4_task() {
    let (c, now) = nurse_task();
    let p = PatientRef::parse("Patient/p-42").unwrap();
    let t = build_task(
        &c,
        &p,
        Some("RiskAssessment/ra-9"),
        Some("Device/bedside"),
        now,
    )
    .unwrap();
    assert_eq!(t["resourceType"], "Task");
    assert_eq!(t["id"], json!(c.task_id));
    assert_eq!(
        (t["status"].as_str(), t["intent"].as_str()),
        (Some("requested"), Some("order"))
    );
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["for"]["reference"], "Patient/p-42");
    assert_eq!(t["focus"]["reference"], "RiskAssessment/ra-9");
    assert_eq!(t["requester"]["reference"], "Device/bedside");
    assert_eq!(t["authoredOn"], "2026-01-05T08:00:00Z");
    assert_eq!(t["restriction"]["period"]["end"], "2026-01-05T08:15:00Z");
    // A coded role a person reads: SNOMED CT, and the Bedside role the
    // worklist filters on, each with a display.
    let role = &t["performerType"][0];
    assert_eq!(role["text"], "Registered nurse");
    assert_eq!(role["coding"][0]["system"], "http://snomed.info/sct");
    assert_eq!(role["coding"][0]["code"], "224535009");
    assert_eq!(role["coding"][0]["display"], "Registered nurse");
    assert_eq!(role["coding"][1]["system"], "urn:bedside:role");
    assert_eq!(role["coding"][1]["code"], "nurse");
    assert!(t.get("owner").is_none(), "the nurse task is for a role");
    assert_eq!(t["code"]["coding"][0]["code"], "Task_NurseReassessment");
    assert_eq!(t["groupIdentifier"]["value"], "alert-42");

    let ids = inputs_named(&t, "patient_identifiers");
    assert_eq!(ids[0]["valueIdentifier"]["value"], "MRN-00042");
    assert_eq!(
        inputs_named(&t, "location")[0]["valueReference"]["reference"],
        "Location/4W-12"
    );
    let risk = inputs_named(&t, "risk")[0];
    assert_eq!(risk["valueReference"]["reference"], "RiskAssessment/ra-9");
    assert_eq!(
        risk["valueReference"]["display"],
        "Risk 42% now (interval 31%-55%), 21% 6 h ago, 8% 24 h ago, model sepsis-v1, tier escalation"
    );
    let factors: Vec<&str> = inputs_named(&t, "top_factors")
        .iter()
        .map(|i| i["valueString"].as_str().unwrap())
        .collect();
    assert_eq!(
        factors,
        vec![
            "lactate 4.1 mmol/L: pushes risk up 12 points",
            "respiratory rate 28: pushes risk up 7.0 points",
            "procalcitonin missing (not measured): pushes risk down 2.0 points"
        ]
    );
    // the creatinine from two days ago is outside the last 24 h
    let obs = inputs_named(&t, "observations");
    assert_eq!(obs.len(), 4);
    assert_eq!(obs[0]["valueReference"]["reference"], "Observation/lac-1");
    assert_eq!(
        obs[1]["valueString"],
        "Heart rate 118 /min at 2026-01-05 07:55 UTC"
    );
    // Rounded as charted, in clinical units.
    assert_eq!(
        obs[2]["valueString"],
        "Mean arterial pressure 96 mmHg at 2026-01-05 07:55 UTC"
    );
    assert_eq!(
        obs[3]["valueString"],
        "Temperature 38.4 °C at 2026-01-05 07:40 UTC"
    );
    assert_eq!(inputs_named(&t, "allergies").len(), 1);
    let meds = inputs_named(&t, "medications");
    assert_eq!(meds[1]["valueString"], "Heparin SC");
    // every input has a type text, a coding with a display and exactly
    // one value[x]
    for i in t["input"].as_array().unwrap() {
        assert!(i["type"]["text"].is_string());
        assert!(i["type"]["coding"][0]["display"].is_string(), "{i}");
        let values = i
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("value"))
            .count();
        assert_eq!(values, 1, "{i}");
    }
}

#[test]
fn physician_task_names_its_owner() {
    let (c, now) = nurse_task();
    let inst_def = sepsis();
    let (mut inst, _) = Engine::start(
        &inst_def,
        "alert-43",
        &StartTrigger::Message("sepsis-alert".into()),
        vars(),
        now,
    )
    .unwrap();
    let timer = inst.pending_timers()[0].to_string();
    let fx = Engine::on_timer(&inst_def, &mut inst, &timer, now + TimeDelta::minutes(15)).unwrap();
    let phys = fx
        .iter()
        .find_map(|e| match e {
            Effect::CreateTask(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    let t = build_task(&phys, &PatientRef::parse("p-42").unwrap(), None, None, now).unwrap();
    assert_eq!(t["owner"]["reference"], "Practitioner/dr-1");
    assert_eq!(t["priority"], "asap");
    assert_ne!(phys.task_id, c.task_id);
}

#[test]
fn malformed_inputs_are_errors_naming_the_field() {
    let (mut c, now) = nurse_task();
    let p = PatientRef::parse("p").unwrap();
    c.inputs.insert("risk".into(), json!({"probability": 1.5}));
    let e = build_task(&c, &p, None, None, now).unwrap_err();
    assert_eq!(e.field, "risk");
    c.inputs
        .insert("risk".into(), json!({"probability": "high"}));
    assert_eq!(
        build_task(&c, &p, None, None, now).unwrap_err().field,
        "risk"
    );
    c.inputs.remove("risk");
    c.inputs.insert("top_factors".into(), json!([{"value": 3}]));
    let e = build_task(&c, &p, None, None, now).unwrap_err();
    assert_eq!(e.field, "top_factors");
    assert!(e.to_string().contains("name"), "{e}");
    // unknown names and nulls are rendered generically / skipped
    c.inputs.remove("top_factors");
    c.inputs.insert("note".into(), json!({"k": 1, "j": "x"}));
    c.inputs.insert("nothing".into(), Value::Null);
    let t = build_task(&c, &p, None, None, now).unwrap();
    assert_eq!(inputs_named(&t, "note")[0]["valueString"], "j: x, k: 1");
    assert!(inputs_named(&t, "nothing").is_empty());
}

#[test]
fn golden_task_matches_and_was_validated_by_fhir_resources() {
    let (c, now) = nurse_task();
    let t = build_task(
        &c,
        &PatientRef::parse("Patient/p-42").unwrap(),
        Some("RiskAssessment/ra-9"),
        Some("Device/bedside"),
        now,
    )
    .unwrap();
    let path = format!("{}/task-sepsis-nurse.json", fixtures());
    let text = serde_json::to_string_pretty(&t).unwrap() + "\n";
    if std::env::var_os("BEDSIDE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("golden file (see module doc)");
    assert_eq!(text, golden, "Task differs from {path}");
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/task-fhir-validated.json", fixtures())).unwrap(),
    )
    .unwrap();
    let sha = hex::encode(Sha256::digest(golden.as_bytes()));
    assert_eq!(
        record["task-sepsis-nurse.json"],
        json!(sha),
        "golden changed since tools/reference/pathways_task_fhir.py validated it"
    );
}
