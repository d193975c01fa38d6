//! Pure, in-memory state update: what one resource means for a patient's
//! [`PatientState`] ([`updates_for`]) and applying it ([`apply_updates`]).
//! No IO; the cost of one resource is bounded by the retention window.

use crate::map::{ChannelMap, EventTime};
use bedside_core::{ChannelSeries, EncounterInfo, Instant, PatientState, Point, Sex};
use bedside_fhir::resources::*;
use bedside_fhir::{CodeableConcept, ParsedResource, Quantity, RefTarget, Resource};
use chrono::Duration;

/// A resource Bedside cannot use safely: the element path and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Rejection {
    pub path: String,
    pub reason: String,
}

fn reject(path: impl Into<String>, reason: impl Into<String>) -> Rejection {
    Rejection {
        path: path.into(),
        reason: reason.into(),
    }
}

/// One change a resource makes to a patient's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A value on a numeric channel, in the channel's canonical unit.
    Channel {
        name: String,
        t: Instant,
        v: f64,
    },
    /// An event (value 1.0) on an event channel.
    Event {
        name: String,
        t: Instant,
    },
    Demographics {
        birth_date: Option<chrono::NaiveDate>,
        sex: Option<Sex>,
        race: Option<String>,
        ethnicity: Option<String>,
    },
    Encounter(EncounterInfo),
    RemoveEncounter(String),
    CareTeam(Vec<(String, String)>),
}

/// What applying a resource changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// Names of changed channels and events; `demographics`, `encounters`
    /// and `care_team` for those parts.
    pub changed: Vec<String>,
    /// The newest event time among the changes.
    pub newest: Option<Instant>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
    fn mark(&mut self, name: &str, t: Option<Instant>) {
        if !self.changed.iter().any(|c| c == name) {
            self.changed.push(name.to_string());
        }
        if let Some(t) = t {
            if self.newest.is_none_or(|n| t > n) {
                self.newest = Some(t);
            }
        }
    }
    /// Merge another change into this one.
    pub fn merge(&mut self, other: Change) {
        for c in other.changed {
            self.mark(&c, other.newest);
        }
        if let Some(t) = other.newest {
            if self.newest.is_none_or(|n| t > n) {
                self.newest = Some(t);
            }
        }
    }
}

/// The patient a resource belongs to: `Ok(None)` for patient-less types or
/// a subject that is not a Patient (Group, Device, ...); an error if the
/// subject reference cannot be resolved to a patient id.
pub fn patient_of(p: &ParsedResource) -> Result<Option<String>, Rejection> {
    if let Resource::Patient(_) = p.resource {
        return Ok(p.id.clone());
    }
    let Some((elem, r)) = p.resource.patient_reference() else {
        return Ok(None);
    };
    let path = format!("{}.{elem}.reference", p.rtype);
    match r.target() {
        Some(RefTarget::Relative { rtype, id, .. })
        | Some(RefTarget::Absolute { rtype, id, .. }) => Ok((rtype == "Patient").then_some(id)),
        Some(RefTarget::Urn(u)) => Err(reject(
            path,
            format!("{u} does not resolve to a Patient in this Bundle"),
        )),
        Some(RefTarget::Conditional { .. }) => {
            Err(reject(path, "conditional references are not resolved"))
        }
        Some(RefTarget::Contained(_)) => Ok(None),
        None if r.reference.is_none() => Ok(None),
        None => Err(reject(path, "cannot parse reference")),
    }
}

fn is_excluded_status(rtype: &str, status: Option<&str>) -> bool {
    let s = status.unwrap_or("");
    match rtype {
        "Observation" => matches!(s, "cancelled" | "entered-in-error"),
        "MedicationRequest" => matches!(s, "cancelled" | "entered-in-error" | "draft"),
        "MedicationAdministration" | "Procedure" => matches!(s, "not-done" | "entered-in-error"),
        "ServiceRequest" => matches!(s, "revoked" | "entered-in-error" | "draft"),
        _ => s == "entered-in-error",
    }
}

fn excluded_intent(intent: Option<&str>) -> bool {
    matches!(intent, Some("proposal" | "plan"))
}

