//! Build the FHIR R4 Task for a [`CreateTask`] effect.
//!
//! # Input structure
//!
//! A user task's input mappings produce `CreateTask::inputs`, a JSON map.
//! These names are understood (everything else is rendered generically):
//!
//! | name | value | Task.input |
//! |---|---|---|
//! | `patient_identifiers` | `[{"system"?, "value"}]` | one `valueIdentifier` each |
//! | `location` | ref item | `valueReference` / `valueString` |
//! | `risk` | `{"probability", "low"?, "high"?, "model"?, "tier"?, "reference"?, "earlier"?: [{"hours_before", "probability"}]}` | one summary with the trend (`valueReference` to the RiskAssessment when given) |
//! | `top_factors` | `[{"name", "value"?, "contribution"?}]` | one `valueString` each: "Lactate (latest) 4.1 mmol/L: pushes risk up 6 points" (`contribution` on the probability scale) |
//! | `observations` | `[{"name", "value", "unit"?, "time"?, "reference"?}]` | one each, a number rounded as charted in its UCUM `unit` and the unit in clinical notation (`96 mmHg`); older than 24 h before `now` are dropped |
//! | `allergies`, `medications`, `prior_imaging`, `study`, `finding` | ref item or list of them | one each |
//!
//! A *ref item* is a string (-> `valueString`) or `{"reference"?,
//! "display"?}` (-> `valueReference` when it has a reference). Any other
//! name: strings, numbers and booleans become `valueString`, objects with a
//! `reference` become `valueReference`, lists give one input per element,
//! other objects are rendered as `key: value` text. `null` is skipped.

use crate::engine::CreateTask;
use bedside_core::{Instant, PatientRef};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Code system of `Task.input.type` codes (the input names above).
pub const INPUT_TYPE_SYSTEM: &str = "urn:bedside:task-input";
/// Code system of `Task.code` (the BPMN user task id).
pub const STEP_SYSTEM: &str = "urn:bedside:pathway-step";
/// Code system of the BPMN role (`candidateGroups`) in `Task.performerType`.
pub const ROLE_SYSTEM: &str = "urn:bedside:role";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";

/// The SNOMED CT occupation and display of a BPMN role name, with the
/// words a person reads; `None` for roles SNOMED CT has no occupation for
/// (those keep the Bedside role coding only).
fn role_coding(role: &str) -> (Option<(&'static str, &'static str)>, String) {
    match role {
        "nurse" => (
            Some(("224535009", "Registered nurse")),
            "Registered nurse".into(),
        ),
        "physician" => (Some(("309343006", "Physician")), "Physician".into()),
        "radiologist" => (Some(("66862007", "Radiologist")), "Radiologist".into()),
        "rrt" => (None, "Rapid response team".into()),
        "qa" => (None, "Quality assurance reviewer".into()),
        "model-owner" => (None, "Model owner".into()),
        "governance-committee" => (None, "AI governance committee".into()),
        other => (None, other.replace(['-', '_'], " ")),
    }
}

/// `Task.performerType` for a BPMN role: the SNOMED CT occupation when
/// there is one, and the Bedside role (what the worklist filters on),
/// each with a display.
pub fn performer_type(role: &str) -> Value {
    let (snomed, text) = role_coding(role);
    let mut coding = Vec::new();
    if let Some((code, display)) = snomed {
        coding.push(json!({"system": SNOMED, "code": code, "display": display}));
    }
    coding.push(json!({"system": ROLE_SYSTEM, "code": role, "display": text}));
    json!({"coding": coding, "text": text})
}

