//! Drift: PSI, two-sample Kolmogorov-Smirnov, missingness.
//!
//! **PSI.** Bins come from the reference: edges are the distinct numpy
//! linear quantiles of the reference at `i / bins` (`i = 1..bins-1`); a
//! value goes to bin `#{edges < x}` (`np.searchsorted(edges, x)`, so a value
//! equal to an edge is in the lower bin). With bin proportions `e_i`
//! (reference) and `a_i` (current), each floored at [`PSI_EPS`],
//! `PSI = sum (a_i - e_i) ln(a_i / e_i)`. PSI is a magnitude; the alarm
//! rules decide significance with the KS test below, not with PSI's
//! chi-square approximation (anti-conservative at the few patients of a
//! monitoring window, see [`crate::watch::psi_pvalue`]).
//!
//! **KS.** `D = sup |F_a - F_b|` over the pooled sample (= scipy
//! `ks_2samp(...).statistic`). The p-value follows scipy's default
//! `method="auto"`: exact when `max(n_a, n_b) <= 10000` (the exact
//! Smirnov null distribution, computed by the lattice-path recursion also
//! used by R's `psmirnov`), otherwise the Kolmogorov limiting distribution
//! `Q(sqrt(n_a n_b / (n_a + n_b)) D)` (= scipy `kstwobign.sf`). scipy's own
//! `asymp` mode uses `kstwo.sf(D, round(en))` instead, which differs from
//! the limit by O(1/sqrt(en)); we document rather than port it.
//!
//! **KS on clustered values.** A monitoring window's values come from a
//! few patients, many values each, and one patient's values are not
//! independent: a test that counts values is anti-conservative. Two forms:
//! - against another window's raw values ([`cluster_medians`]): one value
//!   per patient (the median of its values) on both sides, then the exact
//!   two-sample test above on independent units;
//! - against a training profile kept only as quantiles of its rows
//!   ([`ks_against_clustered`]): the row-weighted window CDF (the rows'
//!   weighting, as the profile's) at the profile's stored quantiles, with
//!   the exact null of the statistic at those points
//!   ([`binned_ks_pvalue`]) for `n = floor(Kish effective n)` of the
//!   patients' row counts, the reference's sampling error (`m` = the
//!   profile's patients) taken as the two-sample limit does, at
//!   `n m / (n + m)` values. At every point the variance of a row-weighted
//!   CDF of clustered rows is at most `F (1 - F) / n_Kish` (equality when a
//!   patient's values are all equal), which errs on the safe side.
//!
//! The exact Smirnov distribution is hand-written because neither statrs
//! nor another crate in the tree offers it (only the Kolmogorov limit,
//! which is anti-conservative at the 10-30 patients of a window).
//!
//! **Missingness.** Reference vs current missing rates with the pooled
//! two-proportion z-test (= scipy `chi2_contingency(..., correction=False)`).

use crate::metrics::quantile_sorted;
use serde::{Deserialize, Serialize};

/// Floor applied to bin proportions in PSI.
pub const PSI_EPS: f64 = 1e-4;
/// Above this sample size scipy's `auto` switches to the asymptotic p-value.
pub const KS_EXACT_MAX_N: usize = 10_000;

/// Reference bins for PSI (and a binned KS) of one feature or the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinProfile {
    /// Distinct inner edges, increasing.
    pub edges: Vec<f64>,
    /// Reference proportion per bin (`edges.len() + 1` bins), sums to 1.
    pub expected: Vec<f64>,
    /// Reference sample size.
    pub n: u64,
}

/// Build bins from a reference sample (NaN ignored). `None` when empty or
/// `bins < 2`.
pub fn bin_profile(reference: &[f64], bins: usize) -> Option<BinProfile> {
    let mut r: Vec<f64> = reference.iter().copied().filter(|x| !x.is_nan()).collect();
    if r.is_empty() || bins < 2 {
        return None;
    }
    r.sort_by(|a, b| a.total_cmp(b));
    let step = 1.0 / bins as f64;
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|i| quantile_sorted(&r, i as f64 * step))
        .collect();
    edges.dedup();
    let counts = bin_counts(&edges, &r);
    let n = r.len() as f64;
    Some(BinProfile {
        expected: counts.iter().map(|&c| c as f64 / n).collect(),
        edges,
        n: r.len() as u64,
    })
}

