//! Confidence intervals: Wilson and exact Clopper-Pearson for proportions,
//! DeLong for AUROC.

use crate::metrics::auroc;
use bedside_policy::binomial::clopper_pearson_interval;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// Which interval a proportion carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    Wilson,
    ClopperPearson,
}

/// A point estimate with a two-sided interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
    /// Numerator and denominator for proportions (absent for AUROC).
    pub successes: Option<u64>,
    pub trials: Option<u64>,
}

/// Two-sided standard normal quantile `z` with `P(|Z| <= z) = confidence`.
pub fn z_two_sided(confidence: f64) -> Option<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let n = Normal::new(0.0, 1.0).ok()?;
    Some(n.inverse_cdf(1.0 - (1.0 - confidence) / 2.0))
}

/// Wilson score interval (scipy `binomtest(k, n).proportion_ci(method="wilson")`).
pub fn wilson(k: u64, n: u64, confidence: f64) -> Option<(f64, f64)> {
    if n == 0 || k > n {
        return None;
    }
    let z = z_two_sided(confidence)?;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// A proportion `k / n` with its interval; `None` when `n == 0`.
pub fn proportion(k: u64, n: u64, confidence: f64, method: IntervalMethod) -> Option<Estimate> {
    let (lower, upper) = match method {
        IntervalMethod::Wilson => wilson(k, n, confidence)?,
        IntervalMethod::ClopperPearson => clopper_pearson_interval(k, n, confidence).ok()?,
    };
    Some(Estimate {
        value: k as f64 / n as f64,
        lower,
        upper,
        confidence,
        successes: Some(k),
        trials: Some(n),
    })
}

/// Midranks (1-based, ties averaged) of `x`.
fn midranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = rank;
        }
        i = j + 1;
    }
    r
}

/// DeLong (1988) variance of the AUROC, by the fast midrank algorithm of
/// Sun & Xu (2014). `None` when a class has fewer than 2 members.
pub fn delong_variance(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, &l)| !l)
        .map(|(s, _)| *s)
        .collect();
    let (m, n) = (pos.len(), neg.len());
    if m < 2 || n < 2 {
        return None;
    }
    let all: Vec<f64> = pos.iter().chain(neg.iter()).copied().collect();
    let tz = midranks(&all);
    let tx = midranks(&pos);
    let ty = midranks(&neg);
    let auc = (tz[..m].iter().sum::<f64>() - (m * (m + 1)) as f64 / 2.0) / (m * n) as f64;
    let v01: Vec<f64> = (0..m).map(|i| (tz[i] - tx[i]) / n as f64).collect();
    let v10: Vec<f64> = (0..n)
        .map(|j| 1.0 - (tz[m + j] - ty[j]) / m as f64)
        .collect();
    let var = |v: &[f64], mean: f64| {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    Some(var(&v01, auc) / m as f64 + var(&v10, auc) / n as f64)
}

/// AUROC with a DeLong normal-approximation interval, clipped to [0, 1].
/// When the variance is undefined (a class with one member) the interval is
/// the uninformative [0, 1].
pub fn auroc_ci(scores: &[f64], labels: &[bool], confidence: f64) -> Option<Estimate> {
    let auc = auroc(scores, labels)?;
    let z = z_two_sided(confidence)?;
    let se = delong_variance(scores, labels).map_or(f64::INFINITY, f64::sqrt);
    Some(Estimate {
        value: auc,
        lower: (auc - z * se).max(0.0),
        upper: (auc + z * se).min(1.0),
        confidence,
        successes: None,
        trials: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_known_value_and_bad_input() {
        // Wilson 95% for 0/10: (0, 0.2775) (Agresti & Coull 1998).
        let (lo, hi) = wilson(0, 10, 0.95).unwrap();
        assert!(
            lo.abs() < 1e-15 && (hi - 0.27753279986288).abs() < 1e-9,
            "{hi}"
        );
        assert!(wilson(1, 0, 0.95).is_none());
        assert!(wilson(2, 1, 0.95).is_none());
        assert!(proportion(1, 2, 1.0, IntervalMethod::Wilson).is_none());
    }

    #[test]
    fn midranks_average_ties() {
        assert_eq!(midranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }
}
