//! Confidence rules of the live watch: is a promise broken *with
//! confidence*, given that alerts and predictions come in clusters (one
//! patient gives many)?
//!
//! **Clusters.** Alerts of one patient are not independent trials, nor are
//! the predictions of one patient. Each rule takes per-patient counts and
//! scales its counts by a design effect `deff >= 1` estimated from them
//! (Kish's effective sample size: `n_eff = n / deff`, `k_eff = k / deff`):
//! - proportions ([`binomial_design_effect`]): the ratio estimator's
//!   cluster-robust variance `G / (G - 1) * sum (k_i - p n_i)^2 / n^2`
//!   over the binomial variance `p (1 - p) / n`;
//! - rates ([`poisson_design_effect`]): the Pearson dispersion
//!   `sum (k_i - r d_i)^2 / (r d_i) / (G - 1)` of per-patient counts `k_i`
//!   over exposures `d_i` at the pooled rate `r`.
//!
//! Both are floored at 1 (never narrower than the independent-trials
//! bound) and are 1 with fewer than two clusters.
//!
//! **Bounds.** Proportions: one-sided exact Clopper-Pearson on the
//! effective counts (`Beta(k, n - k + 1).ppf(1 - c)` lower,
//! `Beta(k + 1, n - k).ppf(c)` upper; continuous in `k` and `n`, equal to
//! the usual bound when `deff = 1`). Rates: one-sided exact Poisson
//! (Garwood) bounds on the effective count over the effective exposure,
//! `Gamma(k, 1).ppf(1 - c) / d` lower and `Gamma(k + 1, 1).ppf(c) / d`
//! upper (= `chi2.ppf(1 - c, 2k) / 2d`).
//!
//! **Drift null.** Under no shift, with `B` bins and independent samples
//! of sizes `n` and `m`, `PSI / (1/n + 1/m)` is approximately chi-square
//! with `B - 1` degrees of freedom (PSI is the symmetrised Kullback-Leibler
//! divergence, a quadratic form in the bin proportions to first order;
//! Yurdakul, "Statistical properties of the population stability index",
//! 2018). [`psi_pvalue`] is that tail probability. It needs every bin to
//! expect several values and is anti-conservative at the 10-30 patients of
//! a monitoring window (at 12 patients and 10 bins, 91% of the no-shift
//! windows get p < 0.05), so the drift rule does not use it: it decides on
//! a KS test on patient-level values ([`crate::drift`]), with [`holm`]
//! controlling the family-wise error rate across one evaluation's drift
//! tests.
//!
//! Reference values: `tools/reference/watch_reference.py` (scipy).

use bedside_policy::binomial::beta_ppf;
use statrs::distribution::{ChiSquared, ContinuousCDF, Gamma};

/// Design effect of a proportion from per-cluster `(successes, trials)`.
pub fn binomial_design_effect(clusters: &[(u64, u64)]) -> f64 {
    let g = clusters.iter().filter(|c| c.1 > 0).count();
    let n: u64 = clusters.iter().map(|c| c.1).sum();
    let k: u64 = clusters.iter().map(|c| c.0.min(c.1)).sum();
    if g < 2 || n == 0 {
        return 1.0;
    }
    let p = k as f64 / n as f64;
    let binomial = p * (1.0 - p) / n as f64;
    if binomial <= 0.0 {
        return 1.0;
    }
    let ss: f64 = clusters
        .iter()
        .map(|&(ki, ni)| {
            let r = ki.min(ni) as f64 - p * ni as f64;
            r * r
        })
        .sum();
    let robust = g as f64 / (g as f64 - 1.0) * ss / (n as f64 * n as f64);
    (robust / binomial).max(1.0)
}

/// Design effect (dispersion) of a rate from per-cluster `(events, exposure)`.
pub fn poisson_design_effect(clusters: &[(u64, f64)]) -> f64 {
    let live: Vec<(u64, f64)> = clusters
        .iter()
        .copied()
        .filter(|c| c.1.is_finite() && c.1 > 0.0)
        .collect();
    let g = live.len();
    let k: u64 = live.iter().map(|c| c.0).sum();
    let d: f64 = live.iter().map(|c| c.1).sum();
    if g < 2 || k == 0 || d <= 0.0 {
        return 1.0;
    }
    let r = k as f64 / d;
    let chi2: f64 = live
        .iter()
        .map(|&(ki, di)| {
            let e = r * di;
            (ki as f64 - e).powi(2) / e
        })
        .sum();
    (chi2 / (g as f64 - 1.0)).max(1.0)
}