impl BinProfile {
    /// Bins from stored quantiles `(probability, value)` of a reference of
    /// size `n` (e.g. a training profile's `p5, p25, p50, ...`): edges are
    /// the values, and bin proportions the probability steps between them
    /// (equal values are merged). Exact for continuous data; deciles give
    /// the conventional 10-bin PSI. `None` when unsorted or out of range.
    pub fn from_quantiles(points: &[(f64, f64)], n: u64) -> Option<Self> {
        let mut pts: Vec<(f64, f64)> = points.to_vec();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pts.is_empty()
            || pts
                .iter()
                .any(|(p, v)| !(0.0..=1.0).contains(p) || !v.is_finite())
        {
            return None;
        }
        if pts.windows(2).any(|w| w[1].1 < w[0].1) {
            return None;
        }
        let mut edges: Vec<f64> = Vec::new();
        let mut cum: Vec<f64> = Vec::new();
        for (p, v) in pts {
            if edges.last() == Some(&v) {
                if let Some(c) = cum.last_mut() {
                    *c = p;
                }
            } else {
                edges.push(v);
                cum.push(p);
            }
        }
        let mut expected = Vec::with_capacity(edges.len() + 1);
        let mut prev = 0.0;
        for c in &cum {
            expected.push(c - prev);
            prev = *c;
        }
        expected.push(1.0 - prev);
        Some(Self { edges, expected, n })
    }
}

impl BinProfile {
    /// Adjacent bins merged, left to right, until each holds an expected
    /// count of at least `min_expected` in a sample of `n` (the condition
    /// for the chi-square null of [`crate::watch::psi_pvalue`]; a last
    /// small bin joins the one before). One bin when `n` is too small to
    /// test at all.
    pub fn coarsened(&self, n: f64, min_expected: f64) -> BinProfile {
        let need = if n > 0.0 {
            min_expected / n
        } else {
            f64::INFINITY
        };
        let mut edges = Vec::new();
        let mut expected = Vec::new();
        let mut acc = 0.0;
        for (i, e) in self.expected.iter().enumerate() {
            acc += e;
            if acc >= need && i < self.edges.len() {
                edges.push(self.edges[i]);
                expected.push(acc);
                acc = 0.0;
            }
        }
        match (expected.last_mut(), acc < need) {
            (Some(last), true) => {
                *last += acc;
                edges.pop();
            }
            _ => expected.push(acc),
        }
        BinProfile {
            edges,
            expected,
            n: self.n,
        }
    }
}

/// Probability of a quantile key such as `p0_5` (0.005), `p50` (0.5), `q99` (0.99).
pub fn quantile_key_probability(key: &str) -> Option<f64> {
    let rest = key.strip_prefix('p').or_else(|| key.strip_prefix('q'))?;
    let pct: f64 = rest.replace('_', ".").parse().ok()?;
    (0.0..=100.0).contains(&pct).then_some(pct / 100.0)
}

/// Drift of every profiled input present in `current` (name -> values,
/// `None` = missing), in profile order.
pub fn drift_report(
    profiles: &[FeatureProfile],
    current: &std::collections::BTreeMap<String, Vec<Option<f64>>>,
) -> Vec<FeatureDrift> {
    profiles
        .iter()
        .filter_map(|p| current.get(&p.name).map(|v| drift_against_profile(p, v)))
        .collect()
}

fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut c = vec![0u64; edges.len() + 1];
    for x in values.iter().filter(|x| !x.is_nan()) {
        c[edges.partition_point(|e| e < x)] += 1;
    }
    c
}

/// PSI of `current` against a bin profile. `None` when `current` is empty.
pub fn psi_against(profile: &BinProfile, current: &[f64]) -> Option<f64> {
    let counts = bin_counts(&profile.edges, current);
    let n: u64 = counts.iter().sum();
    if n == 0 || profile.expected.len() != counts.len() {
        return None;
    }
    Some(
        counts
            .iter()
            .zip(&profile.expected)
            .map(|(&c, &e)| {
                let a = (c as f64 / n as f64).max(PSI_EPS);
                let e = e.max(PSI_EPS);
                (a - e) * (a / e).ln()
            })
            .sum(),
    )
}

/// PSI of `current` against `reference` with `bins` reference-quantile bins.
pub fn psi(reference: &[f64], current: &[f64], bins: usize) -> Option<f64> {
    psi_against(&bin_profile(reference, bins)?, current)
}

/// How a KS p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    Exact,
    Asymptotic,
    /// Statistic at the profile's bin edges only, exact two-sample null at
    /// the (effective) sizes (see [`ks_against_clustered`]).
    Binned,
}

