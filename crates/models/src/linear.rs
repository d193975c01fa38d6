//! Logistic regression: `margin = intercept + sum(coef_i * x_i)`, missing
//! inputs replaced by `impute_i`.
//!
//! Explanations are exact for a linear margin: the contribution of feature
//! i is `coef_i * (x_i - baseline_i)` with the training means as baseline
//! (`impute` when `means` is absent), and the base value is the margin at
//! the baseline, so contributions plus base sum to the margin.

use crate::problem::Problems;
use serde::{Deserialize, Serialize};

/// The JSON file a `kind = "linear"` scorer points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    pub feature_names: Vec<String>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// Substituted for a missing input (e.g. the training median).
    pub impute: Vec<f64>,
    /// Training means, the explanation baseline.
    #[serde(default)]
    pub means: Option<Vec<f64>>,
}

impl Linear {
    pub fn parse(text: &str, file: &str, problems: &mut Problems) -> Option<Self> {
        let m: Linear = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{file}:line {}", e.line()), e.to_string());
                return None;
            }
        };
        let n = m.feature_names.len();
        let before = problems.0.len();
        for (key, len) in [
            ("coefficients", m.coefficients.len()),
            ("impute", m.impute.len()),
            ("means", m.means.as_ref().map_or(n, Vec::len)),
        ] {
            if len != n {
                problems.push(
                    format!("{file}:{key}"),
                    format!("has {len} entries for {n} features"),
                );
            }
        }
        let all = m
            .coefficients
            .iter()
            .chain(&m.impute)
            .chain(m.means.iter().flatten())
            .chain(std::iter::once(&m.intercept));
        if all.into_iter().any(|v| !v.is_finite()) {
            problems.push(format!("{file}:coefficients"), "non-finite number");
        }
        (problems.0.len() == before).then_some(m)
    }

    fn value(&self, i: usize, x: f64) -> f64 {
        if x.is_nan() {
            self.impute[i]
        } else {
            x
        }
    }

    fn baseline(&self, i: usize) -> f64 {
        self.means.as_ref().map_or(self.impute[i], |m| m[i])
    }

    pub fn margin(&self, x: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .enumerate()
                .map(|(i, c)| c * self.value(i, x[i]))
                .sum::<f64>()
    }

    pub fn expected_margin(&self) -> f64 {
        self.intercept
            + (0..self.coefficients.len())
                .map(|i| self.coefficients[i] * self.baseline(i))
                .sum::<f64>()
    }

    /// Contributions (n) followed by the base value; they sum to the margin.
    pub fn shap(&self, x: &[f64]) -> Vec<f64> {
        let mut phi: Vec<f64> = (0..self.coefficients.len())
            .map(|i| self.coefficients[i] * (self.value(i, x[i]) - self.baseline(i)))
            .collect();
        phi.push(self.expected_margin());
        phi
    }
}
