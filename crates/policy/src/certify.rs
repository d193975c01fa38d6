//! Certified threshold: the lowest score threshold whose exact lower
//! confidence bound on PPV clears a floor within an alert budget.
//!
//! Rule. A calibration set is a list of rows `(score, label)` plus the
//! patient-days they cover. Each row is one alerting unit (typically one
//! patient stay with its peak pre-outcome score, so that "alerted" means the
//! patient would have been alerted). At threshold `t` the alerted rows are
//! those with `score >= t`; with `n` alerted and `k` of them positive:
//!
//! - PPV point estimate `k / n`,
//! - PPV lower bound: one-sided exact Clopper-Pearson at `confidence`,
//! - alert rate `100 * n / patient_days` alerts per 100 patient-days.
//!
//! Candidates are the distinct scores. The certified threshold is the
//! lowest candidate with `lower >= ppv_floor` and `rate <= budget`. If none
//! qualifies the result is [`Certification::NotCertified`] and the policy
//! alerts on nothing.

use crate::binomial::clopper_pearson_lower;
use serde::{Deserialize, Serialize};

/// One calibration row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRow {
    pub score: f64,
    pub label: bool,
}

/// A calibration set: rows and the patient-days of exposure they cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSet {
    pub rows: Vec<CalibrationRow>,
    pub patient_days: f64,
}

impl CalibrationSet {
    /// Build from rows that each carry their own exposure in days; the
    /// patient-days are the sum.
    pub fn with_row_exposure(rows: impl IntoIterator<Item = (f64, bool, f64)>) -> Self {
        let mut out = Vec::new();
        let mut days = 0.0;
        for (score, label, d) in rows {
            out.push(CalibrationRow { score, label });
            days += d;
        }
        Self {
            rows: out,
            patient_days: days,
        }
    }
}

/// What to certify.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CertificationConfig {
    /// Minimum PPV the lower bound must reach, in (0, 1).
    pub ppv_floor: f64,
    /// One-sided confidence of the bound, in (0, 1); 0.95 by default.
    pub confidence: f64,
    /// Maximum alerts per 100 patient-days.
    pub alert_budget_per_100_patient_days: f64,
}

impl Default for CertificationConfig {
    fn default() -> Self {
        Self {
            ppv_floor: 0.2,
            confidence: 0.95,
            alert_budget_per_100_patient_days: 5.0,
        }
    }
}

/// [`Certified::method`] of a certification made by replaying the
/// calibration patients through the whole policy ([`crate::replay`]):
/// counts are interruptive alerts, PPV is per alert.
pub const METHOD_WHOLE_POLICY: &str = "whole_policy_replay";
/// [`Certified::method`] of [`certify`]: one row per patient (its peak
/// score), counts are alerted patients.
pub const METHOD_PATIENT_PEAK: &str = "patient_peak";

/// A threshold that meets the promise, with the evidence. The field names
/// are stable (monitoring reads `ppv_floor`, `ppv_lower`,
/// `alert_budget_per_100_patient_days`,
/// `alert_rate_upper_per_100_patient_days`); new fields are added with
/// defaults so older stored certifications still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Certified {
    /// Alert when `probability >= threshold`.
    pub threshold: f64,
    pub ppv: f64,
    pub ppv_lower: f64,
    pub confidence: f64,
    pub ppv_floor: f64,
    pub alert_rate_per_100_patient_days: f64,
    pub alert_budget_per_100_patient_days: f64,
    pub n_alerted: u64,
    pub n_true_alerts: u64,
    pub n_rows: u64,
    pub patient_days: f64,
    /// The promise in one sentence ([`Certified::promise_sentence`] with
    /// "the outcome"; the card writes it with the use case's outcome).
    pub promise: String,
    /// How it was certified: [`METHOD_WHOLE_POLICY`] or
    /// [`METHOD_PATIENT_PEAK`] (older certifications: the latter).
    #[serde(default = "patient_peak")]
    pub method: String,
    /// Upper confidence bound on interruptive alerts per 100 patient-days
    /// (whole-policy certification; at most the budget).
    #[serde(default)]
    pub alert_rate_upper_per_100_patient_days: Option<f64>,
    #[serde(default)]
    pub n_patients: Option<u64>,
    #[serde(default)]
    pub n_patients_alerted: Option<u64>,
    #[serde(default)]
    pub n_outcome_patients: Option<u64>,
    /// Per-patient sensitivity: outcome patients alerted at or before the
    /// outcome's time plus the detection window.
    #[serde(default)]
    pub sensitivity: Option<f64>,
    /// Two-sided exact interval of `sensitivity` at `confidence`.
    #[serde(default)]
    pub sensitivity_interval: Option<(f64, f64)>,
    /// An alert is true when the outcome follows within this many hours.
    #[serde(default)]
    pub horizon_hours: Option<f64>,
    #[serde(default)]
    pub detection_window_hours: Option<f64>,
}

