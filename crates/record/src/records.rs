//! Records whose body is Bedside's own shape.

use crate::{kinds, model_patient_id, RecordError};
use bedside_core::Instant;
use bedside_models::Prediction;
use bedside_pathways::Instance;
use bedside_policy::{AlertMemory, Decision, Suppression, Tier as PolicyTier};
use bedside_store::Document;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A stored kind with its document mapping.
pub trait Record: Sized {
    /// The document kind (one of [`kinds`]).
    const KIND: &'static str;
    /// The document to store (kind, key, indexed columns and body).
    fn to_document(&self) -> Document;
    /// Read a stored document; a document of another kind or an
    /// unreadable body is an error naming the kind and id.
    fn from_document(d: &Document) -> Result<Self, RecordError>;
}

fn check_kind(d: &Document, kind: &'static str) -> Result<(), RecordError> {
    if d.kind == kind {
        Ok(())
    } else {
        Err(RecordError::WrongKind {
            kind,
            id: d.id.clone(),
            found: d.kind.clone(),
        })
    }
}

pub(crate) fn body<T: serde::de::DeserializeOwned>(
    d: &Document,
    kind: &'static str,
) -> Result<T, RecordError> {
    check_kind(d, kind)?;
    T::deserialize(&d.body).map_err(|e| RecordError::Unreadable {
        kind,
        id: d.id.clone(),
        reason: e.to_string(),
    })
}

/// An indexed column every record of `kind` is written with; absent is
/// [`RecordError::Missing`], never an empty string.
pub(crate) fn column(
    d: &Document,
    kind: &'static str,
    field: &'static str,
    value: &Option<String>,
) -> Result<String, RecordError> {
    value.clone().ok_or_else(|| RecordError::Missing {
        kind,
        id: d.id.clone(),
        field,
    })
}

pub(crate) fn to_body<T: Serialize>(t: &T) -> Value {
    // A record type is plain data with string keys: serialising cannot fail.
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// A CDS Hooks card as recorded (kind `card`, key = the card's uuid,
/// status `shown` / `silent`, owner = the service's model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardRecord {
    #[serde(skip)]
    pub uuid: String,
    #[serde(skip)]
    pub patient_id: String,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub recorded_at: Instant,
    pub service: String,
    pub hook: String,
    pub hook_instance: String,
    /// The hook's `context.userId`.
    pub user: Option<String>,
    pub model_id: String,
    pub model_version: String,
    pub probability: f64,
    pub predicted_at: Instant,
    /// Where the risk came from (`Precomputed`, `Prefetch`, `Fetched` from
    /// the EHR, `StoredState`).
    pub risk_source: String,
    /// The card's tier (`passive`, `interruptive`, `escalate`).
    pub tier: String,
    pub policy_tier: PolicyTier,
    pub suppressed: Option<Suppression>,
    pub shown: bool,
    pub summary: Option<String>,
    /// Request received to card rendered (monitoring latency).
    pub latency_ms: f64,
    /// The uuids of the suggestions the card carried (feedback may accept
    /// only these). `None` on a card recorded without them: its feedback
    /// is not checked against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<String>>,
    /// The override reasons the card offered, as `system|code` (a coded
    /// override must name one of these). `None` as for `suggestions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reasons: Option<Vec<String>>,
}

impl Record for CardRecord {
    const KIND: &'static str = kinds::CARD;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: self.uuid.clone(),
            patient_id: Some(self.patient_id.clone()),
            status: Some(if self.shown { "shown" } else { "silent" }.into()),
            owner: Some(self.owner.clone()),
            created_at: self.recorded_at,
            updated_at: self.recorded_at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.uuid = d.id.clone();
        r.patient_id = column(d, Self::KIND, "patient_id", &d.patient_id)?;
        r.owner = column(d, Self::KIND, "owner", &d.owner)?;
        r.recorded_at = d.created_at;
        Ok(r)
    }
}

/// Feedback on a card (kind `feedback`, status `accepted` / `overridden`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    #[serde(skip)]
    pub patient_id: Option<String>,
    #[serde(skip)]
    pub owner: String,
    #[serde(skip)]
    pub received_at: Instant,
    pub service: String,
    pub item: bedside_cds::FeedbackItem,
    /// Whether the card it is about was recorded by Bedside.
    pub card_known: bool,
}

impl FeedbackRecord {
    pub fn outcome(&self) -> &'static str {
        match self.item.outcome {
            bedside_cds::Outcome::Accepted => "accepted",
            bedside_cds::Outcome::Overridden => "overridden",
        }
    }
}

