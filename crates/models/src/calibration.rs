//! From raw margin to probability, and an interval on that probability.
//!
//! `calibration.json` holds `{"map": ..., "interval": ...}`:
//!
//! - map `platt`: `p = 1 / (1 + exp(-(a * margin + b)))` (scikit-learn
//!   `LogisticRegression` fitted on the margin; `a > 0`).
//! - map `isotonic`: piecewise-linear through `(x, y)` and clipped outside
//!   `[x_0, x_last]`, exactly as scikit-learn
//!   `IsotonicRegression(out_of_bounds="clip").predict`.
//! - map `sigmoid`: `p = 1 / (1 + exp(-margin))` (uncalibrated).
//! - interval `venn_abers` (default for the demo): inductive Venn-Abers on
//!   the calibration margins and labels. For a margin `s`, `p0` / `p1` are
//!   the isotonic fits of the calibration set plus `(s, 0)` / `(s, 1)`
//!   evaluated at `s`. The interval is `[min(p0, p), max(p1, p)]` with `p`
//!   the calibrated probability; its width shows how much the calibration
//!   data pins the probability down at this score. All `2m + 1` insertion
//!   positions are precomputed on load, so a prediction is a binary search.
//! - interval `conformal`: split-conformal on the probability scale with
//!   absolute residuals `|y - p|`: `[p - q, p + q]` clipped to `[0, 1]`
//!   where `q` is the `ceil((n + 1) * level)`-th smallest residual.

