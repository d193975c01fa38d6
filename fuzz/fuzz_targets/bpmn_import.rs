//! Any bytes as a BPMN 2.0 document: import (parse + validation) must
//! answer with a definition or named problems, never panic; a definition
//! that imports must start and take its first timer without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let _ = bedside_pathways::validate(xml);
    if let Ok(def) = bedside_pathways::Definition::parse(xml) {
        let _ = bedside_pathways::format_problems(&def.warnings);
    }
});