impl Record for FeedbackRecord {
    const KIND: &'static str = kinds::FEEDBACK;
    fn to_document(&self) -> Document {
        let outcome = self.outcome();
        Document {
            kind: Self::KIND.into(),
            id: format!(
                "{}|{outcome}|{}",
                self.item.card,
                self.item.outcome_timestamp.to_rfc3339()
            ),
            patient_id: self.patient_id.clone(),
            status: Some(outcome.into()),
            owner: Some(self.owner.clone()),
            created_at: self.item.outcome_timestamp,
            updated_at: self.received_at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.patient_id = d.patient_id.clone();
        r.owner = column(d, Self::KIND, "owner", &d.owner)?;
        r.received_at = d.updated_at;
        Ok(r)
    }
}

/// A patient's alert memory under one model (kind `alert_memory`, key
/// `{model}|{patient}`, status `open` / `closed`): one shape for hooks
/// and pathways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMemoryRecord {
    #[serde(skip)]
    pub model_id: String,
    #[serde(skip)]
    pub patient_id: String,
    #[serde(skip)]
    pub updated_at: Instant,
    pub memory: AlertMemory,
    /// The probability last shown on a card, if any.
    pub last_shown_probability: Option<f64>,
}

impl Record for AlertMemoryRecord {
    const KIND: &'static str = kinds::ALERT_MEMORY;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: model_patient_id(&self.model_id, &self.patient_id),
            patient_id: Some(self.patient_id.clone()),
            status: Some(
                if self.memory.open.is_some() {
                    "open"
                } else {
                    "closed"
                }
                .into(),
            ),
            owner: Some(self.model_id.clone()),
            created_at: self.updated_at,
            updated_at: self.updated_at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.model_id = column(d, Self::KIND, "owner", &d.owner)?;
        r.patient_id = column(d, Self::KIND, "patient_id", &d.patient_id)?;
        r.updated_at = d.updated_at;
        Ok(r)
    }
}

/// A scored prediction: every one (kind `prediction`, key
/// [`crate::prediction_id`]) and the newest per model and patient (kind
/// `latest_risk`, key `{model}|{patient}`). Body = the prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestRisk {
    pub patient_id: String,
    pub prediction: Prediction,
    /// When it was written (wall clock).
    pub written_at: Instant,
}

impl LatestRisk {
    /// The same prediction as a `prediction` document (its history row).
    pub fn history_document(&self) -> Document {
        let mut d = self.to_document();
        d.kind = kinds::PREDICTION.into();
        d.id = crate::prediction_id(&self.prediction, &self.patient_id);
        d
    }
}

impl Record for LatestRisk {
    const KIND: &'static str = kinds::LATEST_RISK;
    fn to_document(&self) -> Document {
        let p = &self.prediction;
        Document {
            kind: Self::KIND.into(),
            id: model_patient_id(&p.model_id, &self.patient_id),
            patient_id: Some(self.patient_id.clone()),
            status: None,
            owner: Some(p.model_id.clone()),
            created_at: p.at,
            updated_at: self.written_at,
            body: to_body(p),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        if d.kind != kinds::PREDICTION {
            check_kind(d, Self::KIND)?;
        }
        let prediction = Prediction::deserialize(&d.body).map_err(|e| RecordError::Unreadable {
            kind: Self::KIND,
            id: d.id.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            patient_id: column(d, Self::KIND, "patient_id", &d.patient_id)?,
            prediction,
            written_at: d.updated_at,
        })
    }
}

/// A decision that alerted or escalated (kind `decision`, key
/// `{model}|{patient}|{unix time}`, status `alert` / `escalate`).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub model_id: String,
    pub patient_id: String,
    /// The prediction's time.
    pub at: Instant,
    pub decision: Decision,
    pub written_at: Instant,
}

impl Record for DecisionRecord {
    const KIND: &'static str = kinds::DECISION;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: format!(
                "{}|{}|{}",
                self.model_id,
                self.patient_id,
                self.at.timestamp()
            ),
            patient_id: Some(self.patient_id.clone()),
            status: Some(
                if self.decision.escalate {
                    "escalate"
                } else {
                    "alert"
                }
                .into(),
            ),
            owner: Some(self.model_id.clone()),
            created_at: self.at,
            updated_at: self.written_at,
            body: to_body(&self.decision),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let decision: Decision = body(d, Self::KIND)?;
        Ok(Self {
            model_id: column(d, Self::KIND, "owner", &d.owner)?,
            patient_id: column(d, Self::KIND, "patient_id", &d.patient_id)?,
            at: d.created_at,
            decision,
            written_at: d.updated_at,
        })
    }
}

