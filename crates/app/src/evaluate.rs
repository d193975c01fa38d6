//! `bedside evaluate`: replay a cohort with a model, certify the policy's
//! threshold on the calibration split, and report discrimination,
//! calibration and the alert burden of Bedside's policy next to the
//! `naive_15min` and `fixed_threshold` baselines on the held-out split.
//!
//! It also reports NEWS2 ([`bedside_models::news2`], scored at every row
//! the model scored; a row with no charted parameter in the window scores
//! 0) on the same rows: its discrimination as a score, and its alerts at
//! `NEWS2 >= trigger` next to the model's at the same alert rate (the
//! model's threshold is the probability of its k-th highest row, k = the
//! rows NEWS2 alerts on). Both are counted like `fixed_threshold`: one
//! alert per row at or above the threshold. When the policy certifies no
//! threshold, that matched threshold is also the baselines' threshold
//! (`baseline_threshold_source = "news2_alert_rate"`).

use crate::{ApiError, App};
use bedside_models::metrics;
use bedside_policy::evaluate::{
    evaluate, patient_calibration_set, report, simulate_fixed, AlertEvent, EvalConfig, EvalRow,
    Stay,
};
use bedside_policy::{certify, PolicyConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One scored row kept for evaluation.
#[derive(Debug, Clone)]
pub struct ScoredRow {
    pub row: EvalRow,
    pub label: bool,
    /// NEWS2 at the row (`None` when no parameter was charted in its window).
    pub news2: Option<u32>,
}

/// The usual NEWS2 trigger for an urgent ward response (RCP 2017).
pub const NEWS2_TRIGGER: u32 = 5;

/// Row-level counts of one rule: alerts, PPV and sensitivity over rows.
fn row_counts(rows: &[ScoredRow], flag: impl Fn(&ScoredRow) -> bool) -> Value {
    let alerts = rows.iter().filter(|r| flag(r)).count();
    let true_alerts = rows.iter().filter(|r| flag(r) && r.label).count();
    let positives = rows.iter().filter(|r| r.label).count();
    json!({
        "alert_rows": alerts,
        "row_ppv": (alerts > 0).then(|| true_alerts as f64 / alerts as f64),
        "row_sensitivity": (positives > 0).then(|| true_alerts as f64 / positives as f64),
    })
}

/// The model's threshold that flags as many of `rows` as `k` (the
/// probability of the k-th highest row; ties may flag a few more).
fn threshold_at_rate(rows: &[ScoredRow], k: usize) -> Option<f64> {
    let mut p: Vec<f64> = rows.iter().map(|r| r.row.probability).collect();
    p.sort_by(|a, b| b.total_cmp(a));
    k.checked_sub(1).and_then(|i| p.get(i).copied())
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
        news2_trigger: u32,
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
                    // The guard's verdict decides too (out of distribution
                    // never alerts); `facts.out_of_distribution` counts them.
                    facts: bedside_policy::PatientFacts {
                        out_of_distribution: !p.in_distribution,
                        ..r.facts.clone()
                    },
                },
                label,
                news2: r.news2,
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
        // NEWS2 on the same rows, and the model at NEWS2's alert rate.
        let news2_flag = |r: &ScoredRow| r.news2.unwrap_or(0).min(20) >= news2_trigger;
        let k = test.iter().filter(|r| news2_flag(r)).count();
        let matched = threshold_at_rate(&test, k);
        let mut baseline_source = "policy_certification";
        if cert.certified().is_none() && eval.baseline_threshold.is_none() {
            eval.baseline_threshold = matched;
            baseline_source = "news2_alert_rate";
        } else if cert.certified().is_none() {
            baseline_source = "given";
        }
        let news2_scores: Vec<f64> = test
            .iter()
            .map(|r| f64::from(r.news2.unwrap_or(0)))
            .collect();
        // NEWS2's alerts are `fixed_threshold`'s rule (routing included) on
        // the same rows with NEWS2 / 20 (its maximum) as the score.
        let news2_rows: Vec<EvalRow> = test
            .iter()
            .map(|r| EvalRow {
                probability: f64::from(r.news2.unwrap_or(0).min(20)) / 20.0,
                ..r.row.clone()
            })
            .collect();
        let news2_alerts = simulate_fixed(&news2_rows, policy, f64::from(news2_trigger) / 20.0);
        let model_alerts = match matched {
            Some(t) => simulate_fixed(&test_rows, policy, t),
            None => Vec::new(),
        };
        let policy_report = |alerts: &[AlertEvent]| {
            serde_json::to_value(report(alerts, &test_rows, &test_stays, policy, &eval))
                .unwrap_or(Value::Null)
        };
        let model_flag = |r: &ScoredRow| matched.is_some_and(|t| r.row.probability >= t);
        let mut news2 = json!({
            "trigger": news2_trigger,
            "rows_without_any_parameter": test.iter().filter(|r| r.news2.is_none()).count(),
            "auroc": metrics::auroc(&news2_scores, &y),
            "auprc": metrics::average_precision(&news2_scores, &y),
            "ece": Value::Null,
            "alerts": policy_report(&news2_alerts),
        });
        news2["rows"] = row_counts(&test, news2_flag);
        let mut at_rate = json!({
            "threshold": matched,
            "alerts": policy_report(&model_alerts),
        });
        at_rate["rows"] = row_counts(&test, model_flag);
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
            "baseline_threshold_source": baseline_source,
            "patient_days": report.patient_days,
            "policies": report.policies,
            "news2": news2,
            "model_at_news2_alert_rate": at_rate,
        }))
    }
}
