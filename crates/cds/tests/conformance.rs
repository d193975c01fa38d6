//! Conformance against the JSON examples of the CDS Hooks specification,
//! read in place from ../shared/cds-hooks (see its README).

use bedside_cds::{
    parse_feedback, parse_hook_request, validate_discovery, validate_response, CdsResponse,
    Discovery, HookError, Outcome, Violation,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cds-hooks");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "\n!!!!!!!! SKIPPED: {} not found; CDS Hooks conformance tests did not run !!!!!!!!\n",
            d.display()
        );
        None
    }
}

fn files(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
        .unwrap_or_else(|e| panic!("{sub}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no JSON files under {sub}");
    v
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn every_spec_request_parses() {
    let Some(d) = shared() else { return };
    for p in files(&d, "requests") {
        let bytes = std::fs::read(&p).unwrap();
        let hook = read(&p)["hook"].as_str().unwrap().to_string();
        let r =
            parse_hook_request(&bytes, Some(&hook)).unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
        assert_eq!(r.hook.as_str(), hook, "{}", name(&p));
        // The same body sent to a service for another hook is refused.
        let other = if hook == "patient-view" {
            "order-sign"
        } else {
            "patient-view"
        };
        assert!(
            matches!(
                parse_hook_request(&bytes, Some(other)),
                Err(HookError::WrongHook { .. })
            ),
            "{}",
            name(&p)
        );
        let issues: Vec<String> = r
            .conformance_issues()
            .iter()
            .map(|e| e.to_string())
            .collect();
        eprintln!("{}: ok; context issues: {issues:?}", name(&p));
        // The minimal hook-* wrappers carry complete contexts.
        if name(&p).starts_with("hook-") {
            assert!(issues.is_empty(), "{}: {issues:?}", name(&p));
            assert!(r.fhir_server.is_none() && r.prefetch.is_empty());
            assert_eq!(r.patient_id().unwrap(), "1288992");
        }
    }
}

#[test]
fn spec_request_details_are_kept() {
    let Some(d) = shared() else { return };
    let r = parse_hook_request(
        &std::fs::read(d.join("requests/spec-patient-view-04.json")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(r.patient_id().unwrap(), "1288992");
    assert_eq!(r.context.encounter_id.as_deref(), Some("89284"));
    assert_eq!(
        r.fhir_authorization.as_ref().unwrap().subject,
        "cds-service4"
    );
    assert_eq!(
        r.prefetch["patientToGreet"].as_ref().unwrap()["birthDate"],
        "1925-12-23"
    );

    let r = parse_hook_request(
        &std::fs::read(d.join("requests/examples-order-select-02.json")).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        r.context.selections.as_deref(),
        Some(&["ServiceRequest/example-MRI-59879846".to_string()][..])
    );
    assert_eq!(
        r.context.draft_orders.as_ref().unwrap()["resourceType"],
        "Bundle"
    );

    // The extension example omits context.patientId: it parses (a 200 with no
    // cards), and the missing field is named.
    let r = parse_hook_request(
        &std::fs::read(d.join("requests/spec-extension-patient-view-30.json")).unwrap(),
        Some("patient-view"),
    )
    .unwrap();
    assert_eq!(
        r.patient_id().unwrap_err().to_string(),
        "`context.patientId` is missing"
    );
    assert!(r.extension.unwrap().contains_key("com.example.timestamp"));

    // The older order-sign example sends `medications` instead of draftOrders.
    let r = parse_hook_request(
        &std::fs::read(d.join("requests/examples-order-sign-00.json")).unwrap(),
        None,
    )
    .unwrap();
    let issues: Vec<String> = r
        .conformance_issues()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(issues, vec!["`context.draftOrders` is missing"]);
}

/// Defects of the specification's own examples against its normative text.
/// The autolaunch example card (spec-23) has no `indicator`, which the
/// Card Attributes table marks REQUIRED (`cards.indicator 1..1` in the
/// HL7 logical model).
fn known_defects(file: &str) -> Vec<&'static str> {
    match file {
        "spec-23.json" => vec!["cards[0].indicator: is required"],
        _ => vec![],
    }
}

#[test]
fn every_spec_response_passes_the_validator() {
    let Some(d) = shared() else { return };
    for p in files(&d, "responses") {
        let doc = read(&p);
        let got: Vec<String> = validate_response(&doc)
            .iter()
            .map(Violation::to_string)
            .collect();
        assert_eq!(got, known_defects(&name(&p)), "{}", name(&p));
        if got.is_empty() {
            // And the typed model reads it.
            let typed: CdsResponse =
                serde_json::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
            assert!(validate_response(&serde_json::to_value(&typed).unwrap()).is_empty());
        }
    }
}

#[test]
fn every_spec_discovery_document_passes_the_validator() {
    let Some(d) = shared() else { return };
    for p in files(&d, "discovery") {
        let doc = read(&p);
        assert_eq!(validate_discovery(&doc), vec![], "{}", name(&p));
        let typed: Discovery =
            serde_json::from_value(doc).unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
        assert!(!typed.services.is_empty());
    }
}

#[test]
fn every_spec_feedback_parses() {
    let Some(d) = shared() else { return };
    for p in files(&d, "feedback") {
        let f = parse_feedback(&std::fs::read(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", name(&p)));
        assert_eq!(f.feedback.len(), 1, "{}", name(&p));
    }
    let f = parse_feedback(&std::fs::read(d.join("feedback/spec-24.json")).unwrap()).unwrap();
    assert_eq!(f.feedback[0].outcome, Outcome::Accepted);
    assert_eq!(
        f.feedback[0].accepted_suggestions[0].id,
        "e56e1945-20b3-4393-8503-a1a20fd73152"
    );
    let f = parse_feedback(&std::fs::read(d.join("feedback/spec-26.json")).unwrap()).unwrap();
    let reason = f.feedback[0].override_reason.as_ref().unwrap();
    assert_eq!(reason.reason.as_ref().unwrap().code, "d7ecf885");
    assert_eq!(
        reason.user_comment.as_deref(),
        Some("A comment entered by the clinician.")
    );
}

fn violation_paths(doc: &Value) -> Vec<String> {
    validate_response(doc).into_iter().map(|v| v.path).collect()
}

#[test]
fn validator_rejects_broken_variants_of_the_spec_examples() {
    let Some(d) = shared() else { return };
    let base = read(&d.join("responses/spec-22.json"));
    assert!(validate_response(&base).is_empty());
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "summary of 141 chars",
            |v| v["cards"][0]["summary"] = json!("s".repeat(141)),
            "cards[0].summary",
        ),
        (
            "summary of exactly 140 chars",
            |v| v["cards"][0]["summary"] = json!("s".repeat(140)),
            "cards[0].summary",
        ),
        (
            "no summary",
            |v| {
                v["cards"][1].as_object_mut().unwrap().remove("summary");
            },
            "cards[1].summary",
        ),
        (
            "bad indicator",
            |v| v["cards"][0]["indicator"] = json!("hard-stop"),
            "cards[0].indicator",
        ),
        (
            "no source",
            |v| {
                v["cards"][1].as_object_mut().unwrap().remove("source");
            },
            "cards[1].source",
        ),
        (
            "no source.label",
            |v| {
                v["cards"][0]["source"]
                    .as_object_mut()
                    .unwrap()
                    .remove("label");
            },
            "cards[0].source.label",
        ),
        (
            "suggestions without selectionBehavior",
            |v| v["cards"][0]["suggestions"] = json!([{"label": "Do it", "actions": [{"type": "create", "description": "d", "resource": {"resourceType": "Task"}}]}]),
            "cards[0].selectionBehavior",
        ),
        (
            "bad action type",
            |v| {
                v["cards"][0]["selectionBehavior"] = json!("any");
                v["cards"][0]["suggestions"] = json!([{"label": "Do it", "actions": [{"type": "upsert", "description": "d", "resource": {"resourceType": "Task"}}]}]);
            },
            "cards[0].suggestions[0].actions[0].type",
        ),
        (
            "bad selectionBehavior",
            |v| v["cards"][0]["selectionBehavior"] = json!("exactly-one"),
            "cards[0].selectionBehavior",
        ),
        (
            "card uuid not a UUID",
            |v| v["cards"][0]["uuid"] = json!("card-1"),
            "cards[0].uuid",
        ),
        (
            "bad link type",
            |v| v["cards"][0]["links"][0]["type"] = json!("relative"),
            "cards[0].links[0].type",
        ),
        (
            "appContext on absolute link",
            |v| v["cards"][0]["links"][0]["appContext"] = json!("{}"),
            "cards[0].links[0].appContext",
        ),
        (
            "link without url",
            |v| {
                v["cards"][0]["links"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("url");
            },
            "cards[0].links[1].url",
        ),
        (
            "overrideReason without system",
            |v| {
                v["cards"][1]["overrideReasons"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("system");
            },
            "cards[1].overrideReasons[0].system",
        ),
        (
            "overrideReason without display",
            |v| {
                v["cards"][1]["overrideReasons"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("display");
            },
            "cards[1].overrideReasons[1].display",
        ),
        (
            "overrideReason not a Coding",
            |v| v["cards"][1]["overrideReasons"][0] = json!("refused"),
            "cards[1].overrideReasons[0]",
        ),
        (
            "null detail",
            |v| v["cards"][0]["detail"] = Value::Null,
            "cards[0].detail",
        ),
        ("cards not an array", |v| v["cards"] = json!({}), "cards"),
    ];
    for (what, mutate, path) in cases {
        let mut doc = base.clone();
        mutate(&mut doc);
        assert_eq!(violation_paths(&doc), vec![path.to_string()], "{what}");
    }

    let mut sys = read(&d.join("responses/spec-21.json"));
    sys["systemActions"][0]["type"] = json!("patch");
    assert_eq!(violation_paths(&sys), vec!["systemActions[0].type"]);
    let mut sys = read(&d.join("responses/examples-03.json"));
    sys["systemActions"][0]
        .as_object_mut()
        .unwrap()
        .remove("resource");
    assert_eq!(violation_paths(&sys), vec!["systemActions[0].resource"]);
}

#[test]
fn validator_rejects_broken_discovery_documents() {
    let Some(d) = shared() else { return };
    let base = read(&d.join("discovery/spec-02.json"));
    let paths = |doc: &Value| -> Vec<String> {
        validate_discovery(doc)
            .into_iter()
            .map(|v| v.path)
            .collect()
    };
    let mut doc = base.clone();
    doc["services"][0]
        .as_object_mut()
        .unwrap()
        .remove("description");
    assert_eq!(paths(&doc), vec!["services[0].description"]);
    let mut doc = base.clone();
    doc["services"][1]["id"] = doc["services"][0]["id"].clone();
    assert_eq!(paths(&doc), vec!["services[1].id"]);
    let mut doc = base.clone();
    doc["services"][1]["prefetch"]["medications"] =
        json!("MedicationRequest?patient={{patientId}}");
    assert_eq!(paths(&doc), vec!["services[1].prefetch.medications"]);
    let mut doc = base;
    doc["services"][2]["hook"] = json!(7);
    assert_eq!(paths(&doc), vec!["services[2].hook"]);
}
