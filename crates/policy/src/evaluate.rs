//! Evaluation harness: replay time-ordered scoring rows through the real
//! [`decide`] (`bedside`) and two baselines on the same model and
//! threshold, and report alert burden and patient-level performance.
//!
//! Policies:
//! - `bedside`: [`decide`] at every scoring row (no hook), memory carried;
//!   an alert is a decision with `new_alert` (counted whatever the stage,
//!   so a silent-mode replay shows the burden the live policy would make).
//! - `naive_15min`: re-alert every 15 minutes of wall time while the risk
//!   (carried forward from the last scoring until the next one, or the end
//!   of the stay) is `>= threshold`; the clock restarts when risk drops.
//! - `fixed_threshold`: an alert at every scoring row `>= threshold`.
//!
//! Metrics (per policy):
//! - `alerts_per_100_patient_days` = 100 * alerts / sum of stay lengths in days;
//! - `patients_alerted`: patients with at least one alert;
//! - `sensitivity`: outcome-positive patients whose first alert is at or
//!   before `outcome_at + sensitivity_window_hours`, over outcome-positive
//!   patients;
//! - `ppv`: those detected patients over patients alerted (an alert long
//!   after the outcome does not count as a true alert);
//! - `recognized_sensitivity`: outcome-positive patients detected by an
//!   alert *or* whose pathway actions (`pathway_actions.lookback_hours`
//!   kinds: antibiotics, cultures, lactate ordered ...) were already under
//!   way at or before `outcome_at + sensitivity_window_hours`, over
//!   outcome-positive patients: a patient the team was already treating is
//!   not missed, even though the policy, by its suppression rule, did not
//!   alert. The same rule for every policy;
//! - `median_lead_time_hours`: median of `outcome_at - first alert` over
//!   detected patients; split into `median_lead_time_before_hours`
//!   (detected patients first alerted before the outcome's recorded time:
//!   how long before) and `median_time_after_hours` (first alerted at or
//!   after it, within the window: how long after), with the counts;
//! - per alert: `true_alerts` (alerts followed by the outcome, the rule of
//!   [`crate::replay::alert_is_true`] with `horizon_hours` and
//!   `sensitivity_window_hours`), `alert_ppv` = true alerts / alerts, and
//!   `alert_ppv_interval` / `alerts_per_100_patient_days_interval`:
//!   two-sided 95% intervals from the patient bootstrap of
//!   [`crate::clustered`] widened by the exact (Clopper-Pearson, Poisson)
//!   ones, as in the certification;
//! - `alerts_per_clinician_shift`: alerts over clinician-shifts on duty. A
//!   clinician-shift is (recipient from [`route`], 12 h shift starting at
//!   `shift_anchor_hour` UTC) with at least one scoring row or alert.

use crate::certify::Certification;
use crate::config::PolicyConfig;
use crate::decide::{decide, route};
use crate::facts::{AlertMemory, ModelRole, PatientFacts, PolicyInput, Recipient};
use bedside_core::{Instant, Probability};
use chrono::{Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scoring of one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    pub patient: String,
    pub at: Instant,
    pub probability: f64,
    pub facts: PatientFacts,
}

/// A patient's stay and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stay {
    pub patient: String,
    pub start: Instant,
    pub end: Instant,
    /// Outcome onset (or recorded) time; `None` for outcome-negative.
    pub outcome_at: Option<Instant>,
}

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// An alert up to this many hours after the outcome still detects it.
    pub sensitivity_window_hours: f64,
    pub shift_hours: f64,
    /// Shifts start at this hour UTC (and every `shift_hours` after).
    pub shift_anchor_hour: u32,
    pub naive_interval_minutes: i64,
    /// Threshold for the baselines when the policy is not certified.
    pub baseline_threshold: Option<f64>,
    pub model_id: String,
    /// An alert is true when the outcome follows within this many hours
    /// (the model's outcome horizon).
    #[serde(default)]
    pub horizon_hours: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            sensitivity_window_hours: 0.0,
            shift_hours: 12.0,
            shift_anchor_hour: 7,
            naive_interval_minutes: 15,
            baseline_threshold: None,
            model_id: "model".into(),
            horizon_hours: 24.0,
        }
    }
}

/// One simulated alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub patient: String,
    pub at: Instant,
    /// Recipient key: a Practitioner reference or `role:{role}@{unit}`.
    pub recipient: Option<String>,
}