/// What this resource means for its patient's state. Pure: the same
/// resource and map always give the same updates.
pub fn updates_for(p: &ParsedResource, map: &ChannelMap) -> Result<Vec<Update>, Rejection> {
    let mut out = Vec::new();
    let recorded = p.meta.last_updated.as_ref().map(|m| m.instant());
    match &p.resource {
        Resource::Patient(r) => out.push(demographics(r)),
        Resource::Encounter(r) => {
            let id = p.id.clone().unwrap_or_default();
            if r.status.as_deref() == Some("entered-in-error") {
                out.push(Update::RemoveEncounter(id));
            } else {
                out.push(Update::Encounter(encounter_info(id, r)));
            }
        }
        Resource::CareTeam(r) if r.status.as_deref() != Some("entered-in-error") => {
            let members = r
                .participant
                .iter()
                .filter_map(|m| {
                    let who = m.member.as_ref()?.reference.clone()?;
                    Some((who, m.role.first().map(concept_key).unwrap_or_default()))
                })
                .collect::<Vec<_>>();
            if !members.is_empty() {
                out.push(Update::CareTeam(members));
            }
        }
        Resource::Observation(o) => observation_updates(p, o, map, &mut out)?,
        Resource::Condition(c) => {
            let v = c
                .verification_status
                .as_ref()
                .and_then(|v| v.coding.first())
                .and_then(|c| c.code.as_deref());
            if !matches!(v, Some("refuted" | "entered-in-error")) {
                let clinical = c
                    .onset_time()
                    .or_else(|| c.recorded_date.as_ref().map(|d| d.instant()));
                let rec = c
                    .recorded_date
                    .as_ref()
                    .map(|d| d.instant())
                    .or(recorded)
                    .or(clinical);
                events(map, "Condition", c.code.as_ref(), clinical, rec, &mut out);
            }
        }
        Resource::MedicationRequest(m) => {
            if !is_excluded_status("MedicationRequest", m.status.as_deref())
                && !excluded_intent(m.intent.as_deref())
            {
                let t = m.authored_on.as_ref().map(|d| d.instant());
                events(
                    map,
                    "MedicationRequest",
                    m.medication().as_ref(),
                    t,
                    recorded.or(t),
                    &mut out,
                );
            }
        }
        Resource::MedicationAdministration(m) => {
            if !is_excluded_status("MedicationAdministration", m.status.as_deref()) {
                let t = m.effective_time();
                events(
                    map,
                    "MedicationAdministration",
                    m.medication().as_ref(),
                    t,
                    recorded.or(t),
                    &mut out,
                );
            }
        }
        Resource::ServiceRequest(s) => {
            if !is_excluded_status("ServiceRequest", s.status.as_deref())
                && !excluded_intent(s.intent.as_deref())
            {
                let t = p.resource.clinical_time();
                events(
                    map,
                    "ServiceRequest",
                    s.code.as_ref(),
                    t,
                    recorded.or(t),
                    &mut out,
                );
            }
        }
        Resource::Procedure(s) => {
            if !is_excluded_status("Procedure", s.status.as_deref()) {
                let t = s.performed_time();
                events(
                    map,
                    "Procedure",
                    s.code.as_ref(),
                    t,
                    recorded.or(t),
                    &mut out,
                );
            }
        }
        Resource::Specimen(s) => {
            if !is_excluded_status("Specimen", s.status.as_deref()) {
                let t = s.collected_time();
                events(
                    map,
                    "Specimen",
                    s.type_.as_ref(),
                    t,
                    recorded.or(t),
                    &mut out,
                );
            }
        }
        other => {
            let rtype = other.rtype();
            if map.events_for(rtype).next().is_some() {
                let concept = match other {
                    Resource::DiagnosticReport(d) => d.code.clone(),
                    Resource::AllergyIntolerance(a) => a.code.clone(),
                    Resource::ImagingStudy(i) => i.procedure_code.first().cloned(),
                    _ => None,
                };
                let t = other.clinical_time();
                events(map, rtype, concept.as_ref(), t, recorded.or(t), &mut out);
            }
        }
    }
    Ok(out)
}

fn concept_key(c: &CodeableConcept) -> String {
    c.coding
        .iter()
        .find_map(|cd| cd.code.clone())
        .or_else(|| c.text.clone())
        .unwrap_or_default()
}

