use bedside_fhir::*;
use serde_json::json;

fn obs(extra: serde_json::Value) -> Vec<u8> {
    let mut o = json!({
        "resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-01-01T10:00:00Z",
        "valueQuantity": {"value": 88, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v.clone();
        }
    }
    serde_json::to_vec(&o).unwrap()
}

#[test]
fn a_good_observation_parses_typed() {
    let p = parse_resource(&obs(json!({}))).unwrap();
    assert_eq!(p.rtype, "Observation");
    assert_eq!(p.id.as_deref(), Some("o1"));
    let Resource::Observation(o) = &p.resource else {
        panic!("typed")
    };
    assert_eq!(o.value_quantity.as_ref().unwrap().value, Some(88.0));
    assert_eq!(
        o.subject.as_ref().unwrap().id_of("Patient").as_deref(),
        Some("p1")
    );
    assert_eq!(
        format_instant(o.effective_time().unwrap()),
        "2024-01-01T10:00:00Z"
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

fn err(bytes: &[u8]) -> FhirError {
    parse_resource(bytes).expect_err("must be refused")
}

#[test]
fn each_bad_input_names_its_path_and_reason() {
    let e = err(b"{not json");
    assert_eq!(e.kind, ErrorKind::Json);
    assert!(e.reason.contains("invalid JSON"));

    let e = err(br#"{"id": "x"}"#);
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::ResourceType, "resourceType")
    );

    let e = err(br#"{"resourceType": "Observaton"}"#);
    assert_eq!(e.kind, ErrorKind::ResourceType);
    assert!(e.reason.contains("Observaton"));

    let e = err(br#"{"resourceType": 7}"#);
    assert_eq!(e.kind, ErrorKind::ResourceType);

    let e = err(&obs(json!({"id": "has space"})));
    assert_eq!((e.kind, e.path.as_str()), (ErrorKind::Id, "Observation.id"));

    let e = err(&obs(json!({"subject": {"reference": "Patient/"}})));
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::Reference, "Observation.subject.reference")
    );

    let e = err(&obs(json!({"effectiveDateTime": "2024-13-01"})));
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::Date, "Observation.effectiveDateTime")
    );

    let e = err(&obs(
        json!({"valueQuantity": {"value": "88", "unit": "/min"}}),
    ));
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::Value, "Observation.valueQuantity.value")
    );

    let e = err(&obs(
        json!({"component": [{"code": {"text": "x"}}, {"code": {"text": "y"}, "valueQuantity": {"value": true}}]}),
    ));
    assert_eq!(e.path, "Observation.component[1].valueQuantity.value");

    let e = err(&obs(json!({"meta": {"lastUpdated": "2024-01-01"}})));
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::Date, "Observation.meta.lastUpdated")
    );

    let e = err(&obs(
        json!({"performer": [{"reference": "Practitioner/a"}, {"reference": "nonsense"}]}),
    ));
    assert_eq!(e.path, "Observation.performer[1].reference");
    assert!(e
        .to_string()
        .starts_with("Observation.performer[1].reference: cannot parse reference"));
}