/// Metrics of one policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub alerts: u64,
    pub alerts_per_100_patient_days: f64,
    pub patients_alerted: u64,
    pub outcome_positive_patients: u64,
    pub patients_detected: u64,
    pub sensitivity: Option<f64>,
    /// Detected by an alert or already recognized by the team (see the module doc).
    pub patients_recognized: u64,
    pub recognized_sensitivity: Option<f64>,
    pub ppv: Option<f64>,
    pub median_lead_time_hours: Option<f64>,
    /// Detected patients first alerted before the outcome's recorded time.
    pub detected_before_outcome: u64,
    pub median_lead_time_before_hours: Option<f64>,
    /// Detected patients first alerted at or after it (within the window).
    pub detected_after_outcome: u64,
    pub median_time_after_hours: Option<f64>,
    pub alerts_per_clinician_shift: Option<f64>,
    pub max_alerts_per_clinician_shift: u64,
    /// Alerts followed by the outcome (see the module doc).
    pub true_alerts: u64,
    pub alert_ppv: Option<f64>,
    pub alert_ppv_interval: Option<(f64, f64)>,
    pub alerts_per_100_patient_days_interval: Option<(f64, f64)>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub threshold: Option<f64>,
    pub certification: Certification,
    pub patients: u64,
    pub patient_days: f64,
    /// `bedside`, `naive_15min`, `fixed_threshold`.
    pub policies: BTreeMap<String, PolicyReport>,
}

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("scoring row {index}: patient {patient_pseudonym} has no stay")]
    NoStay {
        index: usize,
        patient_pseudonym: String,
    },
    #[error("scoring row {index}: probability must be in [0, 1], got {value}")]
    Probability { index: usize, value: f64 },
    #[error("stay of patient {0}: end is before start")]
    StayOrder(String),
    #[error("no threshold: the policy is not certified and no baseline_threshold is set")]
    NoThreshold,
    #[error("shift_hours must be > 0 and naive_interval_minutes > 0")]
    Settings,
}

fn pseudonym(id: &str) -> String {
    bedside_core::PatientRef::parse(id)
        .map(|p| p.pseudonym())
        .unwrap_or_else(|_| "<invalid id>".into())
}

fn recipient_key(r: &[Recipient]) -> Option<String> {
    r.first().map(|r| match r {
        Recipient::Practitioner { reference, .. } => reference.clone(),
        Recipient::Role { role, unit } => format!("role:{role}@{}", unit.as_deref().unwrap_or("-")),
    })
}

/// Rows grouped by patient, each group time-ordered.
fn by_patient(rows: &[EvalRow]) -> BTreeMap<&str, Vec<&EvalRow>> {
    let mut m: BTreeMap<&str, Vec<&EvalRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.patient.as_str()).or_default().push(r);
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r.at);
    }
    m
}

/// Alerts of the real policy.
pub fn simulate_bedside(
    rows: &[EvalRow],
    cfg: &PolicyConfig,
    cert: &Certification,
    model_id: &str,
) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for (patient, rs) in by_patient(rows) {
        let mut mem = AlertMemory::default();
        for r in rs {
            let input = PolicyInput {
                model_id: model_id.to_string(),
                role: ModelRole::Primary,
                probability: Probability::clamped(r.probability),
                at: r.at,
                hook: None,
                facts: r.facts.clone(),
            };
            let d = decide(cfg, cert, &mem, &input);
            if d.new_alert {
                let recipient =
                    recipient_key(&d.route_to).or_else(|| recipient_key(&route(cfg, &r.facts)));
                out.push(AlertEvent {
                    patient: patient.to_string(),
                    at: r.at,
                    recipient,
                });
            }
            mem = d.memory;
        }
    }
    out
}

/// Alerts of `fixed_threshold`.
pub fn simulate_fixed(rows: &[EvalRow], cfg: &PolicyConfig, threshold: f64) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for (patient, rs) in by_patient(rows) {
        for r in rs.into_iter().filter(|r| r.probability >= threshold) {
            out.push(AlertEvent {
                patient: patient.to_string(),
                at: r.at,
                recipient: recipient_key(&route(cfg, &r.facts)),
            });
        }
    }
    out
}

