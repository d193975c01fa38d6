//! Any bytes: parse as a resource; if it parses, mapping it onto channels
//! and state must not panic either, and its body must parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = bedside_fhir::parse_resource(data) {
        let map = bedside_ingest::ChannelMap::default_map();
        let mut state = bedside_core::PatientState::new("fuzz");
        let _ = bedside_ingest::apply(&mut state, &p, &map);
        let again = bedside_fhir::parse_resource(p.body().as_bytes());
        assert!(again.is_ok(), "a parsed resource re-parses from its body");
    }
});