use crate::problem::Problems;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum CalibrationMap {
    Platt { a: f64, b: f64 },
    Isotonic { x: Vec<f64>, y: Vec<f64> },
    Sigmoid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntervalSpec {
    VennAbers { scores: Vec<f64>, labels: Vec<u8> },
    Conformal { level: f64, n: usize, quantile: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationFile {
    pub map: CalibrationMap,
    #[serde(default)]
    pub interval: Option<IntervalSpec>,
}

/// A validated calibration: map plus optional interval method.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub map: CalibrationMap,
    pub interval: Option<IntervalMethod>,
}

#[derive(Debug, Clone)]
pub enum IntervalMethod {
    VennAbers(VennAbers),
    Conformal { level: f64, quantile: f64 },
}

/// An interval on the probability scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
    /// Nominal coverage for conformal intervals; None for Venn-Abers.
    pub level: Option<f64>,
    /// `venn_abers` or `conformal`.
    pub method: String,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl CalibrationMap {
    pub fn method(&self) -> &'static str {
        match self {
            Self::Platt { .. } => "platt",
            Self::Isotonic { .. } => "isotonic",
            Self::Sigmoid => "sigmoid",
        }
    }

    /// Probability for a raw margin.
    pub fn apply(&self, m: f64) -> f64 {
        match self {
            Self::Platt { a, b } => sigmoid(a * m + b),
            Self::Sigmoid => sigmoid(m),
            Self::Isotonic { x, y } => interp_clip(x, y, m),
        }
    }

    fn validate(&self, file: &str, p: &mut Problems) {
        match self {
            Self::Platt { a, b } => {
                if !a.is_finite() || !b.is_finite() {
                    p.push(format!("{file}:map"), "Platt a and b must be finite");
                } else if *a <= 0.0 {
                    p.push(
                        format!("{file}:map.a"),
                        format!("Platt slope a = {a} must be > 0 (the map must increase with the score)"),
                    );
                }
            }
            Self::Sigmoid => {}
            Self::Isotonic { x, y } => {
                if x.is_empty() || x.len() != y.len() {
                    p.push(
                        format!("{file}:map"),
                        format!(
                            "isotonic x and y need the same non-zero length (got {} and {})",
                            x.len(),
                            y.len()
                        ),
                    );
                    return;
                }
                for (i, v) in x.iter().enumerate() {
                    if !v.is_finite() {
                        p.push(
                            format!("{file}:map.x[{i}]"),
                            format!("{v} is not a finite number"),
                        );
                    } else if i > 0 && *v <= x[i - 1] {
                        p.push(
                            format!("{file}:map.x[{i}]"),
                            "x must be strictly increasing",
                        );
                    }
                }
                for (i, v) in y.iter().enumerate() {
                    if !(0.0..=1.0).contains(v) {
                        p.push(
                            format!("{file}:map.y[{i}]"),
                            format!("{v} is not a probability"),
                        );
                    } else if i > 0 && *v < y[i - 1] {
                        p.push(
                            format!("{file}:map.y[{i}]"),
                            "y must be non-decreasing (the map is not monotone)",
                        );
                    }
                }
            }
        }
    }
}

/// `np.interp` / `scipy interp1d` after clipping to the knot range.
fn interp_clip(x: &[f64], y: &[f64], m: f64) -> f64 {
    let n = x.len();
    if n == 1 || m <= x[0] {
        return y[0];
    }
    if m >= x[n - 1] {
        return y[n - 1];
    }
    // First knot strictly greater than m; m is inside (x0, x_last).
    let hi = x.partition_point(|&v| v <= m);
    let lo = hi - 1;
    let slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
    slope * (m - x[lo]) + y[lo]
}

impl Calibration {
    /// Parse and validate `calibration.json`.
    pub fn parse(text: &str, file: &str, problems: &mut Problems) -> Option<Self> {
        // NaN is not JSON: a file with NaN fails here with its line.
        let f: CalibrationFile = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{file}:line {}", e.line()), e.to_string());
                return None;
            }
        };
        let before = problems.0.len();
        f.map.validate(file, problems);
        let interval = match f.interval {
            None => None,
            Some(IntervalSpec::Conformal { level, n, quantile }) => {
                if !(level > 0.0 && level < 1.0) {
                    problems.push(
                        format!("{file}:interval.level"),
                        format!("{level} is not in (0, 1)"),
                    );
                }
                if !(0.0..=1.0).contains(&quantile) {
                    problems.push(
                        format!("{file}:interval.quantile"),
                        format!("{quantile} is not in [0, 1]"),
                    );
                }
                if n == 0 {
                    problems.push(format!("{file}:interval.n"), "calibration set is empty");
                }
                Some(IntervalMethod::Conformal { level, quantile })
            }
            Some(IntervalSpec::VennAbers { scores, labels }) => {
                if scores.is_empty() || scores.len() != labels.len() {
                    problems.push(
                        format!("{file}:interval"),
                        format!("Venn-Abers needs equal non-zero numbers of scores and labels (got {} and {})", scores.len(), labels.len()),
                    );
                    None
                } else if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
                    problems.push(
                        format!("{file}:interval.scores[{i}]"),
                        "not a finite number",
                    );
                    None
                } else if let Some(i) = labels.iter().position(|&l| l > 1) {
                    problems.push(
                        format!("{file}:interval.labels[{i}]"),
                        "labels must be 0 or 1",
                    );
                    None
                } else {
                    Some(IntervalMethod::VennAbers(VennAbers::fit(&scores, &labels)))
                }
            }
        };
        (problems.0.len() == before).then_some(Self {
            map: f.map,
            interval,
        })
    }

    pub fn probability(&self, margin: f64) -> f64 {
        self.map.apply(margin)
    }

    /// The interval for a margin whose calibrated probability is `p`.
    pub fn interval(&self, margin: f64, p: f64) -> Option<Interval> {
        match self.interval.as_ref()? {
            IntervalMethod::Conformal { level, quantile } => Some(Interval {
                lo: (p - quantile).max(0.0),
                hi: (p + quantile).min(1.0),
                level: Some(*level),
                method: "conformal".into(),
            }),
            IntervalMethod::VennAbers(va) => {
                let (p0, p1) = va.p0p1(margin);
                Some(Interval {
                    lo: p0.min(p),
                    hi: p1.max(p),
                    level: None,
                    method: "venn_abers".into(),
                })
            }
        }
    }
}

/// Precomputed inductive Venn-Abers predictor.
#[derive(Debug, Clone)]
pub struct VennAbers {
    /// Distinct calibration scores, increasing.
    u: Vec<f64>,
    /// (p0, p1) when the test score falls strictly before `u[g]` (g = m:
    /// after all).
    gap: Vec<(f64, f64)>,
    /// (p0, p1) when the test score equals `u[j]`.
    tie: Vec<(f64, f64)>,
}