/// A two-sample KS result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KsResult {
    pub statistic: f64,
    pub pvalue: f64,
    pub method: KsMethod,
    /// Independent units the null was taken at, current side (patients,
    /// or Kish's effective number of them; values when unclustered).
    #[serde(default)]
    pub n: Option<f64>,
    /// Independent units of the reference side.
    #[serde(default)]
    pub m: Option<f64>,
}

/// Two-sample KS statistic `sup |F_a - F_b|` (NaN ignored).
pub fn ks_statistic(a: &[f64], b: &[f64]) -> Option<f64> {
    let mut a: Vec<f64> = a.iter().copied().filter(|x| !x.is_nan()).collect();
    let mut b: Vec<f64> = b.iter().copied().filter(|x| !x.is_nan()).collect();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sort_by(|x, y| x.total_cmp(y));
    b.sort_by(|x, y| x.total_cmp(y));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    Some(d)
}

/// Kolmogorov limiting survival function `Q(x) = P(K > x)` (scipy `kstwobign.sf`).
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.0 {
        // CDF = sqrt(2 pi)/x sum_k exp(-(2k-1)^2 pi^2 / (8 x^2))
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let mut s = 0.0;
        for k in 1..=50 {
            let m = (2 * k - 1) as f64;
            let term = (-(m * m) * pi2 / (8.0 * x * x)).exp();
            s += term;
            if term < 1e-300 {
                break;
            }
        }
        (1.0 - (2.0 * std::f64::consts::PI).sqrt() / x * s).clamp(0.0, 1.0)
    } else {
        let mut s = 0.0;
        for k in 1..=100 {
            let kf = k as f64;
            let term = (-2.0 * kf * kf * x * x).exp();
            s += if k % 2 == 1 { term } else { -term };
            if term < 1e-300 {
                break;
            }
        }
        (2.0 * s).clamp(0.0, 1.0)
    }
}

/// Exact `P(D >= d)` under H0 for sample sizes `m`, `n` (no ties), by the
/// lattice-path recursion (R `psmirnov`, two-sided). Only the band of
/// lattice points with `|i/m - j/n| <= q` can carry paths, so each row
/// visits that band alone: `O(m n q)` instead of `O(m n)`, the same sums.
pub fn ks_exact_pvalue(d: f64, m: usize, n: usize) -> f64 {
    let (m, n) = if m > n { (n, m) } else { (m, n) };
    let (md, nd) = (m as f64, n as f64);
    let q = (0.5 + (d * md * nd - 1e-7).floor()) / (md * nd);
    let inside = |im: f64, j: usize| (im - j as f64 / nd).abs() <= q;
    // The band of row `i`: the `j` with `inside`, an interval moving right.
    let band = |im: f64| -> (usize, usize) {
        let mut lo = (((im - q) * nd).floor().max(0.0) as usize).saturating_sub(1);
        while lo < n && !inside(im, lo) {
            lo += 1;
        }
        let mut hi = (((im + q) * nd).ceil().max(0.0) as usize + 1).min(n);
        while hi > lo && !inside(im, hi) {
            hi -= 1;
        }
        (lo, hi)
    };
    let mut u: Vec<f64> = (0..=n)
        .map(|j| if j as f64 / nd > q { 0.0 } else { 1.0 })
        .collect();
    let (mut prev_lo, _) = band(0.0);
    for i in 1..=m {
        let w = i as f64 / (i + n) as f64;
        let im = i as f64 / md;
        let (lo, hi) = band(im);
        if !inside(im, lo) {
            // An empty band: no path reaches this row.
            return 1.0;
        }
        for x in &mut u[prev_lo..lo.max(prev_lo)] {
            *x = 0.0;
        }
        if lo == 0 {
            u[0] *= w;
        }
        for j in lo.max(1)..=hi {
            u[j] = w * u[j] + u[j - 1];
        }
        prev_lo = lo;
    }
    (1.0 - u[n]).clamp(0.0, 1.0)
}

/// scipy `ks_2samp(a, b)` (two-sided, `method="auto"`; see the module doc).
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    let d = ks_statistic(a, b)?;
    let na = a.iter().filter(|x| !x.is_nan()).count();
    let nb = b.iter().filter(|x| !x.is_nan()).count();
    let (pvalue, method) = ks_pvalue(d, na, nb);
    Some(KsResult {
        statistic: d,
        pvalue,
        method,
        n: Some(nb as f64),
        m: Some(na as f64),
    })
}

