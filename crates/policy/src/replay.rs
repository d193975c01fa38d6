//! Certification of what is shown: the calibration patients replayed
//! through the whole decision process.
//!
//! Each calibration patient is a [`Trajectory`]: its stay, the outcome's
//! time, the events the policy reads (actions under way) and the scores in
//! time order. At a candidate threshold `t` every patient is replayed
//! through the real [`decide`] with the policy in force (first alert,
//! re-alerts on a rise or after the quiet period, suppression by actions
//! under way, comfort care, the open alert closing), memory carried from
//! one scoring to the next. Every decision with `new_alert` is one
//! interruptive alert (a new alert makes the interruptive card pending;
//! tiers only decide where and to whom it is shown). Clinicians' snoozes
//! are not simulated: a snooze only removes alerts, so the certified rate
//! is an upper bound with respect to them.
//!
//! An alert at time `a` is *true* when the patient's outcome is recorded
//! at `o` with `a - detection_window <= o <= a + horizon` ("followed by the
//! outcome within the horizon", an alert shortly after the recorded time
//! still counting as detecting it). For the alerts at `t`:
//!
//! - per-alert PPV `K / N`, lower bound the lower of the patient bootstrap
//!   and the exact Clopper-Pearson bound ([`crate::clustered`]);
//! - interruptive alerts per 100 patient-days `100 N / D`, upper bound the
//!   higher of the patient bootstrap and the exact Poisson bound;
//! - per-patient sensitivity: outcome patients whose first alert is at or
//!   before `o + detection_window`, over outcome patients.
//!
//! Candidates are the patients' peak scores (the lowest threshold that
//! alerts a given set of patients is the lowest of their peaks, and it
//! makes the fewest alerts for that set), at most [`MAX_CANDIDATES`]
//! (evenly spaced ranks when there are more). The certified threshold is
//! the lowest candidate whose PPV lower bound is at least the floor and
//! whose rate upper bound is at most the budget. When none is, the result
//! is [`Certification::NotCertified`], saying which constraint failed,
//! and the policy alerts on nothing.

use crate::binomial::{clopper_pearson_interval, clopper_pearson_lower};
use crate::certify::{Certification, Certified, METHOD_WHOLE_POLICY};
use crate::clustered::{
    cluster_bootstrap, poisson_upper, Cluster, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED,
};
use crate::config::PolicyConfig;
use crate::decide::decide;
use crate::facts::{AlertMemory, ModelRole, PatientFacts, PolicyInput};
use bedside_core::{Instant, Probability};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most thresholds tried.
pub const MAX_CANDIDATES: usize = 200;

/// One calibration patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub patient: String,
    pub start: Instant,
    pub end: Instant,
    /// When the outcome is recorded; `None` for outcome-negative patients.
    pub outcome_at: Option<Instant>,
    /// Event kind -> times (what `pathway_actions` reads).
    #[serde(default)]
    pub events: BTreeMap<String, Vec<Instant>>,
    /// `(time, calibrated probability)`, in time order.
    pub scores: Vec<(Instant, f64)>,
}

impl Trajectory {
    fn days(&self) -> f64 {
        ((self.end - self.start).num_milliseconds() as f64 / 86_400_000.0).max(0.0)
    }
    fn peak(&self) -> Option<f64> {
        self.scores
            .iter()
            .map(|s| s.1)
            .filter(|p| p.is_finite())
            .reduce(f64::max)
    }
}

/// The calibration patients and the outcome's timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaySet {
    /// An alert is true when the outcome follows within this many hours.
    pub horizon_hours: f64,
    /// An alert up to this many hours after the outcome's recorded time
    /// still detects it.
    pub detection_window_hours: f64,
    pub trajectories: Vec<Trajectory>,
}

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

/// Alert times of one patient under `policy` at threshold `threshold`,
/// through the real [`decide`].
pub fn replay_alerts(
    policy: &PolicyConfig,
    threshold: f64,
    model_id: &str,
    traj: &Trajectory,
) -> Vec<Instant> {
    let cert = Certification::Certified(Certified {
        threshold,
        ..Certified::default()
    });
    let mut input = PolicyInput {
        model_id: model_id.to_string(),
        role: ModelRole::Primary,
        probability: Probability::clamped(0.0),
        at: traj.start,
        hook: None,
        facts: PatientFacts {
            events: traj.events.clone(),
            ..PatientFacts::default()
        },
    };
    let mut mem = AlertMemory::default();
    let mut out = Vec::new();
    for &(at, p) in &traj.scores {
        input.at = at;
        input.probability = Probability::clamped(p);
        let d = decide(policy, &cert, &mem, &input);
        if d.new_alert {
            out.push(at);
        }
        mem = d.memory;
    }
    out
}

