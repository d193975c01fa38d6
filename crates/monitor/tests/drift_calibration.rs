//! Calibration and power of the drift rule's tests, by simulation with a
//! fixed seed, at the sizes of a monitoring window (10-30 patients, many
//! correlated values each):
//! - under no shift each test rejects at most `alpha` of the time (within
//!   three binomial standard errors), and the Holm family of one
//!   evaluation (20 features) raises any alarm at most `alpha` of the time;
//! - a unit error (values x 9) at about 17-20 patients and an older case
//!   mix are detected;
//! - for contrast, the chi-square null of PSI that the rule no longer uses
//!   rejects far more than `alpha` at 12 patients and 10 bins.

use bedside_monitor::drift::{
    cluster_medians, ks_2samp, ks_against_clustered, psi_against, BinProfile,
};
use bedside_monitor::watch::{holm, kish_effective_n, psi_pvalue};

const ALPHA: f64 = 0.05;
const PROBS: [f64; 9] = [0.005, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.995];

/// SplitMix64 with Box-Muller normals.
struct Rng(u64);
impl Rng {
    fn u(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.u().max(1e-300), self.u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
    fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.u() * (hi - lo + 1) as f64) as usize
    }
}

/// `g` patients: a patient level `N(0, 1)` (kept when `keep` says so),
/// 1-40 values each around it (`N(0, 0.5^2)`), each value through `f`.
fn patients(
    rng: &mut Rng,
    g: usize,
    keep: impl Fn(f64) -> bool,
    f: impl Fn(f64) -> f64,
) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(g);
    while out.len() < g {
        let mu = rng.normal();
        let k = rng.int(1, 40);
        let v: Vec<f64> = (0..k).map(|_| f(mu + 0.5 * rng.normal())).collect();
        if keep(mu) {
            out.push(v);
        }
    }
    out
}

/// A training profile as stored: row quantiles of a training sample of
/// `g` patients (5-80 rows each), at the profile's probabilities.
fn training_profile(rng: &mut Rng, g: usize, f: impl Fn(f64) -> f64) -> BinProfile {
    let mut rows: Vec<f64> = Vec::new();
    for _ in 0..g {
        let mu = rng.normal();
        let k = rng.int(5, 80);
        rows.extend((0..k).map(|_| f(mu + 0.5 * rng.normal())));
    }
    rows.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let h = (rows.len() - 1) as f64 * p;
        let (i, w) = (h.floor() as usize, h - h.floor());
        rows[i] + w * (rows[(i + 1).min(rows.len() - 1)] - rows[i])
    };
    let points: Vec<(f64, f64)> = PROBS.iter().map(|&p| (p, q(p))).collect();
    BinProfile::from_quantiles(&points, rows.len() as u64).unwrap()
}

fn lognormal(x: f64) -> f64 {
    (0.4 * x + 0.6).exp()
}

/// Rejections allowed under no shift: alpha plus three standard errors.
fn ceiling(reps: usize) -> f64 {
    ALPHA + 3.0 * (ALPHA * (1.0 - ALPHA) / reps as f64).sqrt()
}

#[test]
fn clustered_profile_ks_holds_its_level() {
    let mut rng = Rng(20261206);
    let reps = 1500;
    for g in [10, 17, 30] {
        let mut rejected = 0usize;
        for _ in 0..reps {
            let profile = training_profile(&mut rng, 173, lognormal);
            let cur = patients(&mut rng, g, |_| true, lognormal);
            let ks = ks_against_clustered(&profile, &cur, 173.0).unwrap();
            rejected += (ks.pvalue <= ALPHA) as usize;
        }
        let rate = rejected as f64 / reps as f64;
        eprintln!("no shift, {g} patients against the profile: KS rejects {rate:.3}");
        assert!(rate <= ceiling(reps), "{g} patients: KS rejects {rate}");
    }
}

#[test]
fn psi_chi_square_null_is_anti_conservative_at_small_n() {
    // One value per patient, 12 patients, 10 decile bins of a known
    // reference: what the former rule's p-value assumed holds.
    let mut rng = Rng(5);
    let reps = 1000;
    let points: Vec<(f64, f64)> = (1..10)
        .map(|i| {
            let p = i as f64 / 10.0;
            // Standard normal deciles.
            let z = [
                -1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816,
            ];
            (p, z[i - 1])
        })
        .collect();
    let profile = BinProfile::from_quantiles(&points, 100_000).unwrap();
    let mut psi_rejected = 0;
    let mut ks_rejected = 0;
    for _ in 0..reps {
        let cur: Vec<Vec<f64>> = (0..12).map(|_| vec![rng.normal()]).collect();
        let rows: Vec<f64> = cur.iter().flatten().copied().collect();
        let psi = psi_against(&profile, &rows).unwrap();
        let p = psi_pvalue(psi, 10, 12.0, f64::INFINITY).unwrap();
        psi_rejected += (p <= ALPHA) as usize;
        ks_rejected += (ks_against_clustered(&profile, &cur, 100_000.0)
            .unwrap()
            .pvalue
            <= ALPHA) as usize;
    }
    let (psi_rate, ks_rate) = (
        psi_rejected as f64 / reps as f64,
        ks_rejected as f64 / reps as f64,
    );
    eprintln!(
        "no shift, 12 patients, 10 bins: PSI chi-square rejects {psi_rate:.3}, KS {ks_rate:.3}"
    );
    assert!(psi_rate > 0.3, "{psi_rate}");
    assert!(ks_rate <= ceiling(reps), "{ks_rate}");
}