/// p-value of a two-sample KS statistic at sizes `m`, `n`, as scipy's
/// `auto`: exact when `max(m, n) <= KS_EXACT_MAX_N`, else the Kolmogorov
/// limit.
pub fn ks_pvalue(d: f64, m: usize, n: usize) -> (f64, KsMethod) {
    if m.max(n) <= KS_EXACT_MAX_N {
        (ks_exact_pvalue(d, m, n), KsMethod::Exact)
    } else {
        (ks_asymptotic_pvalue(d, m, n), KsMethod::Asymptotic)
    }
}

/// Kolmogorov-limit p-value for sizes `m`, `n`.
pub fn ks_asymptotic_pvalue(d: f64, m: usize, n: usize) -> f64 {
    let en = (m as f64 * n as f64) / (m + n) as f64;
    kolmogorov_sf(en.sqrt() * d)
}

/// KS of `current` against a bin profile when the reference sample is not
/// kept, each value an independent unit: [`ks_against_clustered`] with one
/// value per cluster.
pub fn ks_against(profile: &BinProfile, current: &[f64]) -> Option<KsResult> {
    let singletons: Vec<Vec<f64>> = current.iter().map(|x| vec![*x]).collect();
    ks_against_clustered(profile, &singletons, profile.n as f64)
}

/// KS of clustered current values (one `Vec` per patient) against a bin
/// profile of `reference_units` independent units (the profile's patients;
/// see the module doc). `D` is the largest difference between the
/// row-weighted current CDF and the profile's at the profile's edges; the
/// p-value is the exact null of that statistic ([`binned_ks_pvalue`]) for
/// `floor(n m / (n + m))` independent values, `n = floor(kish_effective_n)`
/// of the clusters' sizes and `m = floor(reference_units)` (the
/// reference's sampling error taken as in the two-sample KS limit). NaN
/// ignored; `None` without a value or with fewer than one unit on a side.
pub fn ks_against_clustered(
    profile: &BinProfile,
    clusters: &[Vec<f64>],
    reference_units: f64,
) -> Option<KsResult> {
    let values: Vec<f64> = clusters
        .iter()
        .flatten()
        .copied()
        .filter(|x| !x.is_nan())
        .collect();
    let counts = bin_counts(&profile.edges, &values);
    let total: u64 = counts.iter().sum();
    let n_eff = crate::watch::kish_effective_n(
        clusters
            .iter()
            .map(|c| c.iter().filter(|x| !x.is_nan()).count() as u64),
    )
    .floor();
    let m = reference_units.floor();
    if total == 0 || !(n_eff >= 1.0 && m >= 1.0) || profile.expected.len() != counts.len() {
        return None;
    }
    let (mut fa, mut fe, mut d) = (0.0f64, 0.0f64, 0.0f64);
    let mut cdf = Vec::with_capacity(profile.edges.len());
    for (c, e) in counts
        .iter()
        .zip(&profile.expected)
        .take(profile.edges.len())
    {
        fa += *c as f64 / total as f64;
        fe += e;
        cdf.push(fe);
        d = d.max((fa - fe).abs());
    }
    // The reference's own sampling error: the two-sample variance
    // F (1 - F) (1/n + 1/m) is that of one sample of n m / (n + m).
    let units = (n_eff * m / (n_eff + m)).floor().max(1.0) as usize;
    let pvalue = if units <= BINNED_EXACT_MAX_N {
        binned_ks_pvalue(d, &cdf, units)
    } else {
        ks_pvalue(d, m as usize, n_eff as usize).0
    };
    Some(KsResult {
        statistic: d,
        pvalue,
        method: KsMethod::Binned,
        n: Some(n_eff),
        m: Some(m),
    })
}

/// Above this many units [`ks_against_clustered`] takes the continuous
/// (conservative) KS null instead of the exact binned one.
pub const BINNED_EXACT_MAX_N: usize = 2_000;

