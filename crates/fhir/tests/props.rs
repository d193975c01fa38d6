use bedside_fhir::*;
use proptest::prelude::*;
use serde_json::Value;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            ".*",
            Just("Patient/p1".to_string()),
            Just("Observation".to_string()),
            Just("2024-01-01T00:00:00Z".to_string()),
            Just("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a".to_string()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("resourceType".to_string()),
                    Just("reference".to_string()),
                    Just("valueQuantity".to_string()),
                    Just("value".to_string()),
                    Just("effectiveDateTime".to_string()),
                    Just("entry".to_string()),
                    Just("resource".to_string()),
                    Just("request".to_string()),
                    Just("type".to_string()),
                    Just("id".to_string()),
                    Just("status".to_string()),
                    Just("gender".to_string()),
                    Just("code".to_string()),
                    Just("category".to_string()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TYPES: &[&str] = &[
    "Observation",
    "Patient",
    "Encounter",
    "Bundle",
    "MedicationRequest",
    "CareTeam",
    "Flag",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_resource(&bytes);
        let _ = parse_bundle(&bytes);
    }

    #[test]
    fn never_panics_on_json(v in arb_json(), t in 0..TYPES.len(), bt in 0..5usize) {
        let _ = parse_value(v.clone());
        let mut obj = match v { Value::Object(m) => m, other => { let mut m = serde_json::Map::new(); m.insert("x".into(), other); m } };
        obj.insert("resourceType".into(), Value::String(TYPES[t].into()));
        let _ = parse_value(Value::Object(obj.clone()));
        obj.insert("type".into(), Value::String(["transaction", "batch", "collection", "history", "searchset"][bt].into()));
        obj.insert("resourceType".into(), Value::String("Bundle".into()));
        let _ = bundle_from_value(Value::Object(obj));
    }

    #[test]
    fn bytes_and_tree_parse_alike(v in arb_json(), t in 0..TYPES.len(), typed in any::<bool>()) {
        let mut obj = match v { Value::Object(m) => m, other => { let mut m = serde_json::Map::new(); m.insert("x".into(), other); m } };
        if typed {
            obj.insert("resourceType".into(), Value::String(TYPES[t].into()));
        }
        let bytes = serde_json::to_vec(&Value::Object(obj)).unwrap();
        // The tree of the same bytes (floats need not round-trip exactly).
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        match (parse_resource(&bytes), parse_value(v.clone())) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.resource, &b.resource);
                prop_assert_eq!(&a.rtype, &b.rtype);
                prop_assert_eq!(&a.id, &b.id);
                prop_assert_eq!(&a.meta, &b.meta);
                prop_assert_eq!(&a.warnings, &b.warnings);
                prop_assert_eq!(&a.unknown, &b.unknown);
                prop_assert_eq!(a.body().into_bytes(), bytes.clone());
                prop_assert_eq!(a.json().into_owned(), v);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "bytes: {:?}\ntree: {:?}", a, b),
        }
    }

    #[test]
    fn dates_round_trip_through_text(secs in 0i64..4_000_000_000, nanos in 0u32..1_000_000_000) {
        let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
        let s = format_instant(t);
        let back = FhirInstant::parse(&s).unwrap();
        prop_assert_eq!(back.instant(), t);
    }

    #[test]
    fn outcome_round_trips(diag in ".{0,40}", path in "[A-Za-z.\\[\\]0-9]{0,30}", sev in 0..4usize) {
        let severity = [Severity::Fatal, Severity::Error, Severity::Warning, Severity::Information][sev];
        let oo = OperationOutcome::new(vec![Issue::new(severity, "invalid", diag).at(path)]);
        prop_assert_eq!(OperationOutcome::from_json(&oo.to_json()).unwrap(), oo);
    }

    #[test]
    fn risk_assessment_round_trips(p in 0.0f64..=1.0, lo in 0.0f64..0.5, pid in "[A-Za-z0-9.-]{1,20}", why in proptest::option::of(".{1,30}")) {
        let ra = RiskAssessment {
            status: "final".into(),
            subject: Reference::to("Patient", &pid),
            prediction: vec![RiskPrediction { probability_decimal: Some(p), probability_range: Some(Range::unitless(lo, lo + 0.5)), rationale: why, ..Default::default() }],
            ..Default::default()
        };
        let v = ra.to_json();
        prop_assert_eq!(RiskAssessment::from_json(&v).unwrap(), ra);
        prop_assert!(parse_value(v).is_ok());
    }

    #[test]
    fn response_bundle_round_trips(ids in prop::collection::vec("[a-z0-9]{1,10}", 0..5)) {
        let rs: Vec<EntryResponse> = ids.iter().enumerate().map(|(i, id)| if i % 2 == 0 { EntryResponse::created("Observation", id, "1") } else { EntryResponse::ok("Patient", id, "3") }).collect();
        let v = response_bundle(BundleType::Transaction, &rs);
        let (t, back) = parse_response_bundle(&v).unwrap();
        prop_assert_eq!(t, "transaction-response");
        prop_assert_eq!(back, rs);
    }
}
