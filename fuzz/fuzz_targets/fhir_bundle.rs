//! Any bytes: parse as a Bundle; every entry that parsed must map onto
//! state without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bedside_fhir::parse_bundle(data) {
        let map = bedside_ingest::ChannelMap::default_map();
        let mut state = bedside_core::PatientState::new("fuzz");
        for e in &b.entries {
            if let Some(p) = e.resource() {
                let _ = bedside_ingest::patient_of(p);
                let _ = bedside_ingest::apply(&mut state, p, &map);
            }
        }
    }
});