fn events(
    map: &ChannelMap,
    rtype: &str,
    concept: Option<&CodeableConcept>,
    clinical: Option<Instant>,
    recorded: Option<Instant>,
    out: &mut Vec<Update>,
) {
    let Some(c) = concept else { return };
    for rule in map.events_for(rtype) {
        let t = match rule.time {
            EventTime::Clinical => clinical,
            EventTime::Recorded => recorded,
        };
        if let Some(t) = t {
            if rule.matches(c) {
                out.push(Update::Event {
                    name: rule.name.clone(),
                    t,
                });
            }
        }
    }
}

const US_CORE_RACE: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";
const US_CORE_ETHNICITY: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity";

fn us_core_category(p: &Patient, url: &str) -> Option<String> {
    let ext = p.extension.iter().find(|e| e.url == url)?;
    ext.extension
        .iter()
        .find(|e| e.url == "ombCategory")
        .and_then(|e| e.value_coding.as_ref())
        .and_then(|c| c.display.clone().or_else(|| c.code.clone()))
        .or_else(|| {
            ext.extension
                .iter()
                .find(|e| e.url == "text")
                .and_then(|e| e.value_string.clone())
        })
}

fn demographics(p: &Patient) -> Update {
    let sex = p.gender.as_deref().map(|g| match g {
        "male" => Sex::Male,
        "female" => Sex::Female,
        "other" => Sex::Other,
        _ => Sex::Unknown,
    });
    Update::Demographics {
        birth_date: p.birth_date.as_ref().map(|d| d.0.date()),
        sex,
        race: us_core_category(p, US_CORE_RACE),
        ethnicity: us_core_category(p, US_CORE_ETHNICITY),
    }
}

fn encounter_info(id: String, e: &Encounter) -> EncounterInfo {
    let period = e.period.as_ref();
    EncounterInfo {
        id,
        class: e.class.as_ref().and_then(|c| c.code.clone()),
        status: e.status.clone(),
        start: period.and_then(|p| p.start.as_ref()).map(|d| d.instant()),
        end: period.and_then(|p| p.end.as_ref()).map(|d| d.instant()),
        locations: e
            .location
            .iter()
            .filter_map(|l| l.location.reference.clone())
            .collect(),
        participants: e
            .participant
            .iter()
            .filter_map(|pt| {
                let who = pt.individual.as_ref()?.reference.clone()?;
                let role = pt.type_.first().map(concept_key).unwrap_or_default();
                Some((who, role))
            })
            .collect(),
    }
}

/// A numeric reading from one of the value[x] elements.
struct Value<'a> {
    quantity: Option<&'a Quantity>,
    concept: Option<&'a CodeableConcept>,
    string: Option<&'a str>,
    integer: Option<i64>,
    boolean: Option<bool>,
}

fn numeric(ch: &crate::map::Channel, val: Value<'_>, path: &str) -> Result<Option<f64>, Rejection> {
    let unitless = |v: f64, what: &str| match ch.conversion("") {
        Some(c) => Ok(Some(c.apply(v))),
        None => Err(reject(
            format!("{path}.{what}"),
            format!(
                "a value without a unit cannot be used for channel {} (needs one of: {})",
                ch.name,
                ch.accepted_units().join(", ")
            ),
        )),
    };
    if let Some(q) = val.quantity {
        let Some(v) = q.value else { return Ok(None) };
        if !v.is_finite() {
            return Err(reject(
                format!("{path}.valueQuantity.value"),
                "not a finite number",
            ));
        }
        let ucum = q
            .system
            .as_deref()
            .is_none_or(|s| s == "http://unitsofmeasure.org");
        let candidates = [
            (q.code.as_deref().filter(|_| ucum), "code"),
            (q.unit.as_deref(), "unit"),
            (q.code.as_deref(), "code"),
        ];
        let mut shown = None;
        for (u, field) in candidates {
            if let Some(u) = u {
                shown.get_or_insert((u, field));
                if let Some(c) = ch.conversion(u) {
                    return Ok(Some(c.apply(v)));
                }
            }
        }
        return match shown {
            None => unitless(v, "valueQuantity"),
            Some((u, field)) => Err(reject(
                format!("{path}.valueQuantity.{field}"),
                format!(
                    "unit {u:?} is not accepted for channel {} (accepted: {})",
                    ch.name,
                    ch.accepted_units().join(", ")
                ),
            )),
        };
    }
    if let Some(i) = val.integer {
        return unitless(i as f64, "valueInteger");
    }
    if let Some(c) = val.concept {
        if ch.is_ordinal() {
            return match ch.answer(c) {
                Some(v) => Ok(Some(v)),
                None => Err(reject(
                    format!("{path}.valueCodeableConcept"),
                    format!(
                        "coded value {:?} is not an answer known for channel {}",
                        concept_key(c),
                        ch.name
                    ),
                )),
            };
        }
        return Err(reject(
            format!("{path}.valueCodeableConcept"),
            format!("channel {} needs a number, got a coded value", ch.name),
        ));
    }
    if let Some(s) = val.string {
        return match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => unitless(v, "valueString"),
            _ => Err(reject(
                format!("{path}.valueString"),
                format!("channel {} needs a number, got text", ch.name),
            )),
        };
    }
    if val.boolean.is_some() {
        return Err(reject(
            format!("{path}.valueBoolean"),
            format!("channel {} needs a number", ch.name),
        ));
    }
    Ok(None)
}