/// Whether an alert at `at` is followed by the outcome (module doc).
pub fn alert_is_true(
    at: Instant,
    outcome_at: Option<Instant>,
    horizon_hours: f64,
    window_hours: f64,
) -> bool {
    outcome_at.is_some_and(|o| at - hours(window_hours) <= o && o <= at + hours(horizon_hours))
}

/// What the alerts at one threshold give.
#[derive(Debug, Clone, PartialEq)]
struct AtThreshold {
    clusters: Vec<Cluster>,
    alerts: u64,
    true_alerts: u64,
    patients_alerted: u64,
    positives: u64,
    detected: u64,
}

fn at_threshold(set: &ReplaySet, policy: &PolicyConfig, t: f64, model_id: &str) -> AtThreshold {
    let window = hours(set.detection_window_hours);
    let mut r = AtThreshold {
        clusters: Vec::with_capacity(set.trajectories.len()),
        alerts: 0,
        true_alerts: 0,
        patients_alerted: 0,
        positives: 0,
        detected: 0,
    };
    for tr in &set.trajectories {
        // A patient whose scores never reach t never alerts.
        let alerts = if tr.peak().is_some_and(|p| p >= t) {
            replay_alerts(policy, t, model_id, tr)
        } else {
            Vec::new()
        };
        let k = alerts
            .iter()
            .filter(|a| {
                alert_is_true(
                    **a,
                    tr.outcome_at,
                    set.horizon_hours,
                    set.detection_window_hours,
                )
            })
            .count() as u64;
        if let Some(o) = tr.outcome_at {
            r.positives += 1;
            if alerts.first().is_some_and(|a| *a <= o + window) {
                r.detected += 1;
            }
        }
        r.alerts += alerts.len() as u64;
        r.true_alerts += k;
        r.patients_alerted += (!alerts.is_empty()) as u64;
        r.clusters.push(Cluster {
            true_alerts: k,
            alerts: alerts.len() as u64,
            days: tr.days(),
        });
    }
    r
}

/// The certifiable figures at one threshold, bounds included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdFigures {
    pub threshold: f64,
    pub alerts: u64,
    pub true_alerts: u64,
    pub ppv: Option<f64>,
    pub ppv_lower: Option<f64>,
    pub alerts_per_100_patient_days: f64,
    pub alerts_per_100_patient_days_upper: f64,
    pub patients_alerted: u64,
    pub sensitivity: Option<f64>,
}

fn figures(x: &AtThreshold, t: f64, confidence: f64, days: f64) -> ThresholdFigures {
    let boot = cluster_bootstrap(
        &x.clusters,
        confidence,
        BOOTSTRAP_REPLICATES,
        BOOTSTRAP_SEED,
    );
    let cp = clopper_pearson_lower(x.true_alerts, x.alerts, confidence).ok();
    let ppv_lower = match (boot.ppv_lower, cp) {
        (Some(b), Some(c)) => Some(b.min(c)),
        (b, c) => b.or(c),
    };
    let pois = poisson_upper(x.alerts, confidence).map_or(f64::INFINITY, |u| 100.0 * u / days);
    let upper = boot.rate_upper.map_or(pois, |b| b.max(pois));
    ThresholdFigures {
        threshold: t,
        alerts: x.alerts,
        true_alerts: x.true_alerts,
        ppv: (x.alerts > 0).then(|| x.true_alerts as f64 / x.alerts as f64),
        ppv_lower,
        alerts_per_100_patient_days: 100.0 * x.alerts as f64 / days,
        alerts_per_100_patient_days_upper: upper,
        patients_alerted: x.patients_alerted,
        sensitivity: (x.positives > 0).then(|| x.detected as f64 / x.positives as f64),
    }
}

