//! Starting a pathway by its start message, outside the scoring path: an
//! integration (an imaging-AI result, a governance alarm, an operator) or a
//! test names the message, the patient and a key for the triggering event;
//! the engine's effects and the instance are written in one commit.

use crate::pathway_rt::PATHWAY_INSTANCE;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_fhir::{CodeableConcept, Reference, RiskPrediction};
use bedside_models::Prediction;
use bedside_pathways::{Engine, StartTrigger};
use bedside_store::Document;
use serde_json::{Map, Value};

/// Document kind of the RiskAssessments Bedside writes for escalations.
pub const RISK_ASSESSMENT: &str = bedside_record::kinds::RISK_ASSESSMENT;

/// A RiskAssessment with its id, ready to store.
pub(crate) struct BuiltRisk {
    pub id: String,
    at: Instant,
    body: Value,
}

impl BuiltRisk {
    pub(crate) fn document(self, patient_id: &str, model_id: &str) -> Document {
        Document {
            kind: RISK_ASSESSMENT.into(),
            id: self.id,
            patient_id: Some(patient_id.to_string()),
            status: Some("final".into()),
            owner: Some(model_id.to_string()),
            created_at: self.at,
            updated_at: chrono::Utc::now(),
            body: self.body,
        }
    }
}

/// The FHIR RiskAssessment of the prediction that started instance
/// `instance_id` (id derived from the instance id, so a replayed start
/// writes the same resource). Factor names only, never values, in the
/// rationale.
pub(crate) fn risk_assessment(instance_id: &str, patient_id: &str, p: &Prediction) -> BuiltRisk {
    use sha2::{Digest, Sha256};
    let id = format!(
        "ra-{}",
        &hex::encode(Sha256::digest(instance_id.as_bytes()))[..30]
    );
    let factors: Vec<&str> = p.top_factors.iter().map(|f| f.label.as_str()).collect();
    let ra = bedside_fhir::RiskAssessment {
        id: Some(id.clone()),
        status: "final".into(),
        method: Some(CodeableConcept {
            coding: vec![],
            text: Some(format!("{} {}", p.model_id, p.model_version)),
        }),
        subject: Reference {
            reference: Some(format!("Patient/{patient_id}")),
            ..Default::default()
        },
        occurrence_date_time: Some(bedside_fhir::DateTime::from_instant(p.at)),
        performer: Some(Reference {
            reference: Some(crate::pathway_rt::REQUESTER.into()),
            ..Default::default()
        }),
        // `probability[x]` is a choice: the probability itself; its
        // interval goes into the rationale.
        prediction: vec![RiskPrediction {
            probability_decimal: Some(p.probability.get()),
            rationale: rationale(p, &factors),
            ..Default::default()
        }],
        ..Default::default()
    };
    BuiltRisk {
        id,
        at: p.at,
        body: ra.to_json(),
    }
}

/// The interval (when the model gives one) and the top factors' names.
fn rationale(p: &Prediction, factors: &[&str]) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(i) = &p.interval {
        let level = i
            .level
            .map(|l| format!("{:.0}% ", l * 100.0))
            .unwrap_or_default();
        parts.push(format!("{level}interval {:.3}-{:.3}", i.lo, i.hi));
    }
    if !factors.is_empty() {
        parts.push(format!("top factors: {}", factors.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

impl App {
    /// Start the loaded pathway whose start event catches `message`, for
    /// `patient_id`, with start variables `vars`, at `now`. The instance id
    /// is `{message}|{patient_id}|{key}`: starting again with the same key
    /// changes nothing (the triggering event was seen already). Returns the
    /// instance id.
    pub async fn start_pathway(
        &self,
        message: &str,
        patient_id: &str,
        key: &str,
        vars: Map<String, Value>,
        now: Instant,
    ) -> Result<String, ApiError> {
        let mut commit = bedside_store::Commit::default();
        let instance_id = self
            .start_pathway_in(message, patient_id, key, vars, now, &mut commit)
            .await?;
        if commit.is_empty() {
            return Ok(instance_id);
        }
        self.write(commit).await?;
        Ok(instance_id)
    }

    /// [`App::start_pathway`] into the caller's commit (e.g. ingest's, so
    /// the triggering resource and its pathway are one transaction).
    pub(crate) async fn start_pathway_in(
        &self,
        message: &str,
        patient_id: &str,
        key: &str,
        vars: Map<String, Value>,
        now: Instant,
        commit: &mut bedside_store::Commit,
    ) -> Result<String, ApiError> {
        let def = self.pathways.started_by(message).ok_or_else(|| {
            ApiError::bad_request(
                format!("no loaded pathway starts on message {message:?}"),
                Some("message"),
            )
        })?;
        bedside_core::PatientRef::parse(patient_id)
            .map_err(|e| ApiError::bad_request(e.to_string(), Some("patient")))?;
        let instance_id = format!("{message}|{patient_id}|{key}");
        if self
            .store
            .get_document(PATHWAY_INSTANCE, &instance_id)
            .await?
            .is_some()
        {
            return Ok(instance_id);
        }
        let (mut inst, effects) = Engine::start(
            &def,
            &instance_id,
            &StartTrigger::Message(message.to_string()),
            vars,
            now,
        )
        .map_err(|e| ApiError::bad_request(e.to_string(), Some("variables")))?;
        self.apply_effects(
            &def,
            &Some(patient_id.to_string()),
            &mut inst,
            effects,
            now,
            commit,
        )
        .await?;
        tracing::info!(pathway = %def.id, "pathway started by message");
        Ok(instance_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_risk_assessment_carries_one_probability_choice_and_its_interval_in_words() {
        let p: Prediction = serde_json::from_value(serde_json::json!({
            "model_id": "m", "model_version": "1", "at": "2024-03-01T10:00:00Z", "margin": 0.0,
            "probability": 0.42,
            "interval": {"lo": 0.3, "hi": 0.55, "level": 0.9, "method": "conformal"},
            "horizon_hours": 12.0, "base_margin": null, "base_probability": null,
            "top_factors": [], "explanation_method": "none", "in_distribution": true,
            "ood_reasons": [], "ood_distance": null, "features": [], "missing_count": 0
        }))
        .unwrap();
        let ra = risk_assessment("i1", "p1", &p).body;
        let pred = &ra["prediction"][0];
        assert_eq!(pred["probabilityDecimal"], 0.42);
        assert!(pred.get("probabilityRange").is_none(), "{pred}");
        assert_eq!(pred["rationale"], "90% interval 0.300-0.550");
    }
}
