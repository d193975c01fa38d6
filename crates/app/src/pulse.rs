//! The trust pulse: a one-question survey ("How much do you trust this
//! model's alerts?", 1-5) offered as a link in a sampled share of shown
//! cards and in the worklist, at most once per clinician per configured
//! period (`MonitoringConfig::pulse`; the sampling rule is
//! `bedside_monitor::usage::pulse_offer`). Offers and answers are stored;
//! the monitoring snapshot trends the answers (`trust_pulse`).
//!
//! Document kinds: `pulse_offer` (id `{model}|{clinician}`, created_at =
//! when last offered) and `pulse_answer` (body = `PulseAnswer`, owner =
//! model id).

use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_monitor::usage::pulse_offer;
use bedside_record::{PulseAnswerRecord, PulseOfferRecord, Record as _};
use bedside_store::Commit;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const PULSE_OFFER: &str = bedside_record::kinds::PULSE_OFFER;
/// The question asked.
pub const PULSE_QUESTION: &str =
    "How much do you trust this model's alerts? (1 = not at all, 5 = completely)";

/// A survey link for one clinician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseOffer {
    pub label: String,
    pub url: String,
}

/// `POST /pulse/answers` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerIn {
    model: String,
    clinician: String,
    score: u8,
}

/// Everything but the RFC 3986 unreserved characters is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A query-string value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

impl App {
    /// Offer the pulse to `clinician` for `item` (a card or worklist id)
    /// at `now` if the sampling rule says so and the clinician was not
    /// offered it within the period; the offer is added to `commit`.
    pub async fn pulse_offer_into(
        &self,
        model_id: &str,
        clinician: &str,
        item: &str,
        now: Instant,
        commit: &mut Commit,
    ) -> Result<Option<PulseOffer>, ApiError> {
        let cfg = self.views.monitoring_config().pulse;
        let id = format!("{model_id}|{clinician}");
        let last = self
            .store
            .get_document_shared(PULSE_OFFER, &id)
            .await?
            .map(|d| d.created_at);
        if !pulse_offer(&cfg, clinician, item, now, last) {
            return Ok(None);
        }
        commit.documents.push(
            PulseOfferRecord {
                model_id: model_id.into(),
                offered_at: now,
                written_at: chrono::Utc::now(),
                clinician: clinician.into(),
                item: item.into(),
            }
            .to_document(),
        );
        let base = self.config.public_url.trim_end_matches('/');
        Ok(Some(PulseOffer {
            label: "One question: how much do you trust these alerts?".into(),
            url: format!(
                "{base}/pulse?model={}&clinician={}",
                enc(model_id),
                enc(clinician)
            ),
        }))
    }

    /// The worklist's pulse link for a clinician, if offered now (the
    /// offer is stored).
    pub async fn worklist_pulse(
        &self,
        model_id: &str,
        clinician: &str,
        now: Instant,
    ) -> Result<Option<PulseOffer>, ApiError> {
        let mut commit = Commit::default();
        let item = format!("worklist|{}", now.timestamp() / 86_400);
        let offer = self
            .pulse_offer_into(model_id, clinician, &item, now, &mut commit)
            .await?;
        if !commit.is_empty() {
            self.write(commit).await?;
        }
        Ok(offer)
    }

    /// `POST /pulse/answers`: `{"model", "clinician", "score": 1-5}`;
    /// accepted only from a clinician the pulse was offered to.
    pub async fn record_pulse_answer(&self, body: &[u8], now: Instant) -> Result<Value, ApiError> {
        let a: AnswerIn = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("pulse answer: {e}"), None))?;
        if !(1..=5).contains(&a.score) {
            return Err(ApiError::bad_request(
                format!("pulse answer: score must be 1 to 5, got {}", a.score),
                Some("score"),
            ));
        }
        self.views.served_model(&a.model)?;
        let offer = format!("{}|{}", a.model, a.clinician);
        if self
            .store
            .get_document_shared(PULSE_OFFER, &offer)
            .await?
            .is_none()
        {
            return Err(ApiError::bad_request(
                "pulse answer: the survey was not offered to this clinician for this model",
                Some("clinician"),
            ));
        }
        let mut commit = Commit::default();
        commit.documents.push(
            PulseAnswerRecord {
                model_id: a.model.clone(),
                clinician: a.clinician.clone(),
                at: now,
                score: a.score,
            }
            .to_document(),
        );
        self.write(commit).await?;
        Ok(json!({"stored": 1}))
    }
}

#[cfg(test)]
mod enc_tests {
    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(super::enc("Practitioner/doc 1"), "Practitioner%2Fdoc%201");
        assert_eq!(super::enc("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::enc("é&="), "%C3%A9%26%3D");
    }
}
