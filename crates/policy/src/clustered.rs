//! Bounds for counts clustered within patients.
//!
//! Alerts are not independent: one patient contributes several (first
//! alert, re-alerts), all true or all false together more often than
//! chance. The bounds here resample *patients*, never alerts:
//!
//! - [`cluster_bootstrap`]: `B` replicates; each draws `n` patients with
//!   replacement (indices from [`SplitMix64`], seeded, `next() % n`) and
//!   sums their true alerts `k`, alerts `m` and patient-days `d`. The PPV
//!   of a replicate is `k / m` (replicates with `m = 0` are left out), the
//!   rate `100 m / d`. The lower PPV bound is the replicates' quantile at
//!   `1 - confidence` taking the lower order statistic (`numpy.quantile(...,
//!   method="lower")`), the upper rate bound the quantile at `confidence`
//!   taking the higher one (`method="higher"`).
//! - [`poisson_upper`]: the exact (Garwood) one-sided upper bound on a
//!   Poisson mean for an observed count, `Gamma(count + 1, 1).ppf(c)`
//!   (scipy `gamma.ppf`).
//!
//! The certification takes the lower of the bootstrap PPV bound and the
//! exact Clopper-Pearson bound on the alerts as if independent, and the
//! higher of the bootstrap rate bound and the Poisson bound: whichever is
//! more cautious (the exact bounds win when there are few alerts, where a
//! percentile bootstrap is too optimistic; the bootstrap wins when alerts
//! cluster). `tools/reference/stats_reference.py` restates both with numpy
//! and scipy for the fixtures the tests compare with.

use statrs::function::gamma::gamma_lr;

/// The SplitMix64 generator (Steele, Lea and Flood 2014): small, exact in
/// any language with 64-bit wrapping arithmetic, so the reference script
/// draws the same resamples.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One patient's contribution: true alerts, alerts, patient-days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    pub true_alerts: u64,
    pub alerts: u64,
    pub days: f64,
}

/// Bootstrap resamples used by the certification.
pub const BOOTSTRAP_REPLICATES: usize = 2000;
/// Seed of the certification's bootstrap (fixed: a certification is
/// reproducible from its data).
pub const BOOTSTRAP_SEED: u64 = 0x5EED_CE27;

/// Bounds from a patient (cluster) bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapBounds {
    /// Lower bound on per-alert PPV (`None`: no replicate had an alert).
    pub ppv_lower: Option<f64>,
    /// Upper bound on alerts per 100 patient-days (`None`: no exposure).
    pub rate_upper: Option<f64>,
    /// The other sides (for two-sided intervals in reports): PPV at
    /// `confidence` (higher order statistic), rate at `1 - confidence`
    /// (lower one).
    pub ppv_upper: Option<f64>,
    pub rate_lower: Option<f64>,
}

/// Patient bootstrap of per-alert PPV and alert rate (see the module doc).
/// `confidence` in (0, 1); empty input or `replicates == 0` gives `None`s.
pub fn cluster_bootstrap(
    clusters: &[Cluster],
    confidence: f64,
    replicates: usize,
    seed: u64,
) -> BootstrapBounds {
    let n = clusters.len() as u64;
    let none = BootstrapBounds {
        ppv_lower: None,
        rate_upper: None,
        ppv_upper: None,
        rate_lower: None,
    };
    if n == 0 || replicates == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return none;
    }
    let mut rng = SplitMix64::new(seed);
    let mut ppv = Vec::with_capacity(replicates);
    let mut rate = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        let (mut k, mut m, mut d) = (0u64, 0u64, 0.0f64);
        for _ in 0..n {
            let c = &clusters[(rng.next() % n) as usize];
            k += c.true_alerts;
            m += c.alerts;
            d += c.days;
        }
        if m > 0 {
            ppv.push(k as f64 / m as f64);
        }
        if d > 0.0 {
            rate.push(100.0 * m as f64 / d);
        }
    }
    BootstrapBounds {
        ppv_lower: quantile_lower(&mut ppv, 1.0 - confidence),
        rate_upper: quantile_higher(&mut rate, confidence),
        ppv_upper: quantile_higher(&mut ppv, confidence),
        rate_lower: quantile_lower(&mut rate, 1.0 - confidence),
    }
}

/// `numpy.quantile(v, q, method="lower")`.
pub fn quantile_lower(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = (q * (v.len() - 1) as f64).floor() as usize;
    v.get(i.min(v.len() - 1)).copied()
}

/// `numpy.quantile(v, q, method="higher")`.
pub fn quantile_higher(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = (q * (v.len() - 1) as f64).ceil() as usize;
    v.get(i.min(v.len() - 1)).copied()
}

/// Exact one-sided upper confidence bound on a Poisson mean after
/// observing `count` events: `x` with `P(Gamma(count + 1, 1) <= x) =
/// confidence` (bisection on the regularized lower incomplete gamma, to
/// 1e-12 relative). `None` when `confidence` is not in (0, 1).
pub fn poisson_upper(count: u64, confidence: f64) -> Option<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let a = count as f64 + 1.0;
    let (mut lo, mut hi) = (0.0f64, a + 10.0 * a.sqrt() + 50.0);
    while gamma_lr(a, hi) < confidence {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_lr(a, mid) < confidence {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_first_values() {
        // Published SplitMix64 output for seed 0 (the reference script
        // checks the same).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn poisson_upper_closed_form_at_zero() {
        // count 0: 1 - e^{-x} = c  =>  x = -ln(1 - c).
        let x = poisson_upper(0, 0.95).unwrap();
        assert!((x - (-(0.05f64).ln())).abs() < 1e-9, "{x}");
        assert!(poisson_upper(3, 1.0).is_none());
    }

    #[test]
    fn bootstrap_of_identical_patients_is_degenerate() {
        let c = vec![
            Cluster {
                true_alerts: 1,
                alerts: 2,
                days: 4.0
            };
            10
        ];
        let b = cluster_bootstrap(&c, 0.95, 200, 1);
        assert_eq!(b.ppv_lower, Some(0.5));
        assert_eq!(b.rate_upper, Some(50.0));
        let none = cluster_bootstrap(&[], 0.95, 200, 1);
        assert_eq!(none.ppv_lower, None);
    }

    #[test]
    fn clustering_widens_the_bound() {
        // Same 20 alerts, 10 true: spread over 20 patients vs. 2 patients.
        let spread: Vec<Cluster> = (0..20)
            .map(|i| Cluster {
                true_alerts: (i % 2) as u64,
                alerts: 1,
                days: 1.0,
            })
            .chain((0..20).map(|_| Cluster {
                true_alerts: 0,
                alerts: 0,
                days: 1.0,
            }))
            .collect();
        let mut clumped: Vec<Cluster> = vec![
            Cluster {
                true_alerts: 10,
                alerts: 10,
                days: 1.0,
            },
            Cluster {
                true_alerts: 0,
                alerts: 10,
                days: 1.0,
            },
        ];
        clumped.extend((0..38).map(|_| Cluster {
            true_alerts: 0,
            alerts: 0,
            days: 1.0,
        }));
        let a = cluster_bootstrap(&spread, 0.95, 2000, 7);
        let b = cluster_bootstrap(&clumped, 0.95, 2000, 7);
        assert!(b.ppv_lower.unwrap() < a.ppv_lower.unwrap(), "{a:?} {b:?}");
        assert!(b.rate_upper.unwrap() > a.rate_upper.unwrap(), "{a:?} {b:?}");
    }
}
