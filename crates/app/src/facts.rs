//! Patient facts for the policy, read off the incrementally kept state.

use bedside_core::{Instant, PatientState};
use bedside_policy::PatientFacts;
use std::collections::BTreeMap;

/// What the policy needs to know of a patient at `at`: unit, responsible
/// clinicians, pathway-relevant events up to `at`, comfort care.
pub fn facts_from_state(state: &PatientState, at: Instant) -> PatientFacts {
    let enc = state.encounter_at(at);
    let mut events: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for (kind, series) in &state.events {
        let times: Vec<Instant> = series
            .points
            .iter()
            .filter(|p| p.t <= at)
            .map(|p| p.t)
            .collect();
        if !times.is_empty() {
            events.insert(kind.clone(), times);
        }
    }
    let comfort_care = events.contains_key("comfort_care");
    PatientFacts {
        unit: enc.and_then(|e| e.locations.last().cloned()),
        participants: enc.map(|e| e.participants.clone()).unwrap_or_default(),
        care_team: state.care_team.clone(),
        practitioner_roles: Vec::new(),
        events,
        on_pathway: false,
        comfort_care,
    }
}
