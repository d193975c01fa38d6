//! `bedside demo` replays its demo cohorts through the three shipped use
//! cases, so Tasks exist when it comes up: checked through `GET
//! /fhir/Task` (sepsis escalation, deterioration escalation, radiology
//! review). Firing patient-view of the sepsis and the deterioration
//! services for every demo patient gives cards of both use cases, for
//! different patients, each card opening with its own use case's
//! statement.

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
    let patients: Vec<String> = ["cohort", "deterioration-cohort"]
        .into_iter()
        .flat_map(bedside_test_support::demo_patient_ids)
        .collect();
    let base = demo.url("");
    let cards = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(cards_by_use_case(base.trim_end_matches('/'), &patients));
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
    let deterioration: Vec<&Value> = entries
        .iter()
        .filter(|e| uri(e) == "urn:bedside:pathway:deterioration-escalation")
        .collect();
    assert!(!deterioration.is_empty(), "no deterioration pathway Task");
    for e in &deterioration {
        let step = e["resource"]["code"]["coding"][0]["code"].as_str().unwrap();
        assert!(
            [
                "Task_NurseReassessment",
                "Task_PhysicianReview",
                "Task_RapidResponse"
            ]
            .contains(&step),
            "{step}"
        );
        assert!(e["resource"]["focus"]["reference"]
            .as_str()
            .is_some_and(|f| f.starts_with("RiskAssessment/")));
    }
    // Cards: each use case's own, for different patients, and both for one.
    let (with_sepsis, with_deterioration) = cards;
    assert!(
        !with_sepsis.is_empty(),
        "no sepsis card for any demo patient"
    );
    assert!(
        !with_deterioration.is_empty(),
        "no deterioration card for any demo patient"
    );
    assert!(
        with_sepsis.iter().any(|p| !with_deterioration.contains(p))
            || with_deterioration.iter().any(|p| !with_sepsis.contains(p)),
        "the same patients got both cards: {with_sepsis:?}"
    );
    // One patient with both cards, each naming its use case, is shown in
    // crates/server/tests/two_use_cases_http.rs: in the demo replay the
    // patients a use case alerts on differ (the deterioration model's
    // stays are over by the end of the replay).
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

/// Fire patient-view of the sepsis and the deterioration services (token
/// from the sandbox, as the EHR sandbox does) for every patient: the
/// patients each use case gave a card, after checking that every card
/// opens with its use case's statement.
async fn cards_by_use_case(
    base: &str,
    patients: &[String],
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let client = reqwest::Client::new();
    let mut out = [
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    ];
    for (i, (service, statement)) in [
        ("sepsis-screening-patient-view", "Sepsis risk"),
        ("deterioration-patient-view", "Deterioration risk"),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("{base}/cds-services/{service}");
        for pid in patients {
            // One token per call: each jti is accepted once.
            let token: Value = client
                .get(format!("{base}/ui/sandbox/token"))
                .query(&[("aud", url.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token = token["token"]
                .as_str()
                .expect("a sandbox token")
                .to_string();
            let req = serde_json::json!({"hook": "patient-view",
                "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                "context": {"userId": "Practitioner/demo", "patientId": pid}});
            let r = client
                .post(&url)
                .bearer_auth(&token)
                .json(&req)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{service} for a demo patient");
            let v: Value = r.json().await.unwrap();
            for c in v["cards"].as_array().into_iter().flatten() {
                let summary = c["summary"].as_str().unwrap_or_default();
                assert!(summary.starts_with(statement), "{service}: {c}");
                out[i].insert(pid.clone());
            }
        }
    }
    let [a, b] = out;
    (a, b)
}
