//! One patient's page: risk history per model (the `prediction`
//! documents), the factors of the latest risk, open pathway Tasks, and the
//! vitals and labs of the timeline (a read of patient data the caller
//! records).

use crate::{ViewError, Views};
use bedside_record::kinds::{PREDICTION, TASK};
use bedside_record::{LatestRisk, Record as _, TaskRecord};
use bedside_store::DocFilter;
use bedside_ui::charts::SparkPoint;
use bedside_ui::{OpenTask, PatientView, RiskHistory};
use std::collections::BTreeMap;

/// At most this many risk points per model (the newest).
const RISK_POINTS: usize = 96;
/// Task statuses that are over.
const CLOSED: [&str; 4] = ["completed", "cancelled", "failed", "rejected"];

impl Views {
    /// The patient page of `pid` (404 when the Patient is not stored);
    /// `launched_by` is the `fhirUser` of a SMART launch, if any.
    pub async fn ui_patient(
        &self,
        pid: &str,
        launched_by: Option<String>,
    ) -> Result<PatientView, ViewError> {
        let timeline = self.ui_timeline(pid).await?;
        let docs = |kind: &str| DocFilter {
            kind: kind.into(),
            patient_id: Some(pid.to_string()),
            ..Default::default()
        };
        let mut by_model: BTreeMap<String, Vec<LatestRisk>> = BTreeMap::new();
        for d in self.store.list_documents(&docs(PREDICTION)).await? {
            if let Ok(r) = LatestRisk::from_document(&d) {
                by_model
                    .entry(r.prediction.model_id.clone())
                    .or_default()
                    .push(r);
            }
        }
        let mut risks = Vec::new();
        for (model, mut rows) in by_model {
            rows.sort_by_key(|r| r.prediction.at);
            let Some(last) = rows.last() else { continue };
            let p = &last.prediction;
            let skip = rows.len().saturating_sub(RISK_POINTS);
            risks.push(RiskHistory {
                model,
                version: p.model_version.clone(),
                points: rows[skip..]
                    .iter()
                    .map(|r| SparkPoint {
                        at: r.prediction.at,
                        value: r.prediction.probability.get() * 100.0,
                    })
                    .collect(),
                latest_at: p.at,
                latest: p.probability.get(),
                horizon_hours: p.horizon_hours,
                factors: p.top_factors.iter().map(|f| f.text.clone()).collect(),
                factor_note: p.explanation_note().map(str::to_string),
            });
        }
        let mut open_tasks = Vec::new();
        for d in self.store.list_documents(&docs(TASK)).await? {
            let Ok(t) = TaskRecord::from_document(d) else {
                continue;
            };
            let status = t.document().status.clone().unwrap_or_default();
            if CLOSED.contains(&status.as_str()) {
                continue;
            }
            let owner = t.resource()["owner"]
                .get("display")
                .or_else(|| t.resource()["owner"].get("reference"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            open_tasks.push(OpenTask {
                id: t.id().to_string(),
                title: t.code_text().unwrap_or("Task").to_string(),
                status,
                created: t.document().created_at,
                owner,
            });
        }
        open_tasks.sort_by_key(|t| std::cmp::Reverse(t.created));
        Ok(PatientView {
            id: timeline.id,
            display: timeline.display,
            details: timeline.details,
            risks,
            open_tasks,
            channels: timeline.channels,
            launched_by,
        })
    }
}