/// An input value that does not have the documented structure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("task {task_id}: input {field:?}: {reason}")]
pub struct TaskBuildError {
    pub task_id: String,
    pub field: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct IdentifierIn {
    system: Option<String>,
    value: String,
}

#[derive(Deserialize)]
struct EarlierIn {
    hours_before: f64,
    probability: f64,
}

#[derive(Deserialize)]
struct RiskIn {
    #[serde(default)]
    earlier: Vec<EarlierIn>,
    probability: f64,
    low: Option<f64>,
    high: Option<f64>,
    model: Option<String>,
    tier: Option<String>,
    reference: Option<String>,
}

#[derive(Deserialize)]
struct FactorIn {
    name: String,
    value: Option<Value>,
    contribution: Option<f64>,
}

#[derive(Deserialize)]
struct ObservationIn {
    name: String,
    value: Value,
    unit: Option<String>,
    time: Option<Instant>,
    reference: Option<String>,
}

/// The order inputs are listed in: who and where, why, then the context.
const ORDER: [&str; 10] = [
    "patient_identifiers",
    "location",
    "risk",
    "top_factors",
    "finding",
    "study",
    "observations",
    "allergies",
    "medications",
    "prior_imaging",
];

fn label(name: &str) -> &str {
    match name {
        "patient_identifiers" => "Patient identifier",
        "location" => "Location",
        "risk" => "Risk",
        "top_factors" => "Top risk factor",
        "observations" => "Vital sign or lab result (last 24 h)",
        "allergies" => "Allergy",
        "medications" => "Active medication",
        "prior_imaging" => "Prior imaging study",
        "study" => "Imaging study",
        "finding" => "Finding",
        other => other,
    }
}

fn input(name: &str, value_key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(
        "type".into(),
        json!({
            "coding": [{"system": INPUT_TYPE_SYSTEM, "code": name, "display": label(name)}],
            "text": label(name)
        }),
    );
    m.insert(value_key.into(), value);
    Value::Object(m)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn reference(reference: &str, display: Option<&str>) -> Value {
    let mut r = json!({ "reference": reference });
    if let Some(d) = display {
        r["display"] = json!(d);
    }
    r
}

/// Generic rendering of one value (see the module doc).
fn generic(name: &str, v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|i| generic(name, i, out)),
        Value::Object(o) => {
            let display = o.get("display").and_then(Value::as_str);
            if let Some(r) = o.get("reference").and_then(Value::as_str) {
                out.push(input(name, "valueReference", reference(r, display)));
            } else if let Some(d) = display {
                out.push(input(name, "valueString", json!(d)));
            } else {
                let text: Vec<String> = o
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| {
                        format!("{k}: {}", scalar_text(v).unwrap_or_else(|| v.to_string()))
                    })
                    .collect();
                out.push(input(name, "valueString", json!(text.join(", "))));
            }
        }
        other => {
            if let Some(t) = scalar_text(other) {
                out.push(input(name, "valueString", json!(t)));
            }
        }
    }
}