fn observation_updates(
    p: &ParsedResource,
    o: &Observation,
    map: &ChannelMap,
    out: &mut Vec<Update>,
) -> Result<(), Rejection> {
    if is_excluded_status("Observation", o.status.as_deref()) {
        return Ok(());
    }
    let t = o
        .effective_time()
        .or_else(|| p.meta.last_updated.as_ref().map(|m| m.instant()));
    let mut pending: Vec<(String, f64)> = Vec::new();
    if let Some(code) = &o.code {
        if let Some(ch) = map.channel_for_concept(code) {
            let val = Value {
                quantity: o.value_quantity.as_ref(),
                concept: o.value_codeable_concept.as_ref(),
                string: o.value_string.as_deref(),
                integer: o.value_integer,
                boolean: o.value_boolean,
            };
            if let Some(v) = numeric(ch, val, "Observation")? {
                pending.push((ch.name.clone(), v));
            }
        }
    }
    for (i, c) in o.component.iter().enumerate() {
        let Some(code) = &c.code else { continue };
        let Some(ch) = map.channel_for_concept(code) else {
            continue;
        };
        let val = Value {
            quantity: c.value_quantity.as_ref(),
            concept: c.value_codeable_concept.as_ref(),
            string: c.value_string.as_deref(),
            integer: c.value_integer,
            boolean: c.value_boolean,
        };
        if let Some(v) = numeric(ch, val, &format!("Observation.component[{i}]"))? {
            pending.push((ch.name.clone(), v));
        }
    }
    if !pending.is_empty() {
        let Some(t) = t else {
            return Err(reject(
                "Observation.effective[x]",
                "a value on a mapped channel needs a time (effective[x], issued or meta.lastUpdated)",
            ));
        };
        let get = |n: &str| pending.iter().find(|(c, _)| c == n).map(|(_, v)| *v);
        if let (Some(s), Some(d), None, true) = (
            get("sbp"),
            get("dbp"),
            get("map"),
            map.channel("map").is_some(),
        ) {
            pending.push(("map".into(), (s + 2.0 * d) / 3.0));
        }
        out.extend(
            pending
                .into_iter()
                .map(|(name, v)| Update::Channel { name, t, v }),
        );
    }
    let recorded = p.meta.last_updated.as_ref().map(|m| m.instant()).or(t);
    events(map, "Observation", o.code.as_ref(), t, recorded, out);
    Ok(())
}

fn retract(series: &mut ChannelSeries, source: &str) -> bool {
    if let Some(i) = series.points.iter().position(|q| q.source == source) {
        series.points.remove(i);
        series.total = series.total.saturating_sub(1);
        true
    } else {
        false
    }
}

