//! Any bytes as a CDS Hooks request body (parse + the conformance checks +
//! prefetch template expansion), as a feedback body, as a response or
//! discovery document for the validators, and as a bearer JWT for the
//! verifier (the specification's example ES384 issuer trusted). Nothing may
//! panic.
#![no_main]

use bedside_cds::{JwkSet, JwtVerifier, TrustedIssuer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;


fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(|| {
        // The demo EHR's public key (config/demo-ehr), as `bedside demo` trusts it.
        let jwks: JwkSet = serde_json::from_str(include_str!("../../config/demo-ehr/jwks.json"))
            .expect("demo JWKS");
        JwtVerifier::new(vec![TrustedIssuer::with_jwks(
            "https://demo-ehr.bedside.invalid",
            jwks,
        )])
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = bedside_cds::parse_hook_request(data, None) {
        let _ = req.patient_id();
        let _ = req.conformance_issues();
        let _ = req.hook.required_context();
        for template in bedside_cds::standard_prefetch().values() {
            let _ = bedside_cds::expand_prefetch(template, &req.context);
        }
        let templates = bedside_cds::standard_prefetch();
        let _ = bedside_cds::missing_prefetch(&templates, &req);
    }
    let _ = bedside_cds::parse_hook_request(data, Some("patient-view"));
    let _ = bedside_cds::parse_feedback(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = bedside_cds::validate_response(&v);
        let _ = bedside_cds::validate_discovery(&v);
    }
    if let Ok(token) = std::str::from_utf8(data) {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("fixed time");
        let _ = verifier().verify_stateless(token, "https://example.com/cds-services/x", now);
    }
});
