//! Helpers shared by the engine test files.
#![allow(dead_code)]

use bedside_core::Instant;
use bedside_pathways::*;
use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{json, Map, Value};

pub fn load(path: &str) -> Definition {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    Definition::parse(&xml).unwrap_or_else(|p| panic!("{}", format_problems(&p)))
}
pub fn sepsis() -> Definition {
    load("../../pathways/sepsis-escalation.bpmn")
}
pub fn radiology() -> Definition {
    load("../../pathways/radiology-review.bpmn")
}
pub fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()
}
pub fn at(min: i64) -> Instant {
    t0() + TimeDelta::minutes(min)
}
pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
pub fn none() -> Map<String, Value> {
    Map::new()
}

pub fn sepsis_vars() -> Map<String, Value> {
    obj(json!({
        "patient": {
            "reference": "Patient/p1",
            "identifiers": [{"system": "urn:mrn", "value": "MRN-1"}],
            "location": {"reference": "Location/4W-12", "display": "4 West bed 12"}
        },
        "risk": {"probability": 0.42, "low": 0.3, "high": 0.55, "model": "sepsis-v1",
                 "tier": "escalation", "reference": "RiskAssessment/r1",
                 "top_factors": [{"name": "lactate", "value": "4.1 mmol/L", "contribution": 0.12}]},
        "observations": [{"name": "Lactate", "value": 4.1, "unit": "mmol/L", "time": "2026-01-05T07:30:00Z"}],
        "allergies": [{"display": "Penicillin", "reference": "AllergyIntolerance/a1"}],
        "medications": [],
        "covering_physician": "Practitioner/dr-who"
    }))
}

pub fn creates(effects: &[Effect]) -> Vec<&CreateTask> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CreateTask(c) => Some(c),
            _ => None,
        })
        .collect()
}

pub fn start_sepsis(id: &str) -> (Instance, Vec<Effect>) {
    Engine::start(
        &sepsis(),
        id,
        &StartTrigger::Message("sepsis-alert".into()),
        sepsis_vars(),
        t0(),
    )
    .unwrap()
}

pub fn task_of(inst: &Instance, element: &str) -> String {
    inst.tokens
        .iter()
        .find_map(|t| match &t.wait {
            Wait::UserTask { task_id, .. } if t.element_id == element => Some(task_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no open task at {element}: {:?}", inst.tokens))
}

pub fn timer_of(inst: &Instance, event: &str) -> String {
    inst.tokens
        .iter()
        .find_map(|t| match &t.wait {
            Wait::UserTask { timers, .. } | Wait::EventGateway { timers, .. } => timers
                .iter()
                .find(|w| w.event_id == event)
                .map(|w| w.timer_id.clone()),
            Wait::Timer(w) if w.event_id == event => Some(w.timer_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no timer {event}: {:?}", inst.tokens))
}
