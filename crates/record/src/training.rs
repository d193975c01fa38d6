//! Training before go-live: a clinician's attestation that they completed
//! a use case's training module (kind `training_attestation`, key
//! `{use case}|{clinician}`: the newest attestation; owner = use case).

use crate::records::{body, column, to_body, Record};
use crate::{kinds, RecordError};
use bedside_core::Instant;
use bedside_store::Document;
use serde::{Deserialize, Serialize};

/// Who attested, when, for which model version, in which role and unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingAttestationRecord {
    #[serde(skip)]
    pub use_case: String,
    pub clinician: String,
    pub at: Instant,
    pub model_id: Option<String>,
    pub model_version: Option<String>,
    /// The role they work in ("nurse"), as they gave it.
    pub role: String,
    /// Their unit ("ward-3"), as they gave it.
    pub unit: String,
}

impl Record for TrainingAttestationRecord {
    const KIND: &'static str = kinds::TRAINING_ATTESTATION;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: format!("{}|{}", self.use_case, self.clinician),
            patient_id: None,
            status: None,
            owner: Some(self.use_case.clone()),
            created_at: self.at,
            updated_at: self.at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.use_case = column(d, Self::KIND, "owner", &d.owner)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestations_round_trip_under_use_case_and_clinician() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = TrainingAttestationRecord {
            use_case: "sepsis-screening".into(),
            clinician: "Practitioner/n-1".into(),
            at: t,
            model_id: Some("sepsis-demo".into()),
            model_version: Some("0.1.0".into()),
            role: "nurse".into(),
            unit: "ward-3".into(),
        };
        let d = a.to_document();
        assert_eq!(d.id, "sepsis-screening|Practitioner/n-1");
        assert_eq!(TrainingAttestationRecord::from_document(&d).unwrap(), a);
    }
}
