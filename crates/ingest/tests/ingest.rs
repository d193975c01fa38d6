mod common;

use bedside_fhir::{parse_bundle, ParsedEntry};
use bedside_ingest::*;
use chrono::{TimeZone, Utc};
use common::MemStore;
use serde_json::{json, Value};
use std::sync::Arc;

fn t(h: u32) -> String {
    format!("2024-03-01T{h:02}:00:00Z")
}
fn at(h: u32) -> bedside_core::Instant {
    Utc.with_ymd_and_hms(2024, 3, 1, h, 0, 0).unwrap()
}

fn obs(id: &str, loinc: &str, value: Value, time: &str) -> Value {
    let mut o = json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": time,
    });
    for (k, v) in value.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

fn qty(v: f64, unit: &str) -> Value {
    json!({"valueQuantity": {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
}

fn entries(rs: &[Value]) -> Vec<ParsedEntry> {
    rs.iter()
        .enumerate()
        .map(|(i, r)| ParsedEntry::from_ndjson_line(i, &serde_json::to_vec(r).unwrap()))
        .collect()
}

fn ingestor() -> (Arc<MemStore>, Ingestor) {
    let store = Arc::new(MemStore::default());
    let ing = Ingestor::new(store.clone(), ChannelMap::default_map());
    (store, ing)
}

fn values(state: &bedside_core::PatientState, ch: &str) -> Vec<f64> {
    state
        .channels
        .get(ch)
        .map(|s| s.points.iter().map(|p| p.v).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn units_are_converted_to_the_channel_unit() {
    let (_s, ing) = ingestor();
    let rep = ing
        .ingest(
            entries(&[
                obs("t1", "8310-5", qty(98.6, "[degF]"), &t(1)),
                obs("l1", "2524-7", qty(18.016, "mg/dL"), &t(1)),
                obs("w1", "6690-2", qty(16045.0, "/uL"), &t(1)),
                obs("c1", "2160-0", qty(88.42, "umol/L"), &t(1)),
                obs("g1", "2345-7", qty(180.16, "mg/dL"), &t(1)),
                obs("h1", "8867-4", json!({"valueInteger": 88}), &t(1)),
            ]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(rep.created, 6);
    let s = &rep.touched[0].state;
    let close = |ch: &str, want: f64| {
        let v = values(s, ch);
        assert_eq!(v.len(), 1, "{ch}");
        assert!((v[0] - want).abs() < 1e-9, "{ch}: {} != {want}", v[0]);
    };
    close("temperature", 37.0);
    close("lactate", 2.0);
    close("wbc", 16.045);
    close("creatinine", 1.0);
    close("glucose", 10.0);
    close("heart_rate", 88.0);
    let mut changed = rep.touched[0].changed_channels.clone();
    changed.sort();
    assert_eq!(
        changed,
        [
            "creatinine",
            "glucose",
            "heart_rate",
            "lactate",
            "temperature",
            "wbc"
        ]
    );
    assert_eq!(rep.touched[0].newest_event, at(1));
}

#[tokio::test]
async fn unknown_unit_on_a_mapped_channel_is_rejected_with_its_path() {
    let bad = obs("l1", "2524-7", qty(2.0, "g"), &t(1));
    let good = obs("h1", "8867-4", qty(80.0, "/min"), &t(1));
    let (store, ing) = ingestor();
    match ing
        .ingest(entries(&[good.clone(), bad.clone()]), Mode::Atomic)
        .await
    {
        Err(IngestError::Rejected {
            index,
            path,
            reason,
        }) => {
            assert_eq!(index, 1);
            assert_eq!(path, "Observation.valueQuantity.code");
            assert!(
                reason.contains("\"g\"") && reason.contains("lactate"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        store.resources.lock().unwrap().is_empty(),
        "atomic: nothing written"
    );

    let rep = ing
        .ingest(entries(&[good, bad]), Mode::PerEntry)
        .await
        .unwrap();
    assert_eq!(rep.outcomes[0].outcome, Outcome::Created);
    assert!(
        matches!(&rep.outcomes[1].outcome, Outcome::Rejected { path, .. } if path == "Observation.valueQuantity.code")
    );
    assert_eq!(store.resources.lock().unwrap().len(), 1);

    // Unitless temperature is ambiguous (°C or °F): rejected too.
    let e = ing
        .ingest(
            entries(&[obs("t1", "8310-5", json!({"valueInteger": 38}), &t(1))]),
            Mode::Atomic,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, IngestError::Rejected { path, .. } if path == "Observation.valueInteger"));
}

#[tokio::test]
async fn unmapped_codes_are_stored_without_state_change() {
    let (store, ing) = ingestor();
    let rep = ing
        .ingest(
            entries(&[obs("x1", "99999-9", qty(1.0, "furlong"), &t(1))]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(rep.created, 1);
    assert!(rep.touched.is_empty());
    assert_eq!(store.resources.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn each_bad_input_gets_a_named_error() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{\"resourceType\": ", ""),
        (b"{\"id\": \"x\"}", "resourceType"),
        (b"{\"resourceType\": \"Observashun\", \"id\": \"x\"}", "resourceType"),
        (
            br#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/a b"}}"#,
            "Observation.subject.reference",
        ),
        (
            br#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"effectiveDateTime":"2024-02-30"}"#,
            "Observation.effectiveDateTime",
        ),
        (
            br#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"valueQuantity":{"value":"high"}}"#,
            "Observation.valueQuantity.value",
        ),
    ];
    let (_s, ing) = ingestor();
    for (bytes, path) in cases {
        let e = vec![ParsedEntry::from_ndjson_line(0, bytes)];
        match ing.ingest(e, Mode::Atomic).await {
            Err(IngestError::Rejected {
                index: 0,
                path: p,
                reason,
            }) => {
                assert_eq!(p, path, "{reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }
}

#[tokio::test]
async fn the_same_resource_twice_is_unchanged_and_triggers_nothing() {
    let (store, ing) = ingestor();
    let r = obs("h1", "8867-4", qty(80.0, "/min"), &t(1));
    let first = ing
        .ingest(entries(std::slice::from_ref(&r)), Mode::Atomic)
        .await
        .unwrap();
    assert_eq!(first.created, 1);
    assert_eq!(first.touched.len(), 1);
    let commits = store.commits.load(std::sync::atomic::Ordering::SeqCst);
    let again = ing
        .ingest(entries(std::slice::from_ref(&r)), Mode::Atomic)
        .await
        .unwrap();
    assert_eq!(again.unchanged, 1);
    assert!(again.touched.is_empty());
    assert_eq!(
        store.commits.load(std::sync::atomic::Ordering::SeqCst),
        commits,
        "nothing written"
    );
    // Also after the cache is gone (a restart): decided from the store.
    ing.invalidate(&["p1".into()]);
    let fresh = Ingestor::new(store.clone(), ChannelMap::default_map());
    let again = fresh.ingest(entries(&[r]), Mode::Atomic).await.unwrap();
    assert_eq!(again.unchanged, 1);
    assert!(again.touched.is_empty());
}

#[tokio::test]
async fn a_newer_version_replaces_and_an_older_one_is_ignored() {
    let (_s, ing) = ingestor();
    let v = |ver: &str, val: f64, code: &str| {
        let mut o = obs("o1", code, qty(val, "/min"), &t(2));
        o["meta"] = json!({"versionId": ver});
        o
    };
    ing.ingest(entries(&[v("1", 80.0, "8867-4")]), Mode::Atomic)
        .await
        .unwrap();
    let rep = ing
        .ingest(entries(&[v("2", 90.0, "8867-4")]), Mode::Atomic)
        .await
        .unwrap();
    assert_eq!(rep.updated, 1);
    assert_eq!(values(&rep.touched[0].state, "heart_rate"), vec![90.0]);
    let rep = ing
        .ingest(entries(&[v("1", 70.0, "8867-4")]), Mode::Atomic)
        .await
        .unwrap();
    assert_eq!(rep.unchanged, 1, "older version");
    // A correction that moves the value to another channel removes it from the first.
    let rep = ing
        .ingest(entries(&[v("3", 20.0, "9279-1")]), Mode::Atomic)
        .await
        .unwrap();
    let s = &rep.touched[0].state;
    assert!(values(s, "heart_rate").is_empty());
    assert_eq!(values(s, "resp_rate"), vec![20.0]);
    // entered-in-error retracts it.
    let mut e = v("4", 20.0, "9279-1");
    e["status"] = json!("entered-in-error");
    let rep = ing.ingest(entries(&[e]), Mode::Atomic).await.unwrap();
    assert!(values(&rep.touched[0].state, "resp_rate").is_empty());
}

#[tokio::test]
async fn late_and_out_of_order_events_land_in_time_order() {
    let (_s, ing) = ingestor();
    for (id, h, v) in [("a", 5, 85.0), ("b", 3, 70.0), ("c", 4, 75.0)] {
        ing.ingest(
            entries(&[obs(id, "8867-4", qty(v, "/min"), &t(h))]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    }
    let s = ing.state("p1").await.unwrap().unwrap();
    assert_eq!(values(&s, "heart_rate"), vec![70.0, 75.0, 85.0]);
    assert_eq!(s.channels["heart_rate"].last_at(at(4)).unwrap().v, 75.0);
    assert_eq!(s.last_event, Some(at(5)));
}

#[tokio::test]
async fn bp_panel_components_and_derived_map() {
    let (_s, ing) = ingestor();
    let panel = json!({
        "resourceType": "Observation", "id": "bp1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": t(1),
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 60, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}}
        ]
    });
    // Separate systolic/diastolic at the same time also give a MAP.
    let sbp = obs("s2", "8480-6", qty(90.0, "mm[Hg]"), &t(2));
    let dbp = obs("d2", "8462-4", qty(60.0, "mm[Hg]"), &t(2));
    let rep = ing
        .ingest(entries(&[panel, sbp, dbp]), Mode::Atomic)
        .await
        .unwrap();
    let s = &rep.touched[0].state;
    assert_eq!(values(s, "sbp"), vec![120.0, 90.0]);
    assert_eq!(values(s, "dbp"), vec![60.0, 60.0]);
    assert_eq!(values(s, "map"), vec![80.0, 70.0]);
}

#[tokio::test]
async fn level_of_consciousness_is_an_ordinal() {
    let (_s, ing) = ingestor();
    let loc = |id: &str, code: &str, text: &str, h| {
        obs(
            id,
            "80288-4",
            json!({"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": code}], "text": text}}),
            &t(h),
        )
    };
    let rep = ing
        .ingest(
            entries(&[
                loc("a", "248234008", "Alert", 1),
                loc("b", "248237001", "Responds to pain", 2),
                loc("c", "x", "Unresponsive", 3),
            ]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(values(&rep.touched[0].state, "avpu"), vec![0.0, 2.0, 3.0]);
    let e = ing
        .ingest(entries(&[loc("d", "y", "Sleepy", 4)]), Mode::Atomic)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IngestError::Rejected { path, .. } if path == "Observation.valueCodeableConcept")
    );
}

#[tokio::test]
async fn event_channels_from_orders_and_diagnoses() {
    let (_s, ing) = ingestor();
    let subj = json!({"reference": "Patient/p1"});
    let rs = vec![
        json!({"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order", "subject": subj,
               "medicationCodeableConcept": {"text": "Piperacillin/Tazobactam"}, "authoredOn": t(2)}),
        json!({"resourceType": "MedicationRequest", "id": "m2", "status": "active", "intent": "order", "subject": subj,
               "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "161", "display": "Acetaminophen"}]}, "authoredOn": t(2)}),
        json!({"resourceType": "MedicationRequest", "id": "m3", "status": "cancelled", "intent": "order", "subject": subj,
               "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11124"}]}, "authoredOn": t(1)}),
        json!({"resourceType": "MedicationAdministration", "id": "a1", "status": "completed", "subject": subj,
               "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01DD04"}]}, "effectiveDateTime": t(3)}),
        json!({"resourceType": "ServiceRequest", "id": "s1", "status": "active", "intent": "order", "subject": subj,
               "code": {"text": "Blood_culture_x2"}, "authoredOn": t(2)}),
        json!({"resourceType": "ServiceRequest", "id": "s2", "status": "active", "intent": "order", "subject": subj,
               "code": {"coding": [{"system": "http://loinc.org", "code": "2524-7"}], "text": "Lactate"}, "authoredOn": t(2)}),
        json!({"resourceType": "ServiceRequest", "id": "s3", "status": "active", "intent": "order", "subject": subj,
               "code": {"text": "Lactate dehydrogenase"}, "authoredOn": t(5)}),
        json!({"resourceType": "Condition", "id": "c1", "subject": subj,
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "A41.9"}]},
               "onsetDateTime": t(1), "recordedDate": t(4)}),
        json!({"resourceType": "Condition", "id": "c2", "subject": subj,
               "verificationStatus": {"coding": [{"code": "refuted"}]},
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "A40.0"}]}, "onsetDateTime": t(6)}),
        json!({"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": subj,
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "103735009"}]}, "performedDateTime": t(7)}),
    ];
    let rep = ing.ingest(entries(&rs), Mode::Atomic).await.unwrap();
    let s = &rep.touched[0].state;
    let ev = |k: &str| -> Vec<bedside_core::Instant> {
        s.events
            .get(k)
            .map(|e| e.points.iter().map(|p| p.t).collect())
            .unwrap_or_default()
    };
    assert_eq!(ev("antibiotic_ordered"), vec![at(2), at(3)]);
    assert_eq!(ev("antibiotic_given"), vec![at(3)]);
    assert_eq!(ev("blood_culture_ordered"), vec![at(2)]);
    assert_eq!(ev("lactate_ordered"), vec![at(2)]);
    assert_eq!(ev("condition_sepsis"), vec![at(1)]);
    assert_eq!(ev("condition_sepsis_recorded"), vec![at(4)]);
    assert_eq!(ev("comfort_care"), vec![at(7)]);
    assert!(s.event_within("antibiotic_ordered", at(3), chrono::Duration::hours(2)));
}