#[test]
fn patient_median_ks_between_windows_holds_its_level() {
    let mut rng = Rng(7);
    let reps = 1500;
    for (g, r) in [(10, 30), (17, 30), (30, 30)] {
        let mut rejected = 0;
        for _ in 0..reps {
            let a = cluster_medians(&patients(&mut rng, r, |_| true, lognormal));
            let b = cluster_medians(&patients(&mut rng, g, |_| true, lognormal));
            rejected += (ks_2samp(&a, &b).unwrap().pvalue <= ALPHA) as usize;
        }
        let rate = rejected as f64 / reps as f64;
        eprintln!("no shift, {g} against {r} patients: rejects {rate:.3}");
        assert!(rate <= ceiling(reps), "{g} vs {r}: {rate}");
    }
}

#[test]
fn holm_over_an_evaluation_raises_any_alarm_at_most_alpha() {
    let mut rng = Rng(11);
    let (reps, features) = (600, 20);
    let mut any = 0;
    for _ in 0..reps {
        let p: Vec<f64> = (0..features)
            .map(|_| {
                let profile = training_profile(&mut rng, 173, lognormal);
                let cur = patients(&mut rng, 17, |_| true, lognormal);
                ks_against_clustered(&profile, &cur, 173.0).unwrap().pvalue
            })
            .collect();
        any += holm(&p, ALPHA).iter().any(|x| *x) as usize;
    }
    let rate = any as f64 / reps as f64;
    eprintln!("no shift, 20 features at 17 patients: any alarm {rate:.3}");
    assert!(rate <= ceiling(reps), "{rate}");
}

#[test]
fn a_unit_error_and_an_older_case_mix_are_detected_at_small_windows() {
    let mut rng = Rng(3);
    let reps = 300;
    // Holm's first threshold: a lone shifted feature among 20 tests.
    let cut = ALPHA / 20.0;
    let (mut unit_profile, mut unit_window, mut older_window, mut older_profile) = (0, 0, 0, 0);
    for _ in 0..reps {
        // Lactate reported x 9.01, 17 patients, against a profile of the
        // 85 training patients with a lactate, and a window of 30.
        let profile = training_profile(&mut rng, 85, lognormal);
        let x9 = patients(&mut rng, 17, |_| true, |x| 9.01 * lognormal(x));
        unit_profile += (ks_against_clustered(&profile, &x9, 85.0).unwrap().pvalue <= cut) as usize;
        let before = cluster_medians(&patients(&mut rng, 30, |_| true, lognormal));
        unit_window += (ks_2samp(&before, &cluster_medians(&x9)).unwrap().pvalue <= cut) as usize;
        // Only the oldest 38% admitted (the scenario's 80 and over), 17
        // patients; age is one value per patient, repeated on each row.
        let age = |rng: &mut Rng, g: usize, keep: fn(f64) -> bool| {
            let mut out = Vec::new();
            while out.len() < g {
                let mu = rng.normal();
                let k = rng.int(1, 40);
                if keep(mu) {
                    out.push(vec![mu; k]);
                }
            }
            out
        };
        let now = age(&mut rng, 17, |mu| mu > 0.305);
        let base = cluster_medians(&age(&mut rng, 30, |_| true));
        older_window += (ks_2samp(&base, &cluster_medians(&now)).unwrap().pvalue <= cut) as usize;
        let profile = training_profile(&mut rng, 173, |x| x);
        older_profile +=
            (ks_against_clustered(&profile, &now, 173.0).unwrap().pvalue <= cut) as usize;
    }
    let rate = |k: usize| k as f64 / reps as f64;
    eprintln!(
        "detected at p <= {cut}, 17 patients: x9 vs profile {:.3}, x9 vs window {:.3}, older vs window {:.3}, older vs profile {:.3}",
        rate(unit_profile),
        rate(unit_window),
        rate(older_window),
        rate(older_profile)
    );
    assert!(rate(unit_profile) >= 0.99, "{}", rate(unit_profile));
    assert!(rate(unit_window) >= 0.99, "{}", rate(unit_window));
    assert!(rate(older_window) >= 0.9, "{}", rate(older_window));
    // Against the profile the null is taken at Kish's effective number of
    // patients (fewer than 17 with unequal stays) and the profile's few
    // quantiles: less power.
    assert!(rate(older_profile) >= 0.85, "{}", rate(older_profile));
}

#[test]
fn kish_n_is_the_patients_when_they_give_one_value_each() {
    assert_eq!(kish_effective_n(std::iter::repeat_n(1, 17)), 17.0);
    assert!(kish_effective_n([1, 1, 40]) < 2.0);
}
