//! `bedside evaluate`: replay a cohort with a model, certify the policy
//! (the calibration split's patients replayed through the whole policy,
//! [`bedside_policy::replay`]) or take the package's stored certification
//! (`--certified`, [`CertificationSource::Package`]: no re-fit), and report
//! discrimination, calibration and the alert burden of Bedside's policy
//! next to the `naive_15min` and `fixed_threshold` baselines on the
//! held-out split, with the "promise kept?" table ([`promise_table`]).
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
    evaluate, report, simulate_fixed, AlertEvent, EvalConfig, EvalRow, PolicyReport, Stay,
};
use bedside_policy::replay::{certify_policy, ReplaySet, Trajectory};
use bedside_policy::{Certification, PolicyConfig};
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

/// Where the certification an evaluation checks comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificationSource {
    /// Certified again on this cohort's calibration split.
    CalibrationSplit,
    /// The model package's stored certification under the policy (no
    /// re-fit; a policy other than the one it was made under replays the
    /// package's own calibration patients).
    Package,
}

impl CertificationSource {
    fn name(self) -> &'static str {
        match self {
            CertificationSource::CalibrationSplit => "calibration_split",
            CertificationSource::Package => "package",
        }
    }
}

/// A replayed cohort, scored: rows by split and each patient's stay.
#[derive(Debug, Clone, Default)]
pub struct ScoredCohort {
    pub by_split: BTreeMap<&'static str, Vec<ScoredRow>>,
    pub stays: BTreeMap<String, Stay>,
    /// The model's outcome horizon (an alert is true when the outcome
    /// follows within it).
    pub horizon_hours: f64,
}

impl ScoredCohort {
    /// Rows of one split (`all`: every split).
    pub fn rows(&self, name: &str) -> Vec<ScoredRow> {
        if name == "all" {
            self.by_split.values().flatten().cloned().collect()
        } else {
            self.by_split.get(name).cloned().unwrap_or_default()
        }
    }

    /// The stays of the patients in `rows`.
    pub fn stays_of(&self, rows: &[ScoredRow]) -> Vec<Stay> {
        let mut ids: Vec<&str> = rows.iter().map(|r| r.row.patient.as_str()).collect();
        ids.sort();
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.stays.get(*id).cloned())
            .collect()
    }

    /// The patients of a split as trajectories for the whole-policy
    /// certification: their scores in time order, every event the rows'
    /// facts carry, the stay and the outcome's time.
    pub fn replay_set(&self, split: &str, detection_window_hours: f64) -> ReplaySet {
        let rows = self.rows(split);
        let mut by: BTreeMap<&str, Vec<&ScoredRow>> = BTreeMap::new();
        for r in &rows {
            by.entry(r.row.patient.as_str()).or_default().push(r);
        }
        let trajectories = by
            .into_iter()
            .filter_map(|(id, mut rs)| {
                let stay = self.stays.get(id)?;
                rs.sort_by_key(|r| r.row.at);
                let mut events: BTreeMap<String, Vec<bedside_core::Instant>> = BTreeMap::new();
                for r in &rs {
                    for (k, ts) in &r.row.facts.events {
                        events
                            .entry(k.clone())
                            .or_default()
                            .extend(ts.iter().copied());
                    }
                }
                for ts in events.values_mut() {
                    ts.sort();
                    ts.dedup();
                }
                Some(Trajectory {
                    patient: id.to_string(),
                    start: stay.start,
                    end: stay.end,
                    outcome_at: stay.outcome_at,
                    events,
                    scores: rs.iter().map(|r| (r.row.at, r.row.probability)).collect(),
                })
            })
            .collect();
        ReplaySet {
            horizon_hours: self.horizon_hours,
            detection_window_hours,
            trajectories,
        }
    }
}

impl App {
    /// After a replay with `record_features` on and one model loaded: the
    /// recorded rows, scored and labelled, by split.
    pub async fn scored_cohort(&self) -> Result<ScoredCohort, ApiError> {
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
            let Ok(p) = model.score_values(&r.values, r.at) else {
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
                    patient: r.patient_id,
                    at: r.at,
                    probability: p.probability.get(),
                    // The guard's verdict decides too (out of distribution
                    // never alerts); `facts.out_of_distribution` counts them.
                    facts: bedside_policy::PatientFacts {
                        out_of_distribution: !p.in_distribution,
                        ..r.facts
                    },
                },
                label,
                news2: r.news2,
            });
        }
        Ok(ScoredCohort {
            by_split,
            stays,
            horizon_hours: sched.spec.outcome.horizon_hours,
        })
    }

    /// After a replay with `record_features` on and one model loaded:
    /// the evaluation report as JSON, certified again on the cohort's
    /// calibration split. `split` restricts the reported rows (`test`,
    /// `calibration`, `train` or `all`).
    pub async fn evaluation(
        &self,
        policy: &PolicyConfig,
        split: &str,
        eval: EvalConfig,
        news2_trigger: u32,
    ) -> Result<Value, ApiError> {
        let cohort = self.scored_cohort().await?;
        self.evaluation_of(
            &cohort,
            policy,
            split,
            eval,
            news2_trigger,
            CertificationSource::CalibrationSplit,
        )
    }

    /// The evaluation report of a scored cohort (see [`App::evaluation`]),
    /// checking the certification from `source`.
    pub fn evaluation_of(
        &self,
        cohort: &ScoredCohort,
        policy: &PolicyConfig,
        split: &str,
        eval: EvalConfig,
        news2_trigger: u32,
        source: CertificationSource,
    ) -> Result<Value, ApiError> {
        let sched = self
            .models
            .first()
            .ok_or_else(|| ApiError::bad_request("evaluate needs a model", None))?;
        let model = sched.model.clone().ok_or_else(|| {
            ApiError::bad_request("evaluate needs a complete model package", None)
        })?;
        let pick = |name: &str| cohort.rows(name);
        let stays_of = |rows: &[ScoredRow]| cohort.stays_of(rows);
        let cert = match source {
            // Certify on the calibration split (never on the reported rows).
            CertificationSource::CalibrationSplit => certify_policy(
                &cohort.replay_set("calibration", eval.sensitivity_window_hours),
                policy,
                model.id(),
            ),
            CertificationSource::Package => crate::decisions::certify_model(&model, policy).0,
        };
        let test = pick(split);
        let test_rows: Vec<EvalRow> = test.iter().map(|r| r.row.clone()).collect();
        let test_stays = stays_of(&test);
        let p: Vec<f64> = test.iter().map(|r| r.row.probability).collect();
        let y: Vec<bool> = test.iter().map(|r| r.label).collect();
        let pids: Vec<&str> = test.iter().map(|r| r.row.patient.as_str()).collect();
        let summary = metrics::evaluate(&p, &y, &pids);
        let mut eval = eval;
        eval.model_id = model.id().to_string();
        eval.horizon_hours = cohort.horizon_hours;
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
        let promise = promise_table(&cert, &report.policies, source);
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
            "promise": promise,
        }))
    }
}

