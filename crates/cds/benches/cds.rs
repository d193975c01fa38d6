//! Per-call costs of the CDS Hooks path: parse a patient-view request,
//! verify the client JWT (ES256, ES384), render a card, validate it.
//! `cargo bench -p bedside-cds --bench cds`

use bedside_cds::{
    parse_hook_request, render_cards, sign_demo_token, sign_with_jwk, validate_response, CardInput,
    CdsResponse, Coding, Direction, Factor, InMemoryReplayCache, Interval, JwkSet, JwtVerifier,
    ModelInfo, PathwaySuggestion, ReplayCache, Tier, TrustedIssuer,
};
use bedside_core::Probability;
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const AUD: &str = "https://bedside.example.org/cds-services/sepsis-patient-view";

fn demo_key(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/demo-ehr")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).expect("demo key")).expect("demo key json")
}

fn request_body() -> Vec<u8> {
    let obs: Vec<Value> = (0..40)
        .map(|i| {
            json!({"resource": {"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": "Patient/1288992"},
                "effectiveDateTime": "2026-11-25T10:00:00Z",
                "valueQuantity": {"value": 90 + i, "unit": "/min"}}})
        })
        .collect();
    json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {"userId": "Practitioner/example", "patientId": "1288992", "encounterId": "89284"},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1925-12-23"},
            "vitals": {"resourceType": "Bundle", "type": "searchset", "entry": obs},
            "labs": null
        }
    })
    .to_string()
    .into_bytes()
}

fn card_input() -> CardInput {
    let p = |x| Probability::new(x).expect("probability");
    CardInput {
        wording: None,
        card_uuid: uuid::Uuid::from_u128(7),
        model: ModelInfo {
            id: "sepsis-demo".into(),
            version: "1.2.0".into(),
            label: "Bedside sepsis (demo)".into(),
            outcome: "Sepsis".into(),
            facts_url: "https://bedside.example.org/models/sepsis-demo/1.2.0".into(),
        },
        probability: p(0.34),
        previous: Some(p(0.21)),
        history: vec![],
        interval: Some(Interval {
            lo: p(0.27),
            hi: p(0.41),
            level: 0.9,
        }),
        factors: (0..5)
            .map(|i| Factor {
                name: format!("Factor {i}"),
                value: Some(1.5 * i as f64),
                unit: "mmol/L".into(),
                direction: Direction::Raises,
                contribution: 0.01 * i as f64,
            })
            .collect(),
        explanation_note: None,
        open_task: None,
        passive_reason: None,
        data_age_minutes: Some(12.0),
        stale_after_minutes: 360.0,
        base_rate: Some(p(0.08)),
        ood_reasons: vec![],
        data_note: None,
        promise: Some("At least 30% of flagged patients develop sepsis within 12 h.".into()),
        tier: Tier::Interruptive,
        suggestions: vec![PathwaySuggestion {
            label: "Order serum lactate".into(),
            description: "Create a ServiceRequest for lactate".into(),
            resource: json!({"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"}),
            recommended: true,
        }],
        override_reasons: vec![Coding::new(
            "https://x.org/cs",
            "not-septic",
            "Clinically not septic",
        )],
        topic: None,
        worklist_url: Some("https://bedside.example.org/worklist".into()),
        survey_url: None,
    }
}

fn benches(c: &mut Criterion) {
    let body = request_body();
    c.bench_function(
        "parse_hook_request (patient-view, 40 prefetched vitals)",
        |b| b.iter(|| parse_hook_request(black_box(&body), Some("patient-view")).expect("parses")),
    );

    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("time");
    let iss = "https://demo-ehr.bedside.invalid";
    let jwks: JwkSet = serde_json::from_value(demo_key("jwks.json")).expect("jwks");
    let v = JwtVerifier::new(vec![
        TrustedIssuer::with_jwks(iss, jwks).algorithms([bedside_cds::Algorithm::ES256])
    ]);
    let es256 = sign_demo_token(&demo_key("private-jwk.json"), iss, AUD, now).expect("sign");
    c.bench_function("verify_stateless ES256", |b| {
        b.iter(|| {
            v.verify_stateless(black_box(&es256), AUD, now)
                .expect("valid")
        })
    });

    let spec_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cds-hooks/jwt");
    if let (Ok(jwks), Ok(private)) = (
        std::fs::read_to_string(spec_dir.join("jwks.json")),
        std::fs::read_to_string(spec_dir.join("private-jwk.json")),
    ) {
        let spec_iss = "https://fhir-ehr.example.com/";
        let jwks: JwkSet = serde_json::from_str(&jwks).expect("jwks");
        let private: Value = serde_json::from_str(&private).expect("jwk");
        let v384 = JwtVerifier::new(vec![TrustedIssuer::with_jwks(spec_iss, jwks)]);
        let t = now.timestamp();
        let token = sign_with_jwk(
            &private,
            &json!({"iss": spec_iss, "aud": AUD, "iat": t, "exp": t + 300, "jti": "x"}),
        )
        .expect("sign");
        c.bench_function("verify_stateless ES384", |b| {
            b.iter(|| {
                v384.verify_stateless(black_box(&token), AUD, now)
                    .expect("valid")
            })
        });
    }

    let cache = InMemoryReplayCache::new(100_000);
    let mut n = 0u64;
    c.bench_function("replay cache first_use (100k capacity)", |b| {
        b.iter(|| {
            n += 1;
            cache.first_use("iss", &n.to_string(), 1_000_000 + (n % 1000) as i64, 0)
        })
    });

    let input = card_input();
    c.bench_function("render_cards", |b| {
        b.iter(|| render_cards(black_box(&input)))
    });
    let doc = serde_json::to_value(CdsResponse {
        cards: render_cards(&input),
        system_actions: vec![],
    })
    .expect("json");
    c.bench_function("validate_response (1 card)", |b| {
        b.iter(|| validate_response(black_box(&doc)))
    });
}

criterion_group! {
    name = cds;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = benches
}
criterion_main!(cds);
