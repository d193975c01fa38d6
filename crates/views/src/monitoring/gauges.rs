//! Counts and gauges for Prometheus, read cheaply from the record at
//! scrape time: alerts, overrides and cards shown per model (document
//! counts), drift PSI per feature from the latest governance evaluation
//! (`governance_state`), open governance alarms, and the job queue depth.

use crate::{ViewError, Views};
use bedside_record::kinds::DECISION;
use bedside_record::kinds::GOVERNANCE_STATE;
use bedside_record::kinds::{CARD, FEEDBACK};
use bedside_record::{GovernanceState, Record as _};
use bedside_store::DocFilter;
use serde::{Deserialize, Serialize};

/// One model's counters and gauges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelGauges {
    pub model_id: String,
    /// `decision` documents (alerts and escalations).
    pub alerts: u64,
    /// `feedback` documents with status `overridden`.
    pub overrides: u64,
    /// `card` documents with status `shown`.
    pub cards_shown: u64,
    /// `(feature, reference, psi)` from the latest governance evaluation;
    /// reference is `training` or `window`.
    pub drift_psi: Vec<(String, String, f64)>,
    /// Alarms raised at the latest governance evaluation.
    pub alarms: u64,
}

/// Everything `/metrics` reports from the record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gauges {
    pub models: Vec<ModelGauges>,
    /// Jobs not yet done (pathway timers).
    pub queue_depth: u64,
}

impl Views {
    /// Gauges for `/metrics` (see the module doc).
    pub async fn gauges(&self) -> Result<Gauges, ViewError> {
        let mut out = Gauges {
            queue_depth: self.store.pending_jobs().await?,
            ..Default::default()
        };
        for m in &self.models {
            let id = m.id().to_string();
            let count = |kind: &str, status: Option<&str>| DocFilter {
                kind: kind.into(),
                owner: Some(id.clone()),
                status: status.map(str::to_string),
                ..Default::default()
            };
            let mut g = ModelGauges {
                model_id: id.clone(),
                alerts: self.store.count_documents(&count(DECISION, None)).await?,
                overrides: self
                    .store
                    .count_documents(&count(FEEDBACK, Some("overridden")))
                    .await?,
                cards_shown: self
                    .store
                    .count_documents(&count(CARD, Some("shown")))
                    .await?,
                ..Default::default()
            };
            let state = self.store.get_document(GOVERNANCE_STATE, &id).await?;
            if let Some(s) = state.and_then(|d| GovernanceState::from_document(&d).ok()) {
                g.alarms = s.alarms;
                for (reference, psi) in
                    [("training", &s.psi_training), ("window", &s.psi_reference)]
                {
                    for (name, v) in psi {
                        g.drift_psi.push((name.clone(), reference.into(), *v));
                    }
                }
            }
            out.models.push(g);
        }
        Ok(out)
    }
}
