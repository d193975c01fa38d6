//! Training profile and the out-of-distribution guard.
//!
//! Checks, in order, each giving a human-readable reason:
//! 1. a value above the training maximum or below the training minimum
//!    (out of distribution);
//! 2. a value present for a feature never observed in training (out);
//! 3. more than `max_missing_fraction` of the inputs missing (out);
//! 4. the Mahalanobis distance of the standardized, imputed feature vector
//!    above the training 99th (or 99.9th) percentile (out);
//! 5. a value outside the training 0.5th-99.5th percentiles but inside the
//!    range: reported as unusual, does not by itself make the prediction
//!    out of distribution.

use crate::features::FeatureDef;
use crate::problem::Problems;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub name: String,
    pub missing_rate: f64,
    /// Number of training rows with a value.
    pub n: u64,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub mean: Option<f64>,
    #[serde(default)]
    pub std: Option<f64>,
    /// `p0_5, p1, p5, p25, p50, p75, p95, p99, p99_5`.
    #[serde(default)]
    pub quantiles: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MahalanobisProfile {
    pub impute: Vec<f64>,
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
    pub precision: Vec<Vec<f64>>,
    pub d_q99: f64,
    pub d_q999: f64,
}

/// `training_profile.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProfile {
    pub n_rows: u64,
    #[serde(default)]
    pub n_patients: Option<u64>,
    pub features: Vec<FeatureProfile>,
    #[serde(default)]
    pub mahalanobis: Option<MahalanobisProfile>,
    /// Subgroup sizes, e.g. `{"sex": {"female": 120, "male": 110}}`.
    #[serde(default)]
    pub subgroups: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The guard's verdict for one prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodReport {
    pub in_distribution: bool,
    pub reasons: Vec<String>,
    /// Mahalanobis distance and the training threshold it was compared to.
    pub distance: Option<f64>,
    pub distance_threshold: Option<f64>,
}

impl TrainingProfile {
    pub fn parse(text: &str, file: &str, names: &[&str], problems: &mut Problems) -> Option<Self> {
        let p: TrainingProfile = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{file}:line {}", e.line()), e.to_string());
                return None;
            }
        };
        let before = problems.0.len();
        let got: Vec<&str> = p.features.iter().map(|f| f.name.as_str()).collect();
        if got != names {
            problems.push(
                format!("{file}:features"),
                format!("profile features {got:?} do not match the model's features {names:?}"),
            );
        }
        for (i, f) in p.features.iter().enumerate() {
            if let (Some(lo), Some(hi)) = (f.min, f.max) {
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    problems.push(format!("{file}:features[{i}]"), "min > max or NaN");
                }
            }
            if !(0.0..=1.0).contains(&f.missing_rate) {
                problems.push(
                    format!("{file}:features[{i}].missing_rate"),
                    "not in [0, 1]",
                );
            }
        }
        if let Some(m) = &p.mahalanobis {
            let n = names.len();
            let square = m.precision.len() == n && m.precision.iter().all(|r| r.len() == n);
            if m.impute.len() != n || m.center.len() != n || m.scale.len() != n || !square {
                problems.push(
                    format!("{file}:mahalanobis"),
                    format!("impute/center/scale/precision must be sized for {n} features"),
                );
            }
            let finite = m
                .impute
                .iter()
                .chain(&m.center)
                .chain(&m.scale)
                .chain(m.precision.iter().flatten())
                .all(|v| v.is_finite());
            if !finite || m.scale.iter().any(|&s| s <= 0.0) {
                problems.push(
                    format!("{file}:mahalanobis"),
                    "values must be finite and scales positive",
                );
            }
        }
        (problems.0.len() == before).then_some(p)
    }

    /// Mahalanobis distance of a feature vector (NaN = missing).
    pub fn distance(&self, x: &[f64]) -> Option<f64> {
        let m = self.mahalanobis.as_ref()?;
        let z: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let v = if v.is_nan() { m.impute[i] } else { v };
                (v - m.center[i]) / m.scale[i]
            })
            .collect();
        let mut d2 = 0.0;
        for (i, row) in m.precision.iter().enumerate() {
            let mut s = 0.0;
            for (j, p) in row.iter().enumerate() {
                s += p * z[j];
            }
            d2 += z[i] * s;
        }
        Some(d2.max(0.0).sqrt())
    }

    /// Run the guard. `x` holds NaN for missing values.
    pub fn check(
        &self,
        defs: &[FeatureDef],
        x: &[f64],
        max_missing_fraction: f64,
        use_q999: bool,
    ) -> OodReport {
        let mut out = true;
        let mut reasons = Vec::new();
        let mut unusual = Vec::new();
        for ((d, f), &v) in defs.iter().zip(&self.features).zip(x) {
            if v.is_nan() {
                continue;
            }
            let shown = show(v, &d.unit);
            match (f.min, f.max) {
                (Some(_), Some(hi)) if v > hi => {
                    out = false;
                    reasons.push(format!(
                        "{} {shown} is above every training value (max {})",
                        d.label,
                        show(hi, &d.unit)
                    ));
                }
                (Some(lo), Some(_)) if v < lo => {
                    out = false;
                    reasons.push(format!(
                        "{} {shown} is below every training value (min {})",
                        d.label,
                        show(lo, &d.unit)
                    ));
                }
                (None, _) | (_, None) => {
                    out = false;
                    reasons.push(format!(
                        "{} is present ({shown}) but was never observed in training",
                        d.label
                    ));
                }
                _ => {
                    let lo = f.quantiles.get("p0_5");
                    let hi = f.quantiles.get("p99_5");
                    if lo.is_some_and(|&q| v < q) || hi.is_some_and(|&q| v > q) {
                        unusual.push(format!(
                            "{} {shown} is unusual (outside the middle 99% of training values, {} to {})",
                            d.label,
                            lo.map_or("?".into(), |&q| show(q, &d.unit)),
                            hi.map_or("?".into(), |&q| show(q, &d.unit)),
                        ));
                    }
                }
            }
        }
        let n = x.len();
        let missing = x.iter().filter(|v| v.is_nan()).count();
        if n > 0 && missing as f64 / n as f64 > max_missing_fraction {
            out = false;
            reasons.push(format!(
                "{missing} of {n} inputs are missing (more than {:.0}%)",
                max_missing_fraction * 100.0
            ));
        }
        let distance = self.distance(x);
        let threshold = self
            .mahalanobis
            .as_ref()
            .map(|m| if use_q999 { m.d_q999 } else { m.d_q99 });
        if let (Some(d), Some(t)) = (distance, threshold) {
            if d > t {
                out = false;
                reasons.push(format!(
                    "the combination of inputs is unlike the training population \
                     (distance {} above the training {} percentile {})",
                    fmt_num(d),
                    if use_q999 { "99.9th" } else { "99th" },
                    fmt_num(t)
                ));
            }
        }
        reasons.extend(unusual);
        OodReport {
            in_distribution: out,
            reasons,
            distance,
            distance_threshold: threshold,
        }
    }
}

/// A number with about three significant digits, trailing zeros trimmed.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 || !a.is_finite() {
        format!("{v:.2}")
    } else {
        // Two significant digits, never scientific notation (`0.083`,
        // not `8.333e-2`).
        let d = ((-a.log10()).ceil() as usize + 1).min(9);
        format!("{v:.d$}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `14.2 mmol/L`, `38.4 °C`, `96 mmHg`: the value rounded as charted and
/// the unit in clinical notation ([`bedside_core::units::format_value`]).
pub fn show(v: f64, unit: &str) -> String {
    bedside_core::units::format_value(v, unit)
}