fn candidates(set: &ReplaySet) -> Vec<f64> {
    let mut peaks: Vec<f64> = set
        .trajectories
        .iter()
        .filter_map(Trajectory::peak)
        .collect();
    peaks.sort_by(|a, b| b.total_cmp(a));
    peaks.dedup();
    if peaks.len() <= MAX_CANDIDATES {
        return peaks;
    }
    let n = peaks.len();
    let mut out: Vec<f64> = (0..MAX_CANDIDATES)
        .map(|i| peaks[i * (n - 1) / (MAX_CANDIDATES - 1)])
        .collect();
    out.dedup();
    out
}

/// The figures at `threshold` (for reports and sweeps), `None` when the
/// set has no patient-days.
pub fn figures_at(
    set: &ReplaySet,
    policy: &PolicyConfig,
    threshold: f64,
    model_id: &str,
) -> Option<ThresholdFigures> {
    let days: f64 = set.trajectories.iter().map(Trajectory::days).sum();
    (days > 0.0).then(|| {
        let x = at_threshold(set, policy, threshold, model_id);
        figures(&x, threshold, policy.certification.confidence, days)
    })
}

/// Certify `policy` on `set` (see the module doc). Never panics: bad input
/// is `NotCertified` with the reason.
pub fn certify_policy(set: &ReplaySet, policy: &PolicyConfig, model_id: &str) -> Certification {
    let cfg = &policy.certification;
    let not = |reason: String| Certification::NotCertified { reason };
    if !(cfg.ppv_floor > 0.0 && cfg.ppv_floor < 1.0) {
        return not(format!(
            "ppv_floor must be in (0, 1), got {}",
            cfg.ppv_floor
        ));
    }
    if !(cfg.confidence > 0.0 && cfg.confidence < 1.0) {
        return not(format!(
            "confidence must be in (0, 1), got {}",
            cfg.confidence
        ));
    }
    let budget = cfg.alert_budget_per_100_patient_days;
    if !(budget.is_finite() && budget > 0.0) {
        return not(format!("alert budget must be > 0, got {budget}"));
    }
    if !(set.horizon_hours.is_finite()
        && set.horizon_hours >= 0.0
        && set.detection_window_hours.is_finite()
        && set.detection_window_hours >= 0.0)
    {
        return not("horizon_hours and detection_window_hours must be >= 0".into());
    }
    if set.trajectories.is_empty() {
        return not("the calibration set has no patients".into());
    }
    for (i, t) in set.trajectories.iter().enumerate() {
        if t.end < t.start {
            return not(format!(
                "calibration patient {i}: stay ends before it starts"
            ));
        }
        if let Some(j) = t.scores.iter().position(|s| !(0.0..=1.0).contains(&s.1)) {
            return not(format!(
                "calibration patient {i}, score {j}: probability must be in [0, 1]"
            ));
        }
        if t.scores.windows(2).any(|w| w[1].0 < w[0].0) {
            return not(format!(
                "calibration patient {i}: scores are not in time order"
            ));
        }
    }
    let days: f64 = set.trajectories.iter().map(Trajectory::days).sum();
    if days.is_nan() || days <= 0.0 {
        return not("the calibration patients cover no patient-days".into());
    }
    let positives = set
        .trajectories
        .iter()
        .filter(|t| t.outcome_at.is_some())
        .count() as u64;
    let mut best: Option<ThresholdFigures> = None;
    // The candidate closest to certifying, for the refusal message.
    let mut closest: Option<ThresholdFigures> = None;
    for t in candidates(set) {
        let x = at_threshold(set, policy, t, model_id);
        if x.alerts == 0 {
            continue;
        }
        let point_ppv = x.true_alerts as f64 / x.alerts as f64;
        let point_rate = 100.0 * x.alerts as f64 / days;
        // Both bounds are at least as cautious as the point estimates:
        // skip the bootstrap where a point estimate already fails.
        if point_ppv < cfg.ppv_floor || point_rate > budget {
            // The highest threshold is reported when nothing comes closer.
            let better = closest
                .as_ref()
                .is_none_or(|c| c.alerts_per_100_patient_days > budget && point_rate <= budget);
            if better {
                closest = Some(figures(&x, t, cfg.confidence, days));
            }
            continue;
        }
        let f = figures(&x, t, cfg.confidence, days);
        let ok = f.ppv_lower.is_some_and(|l| l >= cfg.ppv_floor)
            && f.alerts_per_100_patient_days_upper <= budget;
        if ok {
            best = Some(f);
        } else if closest
            .as_ref()
            .is_none_or(|c| f.ppv_lower > c.ppv_lower || c.ppv_lower.is_none())
        {
            closest = Some(f);
        }
    }
    let pct = cfg.confidence * 100.0;
    match best {
        Some(f) => {
            let (lo, hi) = clopper_pearson_interval(
                (f.sensitivity.unwrap_or(0.0) * positives as f64).round() as u64,
                positives.max(1),
                cfg.confidence,
            )
            .unwrap_or((0.0, 1.0));
            let ppv = f.ppv.unwrap_or(0.0);
            let lower = f.ppv_lower.unwrap_or(0.0);
            let mut c = Certified {
                threshold: f.threshold,
                ppv,
                ppv_lower: lower,
                confidence: cfg.confidence,
                ppv_floor: cfg.ppv_floor,
                alert_rate_per_100_patient_days: f.alerts_per_100_patient_days,
                alert_budget_per_100_patient_days: budget,
                n_alerted: f.alerts,
                n_true_alerts: f.true_alerts,
                n_rows: set.trajectories.iter().map(|t| t.scores.len() as u64).sum(),
                patient_days: days,
                promise: String::new(),
                method: METHOD_WHOLE_POLICY.into(),
                alert_rate_upper_per_100_patient_days: Some(f.alerts_per_100_patient_days_upper),
                n_patients: Some(set.trajectories.len() as u64),
                n_patients_alerted: Some(f.patients_alerted),
                n_outcome_patients: Some(positives),
                sensitivity: f.sensitivity,
                sensitivity_interval: f.sensitivity.map(|_| (lo, hi)),
                horizon_hours: Some(set.horizon_hours),
                detection_window_hours: Some(set.detection_window_hours),
            };
            c.promise = c.promise_sentence("the outcome");
            Certification::Certified(c)
        }
        None => {
            let why = match &closest {
                Some(f) => format!(
                    "at the closest threshold ({:.4}) {} alerts ({} followed by the outcome) \
                     give a per-alert PPV of {:.3} with a {pct:.0}% lower bound of {:.3} and \
                     {:.2} alerts per 100 patient-days with an upper bound of {:.2}",
                    f.threshold,
                    f.alerts,
                    f.true_alerts,
                    f.ppv.unwrap_or(0.0),
                    f.ppv_lower.unwrap_or(0.0),
                    f.alerts_per_100_patient_days,
                    f.alerts_per_100_patient_days_upper
                ),
                None => "no threshold alerts at all".into(),
            };
            not(format!(
                "no threshold keeps both promises on the calibration patients replayed through \
                 the whole policy (per-alert PPV lower bound >= {} and at most {budget} \
                 interruptive alerts per 100 patient-days, both at {pct:.0}% confidence): {why}",
                cfg.ppv_floor
            ))
        }
    }
}

