//! Offline feature export: the rows the online path scored, labelled by the
//! model's outcome definition (`bedside features`).

use crate::pipeline::FeatureRow;
use crate::{ApiError, App};
use bedside_models::OutcomeEvent;
use std::collections::BTreeMap;

/// A scored row with its outcome label and development split.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledRow {
    pub row: FeatureRow,
    pub label: bool,
    pub split: &'static str,
}

pub use bedside_views::conditions::outcome_events;

impl App {
    /// Outcome events of a patient, from the stored Conditions and, when
    /// a served model's outcome names an Encounter element (discharge
    /// disposition, `classHistory`), the stored Encounters.
    pub async fn patient_outcome_events(
        &self,
        patient_id: &str,
    ) -> Result<Vec<OutcomeEvent>, ApiError> {
        // Features-only specs count too (`bedside features` before a
        // scorer exists).
        let encounters = self
            .models
            .iter()
            .any(|m| m.spec.outcome.reads_encounters());
        Ok(self
            .views
            .patient_outcome_events_with(patient_id, encounters)
            .await?)
    }

    /// Take the recorded feature rows and label them with each model's
    /// outcome definition, using everything ingested (so later diagnoses
    /// label earlier rows).
    pub async fn labeled_feature_rows(&self) -> Result<Vec<LabeledRow>, ApiError> {
        let rows = match &self.feature_sink {
            Some(s) => std::mem::take(&mut *s.lock().expect("feature sink")),
            None => Vec::new(),
        };
        let mut events: BTreeMap<String, Vec<OutcomeEvent>> = BTreeMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if !events.contains_key(&row.patient_id) {
                let e = self.patient_outcome_events(&row.patient_id).await?;
                events.insert(row.patient_id.clone(), e);
            }
            let Some(sched) = self.models.iter().find(|m| m.id() == row.model_id) else {
                continue;
            };
            let label = sched.spec.outcome.label(&events[&row.patient_id], row.at);
            let split = bedside_models::split(&row.patient_id).as_str();
            out.push(LabeledRow { row, label, split });
        }
        Ok(out)
    }
}
