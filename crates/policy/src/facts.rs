//! Plain inputs and outputs of [`crate::decide`].

use crate::config::Coding;
use bedside_core::{Instant, PatientState, Probability};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A PractitionerRole known for the patient's unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PractitionerRoleFact {
    /// `Practitioner/...`
    pub practitioner: String,
    /// Role code, e.g. `rrt-nurse`, `charge-nurse`.
    pub role: String,
    /// `Location/...` references this role serves.
    pub locations: Vec<String>,
}

/// What the policy knows about the patient at decision time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientFacts {
    /// Current unit, a `Location/...` reference.
    pub unit: Option<String>,
    /// Encounter.participant: (`Practitioner/...` or `PractitionerRole/...`, type code ATND/ADM/...).
    pub participants: Vec<(String, String)>,
    /// CareTeam members: (`Practitioner/...`, role code), in CareTeam order.
    pub care_team: Vec<(String, String)>,
    /// PractitionerRoles serving the patient's unit.
    pub practitioner_roles: Vec<PractitionerRoleFact>,
    /// Event kind (`antibiotic_ordered`, `blood_culture_ordered`,
    /// `lactate_ordered`, ...) -> times it happened.
    pub events: BTreeMap<String, Vec<Instant>>,
    /// The patient is already on this condition's pathway.
    pub on_pathway: bool,
    /// The patient is on comfort care.
    pub comfort_care: bool,
    /// The model's guard put this prediction outside the population the
    /// model was validated on (`Prediction::in_distribution` false).
    #[serde(default)]
    pub out_of_distribution: bool,
}

/// A CDS Hooks call in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    /// Hook id, e.g. `patient-view`, `order-sign`.
    pub hook: String,
    /// The user in the EHR (`Practitioner/...`), when known.
    pub user: Option<String>,
}

/// Primary model or a challenger running in shadow (never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    Primary,
    Shadow,
}

/// One decision request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInput {
    /// Model id and version that produced the probability.
    pub model_id: String,
    pub role: ModelRole,
    pub probability: Probability,
    pub at: Instant,
    /// `None` when deciding at scoring time (no one is in the chart).
    pub hook: Option<HookContext>,
    pub facts: PatientFacts,
}

/// The open alert of one patient for one condition (and one model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub opened_at: Instant,
    pub last_alert_at: Instant,
    pub last_alert_risk: f64,
    /// Alerts fired in this episode (first + re-alerts).
    pub alert_count: u32,
    /// An interruptive card is waiting for the next decision hook.
    pub card_pending: bool,
}

/// A snooze with its coded reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snooze {
    pub until: Instant,
    pub reason: Coding,
    /// Who snoozed (`Practitioner/...`), if known.
    pub by: Option<String>,
}

/// Per patient, per condition, per model memory; stored by the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertMemory {
    pub open: Option<OpenAlert>,
    pub snooze: Option<Snooze>,
}

/// What the decision surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Record only.
    Silent,
    /// Information card at a hook.
    Passive,
    /// Interruptive card at a decision hook.
    Interruptive,
    /// Start the escalation pathway (owned task); at a decision hook also an
    /// interruptive card.
    Escalate,
}

/// The card to render at a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    Passive,
    Interruptive,
}

/// Why an alert-level risk did not interrupt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Suppression {
    /// The threshold is not certified: the policy alerts on nothing.
    NotCertified,
    ComfortCare,
    OnPathway,
    /// These pathway actions are already present within their lookback.
    PathwayActionsPresent {
        actions: Vec<String>,
    },
    Snoozed {
        until: Instant,
    },
    /// An alert is already open and risk has not risen enough nor has the
    /// quiet period passed.
    AlreadyOpen,
    /// The hook user is not a responsible clinician: passive card only.
    NotResponsibleUser,
    /// The prediction is outside the population the model was validated
    /// on: a passive card at most, never an alert nor an escalation;
    /// `review`: open a review Task instead of the escalation it would
    /// have been (`out_of_distribution.review`).
    OutOfDistribution {
        review: bool,
    },
}

/// Where a routed decision goes. Never a broadcast: at most one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    Practitioner {
        reference: String,
        source: RouteSource,
    },
    /// A role on a unit (the unit's fallback role).
    Role { role: String, unit: Option<String> },
}

/// How a practitioner recipient was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", content = "code", rename_all = "snake_case")]
pub enum RouteSource {
    EncounterParticipant(String),
    CareTeam(String),
    PractitionerRole(String),
}

/// The decision, with the next memory state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub model_id: String,
    pub role: ModelRole,
    pub at: Instant,
    pub probability: f64,
    /// Certified threshold in force (`None` when not certified).
    pub threshold: Option<f64>,
    pub tier: Tier,
    /// The card to render at this hook (`None` without a hook).
    pub card: Option<CardKind>,
    /// Start the escalation pathway (an owned task for `route_to`).
    pub escalate: bool,
    /// This decision fires an alert (first or re-alert): the unit the alert
    /// budget counts.
    pub new_alert: bool,
    pub suppressed: Option<Suppression>,
    pub route_to: Vec<Recipient>,
    /// Whether anything is shown to anyone (false in silent stage, outside
    /// the pilot, for shadow models, and for `Tier::Silent`).
    pub shown: bool,
    /// Memory to store for the next decision.
    pub memory: AlertMemory,
}

/// What the policy needs to know of a patient at `at`, read off the
/// incrementally kept state: unit, responsible clinicians,
/// pathway-relevant events up to `at`, comfort care.
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
        out_of_distribution: false,
    }
}