#[tokio::test]
async fn demographics_encounters_and_care_team() {
    let (_s, ing) = ingestor();
    let rs = vec![
        json!({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1964-01-01",
               "extension": [
                 {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2054-5", "display": "Black or African American"}}]},
                 {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity", "extension": [
                    {"url": "text", "valueString": "Not Hispanic or Latino"}]}]}),
        json!({"resourceType": "Encounter", "id": "e1", "status": "in-progress", "class": {"code": "IMP"},
               "subject": {"reference": "Patient/p1"}, "period": {"start": t(1)},
               "location": [{"location": {"reference": "Location/ward-3"}}],
               "participant": [{"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/dr1"}}]}),
        json!({"resourceType": "CareTeam", "id": "ct1", "status": "active", "subject": {"reference": "Patient/p1"},
               "participant": [{"role": [{"coding": [{"system": "http://snomed.info/sct", "code": "309343006"}]}], "member": {"reference": "Practitioner/dr1"}}]}),
        json!({"resourceType": "Practitioner", "id": "dr1"}),
    ];
    let rep = ing.ingest(entries(&rs), Mode::Atomic).await.unwrap();
    assert_eq!(rep.created, 4);
    assert_eq!(rep.touched.len(), 1, "the practitioner has no state");
    let s = &rep.touched[0].state;
    assert_eq!(s.sex, Some(bedside_core::Sex::Female));
    assert_eq!(s.race.as_deref(), Some("Black or African American"));
    assert_eq!(s.ethnicity.as_deref(), Some("Not Hispanic or Latino"));
    assert_eq!(s.age_years(at(1)), Some(60.0));
    let e = s.encounter_at(at(3)).unwrap();
    assert_eq!(e.class.as_deref(), Some("IMP"));
    assert_eq!(e.locations, vec!["Location/ward-3"]);
    assert_eq!(
        e.participants,
        vec![("Practitioner/dr1".to_string(), "ATND".to_string())]
    );
    assert_eq!(
        s.care_team,
        vec![("Practitioner/dr1".to_string(), "309343006".to_string())]
    );
    let mut changed = rep.touched[0].changed_channels.clone();
    changed.sort();
    assert_eq!(changed, ["care_team", "demographics", "encounters"]);
}