fn patient_peak() -> String {
    METHOD_PATIENT_PEAK.into()
}

/// "1 in N" where `1/N` is the largest unit fraction not above `p` when
/// `round_down`, else the nearest one.
fn one_in(p: f64, round_down: bool) -> u64 {
    if p.is_nan() || p <= 0.0 {
        return 0;
    }
    let n = if round_down {
        (1.0 / p - 1e-9).ceil()
    } else {
        (1.0 / p).round()
    };
    n.max(1.0) as u64
}

/// A rate in words: whole numbers from 10, halves from 1, tenths below;
/// rounded to nearest, or up when `up` (an "at most" never understates).
fn rate_words(x: f64, up: bool) -> String {
    let step = if x >= 10.0 {
        1.0
    } else if x >= 1.0 {
        0.5
    } else {
        0.1
    };
    let r = if up {
        (x / step - 1e-9).ceil() * step
    } else {
        (x / step).round() * step
    };
    if (r - r.round()).abs() < 1e-9 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

impl Certified {
    /// The promise in words a nurse reads in five seconds, e.g. "About 1
    /// in 3 of these alerts is followed by sepsis within 24 h (at least 1
    /// in 4 with 95% confidence). Expect about 2 such alerts per 100
    /// patient-days (at most 3)." The "at least" figure is rounded so it
    /// never overstates the certified lower bound; the "at most" figure is
    /// the certified upper bound on the alert rate (or the budget),
    /// rounded up. A patient-level certification speaks of alerted
    /// patients instead of alerts.
    pub fn promise_sentence(&self, outcome: &str) -> String {
        let c = self.confidence * 100.0;
        let c = if (c - c.round()).abs() < 1e-9 {
            format!("{c:.0}")
        } else {
            format!("{c:.1}")
        };
        let within = match self.horizon_hours {
            Some(h) if h > 0.0 => format!(" within {} h", rate_words(h, false)),
            _ => String::new(),
        };
        let about = one_in(self.ppv, false);
        let least = one_in(self.ppv_lower, true);
        let upper = self
            .alert_rate_upper_per_100_patient_days
            .unwrap_or(self.alert_budget_per_100_patient_days);
        let (what, all) = if self.method == METHOD_WHOLE_POLICY {
            ("of these alerts is", "Nearly all of these alerts are")
        } else {
            (
                "of the patients alerted is",
                "Nearly all of the patients alerted are",
            )
        };
        let head = if about <= 1 {
            format!("{all} followed by {outcome}{within}")
        } else {
            format!("About 1 in {about} {what} followed by {outcome}{within}")
        };
        let first = if least == 0 {
            format!("{head} (no lower bound could be certified).")
        } else {
            format!("{head} (at least 1 in {least} with {c}% confidence).")
        };
        format!(
            "{first} Expect about {} such alerts per 100 patient-days (at most {}).",
            rate_words(self.alert_rate_per_100_patient_days, false),
            rate_words(upper, true)
        )
    }
}

/// The outcome of certification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
// Not boxed: callers match `Certified(c)` by value across the workspace,
// and a certification is made once per policy change.
#[allow(clippy::large_enum_variant)]
pub enum Certification {
    Certified(Certified),
    NotCertified { reason: String },
}

impl Certification {
    pub fn certified(&self) -> Option<&Certified> {
        match self {
            Certification::Certified(c) => Some(c),
            Certification::NotCertified { .. } => None,
        }
    }
    /// The promise sentence, or why there is none.
    pub fn statement(&self) -> String {
        match self {
            Certification::Certified(c) => c.promise.clone(),
            Certification::NotCertified { reason } => {
                format!("Not certified: {reason}. This model alerts on nothing.")
            }
        }
    }
}

/// The promise of a patient-level certification ([`certify`]). X is the lower bound rounded *down* to 0.1%, so the
/// sentence never overstates the bound.
pub fn promise_sentence(ppv_lower: f64, confidence: f64, budget: f64) -> String {
    let x = (ppv_lower * 1000.0).floor() / 10.0;
    let c = confidence * 100.0;
    let c = if (c - c.round()).abs() < 1e-9 {
        format!("{c:.0}")
    } else {
        format!("{c:.1}")
    };
    format!(
        "At least {x:.1}% of alerted patients develop the outcome, with {c}% confidence; \
         at most {budget} alerts per 100 patient-days."
    )
}

/// Certify a threshold. Never panics; bad input gives `NotCertified` with
/// the reason.
pub fn certify(set: &CalibrationSet, cfg: &CertificationConfig) -> Certification {
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
    if !(set.patient_days.is_finite() && set.patient_days > 0.0) {
        return not(format!(
            "patient_days must be > 0, got {}",
            set.patient_days
        ));
    }
    if set.rows.is_empty() {
        return not("the calibration set is empty".into());
    }
    if let Some(i) = set.rows.iter().position(|r| !r.score.is_finite()) {
        return not(format!("calibration row {i} has a non-finite score"));
    }
    let mut rows = set.rows.clone();
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    // Walk from the highest score down; at each distinct score we know n, k.
    let (mut n, mut k) = (0u64, 0u64);
    let mut best: Option<Certified> = None;
    // Highest PPV seen within budget (for the refusal message).
    let mut best_point: Option<(u64, u64)> = None;
    let mut i = 0;
    while i < rows.len() {
        let t = rows[i].score;
        while i < rows.len() && rows[i].score == t {
            n += 1;
            k += rows[i].label as u64;
            i += 1;
        }
        let rate = 100.0 * n as f64 / set.patient_days;
        if rate > budget {
            break; // rate only grows as the threshold falls
        }
        if best_point.is_none_or(|(bk, bn)| k * bn > bk * n) {
            best_point = Some((k, n));
        }
        // The exact lower bound never exceeds k/n: skip the Beta quantile
        // where the point estimate is already below the floor.
        if (k as f64) < cfg.ppv_floor * n as f64 {
            continue;
        }
        let lower = clopper_pearson_lower(k, n, cfg.confidence).unwrap_or(0.0);
        if lower >= cfg.ppv_floor {
            best = Some(Certified {
                threshold: t,
                ppv: k as f64 / n as f64,
                ppv_lower: lower,
                confidence: cfg.confidence,
                ppv_floor: cfg.ppv_floor,
                alert_rate_per_100_patient_days: rate,
                alert_budget_per_100_patient_days: budget,
                n_alerted: n,
                n_true_alerts: k,
                n_rows: rows.len() as u64,
                patient_days: set.patient_days,
                promise: promise_sentence(lower, cfg.confidence, budget),
                method: METHOD_PATIENT_PEAK.into(),
                ..Certified::default()
            });
        }
    }
    match (best, best_point) {
        (Some(c), _) => Certification::Certified(c),
        (None, Some((k, n))) => not(format!(
            "no threshold reaches a {:.0}% lower confidence bound on PPV of at least {} \
             within {} alerts per 100 patient-days (highest PPV within budget: {}/{} = {:.4}, \
             lower bound {:.4})",
            cfg.confidence * 100.0,
            cfg.ppv_floor,
            budget,
            k,
            n,
            k as f64 / n as f64,
            clopper_pearson_lower(k, n, cfg.confidence).unwrap_or(0.0)
        )),
        (None, None) => not(format!(
            "even the highest score alerts more than {budget} times per 100 patient-days"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rows: &[(f64, bool)], days: f64) -> CalibrationSet {
        CalibrationSet {
            rows: rows
                .iter()
                .map(|&(score, label)| CalibrationRow { score, label })
                .collect(),
            patient_days: days,
        }
    }

    #[test]
    fn picks_lowest_threshold_meeting_both_constraints() {
        // 10 positives at 0.9, 10 negatives at 0.5, 80 negatives at 0.1.
        let mut rows = vec![(0.9, true); 10];
        rows.extend(vec![(0.5, false); 10]);
        rows.extend(vec![(0.1, false); 80]);
        let cfg = CertificationConfig {
            ppv_floor: 0.2,
            confidence: 0.95,
            alert_budget_per_100_patient_days: 100.0,
        };
        let c = certify(&set(&rows, 100.0), &cfg);
        let c = c.certified().expect("certified");
        // At 0.5: k=10, n=20, lower 0.3019 (scipy) >= 0.2. At 0.1: k=10, n=100, lower 0.0553.
        assert_eq!(c.threshold, 0.5);
        assert_eq!((c.n_alerted, c.n_true_alerts), (20, 10));
        assert!(
            c.promise.starts_with("At least 30.1% of alerted patients"),
            "{}",
            c.promise
        );
        assert!(c
            .promise
            .contains("95% confidence; at most 100 alerts per 100 patient-days"));
    }

    #[test]
    fn budget_can_force_a_higher_threshold_or_refuse() {
        let mut rows = vec![(0.9, true); 10];
        rows.extend(vec![(0.5, false); 10]);
        let cfg = CertificationConfig {
            ppv_floor: 0.2,
            confidence: 0.95,
            alert_budget_per_100_patient_days: 10.0,
        };
        // 100 patient-days: 10 alerts -> 10/100 pd OK, 20 -> over budget.
        let c = certify(&set(&rows, 100.0), &cfg);
        assert_eq!(c.certified().map(|c| c.threshold), Some(0.9));
        let tight = CertificationConfig {
            alert_budget_per_100_patient_days: 5.0,
            ..cfg
        };
        match certify(&set(&rows, 100.0), &tight) {
            Certification::NotCertified { reason } => {
                assert!(reason.contains("more than 5 times"), "{reason}")
            }
            other => panic!("expected NotCertified, got {other:?}"),
        }
    }

    #[test]
    fn refuses_when_floor_unreachable_and_on_bad_input() {
        let rows = vec![(0.9, true), (0.8, false), (0.7, false)];
        let cfg = CertificationConfig {
            ppv_floor: 0.5,
            ..Default::default()
        };
        assert!(certify(&set(&rows, 10.0), &cfg).certified().is_none());
        assert!(certify(&set(&[], 10.0), &cfg).statement().contains("empty"));
        assert!(certify(&set(&rows, 0.0), &cfg)
            .statement()
            .contains("patient_days"));
        assert!(certify(&set(&[(f64::NAN, true)], 1.0), &cfg)
            .statement()
            .contains("row 0"));
        let bad = CertificationConfig {
            confidence: 1.0,
            ..cfg
        };
        assert!(certify(&set(&rows, 10.0), &bad)
            .statement()
            .contains("confidence"));
    }

    #[test]
    fn row_exposure_sums() {
        let s = CalibrationSet::with_row_exposure([(0.1, false, 2.5), (0.2, true, 1.5)]);
        assert_eq!(s.patient_days, 4.0);
        assert_eq!(s.rows.len(), 2);
    }
}
