//! `bedside evaluate`: replay a cohort with a model, certify the policy's
//! threshold on the calibration split, and report discrimination,
//! calibration and the alert burden of Bedside's policy next to the
//! `naive_15min` and `fixed_threshold` baselines on the held-out split.

use crate::{ApiError, App};
use bedside_models::metrics;
use bedside_policy::evaluate::{evaluate, patient_calibration_set, EvalConfig, EvalRow, Stay};
use bedside_policy::{certify, PolicyConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One scored row kept for evaluation.
#[derive(Debug, Clone)]
pub struct ScoredRow {
    pub row: EvalRow,
    pub label: bool,
}

impl App {
    /// After a replay with `record_features` on and one model loaded:
    /// the evaluation report as JSON. `split` restricts the reported rows
    /// (`test`, `calibration`, `train` or `all`).
    pub async fn evaluation(
        &self,
        policy: &PolicyConfig,
        split: &str,
        eval: EvalConfig,
    ) -> Result<Value, ApiError> {
        let sched = self
            .models
            .first()
            .ok_or_else(|| ApiError::bad_request("evaluate needs a model", None))?;
        let model = sched.model.clone().ok_or_else(|| {
            ApiError::bad_request("evaluate needs a complete model package", None)
        })?;
        let rows = match &self.feature_sink {
            Some(s) => std::mem::take(&mut *s.lock().expect("feature sink")),
            None => Vec::new(),
        };
        let mut by_split: BTreeMap<&'static str, Vec<ScoredRow>> = BTreeMap::new();
        let mut stays: BTreeMap<String, Stay> = BTreeMap::new();
        let mut events_cache = BTreeMap::new();
        for r in rows {
            let Ok(p) = model.predict_values(&r.values, r.at) else {
                continue;
            };
            if !events_cache.contains_key(&r.patient_id) {
                let ev = self.patient_outcome_events(&r.patient_id).await?;
                events_cache.insert(r.patient_id.clone(), ev);
            }
            let events = &events_cache[&r.patient_id];
            let label = sched.spec.outcome.label(events, r.at);
            let outcome_at = sched.spec.outcome.first_event_time(events);
            let stay = stays.entry(r.patient_id.clone()).or_insert(Stay {
                patient: r.patient_id.clone(),
                start: r.encounter_start.unwrap_or(r.at),
                end: r.at,
                outcome_at,
            });
            stay.start = stay.start.min(r.encounter_start.unwrap_or(r.at));
            stay.end = stay.end.max(r.encounter_end.unwrap_or(r.at)).max(r.at);
            let split_name = bedside_models::split(&r.patient_id).as_str();
            by_split.entry(split_name).or_default().push(ScoredRow {
                row: EvalRow {
                    patient: r.patient_id.clone(),
                    at: r.at,
                    probability: p.probability.get(),
                    facts: r.facts.clone(),
                },
                label,
            });
        }
        let pick = |name: &str| -> Vec<ScoredRow> {
            if name == "all" {
                by_split.values().flatten().cloned().collect()
            } else {
                by_split.get(name).cloned().unwrap_or_default()
            }
        };
        let stays_of = |rows: &[ScoredRow]| -> Vec<Stay> {
            let mut ids: Vec<&str> = rows.iter().map(|r| r.row.patient.as_str()).collect();
            ids.sort();
            ids.dedup();
            ids.iter()
                .filter_map(|id| stays.get(*id).cloned())
                .collect()
        };
        // Certify on the calibration split (never on the reported rows).
        let cal = pick("calibration");
        let cal_rows: Vec<EvalRow> = cal.iter().map(|r| r.row.clone()).collect();
        let cal_set =
            patient_calibration_set(&cal_rows, &stays_of(&cal), eval.sensitivity_window_hours);
        let cert = certify(&cal_set, &policy.certification);
        let test = pick(split);
        let test_rows: Vec<EvalRow> = test.iter().map(|r| r.row.clone()).collect();
        let test_stays = stays_of(&test);
        let p: Vec<f64> = test.iter().map(|r| r.row.probability).collect();
        let y: Vec<bool> = test.iter().map(|r| r.label).collect();
        let pids: Vec<&str> = test.iter().map(|r| r.row.patient.as_str()).collect();
        let summary = metrics::evaluate(&p, &y, &pids);
        let mut eval = eval;
        eval.model_id = model.id().to_string();
        let report = evaluate(&test_rows, &test_stays, policy, &cert, &eval)
            .map_err(|e| ApiError::bad_request(e.to_string(), None))?;
        Ok(json!({
            "model": {"id": model.id(), "version": model.version()},
            "split": split,
            "auroc": summary.auroc,
            "auprc": summary.auprc,
            "ece": summary.ece,
            "rows": test.len(),
            "patients": test_stays.len(),
            "positive_rows": y.iter().filter(|b| **b).count(),
            "certification": report.certification,
            "threshold": report.threshold,
            "patient_days": report.patient_days,
            "policies": report.policies,
        }))
    }
}