#[tokio::test]
async fn a_resource_for_an_unseen_patient_creates_its_state() {
    let (store, ing) = ingestor();
    let mut o = obs("h1", "8867-4", qty(80.0, "/min"), &t(1));
    o["subject"] = json!({"reference": "Patient/new-one"});
    let rep = ing.ingest(entries(&[o]), Mode::Atomic).await.unwrap();
    assert_eq!(rep.touched[0].patient_id, "new-one");
    assert_eq!(store.states.lock().unwrap()["new-one"].version, 1);
}

#[tokio::test]
async fn a_mapped_observation_without_subject_or_time_is_rejected() {
    let (_s, ing) = ingestor();
    let mut o = obs("h1", "8867-4", qty(80.0, "/min"), &t(1));
    o["subject"] = json!({"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"});
    let e = ing.ingest(entries(&[o]), Mode::Atomic).await.unwrap_err();
    assert!(
        matches!(e, IngestError::Rejected { path, .. } if path == "Observation.subject.reference")
    );
    let mut o = obs("h2", "8867-4", qty(80.0, "/min"), &t(1));
    o.as_object_mut().unwrap().remove("effectiveDateTime");
    let e = ing.ingest(entries(&[o]), Mode::Atomic).await.unwrap_err();
    assert!(matches!(e, IngestError::Rejected { path, .. } if path == "Observation.effective[x]"));
}

