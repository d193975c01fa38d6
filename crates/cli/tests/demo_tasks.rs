//! `bedside demo` replays its demo cohort through the sepsis pathway, so
//! Tasks exist when it comes up: checked through `GET /fhir/Task`.

use bedside_test_support::process::Spawn;
use serde_json::Value;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

#[test]
fn demo_comes_up_with_sepsis_pathway_tasks() {
    let demo = Spawn::demo(BIN)
        .fresh_data_dir()
        .wait_for_log("demo cohort replayed")
        .ready_timeout(Duration::from_secs(600))
        .start()
        .expect("start bedside demo");
    let get = |path: &str| demo.get_json(path);

    let count = get("/fhir/Task?_summary=count");
    let total = count["total"].as_u64().unwrap();
    let open = get("/fhir/Task?status=requested&_summary=count")["total"]
        .as_u64()
        .unwrap();
    let all = get("/fhir/Task?_count=1000");
    // Every Task's focus is the RiskAssessment of the alert, readable too.
    let first = all["entry"]
        .as_array()
        .and_then(|v| {
            v.iter().find(|e| {
                e["resource"]["for"].is_object()
                    && e["resource"]["instantiatesUri"] == "urn:bedside:pathway:sepsis-escalation"
            })
        })
        .map(|e| e["resource"].clone())
        .unwrap_or_default();
    let focus = first["focus"]["reference"]
        .as_str()
        .expect("Task.focus")
        .to_string();
    let ra = get(&format!("/fhir/{focus}"));
    drop(demo);

    assert!(total > 0, "the demo came up without Tasks");
    assert_eq!(ra["resourceType"], "RiskAssessment");
    assert_eq!(ra["subject"], first["for"]);
    assert!(
        ra["prediction"][0]["probabilityDecimal"].is_number(),
        "{ra}"
    );
    assert!(
        open > 0,
        "no open Task for a responder: {total} Tasks, none requested"
    );
    let entries = all["entry"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total);
    // The cohort was moved to the present: its newest Task was authored
    // within the last month (the recorded cohort is years old).
    let newest = entries
        .iter()
        .filter_map(|e| e["resource"]["authoredOn"].as_str())
        .filter_map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
        .max()
        .expect("Task.authoredOn");
    let age = chrono::Utc::now() - newest;
    assert!(
        age < chrono::Duration::days(30) && age > chrono::Duration::minutes(-5),
        "newest Task authored {newest}: the demo cohort was not moved to the present"
    );
    // Governance review Tasks (about the model, not a patient) and the
    // radiology reviews of the imaging-AI use case exist too.
    let uri = |e: &&Value| {
        e["resource"]["instantiatesUri"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let radiology = entries
        .iter()
        .filter(|e| uri(e) == "urn:bedside:pathway:radiology-review")
        .count();
    assert!(
        radiology > 0,
        "no radiology review from the imaging-AI use case"
    );
    let sepsis: Vec<&Value> = entries
        .iter()
        .filter(|e| uri(e) == "urn:bedside:pathway:sepsis-escalation")
        .collect();
    assert!(!sepsis.is_empty(), "no sepsis pathway Task");
    for e in sepsis {
        let t = &e["resource"];
        assert_eq!(t["resourceType"], "Task");
        assert!(t["for"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Patient/"));
        assert!(t["groupIdentifier"]["value"].is_string(), "{t}");
        assert!(t["focus"]["reference"]
            .as_str()
            .is_some_and(|f| f.starts_with("RiskAssessment/")));
        assert!(
            t["restriction"]["period"]["end"].is_string()
                || t["code"]["coding"][0]["code"] == "Task_RapidResponse"
        );
        let step = t["code"]["coding"][0]["code"].as_str().unwrap();
        assert!(
            [
                "Task_NurseReassessment",
                "Task_PhysicianReview",
                "Task_RapidResponse"
            ]
            .contains(&step),
            "{step}"
        );
    }
}
