//! Per-prediction explanations from exact margin contributions.
//!
//! Margin contributions are exact (TreeSHAP or linear terms; they sum with
//! the base margin to the margin). On the probability scale each
//! contribution is its margin contribution times the slope of the secant of
//! the calibration map between the base margin and this margin:
//! `dp_i = phi_i * (p - p_base) / (margin - base_margin)`. These sum
//! exactly to `p - p_base`, keep each feature's sign, and stay bounded
//! (a monotone map has a bounded secant). When the margin equals the base
//! margin the local slope of the map is used.

use crate::calibration::Calibration;
use crate::features::FeatureDef;
use crate::ood::show;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Pushes the risk up.
    Raises,
    /// Pushes the risk down.
    Lowers,
}

/// One contributing feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub feature: String,
    pub label: String,
    /// None when the input was missing (missingness itself can contribute).
    pub value: Option<f64>,
    pub unit: String,
    pub direction: Direction,
    /// Exact contribution to the raw margin (log-odds for binary models).
    pub margin_contribution: f64,
    /// Contribution to the probability (see the module doc), 0..1 scale.
    pub probability_contribution: f64,
    /// E.g. `Lactate (latest) 4.1 mmol/L raises the risk (+6.3 points)`.
    pub text: String,
}

/// Slope used to carry margin contributions onto the probability scale.
pub fn probability_slope(cal: &Calibration, margin: f64, base_margin: f64) -> f64 {
    let dm = margin - base_margin;
    if dm.abs() > 1e-9 {
        (cal.probability(margin) - cal.probability(base_margin)) / dm
    } else {
        let h = 1e-4;
        (cal.probability(margin + h) - cal.probability(margin - h)) / (2.0 * h)
    }
}

/// The `k` largest contributions by absolute margin contribution (zeros
/// dropped), with `slope` from [`probability_slope`].
pub fn top_factors(
    defs: &[FeatureDef],
    values: &[Option<f64>],
    phi: &[f64],
    slope: f64,
    k: usize,
) -> Vec<Factor> {
    let mut idx: Vec<usize> = (0..defs.len().min(phi.len()))
        .filter(|&i| phi[i] != 0.0)
        .collect();
    idx.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
    idx.truncate(k);
    idx.into_iter()
        .map(|i| {
            let d = &defs[i];
            let value = values.get(i).copied().flatten();
            let direction = if phi[i] > 0.0 {
                Direction::Raises
            } else {
                Direction::Lowers
            };
            let dp = phi[i] * slope;
            let shown = match value {
                Some(v) => show(v, &d.unit),
                None => "missing".into(),
            };
            let verb = match direction {
                Direction::Raises => "raises",
                Direction::Lowers => "lowers",
            };
            Factor {
                feature: d.name.clone(),
                label: d.label.clone(),
                value,
                unit: d.unit.clone(),
                direction,
                margin_contribution: phi[i],
                probability_contribution: dp,
                text: format!(
                    "{} {shown} {verb} the risk ({:+.1} points)",
                    d.label,
                    dp * 100.0
                ),
            }
        })
        .collect()
}
