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
    #[serde(default)]
    comment: Option<String>,
}

/// Whether `clinician` may answer the pulse of a model now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PulseStatus {
    /// Offered, not answered since: the question is open.
    Open,
    /// Never offered to this clinician for this model.
    NotOffered,
    /// Answered since it was last offered (the next offer comes after the
    /// period, `MonitoringConfig::pulse`).
    Answered,
}

/// Longest pulse comment kept, in characters.
pub const PULSE_COMMENT_MAX: usize = 1000;

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

    /// `POST /pulse/answers`: `{"model", "clinician", "score": 1-5,
    /// "comment"?}`; accepted only from a clinician the pulse was offered
    /// to, once per offer.
    pub async fn record_pulse_answer(&self, body: &[u8], now: Instant) -> Result<Value, ApiError> {
        let a: AnswerIn = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("pulse answer: {e}"), None))?;
        self.record_pulse_answer_as(
            &crate::audit::Actor::anonymous(),
            &a.model,
            &a.clinician,
            a.score,
            a.comment.as_deref(),
            now,
        )
        .await?;
        Ok(json!({"stored": 1}))
    }

    /// Whether `clinician` may answer the pulse of `model` now (the model
    /// must be served).
    pub async fn pulse_status(
        &self,
        model: &str,
        clinician: &str,
    ) -> Result<PulseStatus, ApiError> {
        self.views.served_model(model)?;
        let Some(offer) = self
            .store
            .get_document_shared(PULSE_OFFER, &format!("{model}|{clinician}"))
            .await?
        else {
            return Ok(PulseStatus::NotOffered);
        };
        let answers = self
            .store
            .list_documents(&bedside_store::DocFilter {
                kind: bedside_record::kinds::PULSE_ANSWER.into(),
                owner: Some(model.to_string()),
                since: Some(offer.created_at),
                ..Default::default()
            })
            .await?;
        let answered = answers
            .iter()
            .filter_map(|d| PulseAnswerRecord::from_document(d).ok())
            .any(|a| a.clinician == clinician);
        Ok(if answered {
            PulseStatus::Answered
        } else {
            PulseStatus::Open
        })
    }

    /// Record `clinician`'s answer (1-5, an optional comment) to the pulse
    /// of `model`, asked by `who`; audited (`pulse-answer`, the score and
    /// model, never the comment). Refused (400) when the pulse was not
    /// offered to them, 409 when they answered it since it was offered.
    pub async fn record_pulse_answer_as(
        &self,
        who: &crate::audit::Actor,
        model: &str,
        clinician: &str,
        score: u8,
        comment: Option<&str>,
        now: Instant,
    ) -> Result<(), ApiError> {
        if !(1..=5).contains(&score) {
            return Err(ApiError::bad_request(
                format!("pulse answer: score must be 1 to 5, got {score}"),
                Some("score"),
            ));
        }
        match self.pulse_status(model, clinician).await? {
            PulseStatus::Open => {}
            PulseStatus::NotOffered => {
                return Err(ApiError::bad_request(
                    "pulse answer: the survey was not offered to this clinician for this model",
                    Some("clinician"),
                ))
            }
            PulseStatus::Answered => {
                return Err(ApiError::new(
                    409,
                    "business-rule",
                    "pulse answer: already answered since it was offered; it is offered again after the period",
                    Some("clinician"),
                ))
            }
        }
        let comment: Option<String> = comment
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().take(PULSE_COMMENT_MAX).collect());
        let mut commit = Commit::default();
        commit.documents.push(
            PulseAnswerRecord {
                model_id: model.to_string(),
                clinician: clinician.to_string(),
                at: now,
                score,
                comment: comment.clone(),
            }
            .to_document(),
        );
        let version = self
            .views
            .served_model(model)
            .map(|m| m.version().to_string())
            .unwrap_or_default();
        let ev = crate::audit::Event::rest("create", "pulse-answer", crate::audit::Action::Create)
            .by(who)
            .entity(
                crate::audit::Entity::model(model, &version)
                    .detail("clinician", clinician)
                    .detail("score", score)
                    .detail("comment", if comment.is_some() { "yes" } else { "no" }),
            );
        self.record(&mut commit, ev);
        self.write(commit).await?;
        Ok(())
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