/// The "promise kept?" table: what the certification promised next to
/// what this cohort shows, for Bedside's policy, with the baselines.
/// Keys (documented in docs/governance.md): `certification_source`,
/// `certified` (bool), `statement`, `measures` (one object per measure:
/// `measure`, `certified`, `observed`, `interval`, `kept`), `baselines`
/// (`naive_15min`, `fixed_threshold`: alerts per 100 patient-days,
/// per-alert PPV, recognized sensitivity).
pub fn promise_table(
    cert: &Certification,
    policies: &BTreeMap<String, PolicyReport>,
    source: CertificationSource,
) -> Value {
    let bed = policies.get("bedside");
    let c = cert.certified();
    let mut measures = Vec::new();
    if let Some(b) = bed {
        let ppv_kept = match (c, b.alert_ppv) {
            (Some(c), Some(o)) => Some(o >= c.ppv_lower),
            _ => None,
        };
        measures.push(json!({
            "measure": "per_alert_ppv",
            "certified": c.map(|c| json!({"lower_bound": c.ppv_lower, "floor": c.ppv_floor, "point": c.ppv})),
            "observed": b.alert_ppv,
            "interval": b.alert_ppv_interval,
            "kept": ppv_kept,
            "meets_floor": c.zip(b.alert_ppv).map(|(c, o)| o >= c.ppv_floor),
        }));
        let upper = c.map(|c| {
            c.alert_rate_upper_per_100_patient_days
                .unwrap_or(c.alert_budget_per_100_patient_days)
        });
        measures.push(json!({
            "measure": "interruptive_alerts_per_100_patient_days",
            "certified": c.map(|c| json!({"upper_bound": upper, "budget": c.alert_budget_per_100_patient_days, "point": c.alert_rate_per_100_patient_days})),
            "observed": b.alerts_per_100_patient_days,
            "interval": b.alerts_per_100_patient_days_interval,
            "kept": upper.map(|u| b.alerts_per_100_patient_days <= u),
        }));
        measures.push(json!({
            "measure": "sensitivity",
            "certified": c.map(|c| json!({"point": c.sensitivity, "interval": c.sensitivity_interval})),
            "observed": b.sensitivity,
            "kept": c.and_then(|c| c.sensitivity_interval).zip(b.sensitivity).map(|((lo, _), o)| o >= lo),
        }));
        let naive = policies.get("naive_15min");
        measures.push(json!({
            "measure": "recognized_sensitivity",
            "observed": b.recognized_sensitivity,
            "naive_15min": naive.and_then(|n| n.recognized_sensitivity),
            "difference_points": b.recognized_sensitivity.zip(naive.and_then(|n| n.recognized_sensitivity)).map(|(a, n)| 100.0 * (a - n)),
        }));
        measures.push(json!({
            "measure": "median_lead_time_before_outcome_hours",
            "observed": b.median_lead_time_before_hours,
            "patients": b.detected_before_outcome,
        }));
        measures.push(json!({
            "measure": "median_time_after_outcome_hours",
            "observed": b.median_time_after_hours,
            "patients": b.detected_after_outcome,
        }));
        measures.push(json!({
            "measure": "alerts_per_clinician_per_12h_shift",
            "observed": b.alerts_per_clinician_shift,
            "max": b.max_alerts_per_clinician_shift,
        }));
        if let Some(n) = naive {
            measures.push(json!({
                "measure": "fewer_interruptive_alerts_than_naive_15min",
                "observed": (n.alerts > 0).then(|| 1.0 - b.alerts as f64 / n.alerts as f64),
            }));
        }
    }
    let baselines: BTreeMap<&str, Value> = ["naive_15min", "fixed_threshold"]
        .into_iter()
        .filter_map(|k| {
            policies.get(k).map(|r| {
                (
                    k,
                    json!({
                        "alerts_per_100_patient_days": r.alerts_per_100_patient_days,
                        "per_alert_ppv": r.alert_ppv,
                        "per_alert_ppv_interval": r.alert_ppv_interval,
                        "sensitivity": r.sensitivity,
                        "recognized_sensitivity": r.recognized_sensitivity,
                        "median_lead_time_before_outcome_hours": r.median_lead_time_before_hours,
                        "alerts_per_clinician_per_12h_shift": r.alerts_per_clinician_shift,
                    }),
                )
            })
        })
        .collect();
    json!({
        "certification_source": source.name(),
        "certified": c.is_some(),
        "statement": cert.statement(),
        "measures": measures,
        "baselines": baselines,
    })
}