/// Alerts of `naive_15min`: 15-minute ticks between scorings, last risk
/// carried forward to the next scoring or to `stay_end`.
pub fn simulate_naive(
    rows: &[EvalRow],
    cfg: &PolicyConfig,
    threshold: f64,
    stay_end: &BTreeMap<String, Instant>,
    interval: Duration,
) -> Vec<AlertEvent> {
    let mut out = Vec::new();
    for (patient, rs) in by_patient(rows) {
        let mut next_due: Option<Instant> = None;
        for (i, r) in rs.iter().enumerate() {
            let seg_end = rs
                .get(i + 1)
                .map(|n| n.at)
                .or_else(|| stay_end.get(patient).copied())
                .unwrap_or(r.at);
            if r.probability < threshold {
                next_due = None;
                continue;
            }
            let recipient = recipient_key(&route(cfg, &r.facts));
            let mut t = next_due.map_or(r.at, |d| d.max(r.at));
            // The scoring itself always counts when it is the first above threshold.
            if t >= seg_end && next_due.is_none() {
                t = r.at;
                out.push(AlertEvent {
                    patient: patient.to_string(),
                    at: t,
                    recipient: recipient.clone(),
                });
                next_due = Some(t + interval);
                continue;
            }
            while t < seg_end {
                out.push(AlertEvent {
                    patient: patient.to_string(),
                    at: t,
                    recipient: recipient.clone(),
                });
                next_due = Some(t + interval);
                t += interval;
            }
        }
    }
    out
}