fn valid(confidence: f64) -> bool {
    confidence > 0.0 && confidence < 1.0
}

/// One-sided upper bound on a proportion `k / n` at `confidence`, with
/// counts divided by `deff`. `None` on bad input.
pub fn proportion_upper(k: u64, n: u64, deff: f64, confidence: f64) -> Option<f64> {
    if n == 0 || k > n || !valid(confidence) || !(deff >= 1.0 && deff.is_finite()) {
        return None;
    }
    if k == n {
        return Some(1.0);
    }
    let (k, n) = (k as f64 / deff, n as f64 / deff);
    beta_ppf(confidence, k + 1.0, n - k)
}

/// One-sided lower bound on a proportion `k / n` at `confidence`, with
/// counts divided by `deff`. `None` on bad input.
pub fn proportion_lower(k: u64, n: u64, deff: f64, confidence: f64) -> Option<f64> {
    if n == 0 || k > n || !valid(confidence) || !(deff >= 1.0 && deff.is_finite()) {
        return None;
    }
    if k == 0 {
        return Some(0.0);
    }
    let (k, n) = (k as f64 / deff, n as f64 / deff);
    beta_ppf(1.0 - confidence, k, n - k + 1.0)
}

/// One-sided lower bound on a Poisson rate (events per unit of exposure)
/// at `confidence`, counts and exposure divided by `deff`.
pub fn rate_lower(k: u64, exposure: f64, deff: f64, confidence: f64) -> Option<f64> {
    if !(exposure.is_finite()
        && exposure > 0.0
        && valid(confidence)
        && deff >= 1.0
        && deff.is_finite())
    {
        return None;
    }
    if k == 0 {
        return Some(0.0);
    }
    let (k, d) = (k as f64 / deff, exposure / deff);
    let g = Gamma::new(k, 1.0).ok()?;
    Some(g.inverse_cdf(1.0 - confidence) / d)
}

/// One-sided upper bound on a Poisson rate, as [`rate_lower`].
pub fn rate_upper(k: u64, exposure: f64, deff: f64, confidence: f64) -> Option<f64> {
    if !(exposure.is_finite()
        && exposure > 0.0
        && valid(confidence)
        && deff >= 1.0
        && deff.is_finite())
    {
        return None;
    }
    let (k, d) = (k as f64 / deff, exposure / deff);
    let g = Gamma::new(k + 1.0, 1.0).ok()?;
    Some(g.inverse_cdf(confidence) / d)
}

/// Kish's effective sample size of values weighted by cluster: with
/// `n_i` values from cluster `i` (e.g. predictions of one patient, each
/// cluster's values taken as one), `(sum n_i)^2 / sum n_i^2`; 0 when empty.
pub fn kish_effective_n(counts: impl IntoIterator<Item = u64>) -> f64 {
    let (mut s, mut s2) = (0.0f64, 0.0f64);
    for c in counts {
        let c = c as f64;
        s += c;
        s2 += c * c;
    }
    if s2 > 0.0 {
        s * s / s2
    } else {
        0.0
    }
}

/// Chi-square survival function `P(X > x)` with `df` degrees of freedom
/// (scipy `chi2.sf`). `None` when `df` is not positive.
pub fn chi2_sf(x: f64, df: f64) -> Option<f64> {
    if !(df > 0.0 && df.is_finite()) || x.is_nan() {
        return None;
    }
    if x <= 0.0 {
        return Some(1.0);
    }
    let c = ChiSquared::new(df).ok()?;
    Some(c.sf(x))
}

/// p-value of a PSI under no shift: `chi2.sf(psi / (1/n + 1/m), bins - 1)`
/// for effective sample sizes `n` (current) and `m` (reference; infinite
/// for a reference known exactly). `None` with fewer than 2 bins or no
/// current sample.
pub fn psi_pvalue(psi: f64, bins: usize, n: f64, m: f64) -> Option<f64> {
    if bins < 2 || n.is_nan() || n <= 0.0 || m.is_nan() || m <= 0.0 || psi.is_nan() {
        return None;
    }
    let scale = 1.0 / n + if m.is_infinite() { 0.0 } else { 1.0 / m };
    chi2_sf(psi / scale, (bins - 1) as f64)
}

