//! Exact binomial confidence bounds (Clopper-Pearson) via the Beta quantile.
//!
//! The one-sided exact lower bound at confidence `c` for `k` successes in
//! `n` trials is `Beta(k, n-k+1).ppf(1-c)` (0 when `k = 0`); the upper bound
//! is `Beta(k+1, n-k).ppf(c)` (1 when `k = n`). The quantile comes from
//! `statrs`, checked against scipy's `beta.ppf` in the tests.

use statrs::distribution::{Beta, ContinuousCDF};

/// Quantile of Beta(a, b) at probability `q` (same as scipy `beta.ppf`).
/// `None` when `a` or `b` is not positive and finite, or `q` is outside `[0, 1]`.
pub fn beta_ppf(q: f64, a: f64, b: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || !a.is_finite() || !b.is_finite() {
        return None;
    }
    let dist = Beta::new(a, b).ok()?;
    Some(dist.inverse_cdf(q))
}

/// Why a bound could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundError {
    #[error("successes k={k} must be <= trials n={n}")]
    KAboveN { k: u64, n: u64 },
    #[error("trials n must be > 0")]
    NoTrials,
    #[error("confidence must be in (0, 1), got {0}")]
    Confidence(f64),
}

fn check(k: u64, n: u64, confidence: f64) -> Result<(), BoundError> {
    if n == 0 {
        return Err(BoundError::NoTrials);
    }
    if k > n {
        return Err(BoundError::KAboveN { k, n });
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(BoundError::Confidence(confidence));
    }
    Ok(())
}

/// One-sided exact (Clopper-Pearson) lower confidence bound on a proportion.
pub fn clopper_pearson_lower(k: u64, n: u64, confidence: f64) -> Result<f64, BoundError> {
    check(k, n, confidence)?;
    if k == 0 {
        return Ok(0.0);
    }
    beta_ppf(1.0 - confidence, k as f64, (n - k + 1) as f64).ok_or(BoundError::NoTrials)
}

/// One-sided exact (Clopper-Pearson) upper confidence bound on a proportion.
pub fn clopper_pearson_upper(k: u64, n: u64, confidence: f64) -> Result<f64, BoundError> {
    check(k, n, confidence)?;
    if k == n {
        return Ok(1.0);
    }
    beta_ppf(confidence, (k + 1) as f64, (n - k) as f64).ok_or(BoundError::NoTrials)
}

/// Two-sided exact interval at `confidence` (each tail `(1-confidence)/2`).
pub fn clopper_pearson_interval(k: u64, n: u64, confidence: f64) -> Result<(f64, f64), BoundError> {
    check(k, n, confidence)?;
    let one_sided = 1.0 - (1.0 - confidence) / 2.0;
    Ok((
        clopper_pearson_lower(k, n, one_sided)?,
        clopper_pearson_upper(k, n, one_sided)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_input_with_reason() {
        assert_eq!(
            clopper_pearson_lower(3, 2, 0.95),
            Err(BoundError::KAboveN { k: 3, n: 2 })
        );
        assert_eq!(clopper_pearson_lower(0, 0, 0.95), Err(BoundError::NoTrials));
        assert_eq!(
            clopper_pearson_upper(1, 2, 1.0),
            Err(BoundError::Confidence(1.0))
        );
        assert!(beta_ppf(0.5, 0.0, 1.0).is_none());
        assert!(beta_ppf(1.5, 1.0, 1.0).is_none());
    }

    #[test]
    fn closed_forms_at_the_edges() {
        // k = n: lower bound is alpha^(1/n); k = 0: upper is 1 - alpha^(1/n).
        for n in [1u64, 2, 7, 100] {
            let lo = clopper_pearson_lower(n, n, 0.95).unwrap();
            assert!((lo - 0.05f64.powf(1.0 / n as f64)).abs() < 1e-12, "n={n}");
            let hi = clopper_pearson_upper(0, n, 0.95).unwrap();
            assert!(
                (hi - (1.0 - 0.05f64.powf(1.0 / n as f64))).abs() < 1e-12,
                "n={n}"
            );
        }
    }

    proptest! {
        #[test]
        fn bounds_bracket_the_estimate(n in 1u64..2000, frac in 0.0f64..=1.0, c in 0.5f64..0.999) {
            let k = ((n as f64) * frac).floor() as u64;
            let lo = clopper_pearson_lower(k, n, c).unwrap();
            let hi = clopper_pearson_upper(k, n, c).unwrap();
            let p = k as f64 / n as f64;
            prop_assert!(lo <= p + 1e-12 && p <= hi + 1e-12);
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
        }
    }
}