#[tokio::test]
async fn transaction_bundle_with_urn_references_updates_state() {
    let (_s, ing) = ingestor();
    let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "resource": {"resourceType": "Patient", "gender": "male"},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                      "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
                      "effectiveDateTime": t(1), "valueQuantity": {"value": 101, "code": "/min", "system": "http://unitsofmeasure.org"}},
         "request": {"method": "POST", "url": "Observation"}}
    ]});
    let bundle = parse_bundle(&serde_json::to_vec(&b).unwrap()).unwrap();
    let rep = ing
        .ingest(bundle.entries.clone(), Mode::Atomic)
        .await
        .unwrap();
    assert_eq!(rep.created, 2);
    assert_eq!(
        rep.touched[0].patient_id,
        "61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    );
    assert_eq!(values(&rep.touched[0].state, "heart_rate"), vec![101.0]);
    // Re-posting the same transaction changes nothing (content-derived ids).
    let rep = ing.ingest(bundle.entries, Mode::Atomic).await.unwrap();
    assert_eq!(rep.unchanged, 2);
    assert!(rep.touched.is_empty());
}

#[tokio::test]
async fn a_conflicting_writer_is_retried_from_the_store() {
    let (store, ing) = ingestor();
    ing.ingest(
        entries(&[obs("a", "8867-4", qty(80.0, "/min"), &t(1))]),
        Mode::Atomic,
    )
    .await
    .unwrap();
    store
        .conflicts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let rep = ing
        .ingest(
            entries(&[obs("b", "8867-4", qty(90.0, "/min"), &t(2))]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(rep.created, 1);
    assert_eq!(
        store.states.lock().unwrap()["p1"].version,
        3,
        "written on top of the other writer's version"
    );
}

#[tokio::test]
async fn prepare_then_commit_lets_the_caller_add_documents() {
    let (store, ing) = ingestor();
    let mut p = ing
        .prepare(
            entries(&[obs("a", "8867-4", qty(80.0, "/min"), &t(1))]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(p.touched.len(), 1);
    assert_eq!(p.commit.states[0].expected, 0);
    p.commit.audit.push(json!({"event": "ingest"}));
    bedside_store::Store::commit(&*store, p.commit.clone())
        .await
        .unwrap();
    ing.committed(&p);
    drop(p);
    // The cache now holds version 1: the next prepare expects it.
    let p = ing
        .prepare(
            entries(&[obs("b", "8867-4", qty(81.0, "/min"), &t(2))]),
            Mode::Atomic,
        )
        .await
        .unwrap();
    assert_eq!(p.commit.states[0].expected, 1);
}

/// An offline replay's steps, folded into one commit behind a commit being
/// written, leave the store as one commit per step would, and each step
/// still sees the state after the one before.
#[tokio::test]
async fn steps_folded_into_one_batch_write_what_step_commits_would() {
    let of = |pid: &str, mut o: Value| {
        o["subject"] = json!({ "reference": format!("Patient/{pid}") });
        o
    };
    let versioned = |ver: &str, v: f64| {
        let mut o = obs("b", "8867-4", qty(v, "/min"), &t(2));
        o["meta"] = json!({ "versionId": ver });
        o
    };
    let steps = vec![
        entries(&[
            obs("a", "8867-4", qty(80.0, "/min"), &t(1)),
            of("p2", obs("x", "9279-1", qty(18.0, "/min"), &t(1))),
        ]),
        entries(&[versioned("1", 85.0)]),
        entries(&[
            versioned("2", 95.0),
            of("p2", obs("y", "9279-1", qty(24.0, "/min"), &t(3))),
        ]),
        entries(&[obs("c", "8867-4", qty(110.0, "/min"), &t(4))]),
    ];
    let json = |s: &bedside_core::PatientState| serde_json::to_value(s).unwrap();

    // One commit per step.
    let (one_store, one) = ingestor();
    let mut one_seen = vec![];
    for e in &steps {
        let rep = one.ingest(e.clone(), Mode::PerEntry).await.unwrap();
        one_seen.push(
            rep.touched
                .iter()
                .map(|t| json(&t.state))
                .collect::<Vec<_>>(),
        );
    }

    // Step 1 being written while steps 2 and 3 are gathered into a batch,
    // by the only writer of a store that started empty.
    let (store, ing) = ingestor();
    let ing = ing.sole_writer();
    let touched = |p: &Step| -> Vec<Value> { p.touched().iter().map(|t| json(&t.state)).collect() };
    let s1 = ing
        .prepare_step(&steps[0], Mode::PerEntry, &[])
        .await
        .unwrap();
    let mut seen = vec![touched(&s1)];
    let first = ing.stage(s1);
    assert!(
        first.holds_lock(),
        "prepared after nothing: it may be written"
    );
    let (c1, _, p1) = first.into_parts();
    let s2 = ing
        .prepare_step(&steps[1], Mode::PerEntry, &[&p1])
        .await
        .unwrap();
    seen.push(touched(&s2));
    let mut batch = ing.stage(s2);
    assert!(!batch.holds_lock(), "a batch waits for its predecessor");
    let s3 = ing
        .prepare_step(&steps[2], Mode::PerEntry, &[&p1, batch.pending()])
        .await
        .unwrap();
    seen.push(touched(&s3));
    ing.fold(&mut batch, s3);
    bedside_store::Store::commit(&*store, c1).await.unwrap();
    batch.hold(ing.settle(p1).expect("the lock of the written commit"));
    let (commit, outcomes, pending) = batch.into_parts();
    assert_eq!(outcomes.len(), 3, "the outcomes of both steps");
    let patients: Vec<&str> = commit
        .states
        .iter()
        .map(|w| w.patient_id.as_str())
        .collect();
    assert_eq!(patients, vec!["p1", "p2"], "each patient written once");
    let expected: Vec<i64> = commit.states.iter().map(|w| w.expected).collect();
    assert_eq!(expected, vec![1, 1]);
    let b: Vec<_> = commit
        .resources
        .iter()
        .filter(|r| r.key.id == "b")
        .collect();
    assert_eq!(b.len(), 1, "the newest version of a resource, once");
    assert_eq!(b[0].version.version_id.as_deref(), Some("2"));
    bedside_store::Store::commit(&*store, commit).await.unwrap();
    drop(ing.settle(pending));
    let reads = |s: &MemStore| s.reads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(reads(&store), 0, "the sole writer knew what the store held");
    // A later ingest finds the batch's versions (no conflict), from the
    // store: anything but a step ends what the sole writer knew.
    let rep = ing.ingest(steps[3].clone(), Mode::PerEntry).await.unwrap();
    assert!(reads(&store) > 0);
    seen.push(rep.touched.iter().map(|t| json(&t.state)).collect());

    assert_eq!(seen, one_seen, "every step saw the same states");
    assert_eq!(store.commits.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(
        one_store.commits.load(std::sync::atomic::Ordering::SeqCst),
        4
    );
    let states = |s: &MemStore| -> Vec<(String, Value)> {
        s.states
            .lock()
            .unwrap()
            .values()
            .map(|r| {
                let st: Value = serde_json::from_slice(&r.state).expect("a stored state");
                (r.patient_id.clone(), st)
            })
            .collect()
    };
    assert_eq!(states(&store), states(&one_store));
    assert_eq!(store.states.lock().unwrap()["p1"].version, 3);
    assert_eq!(one_store.states.lock().unwrap()["p1"].version, 4);
    let bodies = |s: &MemStore| -> Vec<(String, String)> {
        s.resources
            .lock()
            .unwrap()
            .values()
            .map(|r| (r.key.id.clone(), r.body.clone()))
            .collect()
    };
    assert_eq!(bodies(&store), bodies(&one_store));
}

#[test]
fn the_shipped_map_has_the_channels_models_need() {
    let m = ChannelMap::default_map();
    for c in [
        "heart_rate",
        "resp_rate",
        "temperature",
        "spo2",
        "sbp",
        "dbp",
        "map",
        "gcs",
        "avpu",
        "o2_flow",
        "lactate",
        "wbc",
        "creatinine",
        "platelets",
        "crp",
        "procalcitonin",
        "bilirubin",
        "inr",
    ] {
        assert!(m.channel(c).is_some(), "{c}");
    }
    for e in [
        "antibiotic_ordered",
        "blood_culture_ordered",
        "lactate_ordered",
        "comfort_care",
        "condition_sepsis",
    ] {
        assert!(m.events().iter().any(|r| r.name == e), "{e}");
    }
    assert_eq!(m.retention(), chrono::Duration::hours(48));
    assert_eq!(
        m.channel_for("http://loinc.org", "59408-5").unwrap().name,
        "spo2"
    );
}

#[test]
fn bad_mapping_files_are_refused_with_a_reason() {
    let e =
        ChannelMap::from_toml_str("[[channel]]\nname = \"x\"\ncodes = [\"nosys|1\"]\nunit = \"1\"")
            .unwrap_err();
    assert!(e.to_string().contains("unknown system"), "{e}");
    let e = ChannelMap::from_toml_str("[[channel]]\nname = \"x\"\ncodes = [\"http://loinc.org|1\"]\nunit = \"1\"\nconvert = [{ from = [\"2\"], div = 0.0 }]").unwrap_err();
    assert!(e.to_string().contains("non-zero"), "{e}");
    let e = ChannelMap::from_toml_str("bogus = 1").unwrap_err();
    assert!(matches!(e, ConfigError::Toml(_)));
    let two = "[[channel]]\nname = \"a\"\ncodes = [\"http://loinc.org|1\"]\nunit = \"1\"\n[[channel]]\nname = \"b\"\ncodes = [\"http://loinc.org|1\"]\nunit = \"1\"";
    assert!(ChannelMap::from_toml_str(two)
        .unwrap_err()
        .to_string()
        .contains("already mapped"));
}