fn shift_of(t: Instant, eval: &EvalConfig) -> i64 {
    let anchor = Utc
        .timestamp_opt(eval.shift_anchor_hour as i64 * 3600, 0)
        .single()
        .unwrap_or_default();
    let ms = (t - anchor).num_milliseconds() as f64;
    (ms / (eval.shift_hours * 3_600_000.0)).floor() as i64
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// (recipient, shift) pairs with at least one scoring row.
fn on_duty_shifts(rows: &[EvalRow], cfg: &PolicyConfig, eval: &EvalConfig) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = rows
        .iter()
        .filter_map(|r| recipient_key(&route(cfg, &r.facts)).map(|k| (k, shift_of(r.at, eval))))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Metrics of one list of alerts.
pub fn report(
    alerts: &[AlertEvent],
    rows: &[EvalRow],
    stays: &[Stay],
    cfg: &PolicyConfig,
    eval: &EvalConfig,
) -> PolicyReport {
    report_with_duty(
        alerts,
        stays,
        eval,
        &on_duty_shifts(rows, cfg, eval),
        &first_pathway_action(rows, cfg),
    )
}

/// Per patient, the earliest time one of the policy's pathway actions
/// (its `pathway_actions` event kinds) is known in the rows' facts.
fn first_pathway_action(rows: &[EvalRow], cfg: &PolicyConfig) -> BTreeMap<String, Instant> {
    let mut out: BTreeMap<String, Instant> = BTreeMap::new();
    for r in rows {
        let times = cfg
            .pathway_actions
            .lookback_hours
            .keys()
            .filter_map(|k| r.facts.events.get(k))
            .flatten();
        for t in times {
            let e = out.entry(r.patient.clone()).or_insert(*t);
            *e = (*e).min(*t);
        }
    }
    out
}

fn report_with_duty(
    alerts: &[AlertEvent],
    stays: &[Stay],
    eval: &EvalConfig,
    duty: &[(String, i64)],
    acted: &BTreeMap<String, Instant>,
) -> PolicyReport {
    let patient_days: f64 = stays
        .iter()
        .map(|s| (s.end - s.start).num_milliseconds() as f64 / 86_400_000.0)
        .sum();
    let mut first: BTreeMap<&str, Instant> = BTreeMap::new();
    for a in alerts {
        let e = first.entry(a.patient.as_str()).or_insert(a.at);
        *e = (*e).min(a.at);
    }
    let window =
        Duration::milliseconds((eval.sensitivity_window_hours * 3_600_000.0).round() as i64);
    let positives: Vec<&Stay> = stays.iter().filter(|s| s.outcome_at.is_some()).collect();
    let mut leads = Vec::new();
    for s in &positives {
        if let (Some(o), Some(f)) = (s.outcome_at, first.get(s.patient.as_str())) {
            if *f <= o + window {
                leads.push((o - *f).num_milliseconds() as f64 / 3_600_000.0);
            }
        }
    }
    let detected = leads.len() as u64;
    let recognized = positives
        .iter()
        .filter(|s| {
            let Some(o) = s.outcome_at else { return false };
            let by_alert = first
                .get(s.patient.as_str())
                .is_some_and(|f| *f <= o + window);
            let by_team = acted
                .get(&s.patient)
                .is_some_and(|t| *t >= s.start && *t <= o + window);
            by_alert || by_team
        })
        .count() as u64;
    let mut on_duty: BTreeMap<(String, i64), u64> = duty.iter().map(|k| (k.clone(), 0)).collect();
    for a in alerts {
        if let Some(k) = &a.recipient {
            *on_duty
                .entry((k.clone(), shift_of(a.at, eval)))
                .or_insert(0) += 1;
        }
    }
    let routed: u64 = on_duty.values().sum();
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let (before, after): (Vec<f64>, Vec<f64>) = leads.iter().partition(|l| **l > 0.0);
    let after: Vec<f64> = after.into_iter().map(|l| -l).collect();
    let per_alert = per_alert_figures(alerts, stays, eval);
    PolicyReport {
        alerts: alerts.len() as u64,
        alerts_per_100_patient_days: if patient_days > 0.0 {
            100.0 * alerts.len() as f64 / patient_days
        } else {
            0.0
        },
        patients_alerted: first.len() as u64,
        outcome_positive_patients: positives.len() as u64,
        patients_detected: detected,
        sensitivity: ratio(detected, positives.len() as u64),
        patients_recognized: recognized,
        recognized_sensitivity: ratio(recognized, positives.len() as u64),
        ppv: ratio(detected, first.len() as u64),
        median_lead_time_hours: median(leads),
        detected_before_outcome: before.len() as u64,
        median_lead_time_before_hours: median(before),
        detected_after_outcome: after.len() as u64,
        median_time_after_hours: median(after),
        alerts_per_clinician_shift: ratio(routed, on_duty.len() as u64),
        max_alerts_per_clinician_shift: on_duty.values().copied().max().unwrap_or(0),
        true_alerts: per_alert.true_alerts,
        alert_ppv: ratio(per_alert.true_alerts, alerts.len() as u64),
        alert_ppv_interval: per_alert.ppv_interval,
        alerts_per_100_patient_days_interval: per_alert.rate_interval,
    }
}

struct PerAlert {
    true_alerts: u64,
    ppv_interval: Option<(f64, f64)>,
    rate_interval: Option<(f64, f64)>,
}

/// True alerts and the two-sided 95% intervals (module doc).
fn per_alert_figures(alerts: &[AlertEvent], stays: &[Stay], eval: &EvalConfig) -> PerAlert {
    use crate::clustered::{
        cluster_bootstrap, poisson_upper, Cluster, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED,
    };
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let outcome: BTreeMap<&str, Option<Instant>> = stays
        .iter()
        .map(|s| (s.patient.as_str(), s.outcome_at))
        .collect();
    for a in alerts {
        let o = outcome.get(a.patient.as_str()).copied().flatten();
        let t = crate::replay::alert_is_true(
            a.at,
            o,
            eval.horizon_hours,
            eval.sensitivity_window_hours,
        );
        let e = by.entry(a.patient.as_str()).or_default();
        e.0 += t as u64;
        e.1 += 1;
    }
    let clusters: Vec<Cluster> = stays
        .iter()
        .map(|s| {
            let (k, m) = by.get(s.patient.as_str()).copied().unwrap_or((0, 0));
            Cluster {
                true_alerts: k,
                alerts: m,
                days: (s.end - s.start).num_milliseconds() as f64 / 86_400_000.0,
            }
        })
        .collect();
    let k: u64 = clusters.iter().map(|c| c.true_alerts).sum();
    let m = alerts.len() as u64;
    let days: f64 = clusters.iter().map(|c| c.days).sum();
    let b = cluster_bootstrap(&clusters, 0.975, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED);
    let cp = crate::binomial::clopper_pearson_interval(k, m, 0.95).ok();
    let ppv_interval = cp.map(|(lo, hi)| {
        (
            b.ppv_lower.map_or(lo, |x| x.min(lo)),
            b.ppv_upper.map_or(hi, |x| x.max(hi)),
        )
    });
    let rate_interval = (days > 0.0).then(|| {
        let hi = poisson_upper(m, 0.975).map_or(f64::INFINITY, |u| 100.0 * u / days);
        let lo = if m == 0 {
            0.0
        } else {
            100.0 * poisson_lower(m, 0.975) / days
        };
        (
            b.rate_lower.map_or(lo, |x| x.min(lo)),
            b.rate_upper.map_or(hi, |x| x.max(hi)),
        )
    });
    PerAlert {
        true_alerts: k,
        ppv_interval,
        rate_interval,
    }
}

/// Exact one-sided lower bound on a Poisson mean after `m >= 1` events:
/// `Gamma(m, 1).ppf(1 - confidence)` (bisection on the regularized lower
/// incomplete gamma).
fn poisson_lower(m: u64, confidence: f64) -> f64 {
    use statrs::function::gamma::gamma_lr;
    let a = m as f64;
    let q = 1.0 - confidence;
    let (mut lo, mut hi) = (0.0f64, a + 10.0 * a.sqrt() + 50.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_lr(a, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// A patient-level calibration set from scoring rows: one row per stay
/// with the patient's peak probability before the outcome (positives:
/// scorings strictly before `outcome_at`, or up to `outcome_at +
/// detection_window_hours` when that window is positive, the same rule
/// [`evaluate`] uses for sensitivity) or over the stay (negatives),
/// labelled by the outcome; patient-days are the stays' lengths. Stays
/// without a usable scoring are skipped. A threshold certified on it
/// promises patient-level PPV ("alerted patients develop the outcome"),
/// which is what [`evaluate`] reports.
pub fn patient_calibration_set(
    rows: &[EvalRow],
    stays: &[Stay],
    detection_window_hours: f64,
) -> crate::certify::CalibrationSet {
    let groups = by_patient(rows);
    let window = Duration::milliseconds((detection_window_hours * 3_600_000.0).round() as i64);
    let mut out = Vec::new();
    let mut days = 0.0;
    for s in stays {
        days += (s.end - s.start).num_milliseconds() as f64 / 86_400_000.0;
        let peak = groups
            .get(s.patient.as_str())
            .into_iter()
            .flatten()
            .filter(|r| {
                s.outcome_at
                    .is_none_or(|o| r.at < o || r.at <= o + window && window > Duration::zero())
            })
            .map(|r| r.probability)
            .filter(|p| p.is_finite())
            .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
        if let Some(score) = peak {
            out.push(crate::certify::CalibrationRow {
                score,
                label: s.outcome_at.is_some(),
            });
        }
    }
    crate::certify::CalibrationSet {
        rows: out,
        patient_days: days,
    }
}

/// Run all three policies.
pub fn evaluate(
    rows: &[EvalRow],
    stays: &[Stay],
    cfg: &PolicyConfig,
    cert: &Certification,
    eval: &EvalConfig,
) -> Result<EvaluationReport, EvalError> {
    if !(eval.shift_hours.is_finite() && eval.shift_hours > 0.0) || eval.naive_interval_minutes <= 0
    {
        return Err(EvalError::Settings);
    }
    let mut stay_end = BTreeMap::new();
    for s in stays {
        if s.end < s.start {
            return Err(EvalError::StayOrder(pseudonym(&s.patient)));
        }
        stay_end.insert(s.patient.clone(), s.end);
    }
    for (index, r) in rows.iter().enumerate() {
        if !stay_end.contains_key(&r.patient) {
            return Err(EvalError::NoStay {
                index,
                patient_pseudonym: pseudonym(&r.patient),
            });
        }
        if !(0.0..=1.0).contains(&r.probability) {
            return Err(EvalError::Probability {
                index,
                value: r.probability,
            });
        }
    }
    let threshold = cert
        .certified()
        .map(|c| c.threshold)
        .or(eval.baseline_threshold);
    let t = threshold.ok_or(EvalError::NoThreshold)?;
    let interval = Duration::minutes(eval.naive_interval_minutes);
    let patient_days = stays
        .iter()
        .map(|s| (s.end - s.start).num_milliseconds() as f64 / 86_400_000.0)
        .sum();
    let mut policies = BTreeMap::new();
    let duty = on_duty_shifts(rows, cfg, eval);
    let acted = first_pathway_action(rows, cfg);
    let runs = [
        ("bedside", simulate_bedside(rows, cfg, cert, &eval.model_id)),
        (
            "naive_15min",
            simulate_naive(rows, cfg, t, &stay_end, interval),
        ),
        ("fixed_threshold", simulate_fixed(rows, cfg, t)),
    ];
    for (name, alerts) in runs {
        policies.insert(
            name.to_string(),
            report_with_duty(&alerts, stays, eval, &duty, &acted),
        );
    }
    Ok(EvaluationReport {
        threshold,
        certification: cert.clone(),
        patients: stays.len() as u64,
        patient_days,
        policies,
    })
}
