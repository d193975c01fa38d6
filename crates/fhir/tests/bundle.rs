use bedside_fhir::*;
use serde_json::json;

fn bundle(v: serde_json::Value) -> Result<Bundle, FhirError> {
    parse_bundle(&serde_json::to_vec(&v).unwrap())
}

#[test]
fn transaction_resolves_urn_uuid_and_assigns_ids() {
    let b = bundle(json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
             "resource": {"resourceType": "Patient", "gender": "female"},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "hr"},
                          "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"}},
             "request": {"method": "PUT", "url": "Observation/o2"}}
        ]
    }))
    .unwrap();
    assert_eq!(b.btype, BundleType::Transaction);
    let p = b.entries[0].resource().unwrap();
    assert_eq!(
        p.id.as_deref(),
        Some("61ebe359-bfdc-4613-8bf2-c5e300945f0a")
    );
    let o = b.entries[1].resource().unwrap();
    assert_eq!(
        o.json()["subject"]["reference"],
        "Patient/61ebe359-bfdc-4613-8bf2-c5e300945f0a"
    );
    let Resource::Observation(ob) = &o.resource else {
        panic!()
    };
    assert_eq!(
        ob.subject.as_ref().unwrap().id_of("Patient").as_deref(),
        Some("61ebe359-bfdc-4613-8bf2-c5e300945f0a")
    );
    assert_eq!(b.entries[2].request.as_ref().unwrap().method, Method::Put);
}

#[test]
fn entry_errors_name_the_entry_and_element() {
    let b = bundle(json!({
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}, "request": {"method": "PUT", "url": "Patient/p1"}},
            {"resource": {"resourceType": "Patient", "id": "p2"}},
            {"resource": {"resourceType": "Patient", "id": "p3"}, "request": {"method": "PUT", "url": "Patient/p4"}},
            {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": "Patient/a b"}},
             "request": {"method": "PUT", "url": "Observation/o1"}}
        ]
    }))
    .unwrap();
    assert!(b.entries[0].resource().is_some());
    let err = |i: usize| match &b.entries[i].body {
        EntryBody::Invalid(e) => e.clone(),
        other => panic!("entry {i}: {other:?}"),
    };
    assert_eq!(err(1).path, "Bundle.entry[1].request");
    assert_eq!(
        (err(2).kind, err(2).path.as_str()),
        (ErrorKind::Id, "Bundle.entry[2].request.url")
    );
    assert_eq!(err(3).path, "Bundle.entry[3].resource.subject.reference");
}

#[test]
fn bundle_level_errors_fail_the_parse() {
    assert_eq!(
        bundle(json!({"resourceType": "Patient"})).unwrap_err().kind,
        ErrorKind::ResourceType
    );
    assert_eq!(
        bundle(json!({"resourceType": "Bundle", "type": "document"}))
            .unwrap_err()
            .path,
        "Bundle.type"
    );
    assert_eq!(
        bundle(json!({"resourceType": "Bundle"})).unwrap_err().path,
        "Bundle.type"
    );
    assert_eq!(parse_bundle(b"[").unwrap_err().kind, ErrorKind::Json);
}

#[test]
fn history_notification_skips_the_status_entry() {
    let b = bundle(json!({
        "resourceType": "Bundle", "type": "history",
        "entry": [
            {"fullUrl": "urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400",
             "resource": {"resourceType": "Parameters", "parameter": [{"name": "type", "valueCode": "event-notification"}]},
             "request": {"method": "GET", "url": "Subscription/admission/$status"},
             "response": {"status": "200"}},
            {"fullUrl": "https://ehr.example.org/fhir/Encounter/e1",
             "resource": {"resourceType": "Encounter", "id": "e1", "status": "in-progress",
                          "class": {"code": "IMP"}, "subject": {"reference": "https://ehr.example.org/fhir/Patient/p1"}},
             "request": {"method": "PUT", "url": "Encounter/e1"}, "response": {"status": "200"}}
        ]
    }))
    .unwrap();
    assert_eq!(b.btype, BundleType::History);
    assert!(b.notification.is_some());
    assert_eq!(b.entries.len(), 1);
    let Resource::Encounter(e) = &b.entries[0].resource().unwrap().resource else {
        panic!()
    };
    assert_eq!(
        e.subject.as_ref().unwrap().id_of("Patient").as_deref(),
        Some("p1")
    );
}

#[test]
fn response_bundle_round_trips() {
    let rs = vec![
        EntryResponse::created("Observation", "o1", "1"),
        EntryResponse::ok("Patient", "p1", "2"),
        EntryResponse::error(
            "400 Bad Request",
            OperationOutcome::from_error(&FhirError::new(
                ErrorKind::Reference,
                "Bundle.entry[2].resource.subject.reference",
                "bad",
            )),
        ),
    ];
    let v = response_bundle(BundleType::Batch, &rs);
    assert_eq!(v["type"], "batch-response");
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(
        v["entry"][0]["response"]["location"],
        "Observation/o1/_history/1"
    );
    assert_eq!(
        v["entry"][2]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    let (t, back) = parse_response_bundle(&v).unwrap();
    assert_eq!(t, "batch-response");
    assert_eq!(back, rs);
    assert!(
        parse_bundle(&serde_json::to_vec(&v).unwrap()).is_err(),
        "a response is not ingestible"
    );
}