/// Holm's step-down procedure: which of `pvalues` are rejected with the
/// family-wise error rate at most `alpha` (sorted ascending, `p_(k)` is
/// rejected while `p_(j) <= alpha / (m - j + 1)` for every `j <= k`).
/// Valid under any dependence between the tests. NaN p-values are never
/// rejected and are not counted in `m`.
pub fn holm(pvalues: &[f64], alpha: f64) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..pvalues.len())
        .filter(|&i| !pvalues[i].is_nan())
        .collect();
    idx.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
    let m = idx.len();
    let mut out = vec![false; pvalues.len()];
    for (j, &i) in idx.iter().enumerate() {
        if pvalues[i] > alpha / (m - j) as f64 {
            break;
        }
        out[i] = true;
    }
    out
}

/// Benjamini-Hochberg: which of `pvalues` are discoveries at false
/// discovery rate `q` (scipy `false_discovery_control` adjusted p <= q).
/// NaN p-values are never discoveries and are not counted.
pub fn benjamini_hochberg(pvalues: &[f64], q: f64) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..pvalues.len())
        .filter(|&i| !pvalues[i].is_nan())
        .collect();
    idx.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
    let m = idx.len() as f64;
    let mut cut = 0;
    for (rank, &i) in idx.iter().enumerate() {
        if pvalues[i] <= q * (rank + 1) as f64 / m {
            cut = rank + 1;
        }
    }
    let mut out = vec![false; pvalues.len()];
    for &i in &idx[..cut] {
        out[i] = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_clusters_have_no_design_effect() {
        // One trial per cluster: the robust variance is the binomial one
        // up to G / (G - 1), floored at 1.
        let c: Vec<(u64, u64)> = (0..100).map(|i| ((i % 4 == 0) as u64, 1)).collect();
        let d = binomial_design_effect(&c);
        assert!((1.0..1.02).contains(&d), "{d}");
        // Identical clusters of ten: all or nothing per patient.
        let c: Vec<(u64, u64)> = (0..20)
            .map(|i| (if i % 4 == 0 { 10 } else { 0 }, 10))
            .collect();
        let d = binomial_design_effect(&c);
        assert!(d > 9.0 && d < 11.0, "{d}");
        assert_eq!(binomial_design_effect(&[(3, 10)]), 1.0);
    }

    #[test]
    fn overdispersed_counts_widen_the_rate_bound() {
        let even: Vec<(u64, f64)> = (0..50).map(|_| (1, 2.0)).collect();
        assert_eq!(poisson_design_effect(&even), 1.0);
        let lumpy: Vec<(u64, f64)> = (0..50).map(|i| (if i < 5 { 10 } else { 0 }, 2.0)).collect();
        let d = poisson_design_effect(&lumpy);
        assert!(d > 5.0, "{d}");
        let tight = rate_lower(50, 100.0, 1.0, 0.95).unwrap();
        let wide = rate_lower(50, 100.0, d, 0.95).unwrap();
        assert!(wide < tight && tight < 0.5, "{wide} {tight}");
    }

    #[test]
    fn holm_is_step_down() {
        // m = 4, alpha = 0.05: thresholds .0125 .0167 .025 .05.
        let p = [0.01, 0.03, 0.011, 0.5];
        assert_eq!(holm(&p, 0.05), vec![true, false, true, false]);
        let p = [0.03, f64::NAN, 0.001, 0.04];
        // m = 3: .001 <= .0167; .03 <= .025? no: stop.
        assert_eq!(holm(&p, 0.05), vec![false, false, true, false]);
        assert_eq!(holm(&[0.04], 0.05), vec![true]);
        assert!(holm(&[], 0.05).is_empty());
    }

    #[test]
    fn bh_is_step_up() {
        // m = 4, q = 0.05: rank thresholds .0125 .025 .0375 .05.
        let p = [0.01, 0.02, 0.03, 0.5];
        assert_eq!(benjamini_hochberg(&p, 0.05), vec![true, true, true, false]);
        let p = [0.2, 0.04, f64::NAN, 0.03];
        // m = 3: .03 <= .0167? no; .04 <= .033? no; .2 <= .05? no.
        assert_eq!(benjamini_hochberg(&p, 0.05), vec![false; 4]);
        assert!(benjamini_hochberg(&[], 0.05).is_empty());
    }
}