/// The policy settings a whole-policy certification depends on; a stored
/// certification applies to a policy with the same key.
pub fn certification_key(policy: &PolicyConfig) -> serde_json::Value {
    serde_json::json!({
        "certification": policy.certification,
        "realert": policy.realert,
        "pathway_actions": policy.pathway_actions,
    })
}

/// A model package's stored certification (`certification.json`): the
/// calibration patients, the policy settings it was made under, and the
/// result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCertification {
    pub format_version: u32,
    /// [`certification_key`] of the policy it was made under.
    pub policy: serde_json::Value,
    pub certification: Certification,
    pub replay: ReplaySet,
}

impl StoredCertification {
    /// Certify `policy` on `replay` and keep both.
    pub fn make(replay: ReplaySet, policy: &PolicyConfig, model_id: &str) -> Self {
        Self {
            format_version: 1,
            policy: certification_key(policy),
            certification: certify_policy(&replay, policy, model_id),
            replay,
        }
    }

    /// The certification under `policy`: the stored one when it was made
    /// under the same settings (no re-fit), else the stored calibration
    /// patients replayed again under `policy`.
    pub fn for_policy(&self, policy: &PolicyConfig, model_id: &str) -> Certification {
        if self.policy == certification_key(policy) {
            self.certification.clone()
        } else {
            certify_policy(&self.replay, policy, model_id)
        }
    }

    /// Outcome prevalence among the calibration patients.
    pub fn base_rate(&self) -> Option<f64> {
        let n = self.replay.trajectories.len();
        let pos = self
            .replay
            .trajectories
            .iter()
            .filter(|t| t.outcome_at.is_some())
            .count();
        (n > 0).then(|| pos as f64 / n as f64)
    }
}