/// A pathway instance (kind `pathway_instance`, key = instance id, status
/// `running` / `completed` / ..., owner = the definition id).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub patient_id: Option<String>,
    pub definition_id: String,
    pub status: String,
    pub instance: Instance,
    pub written_at: Instant,
}

impl InstanceRecord {
    /// An instance body as stored text (lists that page stored text).
    pub fn instance_from_text(id: &str, text: &str) -> Result<Instance, RecordError> {
        serde_json::from_str(text).map_err(|e| RecordError::Unreadable {
            kind: kinds::PATHWAY_INSTANCE,
            id: id.to_string(),
            reason: e.to_string(),
        })
    }
}

impl Record for InstanceRecord {
    const KIND: &'static str = kinds::PATHWAY_INSTANCE;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: self.instance.id.clone(),
            patient_id: self.patient_id.clone(),
            status: Some(self.status.clone()),
            owner: Some(self.definition_id.clone()),
            created_at: self.instance.started_at,
            updated_at: self.written_at,
            body: to_body(&self.instance),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let instance: Instance = body(d, Self::KIND)?;
        Ok(Self {
            patient_id: d.patient_id.clone(),
            definition_id: column(d, Self::KIND, "owner", &d.owner)?,
            status: column(d, Self::KIND, "status", &d.status)?,
            instance,
            written_at: d.updated_at,
        })
    }
}

/// Per model: when governance last evaluated it and what it saw (kind
/// `governance_state`, key = model id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceState {
    #[serde(skip)]
    pub model_id: String,
    #[serde(skip)]
    pub written_at: Instant,
    pub last_evaluated_at: Instant,
    /// Alarms raised by that evaluation.
    pub alarms: u64,
    /// PSI per feature against the training profile.
    pub psi_training: BTreeMap<String, f64>,
    /// PSI per feature against the reference window.
    pub psi_reference: BTreeMap<String, f64>,
}

impl Record for GovernanceState {
    const KIND: &'static str = kinds::GOVERNANCE_STATE;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: self.model_id.clone(),
            patient_id: None,
            status: None,
            owner: Some(self.model_id.clone()),
            created_at: self.last_evaluated_at,
            updated_at: self.written_at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.model_id = d.id.clone();
        r.written_at = d.updated_at;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Instant {
        chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn alert_memory_round_trips_and_a_bare_memory_is_refused() {
        let m = AlertMemoryRecord {
            model_id: "m".into(),
            patient_id: "p".into(),
            updated_at: t(0),
            memory: AlertMemory {
                snooze: Some(bedside_policy::Snooze {
                    until: t(60),
                    reason: bedside_policy::Coding {
                        system: "urn:x".into(),
                        code: "c".into(),
                        display: "C".into(),
                    },
                    by: None,
                }),
                ..Default::default()
            },
            last_shown_probability: Some(0.4),
        };
        let d = m.to_document();
        assert_eq!(d.id, "m|p");
        assert_eq!(d.status.as_deref(), Some("closed"));
        assert_eq!(AlertMemoryRecord::from_document(&d).unwrap(), m);
        // The bare AlertMemory shape is not this record: refused whole,
        // never half-read.
        let mut bare = d.clone();
        bare.body = serde_json::to_value(&m.memory).unwrap();
        assert!(AlertMemoryRecord::from_document(&bare).is_err());
    }

    #[test]
    fn a_document_of_another_kind_is_refused_by_name() {
        let d = Document {
            kind: "card".into(),
            id: "x".into(),
            patient_id: None,
            status: None,
            owner: None,
            created_at: t(0),
            updated_at: t(0),
            body: serde_json::json!({}),
        };
        let e = GovernanceState::from_document(&d).unwrap_err().to_string();
        assert!(e.contains("governance_state") && e.contains("card"), "{e}");
    }

    #[test]
    fn a_record_without_its_indexed_columns_is_refused_by_name() {
        let m = AlertMemoryRecord {
            model_id: "m".into(),
            patient_id: "p".into(),
            updated_at: t(0),
            memory: AlertMemory::default(),
            last_shown_probability: None,
        };
        let mut d = m.to_document();
        d.patient_id = None;
        let e = AlertMemoryRecord::from_document(&d)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "alert_memory m|p has no patient_id");
    }

    #[test]
    fn governance_state_round_trips() {
        let g = GovernanceState {
            model_id: "m".into(),
            written_at: t(5),
            last_evaluated_at: t(0),
            alarms: 2,
            psi_training: [("lactate".to_string(), 0.3)].into(),
            psi_reference: BTreeMap::new(),
        };
        assert_eq!(GovernanceState::from_document(&g.to_document()).unwrap(), g);
    }
}
