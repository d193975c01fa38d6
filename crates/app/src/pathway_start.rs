//! Starting a pathway by its start message, outside the scoring path: an
//! integration (an imaging-AI result, a governance alarm, an operator) or a
//! test names the message, the patient and a key for the triggering event;
//! the engine's effects and the instance are written in one commit.

use crate::pathway_rt::PATHWAY_INSTANCE;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_pathways::{Engine, StartTrigger};
use serde_json::{Map, Value};

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
        let mut commit = bedside_store::Commit::default();
        self.apply_effects(
            &def,
            &Some(patient_id.to_string()),
            &mut inst,
            effects,
            now,
            &mut commit,
        )
        .await?;
        self.queue_writeback(&mut commit);
        self.store.commit(commit).await?;
        tracing::info!(pathway = %def.id, "pathway started by message");
        Ok(instance_id)
    }
}
