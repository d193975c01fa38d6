//! Feedback on cards: checked against the card it names, stored per card;
//! an override with a coded reason snoozes the alert and ends the running
//! pathway.

use super::*;
use bedside_cds::FeedbackItem;

impl App {
    /// `POST /cds-services/{id}/feedback`: every item is checked against
    /// the card Bedside recorded (a card this service issued, suggestions
    /// it carried, an override reason it offered) before anything is
    /// stored, so a body with one wrong item is a 400 naming it and writes
    /// nothing. Each item is then stored against its card; an override
    /// with a coded reason snoozes the patient's alert.
    pub async fn cds_feedback(
        &self,
        service_id: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Result<Value, ApiError> {
        let (sched, _, hook) = self.hook_service(service_id)?;
        // A card records the model's service (`{model}-{hook}`); a use
        // case's service id (`{use case}-{hook}`) answers for the same one.
        let issued_by = format!("{}-{hook}", sched.id());
        let path = super::service_path(service_id);
        self.check_token(authorization, &[format!("{path}/feedback"), path], now)
            .await?;
        let fb = parse_feedback(body)
            .map_err(|e| ApiError::bad_request(format!("feedback: {e}"), e.field()))?;
        let mut checked = Vec::with_capacity(fb.feedback.len());
        for (i, item) in fb.feedback.iter().enumerate() {
            let card = self.card_of_feedback(&issued_by, i, item).await?;
            checked.push((item, card));
        }
        let mut stored = 0;
        for (item, card) in checked {
            let pid = card.patient_id.clone();
            let mut commit = Commit::default();
            let record = FeedbackRecord {
                patient_id: Some(pid.clone()),
                owner: sched.id().to_string(),
                received_at: now,
                service: service_id.to_string(),
                item: item.clone(),
                card_known: true,
            };
            commit.documents.push(record.to_document());
            let reason = item
                .override_reason
                .as_ref()
                .and_then(|r| r.reason.as_ref());
            if let (Outcome::Overridden, Some(reason)) = (item.outcome, reason) {
                let coding = bedside_policy::Coding {
                    system: reason.system.clone(),
                    code: reason.code.clone(),
                    display: reason.display.clone().unwrap_or_default(),
                };
                // Snooze and end the running pathway (crate::overrides).
                let done = self
                    .override_alert(
                        sched.id(),
                        &pid,
                        coding,
                        card.user.clone(),
                        None,
                        now,
                        &mut commit,
                    )
                    .await?;
                if let Some(why) = done.snooze_refused {
                    tracing::info!(patient = %pseudonym(&pid), reason = %why, "override stored without a snooze");
                }
            }
            self.record(
                &mut commit,
                crate::audit::feedback_event(service_id, item, Some(&card)),
            );
            self.commit(commit).await?;
            stored += 1;
        }
        Ok(json!({ "stored": stored }))
    }

    /// The card feedback item `i` is about, or the 400 naming what the
    /// card did not carry.
    async fn card_of_feedback(
        &self,
        service_id: &str,
        i: usize,
        item: &FeedbackItem,
    ) -> Result<CardRecord, ApiError> {
        let at = |field: &str| format!("feedback[{i}].{field}");
        let refuse = |field: &str, why: String| {
            let path = at(field);
            ApiError::bad_request(format!("feedback: `{path}` {why}"), Some(&path))
        };
        let not_issued = || {
            refuse(
                "card",
                format!(
                    "names card {:?}, which this service did not issue",
                    item.card
                ),
            )
        };
        let doc = self
            .store
            .get_document(CARD, &item.card)
            .await?
            .ok_or_else(not_issued)?;
        let card = CardRecord::from_document(&doc)
            .map_err(|e| ApiError::internal(format!("feedback: the card it names: {e}")))?;
        if card.service != service_id {
            return Err(not_issued());
        }
        if let Some(offered) = &card.suggestions {
            for (j, s) in item.accepted_suggestions.iter().enumerate() {
                if !offered.contains(&s.id) {
                    return Err(refuse(
                        &format!("acceptedSuggestions[{j}].id"),
                        format!(
                            "names suggestion {:?}, which card {:?} did not carry",
                            s.id, item.card
                        ),
                    ));
                }
            }
        }
        let reason = item
            .override_reason
            .as_ref()
            .and_then(|r| r.reason.as_ref());
        if let (Some(offered), Some(r)) = (&card.override_reasons, reason) {
            let key = format!("{}|{}", r.system, r.code);
            if !offered.contains(&key) {
                return Err(refuse(
                    "overrideReason.reason",
                    format!(
                        "is {key:?}, which card {:?} did not offer as an override reason",
                        item.card
                    ),
                ));
            }
        }
        Ok(card)
    }
}
