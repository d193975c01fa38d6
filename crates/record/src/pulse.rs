//! The trust pulse: an offer of the one-question survey to a clinician
//! (kind `pulse_offer`, key `{model}|{clinician}`: the newest offer) and an
//! answer (kind `pulse_answer`, key `{model}|{clinician}|{unix ms}`).

use crate::records::{body, column, to_body, Record};
use crate::{kinds, RecordError};
use bedside_core::Instant;
use bedside_store::Document;
use serde::{Deserialize, Serialize};

/// The survey offered to a clinician for a model, on an item (a card uuid
/// or a worklist day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseOfferRecord {
    #[serde(skip)]
    pub model_id: String,
    #[serde(skip)]
    pub offered_at: Instant,
    #[serde(skip)]
    pub written_at: Instant,
    pub clinician: String,
    pub item: String,
}

impl Record for PulseOfferRecord {
    const KIND: &'static str = kinds::PULSE_OFFER;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: format!("{}|{}", self.model_id, self.clinician),
            patient_id: None,
            status: None,
            owner: Some(self.model_id.clone()),
            created_at: self.offered_at,
            updated_at: self.written_at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.model_id = column(d, Self::KIND, "owner", &d.owner)?;
        r.offered_at = d.created_at;
        r.written_at = d.updated_at;
        Ok(r)
    }
}

/// A clinician's answer: agreement with "I trust this model's alerts", 1-5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseAnswerRecord {
    #[serde(skip)]
    pub model_id: String,
    pub clinician: String,
    pub at: Instant,
    pub score: u8,
    /// What the clinician added in words, if anything (free text:
    /// governance reads it; never logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Record for PulseAnswerRecord {
    const KIND: &'static str = kinds::PULSE_ANSWER;
    fn to_document(&self) -> Document {
        Document {
            kind: Self::KIND.into(),
            id: format!(
                "{}|{}|{}",
                self.model_id,
                self.clinician,
                self.at.timestamp_millis()
            ),
            patient_id: None,
            status: None,
            owner: Some(self.model_id.clone()),
            created_at: self.at,
            updated_at: self.at,
            body: to_body(self),
        }
    }
    fn from_document(d: &Document) -> Result<Self, RecordError> {
        let mut r: Self = body(d, Self::KIND)?;
        r.model_id = column(d, Self::KIND, "owner", &d.owner)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_and_answers_round_trip_under_their_keys() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let offer = PulseOfferRecord {
            model_id: "m".into(),
            offered_at: t,
            written_at: t,
            clinician: "Practitioner/d".into(),
            item: "card-1".into(),
        };
        let d = offer.to_document();
        assert_eq!(d.id, "m|Practitioner/d");
        assert_eq!(PulseOfferRecord::from_document(&d).unwrap(), offer);
        let answer = PulseAnswerRecord {
            model_id: "m".into(),
            clinician: "Practitioner/d".into(),
            at: t,
            score: 4,
            comment: None,
        };
        let d = answer.to_document();
        assert_eq!(d.id, "m|Practitioner/d|1700000000000");
        assert_eq!(PulseAnswerRecord::from_document(&d).unwrap(), answer);
        assert!(PulseAnswerRecord::from_document(&offer.to_document()).is_err());
    }
}
