//! Bedside's own record, typed. Every document kind Bedside stores has a
//! name here ([`kinds`]) and, where its body is Bedside's own shape, a
//! struct with `to_document` / `from_document`; the FHIR resources Bedside
//! writes as documents (Task, Communication, RiskAssessment, DetectedIssue,
//! Provenance)
//! are read through [`TaskRecord`]-style views rather than by JSON key. The
//! AuditEvent and Provenance builders live here too ([`audit`]).
//!
//! Public API: [`kinds`], [`Record`] and the record structs
//! ([`CardRecord`], [`FeedbackRecord`], [`AlertMemoryRecord`],
//! [`LatestRisk`], [`DecisionRecord`], [`InstanceRecord`],
//! [`GovernanceState`], [`PulseOfferRecord`], [`PulseAnswerRecord`],
//! [`TaskRecord`]), [`RecordError`],
//! [`prediction_id`], [`audit`].
//!
//! Invariant: pure. No IO: a record is built from and turned into a
//! `bedside_store::Document` value; nothing here reads or writes a store,
//! the clock or the network.

pub mod audit;
mod pulse;
mod records;
mod task;
mod training;

pub use pulse::{PulseAnswerRecord, PulseOfferRecord};
pub use records::{
    AlertMemoryRecord, CardRecord, DecisionRecord, FeedbackRecord, GovernanceState, InstanceRecord,
    LatestRisk, Record,
};
pub use task::TaskRecord;
pub use training::TrainingAttestationRecord;

/// The document kinds Bedside stores (its own record). One name per kind,
/// used by every writer and reader.
pub mod kinds {
    /// Every scored prediction (`bedside_models::Prediction`).
    pub const PREDICTION: &str = "prediction";
    /// The newest prediction per model and patient (`{model}|{patient}`).
    pub const LATEST_RISK: &str = "latest_risk";
    /// A CDS Hooks card recorded (shown or silent).
    pub const CARD: &str = "card";
    /// Feedback on a card.
    pub const FEEDBACK: &str = "feedback";
    /// Alert memory per model and patient, shared by hooks and pathways.
    pub const ALERT_MEMORY: &str = "alert_memory";
    /// A decision that alerted or escalated.
    pub const DECISION: &str = "decision";
    /// A pathway instance (`bedside_pathways::Instance`).
    pub const PATHWAY_INSTANCE: &str = "pathway_instance";
    /// A FHIR R4 Task written by a pathway.
    pub const TASK: &str = "Task";
    /// A FHIR R4 Communication sent by a pathway.
    pub const COMMUNICATION: &str = "Communication";
    /// A FHIR R4 RiskAssessment of an escalated prediction.
    pub const RISK_ASSESSMENT: &str = "RiskAssessment";
    /// A FHIR R4 DetectedIssue written by a pathway (`write_detected_issue`).
    pub const DETECTED_ISSUE: &str = "DetectedIssue";
    /// A FHIR R4 Provenance of a Task, RiskAssessment, Communication or
    /// DetectedIssue.
    pub const PROVENANCE: &str = "Provenance";
    /// A governance alarm raised by an evaluation.
    pub const ALARM_HISTORY: &str = "governance_alarm";
    /// Per model: when governance last evaluated it, and what it saw.
    pub const GOVERNANCE_STATE: &str = "governance_state";
    /// A trust pulse question offered to a clinician.
    pub const PULSE_OFFER: &str = "pulse_offer";
    /// A trust pulse answer.
    pub const PULSE_ANSWER: &str = "pulse_answer";
    /// A clinician's attestation of a use case's training
    /// (`{use case}|{clinician}`).
    pub const TRAINING_ATTESTATION: &str = "training_attestation";
}

/// Why a stored document could not be read as its record type.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{kind} {id} is not a {kind} document (kind {found})")]
    WrongKind {
        kind: &'static str,
        id: String,
        found: String,
    },
    #[error("{kind} {id} is unreadable: {reason}")]
    Unreadable {
        kind: &'static str,
        id: String,
        reason: String,
    },
    #[error("{kind} {id} has no {field}")]
    Missing {
        kind: &'static str,
        id: String,
        field: &'static str,
    },
}

/// The stable id of a prediction: model, version, patient and time.
pub fn prediction_id(p: &bedside_models::Prediction, patient_id: &str) -> String {
    format!(
        "{}|{}|{}|{}",
        p.model_id,
        p.model_version,
        patient_id,
        p.at.timestamp()
    )
}

/// The key of per-model, per-patient documents (`latest_risk`,
/// `alert_memory`): `{model}|{patient}`.
pub fn model_patient_id(model_id: &str, patient_id: &str) -> String {
    format!("{model_id}|{patient_id}")
}
