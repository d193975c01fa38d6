//! What happens after ingest, inside the same commit: touched patients are
//! scored on the model's cadence and the predictions stored (each one, and
//! the latest per patient for the CDS Hooks fast path); an optional feature
//! sink records the exact rows scored (`bedside features`).

use crate::scoring::latest_id;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_ingest::Prepared;
use bedside_record::{LatestRisk, Record as _};
use serde::{Deserialize, Serialize};

/// Document kinds written here.
pub const PREDICTION: &str = bedside_record::kinds::PREDICTION;
pub const LATEST_RISK: &str = bedside_record::kinds::LATEST_RISK;

/// One row the online path scored: exported by `bedside features`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    pub model_id: String,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    pub at: Instant,
    pub values: Vec<Option<f64>>,
    /// Policy facts at scoring time (for `bedside evaluate`).
    pub facts: bedside_policy::PatientFacts,
    pub encounter_start: Option<Instant>,
    pub encounter_end: Option<Instant>,
    /// NEWS2 at scoring time (the `bedside evaluate` baseline).
    pub news2: Option<u32>,
}

impl App {
    /// Score the touched patients and add the results to the commit.
    /// Returns how many predictions were made.
    pub(crate) async fn after_ingest(&self, prepared: &mut Prepared) -> Result<u64, ApiError> {
        let mut n = 0;
        for sched in &self.models {
            for t in &prepared.touched {
                // An offline run stores no risk: its schedule is its own
                // replay's, not one read back per patient and step.
                if self.feature_sink.is_none() && !sched.knows(&t.patient_id) {
                    let id = latest_id(sched.id(), &t.patient_id);
                    if let Some(doc) = self.store.get_document(LATEST_RISK, &id).await? {
                        if let Ok(r) = LatestRisk::from_document(&doc) {
                            sched.remember(&t.patient_id, r.prediction.at);
                        }
                    }
                }
                let at = t.newest_event;
                if !sched.due(&t.state, &t.changed_channels, at) {
                    continue;
                }
                if let Some(sink) = &self.feature_sink {
                    let values = sched.features.compute(&t.state, at);
                    let enc = t.state.encounter_at(at);
                    sink.lock().expect("feature sink").push(FeatureRow {
                        model_id: sched.id().to_string(),
                        patient_id: t.patient_id.clone(),
                        encounter_id: enc.map(|e| e.id.clone()),
                        at,
                        values,
                        facts: bedside_policy::facts_from_state(&t.state, at),
                        encounter_start: enc.and_then(|e| e.start),
                        encounter_end: enc.and_then(|e| e.end),
                        news2: bedside_models::news2::score(&t.state, at).map(|n| n.total),
                    });
                    // Recording features is an offline run (export,
                    // evaluate, certify): the rows are scored afterwards,
                    // so nothing is scored, stored or decided here.
                    continue;
                }
                let Some(p) = sched.predict(&t.state, at) else {
                    continue;
                };
                n += 1;
                let risk = LatestRisk {
                    patient_id: t.patient_id.clone(),
                    prediction: p,
                    written_at: chrono::Utc::now(),
                };
                prepared.commit.documents.push(risk.history_document());
                prepared.commit.documents.push(risk.to_document());
                let p = risk.prediction;
                self.on_prediction(&t.state, &p, &mut prepared.commit)
                    .await?;
            }
        }
        // Resources matching a use case's resource rule start its pathway
        // in this same commit (crate::resource).
        self.resource_triggers(&mut prepared.commit, chrono::Utc::now())
            .await?;
        Ok(n)
    }
}