#[test]
fn deviations_are_warnings_not_errors() {
    let ma = json!({
        "resourceType": "MedicationAdministration", "id": "m1", "status": "completed",
        "medicationCodeableConcept": {"text": "Ceftriaxone"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-01-01T10:00:00Z",
        "dosage": {"text": "1 g", "timing": {"repeat": {"duration": 30}}, "doseAndRate": []}
    });
    let p = parse_resource(&serde_json::to_vec(&ma).unwrap()).unwrap();
    let paths: Vec<_> = p
        .warnings
        .iter()
        .flat_map(|w| w.expression.clone())
        .collect();
    assert!(
        paths.contains(&"MedicationAdministration.dosage.timing".to_string()),
        "{paths:?}"
    );
    assert!(paths.contains(&"MedicationAdministration.dosage.doseAndRate".to_string()));
    assert!(p.warnings.iter().all(|w| w.severity == Severity::Warning));

    let p = parse_resource(&obs(
        json!({"code": {"coding": [{"system": "http://loinc.org", "code": ""}], "text": ""}}),
    ))
    .unwrap();
    let paths: Vec<_> = p
        .warnings
        .iter()
        .flat_map(|w| w.expression.clone())
        .collect();
    assert_eq!(
        paths,
        vec!["Observation.code.coding[0].code", "Observation.code.text"]
    );
}

#[test]
fn other_types_are_accepted_with_an_info_issue() {
    let p = parse_resource(br#"{"resourceType": "Flag", "id": "f1", "status": "active"}"#).unwrap();
    assert_eq!(
        p.resource,
        Resource::Other {
            rtype: "Flag".into()
        }
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].severity, Severity::Information);
}

#[test]
fn contained_medication_is_resolved() {
    let mr = json!({
        "resourceType": "MedicationRequest", "id": "r1", "status": "active", "intent": "order",
        "contained": [{"resourceType": "Medication", "id": "med1", "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "11124", "display": "vancomycin"}]}}],
        "medicationReference": {"reference": "#med1"},
        "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-02"
    });
    let p = parse_resource(&serde_json::to_vec(&mr).unwrap()).unwrap();
    let Resource::MedicationRequest(m) = p.resource else {
        panic!()
    };
    let c = m.medication().unwrap();
    assert!(c.has("http://www.nlm.nih.gov/research/umls/rxnorm", "11124"));
    assert_eq!(m.authored_on.unwrap().0.precision(), Precision::Month);
}

#[test]
fn ensure_id_is_deterministic_from_content() {
    let body = br#"{"resourceType": "Observation", "status": "final", "code": {"text": "x"}}"#;
    let mut a = parse_resource(body).unwrap();
    let mut b = parse_resource(body).unwrap();
    let ia = a.ensure_id();
    assert_eq!(ia, b.ensure_id());
    assert!(is_valid_id(&ia));
    assert_eq!(a.json()["id"], serde_json::Value::String(ia));
}

#[test]
fn risk_assessment_and_outcome_round_trip() {
    let ra = RiskAssessment {
        id: Some("ra1".into()),
        status: "final".into(),
        subject: Reference::to("Patient", "p1"),
        occurrence_date_time: Some(DateTime::parse("2024-01-01T10:00:00Z").unwrap()),
        prediction: vec![build::RiskPrediction {
            outcome: Some(CodeableConcept::coded(
                "http://snomed.info/sct",
                "91302008",
                Some("Sepsis"),
            )),
            probability_decimal: Some(0.31),
            probability_range: Some(Range::unitless(0.2, 0.4)),
            rationale: Some("lactate 4.1".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let v = ra.to_json();
    assert_eq!(v["resourceType"], "RiskAssessment");
    assert_eq!(v["prediction"][0]["probabilityDecimal"], 0.31);
    assert_eq!(RiskAssessment::from_json(&v).unwrap(), ra);
    // What we write, we also read.
    assert!(parse_value(v).is_ok());

    let oo = OperationOutcome::from_error(&FhirError::new(
        ErrorKind::Date,
        "Observation.issued",
        "bad",
    ));
    let v = oo.to_json();
    assert_eq!(v["issue"][0]["expression"][0], "Observation.issued");
    assert_eq!(v["issue"][0]["code"], "value");
    assert_eq!(OperationOutcome::from_json(&v).unwrap(), oo);
    assert!(parse_value(v).is_ok());
}

#[test]
fn absent_elements_read_as_empty_except_a_required_one() {
    // Every typed view reads a resource with nothing but its type, id and
    // the elements R4 requires: each other element absent is `None` or an
    // empty list.
    let subject = json!({"reference": "Group/g"});
    let required = json!({
        "Observation": {"status": "final", "code": {"text": "x"}},
        "Encounter": {"status": "planned", "class": {"code": "IMP"}},
        "Condition": {"subject": subject},
        "MedicationRequest": {"status": "active", "intent": "order", "subject": subject, "medicationReference": {"reference": "Medication/m"}},
        "MedicationAdministration": {"status": "completed", "subject": subject, "medicationReference": {"reference": "Medication/m"}, "effectivePeriod": {}},
        "Procedure": {"status": "completed", "subject": subject},
        "ServiceRequest": {"status": "active", "intent": "order", "subject": subject},
        "AllergyIntolerance": {"patient": subject},
        "ImagingStudy": {"status": "available", "subject": subject},
        "DiagnosticReport": {"status": "final", "code": {"text": "x"}},
    });
    for rtype in bedside_fhir::resources::READ_TYPES {
        let mut r = json!({"resourceType": rtype, "id": "x"});
        if let Some(m) = required[*rtype].as_object() {
            for (k, v) in m {
                r[k] = v.clone();
            }
        }
        let bytes = serde_json::to_vec(&r).unwrap();
        let p = parse_resource(&bytes).unwrap_or_else(|e| panic!("{rtype}: {e}"));
        assert_eq!(p.resource.rtype(), *rtype);
        assert_eq!(p.resource.clinical_time(), None, "{rtype}");
        // Only where R4 requires it (here a Group).
        let has_subject = required[*rtype]
            .as_object()
            .is_some_and(|m| m.contains_key("subject") || m.contains_key("patient"));
        assert_eq!(
            p.resource.patient_reference().is_some(),
            has_subject,
            "{rtype}"
        );
    }
    let p = parse_resource(br#"{"resourceType": "Encounter", "id": "e", "status": "planned", "class": {"code": "IMP"}, "location": [{"location": {"reference": "Location/icu"}}]}"#).unwrap();
    let Resource::Encounter(e) = &p.resource else {
        panic!("typed")
    };
    assert_eq!(e.location.len(), 1);
    assert_eq!(
        (e.location[0].status.as_ref(), e.location[0].period.as_ref()),
        (None, None)
    );
    assert!(e.participant.is_empty() && e.subject.is_none());
    // `Encounter.location.location` is required (R4 1..1).
    let e = err(br#"{"resourceType": "Encounter", "id": "e", "status": "planned", "class": {"code": "IMP"}, "location": [{"status": "active"}]}"#);
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::Structure, "Encounter.location[0]")
    );
    assert!(e.reason.contains("missing field `location`"), "{e}");
}

/// One minimal valid resource of each checked type, then each broken in
/// one way: the error names the element.
#[test]
fn missing_required_elements_and_codes_outside_required_bindings_are_refused() {
    let subject = json!({"reference": "Patient/p1"});
    let good: Vec<serde_json::Value> = vec![
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "hr"}}),
        json!({"resourceType": "Patient", "gender": "female"}),
        json!({"resourceType": "Encounter", "status": "finished", "class": {"code": "IMP"}}),
        json!({"resourceType": "Condition", "subject": subject}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": subject, "medicationCodeableConcept": {"text": "x"}}),
        json!({"resourceType": "MedicationAdministration", "status": "completed", "subject": subject, "medicationCodeableConcept": {"text": "x"}, "effectiveDateTime": "2024-01-01T00:00:00Z"}),
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order", "subject": subject}),
        json!({"resourceType": "Procedure", "status": "completed", "subject": subject}),
        json!({"resourceType": "ImagingStudy", "status": "available", "subject": subject}),
        json!({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"}}),
        json!({"resourceType": "AllergyIntolerance", "patient": subject, "category": ["food"]}),
        json!({"resourceType": "Specimen", "status": "available"}),
    ];
    for g in &good {
        let p = parse_value(g.clone()).unwrap_or_else(|e| panic!("{g}: {e}"));
        assert!(p.unknown.is_empty(), "{g}");
        parse_resource(&serde_json::to_vec(g).unwrap()).unwrap();
    }
    // (type index, element to remove or change, new value or null, path named)
    let cases: &[(usize, &str, serde_json::Value, &str)] = &[
        (0, "status", json!(null), "Observation.status"),
        (0, "code", json!(null), "Observation.code"),
        (0, "status", json!("bogus"), "Observation.status"),
        (1, "gender", json!("robot"), "Patient.gender"),
        (2, "status", json!("done"), "Encounter.status"),
        (2, "class", json!(null), "Encounter.class"),
        (3, "subject", json!(null), "Condition.subject"),
        (4, "intent", json!(null), "MedicationRequest.intent"),
        (4, "status", json!("running"), "MedicationRequest.status"),
        (
            4,
            "medicationCodeableConcept",
            json!(null),
            "MedicationRequest.medication[x]",
        ),
        (
            5,
            "effectiveDateTime",
            json!(null),
            "MedicationAdministration.effective[x]",
        ),
        (
            5,
            "status",
            json!("given"),
            "MedicationAdministration.status",
        ),
        (6, "intent", json!("wish"), "ServiceRequest.intent"),
        (7, "status", json!(null), "Procedure.status"),
        (8, "subject", json!(null), "ImagingStudy.subject"),
        (9, "code", json!(null), "DiagnosticReport.code"),
        (
            10,
            "category",
            json!(["food", "toys"]),
            "AllergyIntolerance.category",
        ),
        (11, "status", json!("lost"), "Specimen.status"),
    ];
    for (i, key, value, path) in cases {
        let mut r = good[*i].clone();
        if value.is_null() {
            r.as_object_mut().unwrap().remove(*key);
        } else {
            r[*key] = value.clone();
        }
        let e = err(&serde_json::to_vec(&r).unwrap());
        assert_eq!(e.path, *path, "{r}: {e}");
        assert!(e.to_string().contains(path), "{e}");
        // The tree path says the same.
        assert_eq!(parse_value(r.clone()).unwrap_err(), e, "{r}");
        // A required element sent as null is missing too.
        if value.is_null() && !path.ends_with("[x]") {
            r[*key] = json!(null);
            assert_eq!(err(&serde_json::to_vec(&r).unwrap()).path, *path, "{r}");
        }
    }
}

#[test]
fn unknown_elements_are_warnings_kept_and_refused_on_demand() {
    let bytes = obs(json!({"colour": "blue", "_status": {"id": "s"}}));
    let p = parse_resource(&bytes).unwrap();
    assert_eq!(p.unknown, vec!["Observation.colour".to_string()]);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.expression == vec!["Observation.colour".to_string()]));
    // Kept as received.
    assert_eq!(p.body().into_bytes(), bytes);
    let e = p.refuse_unknown().unwrap_err();
    assert_eq!(e.path, "Observation.colour");
    assert!(parse_resource(&obs(json!({})))
        .unwrap()
        .refuse_unknown()
        .is_ok());
    // Types without a table are not checked for unknown elements.
    let flag = parse_resource(br#"{"resourceType": "Flag", "colour": 1}"#).unwrap();
    assert!(flag.unknown.is_empty());
}

#[test]
fn transaction_and_batch_entries_refuse_unknown_elements_collections_keep_them() {
    let entry = json!({"resource": {"resourceType": "Patient", "id": "p1", "colour": "blue"},
                       "request": {"method": "PUT", "url": "Patient/p1"}});
    for (btype, refused) in [
        ("transaction", true),
        ("batch", true),
        ("collection", false),
    ] {
        let b = json!({"resourceType": "Bundle", "type": btype, "entry": [entry]});
        let parsed = parse_bundle(&serde_json::to_vec(&b).unwrap()).unwrap();
        match &parsed.entries[0].body {
            EntryBody::Invalid(e) if refused => {
                assert_eq!(e.path, "Bundle.entry[0].resource.colour", "{e}")
            }
            EntryBody::Resource(p) if !refused => {
                assert_eq!(p.unknown, vec!["Patient.colour".to_string()])
            }
            other => panic!("{btype}: {other:?}"),
        }
    }
}

#[test]
fn detected_issue_round_trips_and_is_told_apart_from_a_risk_assessment() {
    let di = DetectedIssue {
        id: Some("di1".into()),
        status: "final".into(),
        code: Some(CodeableConcept::coded(
            "https://bedside.dev/detected-issue",
            "ai-discordance",
            Some("Final report disagrees with the AI finding"),
        )),
        severity: Some("moderate".into()),
        patient: Some(Reference::to("Patient", "p1")),
        identified_date_time: Some(DateTime::parse("2024-05-02T11:00:00Z").unwrap()),
        author: Some(Reference::to("Practitioner", "rad-7")),
        implicated: vec![Reference::to("DiagnosticReport", "ai-1")],
        evidence: vec![build::DetectedIssueEvidence {
            code: Vec::new(),
            detail: vec![Reference::to("ImagingStudy", "ct-2")],
        }],
        detail: Some("AI: haemorrhage; report: none".into()),
        ..Default::default()
    };
    let v = di.to_json();
    assert_eq!(v["resourceType"], "DetectedIssue");
    assert_eq!(v["identifiedDateTime"], "2024-05-02T11:00:00Z");
    assert_eq!(v["implicated"][0]["reference"], "DiagnosticReport/ai-1");
    assert_eq!(DetectedIssue::from_json(&v).unwrap(), di);
    assert!(parse_value(v.clone()).is_ok());
    let err = RiskAssessment::from_json(&v).unwrap_err();
    assert!(err.to_string().contains("not a RiskAssessment"), "{err}");
    let mut bad = v;
    bad["implicated"] = serde_json::json!("DiagnosticReport/ai-1");
    let err = DetectedIssue::from_json(&bad).unwrap_err();
    assert!(
        err.to_string().contains("DetectedIssue") && err.to_string().contains("sequence"),
        "{err}"
    );
}