/// Apply a resource's updates to a state. `source` is `Type/id`;
/// `replace` (a newer version of a resource seen before) first removes
/// what the older version contributed to channels it no longer touches.
pub fn apply_updates(
    state: &mut PatientState,
    source: &str,
    updates: Vec<Update>,
    retention: Duration,
    replace: bool,
) -> Change {
    let mut change = Change::default();
    if replace {
        let keep: Vec<&str> = updates
            .iter()
            .filter_map(|u| match u {
                Update::Channel { name, .. } | Update::Event { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for (name, s) in state.channels.iter_mut().chain(state.events.iter_mut()) {
            if !keep.contains(&name.as_str()) && retract(s, source) {
                change.mark(name, None);
            }
        }
    }
    let mut lone_bp = None;
    let has_map = updates
        .iter()
        .any(|u| matches!(u, Update::Channel { name, .. } if name == "map"));
    // A resource not seen before (`!replace`) has no points yet, so its
    // first point on each channel skips the search for an older one (the
    // per-event cost stays flat over a stay); a second point of the same
    // resource on one channel replaces the first, as before.
    let mut placed: Vec<(bool, String)> = Vec::new();
    let mut is_new = |event: bool, name: &str| {
        let first = !placed.iter().any(|(e, n)| *e == event && n == name);
        if first {
            placed.push((event, name.to_string()));
        }
        !replace && first
    };
    for u in updates {
        match u {
            Update::Channel { name, t, v } => {
                if (name == "sbp" || name == "dbp") && !has_map {
                    lone_bp = Some(t);
                }
                let p = Point {
                    t,
                    v,
                    source: source.to_string(),
                };
                let changed = if is_new(false, &name) {
                    state.observe_new(&name, p, retention)
                } else {
                    state.observe(&name, p, retention)
                };
                if changed {
                    change.mark(&name, Some(t));
                }
            }
            Update::Event { name, t } => {
                let p = Point {
                    t,
                    v: 1.0,
                    source: source.to_string(),
                };
                let changed = if is_new(true, &name) {
                    state.record_event_new(&name, p, retention)
                } else {
                    state.record_event(&name, p, retention)
                };
                if changed {
                    change.mark(&name, Some(t));
                }
            }
            Update::Demographics {
                birth_date,
                sex,
                race,
                ethnicity,
            } => {
                let before = (
                    state.birth_date,
                    state.sex,
                    state.race.clone(),
                    state.ethnicity.clone(),
                );
                state.birth_date = birth_date.or(state.birth_date);
                state.sex = sex.or(state.sex);
                state.race = race.or(state.race.take());
                state.ethnicity = ethnicity.or(state.ethnicity.take());
                if before
                    != (
                        state.birth_date,
                        state.sex,
                        state.race.clone(),
                        state.ethnicity.clone(),
                    )
                {
                    change.mark("demographics", None);
                }
            }
            Update::Encounter(info) => {
                if state.encounters.get(&info.id) != Some(&info) {
                    state.encounters.insert(info.id.clone(), info);
                    change.mark("encounters", None);
                }
            }
            Update::RemoveEncounter(id) => {
                if state.encounters.remove(&id).is_some() {
                    change.mark("encounters", None);
                }
            }
            Update::CareTeam(members) => {
                let mut changed = false;
                for m in members {
                    if !state.care_team.contains(&m) {
                        state.care_team.push(m);
                        changed = true;
                    }
                }
                if changed {
                    change.mark("care_team", None);
                }
            }
        }
    }
    if let Some(t) = lone_bp {
        derive_map(state, source, t, retention, replace, &mut change);
    }
    change
}

/// A systolic or diastolic value arrived on its own: if its partner was
/// measured at the same time and no mean pressure exists then, derive one.
fn derive_map(
    state: &mut PatientState,
    source: &str,
    t: Instant,
    retention: Duration,
    replace: bool,
    change: &mut Change,
) {
    let at = |n: &str| {
        state
            .channels
            .get(n)
            .and_then(|s| s.last_at(t))
            .filter(|p| p.t == t)
            .map(|p| p.v)
    };
    let (Some(s), Some(d)) = (at("sbp"), at("dbp")) else {
        return;
    };
    let measured = state
        .channels
        .get("map")
        .and_then(|m| m.last_at(t))
        .is_some_and(|p| p.t == t && p.source != source);
    if measured {
        return;
    }
    let p = Point {
        t,
        v: (s + 2.0 * d) / 3.0,
        source: source.to_string(),
    };
    // This resource put nothing on `map` (it had no mean pressure), so
    // unless it is a newer version, no point of its source is there.
    let changed = if replace {
        state.observe("map", p, retention)
    } else {
        state.observe_new("map", p, retention)
    };
    if changed {
        change.mark("map", Some(t));
    }
}

/// Map and apply one resource (no replacement of an older version): the
/// pure per-event state update.
pub fn apply(
    state: &mut PatientState,
    p: &ParsedResource,
    map: &ChannelMap,
) -> Result<Change, Rejection> {
    let updates = updates_for(p, map)?;
    let source = match &p.id {
        Some(id) => format!("{}/{id}", p.rtype),
        None => p.rtype.clone(),
    };
    Ok(apply_updates(
        state,
        &source,
        updates,
        map.retention(),
        false,
    ))
}