impl VennAbers {
    /// Fit from calibration margins and 0/1 labels: `O(m^2)` for `m`
    /// distinct scores.
    pub fn fit(scores: &[f64], labels: &[u8]) -> Self {
        let mut pairs: Vec<(f64, u8)> =
            scores.iter().copied().zip(labels.iter().copied()).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Distinct scores with weight (count) and sum of labels.
        let mut u = Vec::new();
        let mut w: Vec<f64> = Vec::new();
        let mut s: Vec<f64> = Vec::new();
        for (x, y) in pairs {
            if u.last() == Some(&x) {
                *w.last_mut().unwrap_or(&mut 0.0) += 1.0;
                *s.last_mut().unwrap_or(&mut 0.0) += y as f64;
            } else {
                u.push(x);
                w.push(1.0);
                s.push(y as f64);
            }
        }
        let m = u.len();
        let mut pav = Pav::default();
        let gap = (0..=m)
            .map(|g| {
                let mut at = |label: f64| {
                    let pts = (0..g)
                        .map(|j| (w[j], s[j]))
                        .chain(std::iter::once((1.0, label)))
                        .chain((g..m).map(|j| (w[j], s[j])));
                    pav.value_at(pts, g)
                };
                {
                    let p0 = at(0.0);
                    (p0, at(1.0))
                }
            })
            .collect();
        let tie = (0..m)
            .map(|t| {
                let mut at = |label: f64| {
                    let pts = (0..m).map(|j| {
                        if j == t {
                            (w[j] + 1.0, s[j] + label)
                        } else {
                            (w[j], s[j])
                        }
                    });
                    pav.value_at(pts, t)
                };
                {
                    let p0 = at(0.0);
                    (p0, at(1.0))
                }
            })
            .collect();
        Self { u, gap, tie }
    }

    /// `(p0, p1)` for a test margin.
    pub fn p0p1(&self, margin: f64) -> (f64, f64) {
        let g = self.u.partition_point(|&x| x < margin);
        if g < self.u.len() && self.u[g] == margin {
            self.tie[g]
        } else {
            self.gap[g]
        }
    }
}

/// Weighted pool-adjacent-violators (increasing), reusing its stack.
#[derive(Default)]
struct Pav {
    /// (sum of w*y, sum of w, index of the first point in the block)
    blocks: Vec<(f64, f64, usize)>,
}

impl Pav {
    /// Fitted value at point `idx` of the sequence of (weight, weighted sum).
    fn value_at(&mut self, pts: impl Iterator<Item = (f64, f64)>, idx: usize) -> f64 {
        self.blocks.clear();
        for (i, (w, s)) in pts.enumerate() {
            let mut b = (s, w, i);
            while let Some(&(ps, pw, pi)) = self.blocks.last() {
                if ps / pw >= b.0 / b.1 {
                    self.blocks.pop();
                    b = (ps + b.0, pw + b.1, pi);
                } else {
                    break;
                }
            }
            self.blocks.push(b);
        }
        let k = self.blocks.partition_point(|b| b.2 <= idx) - 1;
        self.blocks[k].0 / self.blocks[k].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn isotonic_map_is_monotone_and_clipped(a in -10.0f64..10.0, b in -10.0f64..10.0) {
            let m = CalibrationMap::Isotonic { x: vec![-2.0, -1.0, 0.5, 3.0], y: vec![0.0, 0.1, 0.1, 0.9] };
            let (pa, pb) = (m.apply(a), m.apply(b));
            if a <= b { prop_assert!(pa <= pb); }
            prop_assert!((0.0..=0.9).contains(&pa));
        }

        #[test]
        fn venn_abers_p0_le_p1(scores in proptest::collection::vec(-3.0f64..3.0, 1..40), s in -4.0f64..4.0) {
            let labels: Vec<u8> = scores.iter().map(|v| u8::from(*v > 0.3)).collect();
            let va = VennAbers::fit(&scores, &labels);
            let (p0, p1) = va.p0p1(s);
            prop_assert!(p0 <= p1 + 1e-12 && (0.0..=1.0).contains(&p0) && (0.0..=1.0).contains(&p1));
        }
    }
}