/// Exact `P(max_j |S_j / n - P_j| >= d)` for `n` independent values of a
/// distribution with CDF `P_j` at a few points (`cdf`, increasing), `S_j`
/// the values at or below point `j`: the KS statistic at those points
/// only, the one-sample test for a reference known at a few quantiles
/// (Conover 1972's exact test for grouped or discrete data). A recursion
/// over `S_j`, which given `S_{j-1} = s` is `s` plus a binomial of `n - s`
/// values; `O(points * n^2)`. Hand-written: no crate in the tree has it.
/// The continuous KS null would be conservative here, by far when the
/// points are mostly in the tails (a training profile's 0.5% ... 99.5%).
pub fn binned_ks_pvalue(d: f64, cdf: &[f64], n: usize) -> f64 {
    if n == 0 || d.is_nan() {
        return 1.0;
    }
    let nf = n as f64;
    // Observed statistics carry rounding: P(D >= d - tol).
    let limit = d - 1e-9;
    let mut lnf = vec![0.0f64; n + 1];
    for k in 1..=n {
        lnf[k] = lnf[k - 1] + (k as f64).ln();
    }
    let mut prob = vec![0.0f64; n + 1];
    prob[0] = 1.0;
    let mut prev = 0.0f64;
    for &pj in cdf {
        let pj = pj.clamp(prev, 1.0);
        let rest = 1.0 - prev;
        let q = if rest > 0.0 {
            ((pj - prev) / rest).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut next = vec![0.0f64; n + 1];
        for (s, &ps) in prob.iter().enumerate() {
            if ps == 0.0 {
                continue;
            }
            let r = n - s;
            if q <= 0.0 {
                next[s] += ps;
                continue;
            }
            if q >= 1.0 {
                next[n] += ps;
                continue;
            }
            // The binomial(r, q) terms outward from its mode, by the ratio
            // of neighbours, until they fall below `TAIL` of the mode's
            // (what is left out is below 1e-12 of the p-value's scale).
            const TAIL: f64 = 1e-18;
            let (lq, lp) = (q.ln(), (1.0 - q).ln());
            let mode = (((r + 1) as f64 * q).floor() as usize).min(r);
            let ln_mode =
                lnf[r] - lnf[mode] - lnf[r - mode] + mode as f64 * lq + (r - mode) as f64 * lp;
            let at_mode = ln_mode.exp();
            let odds = q / (1.0 - q);
            let mut pmf = at_mode;
            for k in mode..=r {
                if k > mode {
                    pmf *= (r - k + 1) as f64 / k as f64 * odds;
                }
                if pmf < TAIL * at_mode {
                    break;
                }
                next[s + k] += ps * pmf;
            }
            let mut pmf = at_mode;
            for k in (0..mode).rev() {
                pmf *= (k + 1) as f64 / (r - k) as f64 / odds;
                if pmf < TAIL * at_mode {
                    break;
                }
                next[s + k] += ps * pmf;
            }
        }
        for (s, x) in next.iter_mut().enumerate() {
            if (s as f64 / nf - pj).abs() >= limit {
                *x = 0.0;
            }
        }
        prob = next;
        prev = pj;
    }
    (1.0 - prob.iter().sum::<f64>()).clamp(0.0, 1.0)
}

/// One value per cluster: the median of its non-NaN values (clusters
/// without one are left out), for a KS test on independent units.
pub fn cluster_medians(clusters: &[Vec<f64>]) -> Vec<f64> {
    clusters
        .iter()
        .filter_map(|c| {
            let mut v: Vec<f64> = c.iter().copied().filter(|x| !x.is_nan()).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            quantile_sorted(&v, 0.5)
        })
        .collect()
}

/// Missingness in a reference and a current window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingnessDrift {
    pub reference_rate: f64,
    pub current_rate: f64,
    /// `current_rate - reference_rate`.
    pub difference: f64,
    /// Pooled two-proportion z-test, two-sided; `None` when undefined.
    pub pvalue: Option<f64>,
}

/// Compare missing counts `(missing, total)` of reference and current.
pub fn missingness_drift(reference: (u64, u64), current: (u64, u64)) -> Option<MissingnessDrift> {
    let ((x1, n1), (x2, n2)) = (reference, current);
    if n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pool = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pool * (1.0 - pool) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let pvalue = (se > 0.0).then(|| {
        let z = ((p2 - p1) / se).abs();
        libm::erfc(z / std::f64::consts::SQRT_2)
    });
    Some(MissingnessDrift {
        reference_rate: p1,
        current_rate: p2,
        difference: p2 - p1,
        pvalue,
    })
}

/// A training-profile entry for one input (or the score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub name: String,
    pub bins: BinProfile,
    pub missing_rate: f64,
}

impl FeatureProfile {
    /// Profile a sample where `None` is missing.
    pub fn from_sample(name: &str, values: &[Option<f64>], bins: usize) -> Option<Self> {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        Some(Self {
            name: name.to_string(),
            bins: bin_profile(&present, bins)?,
            missing_rate: 1.0 - present.len() as f64 / values.len() as f64,
        })
    }
}