fn typed<T: for<'de> Deserialize<'de>>(
    task: &CreateTask,
    field: &str,
    v: &Value,
) -> Result<Vec<T>, TaskBuildError> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    items
        .into_iter()
        .map(|i| {
            serde_json::from_value(i).map_err(|e| TaskBuildError {
                task_id: task.task_id.clone(),
                field: field.to_string(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// A probability as read: whole percent, never "0%" or "100%".
fn pct(p: f64) -> String {
    let v = (p * 100.0).round();
    if v < 1.0 {
        "<1%".into()
    } else if v >= 100.0 {
        ">99%".into()
    } else {
        format!("{v:.0}%")
    }
}

fn render(
    task: &CreateTask,
    name: &str,
    v: &Value,
    now: Instant,
    out: &mut Vec<Value>,
) -> Result<(), TaskBuildError> {
    match name {
        "patient_identifiers" => {
            for id in typed::<IdentifierIn>(task, name, v)? {
                let mut ident = json!({ "value": id.value });
                if let Some(s) = id.system {
                    ident["system"] = json!(s);
                }
                out.push(input(name, "valueIdentifier", ident));
            }
        }
        "risk" => {
            for r in typed::<RiskIn>(task, name, v)? {
                let bad = |p: f64| !(0.0..=1.0).contains(&p);
                if bad(r.probability)
                    || r.low.is_some_and(bad)
                    || r.high.is_some_and(bad)
                    || r.earlier.iter().any(|e| bad(e.probability))
                {
                    return Err(TaskBuildError {
                        task_id: task.task_id.clone(),
                        field: name.into(),
                        reason: "probabilities must be in [0, 1]".into(),
                    });
                }
                let mut text = format!("Risk {}", pct(r.probability));
                if !r.earlier.is_empty() {
                    text.push_str(" now");
                }
                if let (Some(l), Some(h)) = (r.low, r.high) {
                    text.push_str(&format!(" (interval {}-{})", pct(l), pct(h)));
                }
                if !r.earlier.is_empty() {
                    let mut earlier = r.earlier;
                    earlier.sort_by(|a, b| a.hours_before.total_cmp(&b.hours_before));
                    let then: Vec<String> = earlier
                        .iter()
                        .map(|e| {
                            format!(
                                "{} {} h ago",
                                pct(e.probability),
                                bedside_core::units::format_number(e.hours_before, "h")
                            )
                        })
                        .collect();
                    text.push_str(&format!(", {}", then.join(", ")));
                }
                if let Some(m) = &r.model {
                    text.push_str(&format!(", model {m}"));
                }
                if let Some(t) = &r.tier {
                    text.push_str(&format!(", tier {t}"));
                }
                out.push(match &r.reference {
                    Some(re) => input(name, "valueReference", reference(re, Some(&text))),
                    None => input(name, "valueString", json!(text)),
                });
            }
        }
        "top_factors" => {
            for f in typed::<FactorIn>(task, name, v)? {
                let mut text = f.name;
                match f.value.as_ref().and_then(scalar_text) {
                    Some(val) => text.push_str(&format!(" {val}")),
                    None => text.push_str(" missing (not measured)"),
                }
                if let Some(c) = f.contribution.filter(|c| c.is_finite()) {
                    let pts = c.abs() * 100.0;
                    let pts = if pts < 9.95 {
                        format!("{pts:.1}")
                    } else {
                        format!("{pts:.0}")
                    };
                    let way = if c >= 0.0 { "up" } else { "down" };
                    text.push_str(&format!(": pushes risk {way} {pts} points"));
                }
                out.push(input(name, "valueString", json!(text)));
            }
        }
        "observations" => {
            let since = now - chrono::TimeDelta::hours(24);
            for o in typed::<ObservationIn>(task, name, v)? {
                if o.time.is_some_and(|t| t < since) {
                    continue;
                }
                let unit = o.unit.as_deref().unwrap_or("");
                let value = match &o.value {
                    Value::Number(n) => n
                        .as_f64()
                        .map(|v| bedside_core::units::format_value(v, unit))
                        .unwrap_or_default(),
                    other => {
                        let v = scalar_text(other).unwrap_or_default();
                        let u = bedside_core::units::display_unit(unit);
                        if u.is_empty() {
                            v
                        } else {
                            format!("{v} {u}")
                        }
                    }
                };
                let mut text = format!("{} {value}", o.name);
                if let Some(t) = o.time {
                    text.push_str(&format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")));
                }
                out.push(match &o.reference {
                    Some(re) => input(name, "valueReference", reference(re, Some(&text))),
                    None => input(name, "valueString", json!(text)),
                });
            }
        }
        _ => generic(name, v, out),
    }
    Ok(())
}

/// Build the R4 Task (status `requested`, intent `order`) for a user task.
///
/// `focus_ref` is the RiskAssessment or DetectedIssue the task is about;
/// `requester` who asks (e.g. `Device/bedside`). The Task carries the
/// pathway instance as `groupIdentifier` and the BPMN element as `code`.
pub fn build_task(
    task: &CreateTask,
    patient: &PatientRef,
    focus_ref: Option<&str>,
    requester: Option<&str>,
    now: Instant,
) -> Result<Value, TaskBuildError> {
    let mut inputs = Vec::new();
    let mut names: Vec<&String> = task.inputs.keys().collect();
    names.sort_by_key(|n| (ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()), *n));
    for name in names {
        render(task, name, &task.inputs[name], now, &mut inputs)?;
    }
    let ts = |t: Instant| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut t = json!({
        "resourceType": "Task",
        "id": task.task_id,
        "instantiatesUri": format!("urn:bedside:pathway:{}", task.definition_id),
        "groupIdentifier": {"system": "urn:bedside:pathway-instance", "value": task.instance_id},
        "status": "requested",
        "intent": "order",
        "priority": task.priority,
        "code": {
            "coding": [{"system": STEP_SYSTEM, "code": task.element_id, "display": task.name}],
            "text": task.name
        },
        "description": task.description.as_deref().unwrap_or(&task.name),
        "for": {"reference": patient.to_string()},
        "authoredOn": ts(now),
        "lastModified": ts(now),
    });
    if let Some(f) = focus_ref {
        t["focus"] = json!({ "reference": f });
    }
    if let Some(r) = requester {
        t["requester"] = json!({ "reference": r });
    }
    if let Some(o) = &task.owner {
        t["owner"] = json!({ "reference": o });
    }
    if !task.roles.is_empty() {
        let roles: Vec<Value> = task.roles.iter().map(|r| performer_type(r)).collect();
        t["performerType"] = Value::Array(roles);
    }
    if let Some(due) = task.due {
        t["restriction"] = json!({"period": {"end": ts(due)}});
    }
    if !inputs.is_empty() {
        t["input"] = Value::Array(inputs);
    }
    Ok(t)
}
