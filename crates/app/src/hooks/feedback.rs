//! Feedback on cards: stored per card; an override with a coded reason
//! snoozes the alert and ends the running pathway.

use super::*;

impl App {
    /// `POST /cds-services/{id}/feedback`: store each item against its
    /// card; an override with a coded reason snoozes the patient's alert.
    pub async fn cds_feedback(
        &self,
        service_id: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Result<Value, ApiError> {
        let (sched, _, _) = self.hook_service(service_id)?;
        let path = super::service_path(service_id);
        self.check_token(authorization, &[format!("{path}/feedback"), path], now)
            .await?;
        let fb = parse_feedback(body)
            .map_err(|e| ApiError::bad_request(format!("feedback: {e}"), e.field()))?;
        let mut stored = 0;
        for item in &fb.feedback {
            let card = match self.store.get_document(CARD, &item.card).await? {
                Some(d) => Some(CardRecord::from_document(&d).map_err(|e| {
                    ApiError::internal(format!("feedback: the card it names: {e}"))
                })?),
                None => None,
            };
            let pid = card.as_ref().map(|c| c.patient_id.clone());
            let mut commit = Commit::default();
            let record = FeedbackRecord {
                patient_id: pid.clone(),
                owner: sched.id().to_string(),
                received_at: now,
                service: service_id.to_string(),
                item: item.clone(),
                card_known: card.is_some(),
            };
            commit.documents.push(record.to_document());
            let reason = item
                .override_reason
                .as_ref()
                .and_then(|r| r.reason.as_ref());
            if let (Outcome::Overridden, Some(reason), Some(pid)) = (item.outcome, reason, &pid) {
                let coding = bedside_policy::Coding {
                    system: reason.system.clone(),
                    code: reason.code.clone(),
                    display: reason.display.clone().unwrap_or_default(),
                };
                let by = card.as_ref().and_then(|c| c.user.clone());
                // Snooze and end the running pathway (crate::overrides).
                let done = self
                    .override_alert(sched.id(), pid, coding, by, None, now, &mut commit)
                    .await?;
                if let Some(why) = done.snooze_refused {
                    tracing::info!(patient = %pseudonym(pid), reason = %why, "override stored without a snooze");
                }
            }
            self.record(
                &mut commit,
                crate::audit::feedback_event(service_id, item, card.as_ref()),
            );
            if card.is_none() {
                tracing::info!(
                    service = service_id,
                    "feedback for a card Bedside did not record; stored anyway"
                );
            }
            self.commit(commit).await?;
            stored += 1;
        }
        Ok(json!({ "stored": stored }))
    }
}