/// Drift of one input against a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub name: String,
    /// Non-missing values in the current window.
    pub n_current: u64,
    pub psi: Option<f64>,
    /// The test the drift rule decides on: KS at the sizes in its `n`, `m`
    /// (patients, when the caller knows them: [`drift_against_profile_tested`]).
    pub ks: Option<KsResult>,
    pub missingness: Option<MissingnessDrift>,
    /// PSI bins compared (reference bins).
    #[serde(default)]
    pub bins: usize,
    /// Effective sizes the null distribution was taken at (see
    /// [`FeatureDrift::with_effective_sizes`]); the raw counts otherwise.
    #[serde(default)]
    pub sizes: Option<DriftSizes>,
    /// p-value of the PSI under no shift at those sizes by its chi-square
    /// approximation ([`crate::watch::psi_pvalue`]); shown, not used by the
    /// rules (anti-conservative at small sizes).
    #[serde(default)]
    pub psi_pvalue: Option<f64>,
}

/// Effective sample sizes of a drift comparison: values present and all
/// rows (present or missing), current and reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftSizes {
    pub current_present: f64,
    pub current_rows: f64,
    pub reference_present: f64,
    pub reference_rows: f64,
}

impl FeatureDrift {
    /// Take the null distributions (PSI and missingness) at effective
    /// sample sizes instead of the raw counts: rows of one patient are not
    /// independent, so the caller passes e.g. the number of patients
    /// (or Kish's effective number, [`crate::watch::kish_effective_n`]).
    pub fn with_effective_sizes(mut self, sizes: DriftSizes) -> Self {
        self.psi_pvalue = self.psi.and_then(|p| {
            crate::watch::psi_pvalue(p, self.bins, sizes.current_present, sizes.reference_present)
        });
        if let Some(m) = self.missingness.as_mut() {
            m.pvalue = two_proportion_pvalue(
                (m.reference_rate, sizes.reference_rows),
                (m.current_rate, sizes.current_rows),
            );
        }
        self.sizes = Some(sizes);
        self
    }
}

/// Pooled two-proportion z-test, two-sided, of rates with (possibly
/// effective, non-integer) sample sizes.
pub fn two_proportion_pvalue(a: (f64, f64), b: (f64, f64)) -> Option<f64> {
    let ((p1, n1), (p2, n2)) = (a, b);
    if !(n1 > 0.0 && n2 > 0.0) {
        return None;
    }
    let pool = (p1 * n1 + p2 * n2) / (n1 + n2);
    let se = (pool * (1.0 - pool) * (1.0 / n1 + 1.0 / n2)).sqrt();
    (se > 0.0).then(|| {
        let z = ((p2 - p1) / se).abs();
        libm::erfc(z / std::f64::consts::SQRT_2)
    })
}

/// Drift of `current` against a training profile (bins only), each value
/// an independent unit for the KS test ([`ks_against`]).
pub fn drift_against_profile(profile: &FeatureProfile, current: &[Option<f64>]) -> FeatureDrift {
    profile_drift(profile, current, |present| {
        ks_against(&profile.bins, present)
    })
}

/// [`drift_against_profile`] with the KS test the caller took on
/// independent units (e.g. [`ks_against_clustered`] of patients): the
/// test on the raw values is not computed.
pub fn drift_against_profile_tested(
    profile: &FeatureProfile,
    current: &[Option<f64>],
    ks: Option<KsResult>,
) -> FeatureDrift {
    profile_drift(profile, current, |_| ks)
}

fn profile_drift(
    profile: &FeatureProfile,
    current: &[Option<f64>],
    ks: impl FnOnce(&[f64]) -> Option<KsResult>,
) -> FeatureDrift {
    let present: Vec<f64> = current.iter().flatten().copied().collect();
    let ref_n = profile.bins.n as f64 / (1.0 - profile.missing_rate).max(1e-12);
    let ref_missing = (ref_n * profile.missing_rate).round() as u64;
    let psi = psi_against(&profile.bins, &present);
    let bins = profile.bins.expected.len();
    FeatureDrift {
        name: profile.name.clone(),
        n_current: present.len() as u64,
        psi,
        ks: ks(&present),
        missingness: missingness_drift(
            (ref_missing, ref_n.round() as u64),
            ((current.len() - present.len()) as u64, current.len() as u64),
        ),
        bins,
        sizes: None,
        psi_pvalue: psi.and_then(|p| {
            crate::watch::psi_pvalue(p, bins, present.len() as f64, profile.bins.n as f64)
        }),
    }
}

/// Drift of `current` against a reference window of raw values, each
/// value an independent unit for the KS test ([`ks_2samp`]).
pub fn drift_against_window(
    name: &str,
    reference: &[Option<f64>],
    current: &[Option<f64>],
    bins: usize,
) -> FeatureDrift {
    window_drift(name, reference, current, bins, ks_2samp)
}

