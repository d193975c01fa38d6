//! Property tests: parsers never panic on hostile input, and every card the
//! renderer can produce passes the specification validator.

use bedside_cds::{
    parse_feedback, parse_hook_request, render_cards, validate_discovery, validate_response,
    CardInput, CdsResponse, Coding, Direction, Factor, Interval, JwtVerifier, ModelInfo,
    PathwaySuggestion, Tier, TrustedIssuer,
};
use bedside_core::Probability;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9 /{}.:-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("patient-view"),
            Just("hookInstance"),
            Just("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"),
            Just("context"),
            Just("patientId"),
            Just("accepted"),
            Just("2020-12-11T00:00:00Z"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("hook".to_string()),
                    Just("hookInstance".to_string()),
                    Just("context".to_string()),
                    Just("prefetch".to_string()),
                    Just("fhirServer".to_string()),
                    Just("fhirAuthorization".to_string()),
                    Just("patientId".to_string()),
                    Just("feedback".to_string()),
                    Just("card".to_string()),
                    Just("outcome".to_string()),
                    Just("cards".to_string()),
                    Just("summary".to_string()),
                    Just("suggestions".to_string()),
                    Just("services".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_hook_request(&bytes, Some("patient-view"));
        let _ = parse_feedback(&bytes);
        let v = JwtVerifier::new(vec![]);
        let _ = v.verify(&String::from_utf8_lossy(&bytes), "https://x.org/cds-services/a", Utc::now());
    }

    #[test]
    fn parsers_and_validators_never_panic_on_json(doc in arb_json()) {
        let body = doc.to_string();
        if let Ok(r) = parse_hook_request(body.as_bytes(), None) {
            // A parsed request always has what the parser promised.
            prop_assert!(!r.hook.as_str().is_empty());
            let _ = r.conformance_issues();
        }
        let _ = parse_feedback(body.as_bytes());
        let _ = validate_response(&doc);
        let _ = validate_discovery(&doc);
    }

    #[test]
    fn jwt_verifier_never_panics_on_base64_parts(h in arb_json(), p in arb_json(), sig in "[A-Za-z0-9_-]{0,40}") {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!("{}.{}.{}", e.encode(h.to_string()), e.encode(p.to_string()), sig);
        let v = JwtVerifier::new(vec![TrustedIssuer::with_jwks_url("i", "https://i.example/jwks")]);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
        prop_assert!(v.verify(&token, "https://x.org/cds-services/a", now).is_err());
    }
}

fn arb_input() -> impl Strategy<Value = CardInput> {
    let factor = (
        "[ -~]{1,30}",
        prop::option::of(-1e6f64..1e6),
        "[ -~]{0,8}",
        any::<bool>(),
        -1.0f64..1.0,
    )
        .prop_map(|(name, value, unit, up, contribution)| Factor {
            name,
            value,
            unit,
            direction: if up {
                Direction::Raises
            } else {
                Direction::Lowers
            },
            contribution,
        });
    let suggestion = ("[ -~]{1,40}", any::<bool>()).prop_map(|(label, recommended)| PathwaySuggestion {
        description: format!("Create: {label}"),
        label,
        resource: json!({"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"}),
        recommended,
    });
    (
        (
            0.0f64..=1.0,
            prop::option::of(0.0f64..=1.0),
            prop::option::of((0.0f64..=1.0, 0.0f64..=1.0)),
        ),
        "\\PC{0,200}",
        prop::collection::vec(factor, 0..6),
        prop::collection::vec(suggestion, 0..4),
        prop::collection::vec("\\PC{1,60}", 0..3),
        (0usize..3, prop::option::of(0.0f64..1e5), any::<u128>()),
    )
        .prop_map(
            |((prob, prev, interval), outcome, factors, suggestions, ood, (tier, age, id))| {
                CardInput {
                    wording: None,
                    card_uuid: uuid::Uuid::from_u128(id),
                    model: ModelInfo {
                        id: "m".into(),
                        version: "1".into(),
                        label: "Model | *x*".into(),
                        outcome,
                        facts_url: "https://bedside.example.org/models/m/1".into(),
                    },
                    probability: Probability::clamped(prob),
                    previous: prev.map(Probability::clamped),
                    history: vec![],
                    interval: interval.map(|(a, b)| Interval {
                        lo: Probability::clamped(a.min(b)),
                        hi: Probability::clamped(a.max(b)),
                        level: 0.9,
                    }),
                    factors,
                    explanation_note: None,
                    open_task: None,
                    passive_reason: None,
                    data_age_minutes: age,
                    stale_after_minutes: 360.0,
                    base_rate: Some(Probability::clamped(0.08)),
                    ood_reasons: ood,
                    data_note: None,
                    promise: None,
                    tier: [Tier::Passive, Tier::Interruptive, Tier::Escalate][tier],
                    suggestions,
                    override_reasons: vec![Coding::new("https://x.org/cs", "no", "Not applicable")],
                    topic: None,
                    worklist_url: Some("https://bedside.example.org/worklist".into()),
                    survey_url: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_rendered_card_is_valid(input in arb_input()) {
        let resp = CdsResponse { cards: render_cards(&input), system_actions: vec![] };
        let doc = serde_json::to_value(&resp).unwrap();
        let violations = validate_response(&doc);
        prop_assert!(violations.is_empty(), "{:?}\n{:#}", violations, doc);
        let summary = &resp.cards[0].summary;
        prop_assert!(summary.chars().count() < 140);
        prop_assert!(summary.contains('%'));
        prop_assert!(!summary.starts_with(' ') && !summary.contains('\n'), "{:?}", summary);
        // A probability never reads as certain, and no effect as "pts".
        let detail = resp.cards[0].detail.clone().unwrap_or_default();
        prop_assert!(!summary.contains("100%"), "{:?}", summary);
        prop_assert!(!detail.contains(" pts"), "{:?}", detail);
    }
}