/// [`drift_against_window`] with the KS test the caller took on
/// independent units (e.g. [`ks_2samp`] of [`cluster_medians`]): the test
/// on the raw values, `O(m n)` when exact, is not computed.
pub fn drift_against_window_tested(
    name: &str,
    reference: &[Option<f64>],
    current: &[Option<f64>],
    bins: usize,
    ks: Option<KsResult>,
) -> FeatureDrift {
    window_drift(name, reference, current, bins, |_, _| ks)
}

fn window_drift(
    name: &str,
    reference: &[Option<f64>],
    current: &[Option<f64>],
    bins: usize,
    ks: impl FnOnce(&[f64], &[f64]) -> Option<KsResult>,
) -> FeatureDrift {
    let r: Vec<f64> = reference.iter().flatten().copied().collect();
    let c: Vec<f64> = current.iter().flatten().copied().collect();
    let profile = bin_profile(&r, bins);
    let psi = profile.as_ref().and_then(|p| psi_against(p, &c));
    let n_bins = profile.as_ref().map_or(0, |p| p.expected.len());
    FeatureDrift {
        name: name.to_string(),
        n_current: c.len() as u64,
        psi,
        bins: n_bins,
        sizes: None,
        psi_pvalue: psi
            .and_then(|p| crate::watch::psi_pvalue(p, n_bins, c.len() as f64, r.len() as f64)),
        ks: ks(&r, &c),
        missingness: missingness_drift(
            ((reference.len() - r.len()) as u64, reference.len() as u64),
            ((current.len() - c.len()) as u64, current.len() as u64),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_identical_and_grows_with_shift() {
        let r: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert!(psi(&r, &r, 10).unwrap().abs() < 1e-12);
        let shifted: Vec<f64> = r.iter().map(|x| x + 300.0).collect();
        assert!(psi(&r, &shifted, 10).unwrap() > 0.25);
        assert!(psi(&[], &r, 10).is_none());
        assert!(psi(&r, &[], 10).is_none());
    }

    #[test]
    fn ks_hand_case_and_profile_bound() {
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), Some(0.0));
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        let r: Vec<f64> = (0..500).map(|i| i as f64).collect();
        let c: Vec<f64> = (0..500).map(|i| i as f64 * 1.3).collect();
        let full = ks_statistic(&r, &c).unwrap();
        let binned = ks_against(&bin_profile(&r, 10).unwrap(), &c)
            .unwrap()
            .statistic;
        assert!(
            binned <= full + 1e-12 && binned > 0.5 * full,
            "{binned} vs {full}"
        );
    }

    #[test]
    fn kolmogorov_series_agree_at_the_switch() {
        let lo = kolmogorov_sf(1.0 - 1e-12);
        let hi = kolmogorov_sf(1.0);
        assert!((lo - hi).abs() < 1e-10);
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert!(kolmogorov_sf(10.0) < 1e-80);
    }

    #[test]
    fn profile_from_stored_quantiles() {
        let b =
            BinProfile::from_quantiles(&[(0.25, 1.0), (0.5, 2.0), (0.75, 2.0), (0.05, 0.5)], 100)
                .unwrap();
        assert_eq!(b.edges, vec![0.5, 1.0, 2.0]);
        let e: Vec<f64> = b.expected.iter().map(|x| (x * 100.0).round()).collect();
        assert_eq!(e, vec![5.0, 20.0, 50.0, 25.0]);
        assert!(BinProfile::from_quantiles(&[(0.2, 3.0), (0.4, 1.0)], 10).is_none());
        assert_eq!(quantile_key_probability("p0_5"), Some(0.005));
        assert_eq!(quantile_key_probability("q99"), Some(0.99));
        assert_eq!(quantile_key_probability("mean"), None);
        // Deciles of a reference reproduce the sample-based PSI bins.
        let r: Vec<f64> = (0..1001).map(|i| i as f64).collect();
        let pts: Vec<(f64, f64)> = (1..10)
            .map(|i| (i as f64 / 10.0, i as f64 * 100.0))
            .collect();
        let from_q = BinProfile::from_quantiles(&pts, 1001).unwrap();
        let cur: Vec<f64> = (0..500).map(|i| i as f64 * 1.5).collect();
        let a = psi_against(&from_q, &cur).unwrap();
        let b = psi(&r, &cur, 10).unwrap();
        assert!((a - b).abs() < 0.01, "{a} vs {b}");
    }

    #[test]
    fn coarsened_bins_expect_enough_per_bin() {
        // Training-profile shape: tails of 0.5% and 1%.
        let b = BinProfile {
            edges: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            expected: vec![0.005, 0.045, 0.2, 0.25, 0.25, 0.2, 0.05],
            n: 1000,
        };
        let c = b.coarsened(20.0, 5.0);
        assert!(c.expected.iter().all(|e| e * 20.0 >= 5.0 - 1e-9), "{c:?}");
        assert_eq!(c.edges.len() + 1, c.expected.len());
        assert!((c.expected.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(c.edges, vec![3.0, 4.0, 5.0]);
        // Too few to test: one bin.
        let one = b.coarsened(4.0, 5.0);
        assert!(one.edges.is_empty() && one.expected.len() == 1);
        // Plenty: unchanged.
        assert_eq!(b.coarsened(1e6, 5.0), b);
    }

    /// The whole lattice, row by row: what the banded recursion sums.
    fn ks_exact_full(d: f64, m: usize, n: usize) -> f64 {
        let (m, n) = if m > n { (n, m) } else { (m, n) };
        let (md, nd) = (m as f64, n as f64);
        let q = (0.5 + (d * md * nd - 1e-7).floor()) / (md * nd);
        let mut u: Vec<f64> = (0..=n)
            .map(|j| if j as f64 / nd > q { 0.0 } else { 1.0 })
            .collect();
        for i in 1..=m {
            let w = i as f64 / (i + n) as f64;
            let im = i as f64 / md;
            u[0] = if im > q { 0.0 } else { w * u[0] };
            for j in 1..=n {
                u[j] = if (im - j as f64 / nd).abs() > q {
                    0.0
                } else {
                    w * u[j] + u[j - 1]
                };
            }
        }
        (1.0 - u[n]).clamp(0.0, 1.0)
    }

    /// Every binomial term, as in Conover's recursion written plainly.
    fn binned_full(d: f64, cdf: &[f64], n: usize) -> f64 {
        let nf = n as f64;
        let mut prob = vec![0.0f64; n + 1];
        prob[0] = 1.0;
        let mut prev = 0.0f64;
        let lnf: Vec<f64> = (0..=n)
            .scan(0.0, |acc, x| {
                *acc += if x == 0 { 0.0 } else { (x as f64).ln() };
                Some(*acc)
            })
            .collect();
        let ln_choose = |r: usize, k: usize| lnf[r] - lnf[k] - lnf[r - k];
        for &pj in cdf {
            let q = (pj - prev) / (1.0 - prev);
            let mut next = vec![0.0f64; n + 1];
            for (s, &ps) in prob.iter().enumerate() {
                let r = n - s;
                for k in 0..=r {
                    let ln = ln_choose(r, k) + k as f64 * q.ln() + (r - k) as f64 * (1.0 - q).ln();
                    next[s + k] += ps * ln.exp();
                }
            }
            for (s, x) in next.iter_mut().enumerate() {
                if (s as f64 / nf - pj).abs() >= d - 1e-9 {
                    *x = 0.0;
                }
            }
            prob = next;
            prev = pj;
        }
        (1.0 - prob.iter().sum::<f64>()).clamp(0.0, 1.0)
    }

    #[test]
    fn banded_and_truncated_recursions_sum_what_the_full_ones_do() {
        for (m, n) in [(1, 1), (3, 7), (17, 17), (40, 95), (120, 60), (200, 333)] {
            for d in [0.0, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.0] {
                let (a, b) = (ks_exact_pvalue(d, m, n), ks_exact_full(d, m, n));
                assert!((a - b).abs() < 1e-12, "m {m} n {n} d {d}: {a} vs {b}");
            }
        }
        let cdf = [0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995];
        for n in [1, 5, 30, 150, 400] {
            for d in [0.02, 0.05, 0.1, 0.2, 0.4] {
                let (a, b) = (binned_ks_pvalue(d, &cdf, n), binned_full(d, &cdf, n));
                assert!((a - b).abs() < 1e-10, "n {n} d {d}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn missingness_detects_a_jump() {
        let m = missingness_drift((10, 1000), (100, 1000)).unwrap();
        assert!((m.difference - 0.09).abs() < 1e-12);
        assert!(m.pvalue.unwrap() < 1e-10);
        assert!(missingness_drift((0, 0), (1, 2)).is_none());
        assert_eq!(missingness_drift((0, 10), (0, 10)).unwrap().pvalue, None);
    }
}
