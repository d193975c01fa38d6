//! Property tests for the statistics.

use bedside_monitor::drift::{ks_2samp, ks_statistic, psi};
use bedside_monitor::metrics::{auroc, average_precision, calibration, weighted_auroc};
use proptest::prelude::*;

fn scored() -> impl Strategy<Value = (Vec<f64>, Vec<bool>)> {
    prop::collection::vec((0.0f64..=1.0, any::<bool>()), 2..200).prop_map(|v| {
        // Round to create ties.
        let s = v.iter().map(|(p, _)| (p * 20.0).round() / 20.0).collect();
        let y = v.iter().map(|(_, y)| *y).collect();
        (s, y)
    })
}

proptest! {
    #[test]
    fn auroc_is_a_probability_and_flips_with_the_score((s, y) in scored()) {
        if let Some(a) = auroc(&s, &y) {
            prop_assert!((0.0..=1.0).contains(&a));
            let neg: Vec<f64> = s.iter().map(|x| -x).collect();
            prop_assert!((auroc(&neg, &y).unwrap() - (1.0 - a)).abs() < 1e-12);
            let w: Vec<f64> = y.iter().map(|&b| b as u8 as f64).collect();
            prop_assert!((weighted_auroc(&s, &w).unwrap() - a).abs() < 1e-12);
        }
    }

    #[test]
    fn average_precision_is_between_prevalence_floor_and_one((s, y) in scored()) {
        if let Some(ap) = average_precision(&s, &y) {
            prop_assert!(ap > 0.0 && ap <= 1.0 + 1e-12);
        }
    }

    #[test]
    fn calibration_bins_partition_the_data((s, y) in scored(), bins in 1usize..25) {
        let c = calibration(&s, &y, bins).unwrap();
        prop_assert_eq!(c.bins.iter().map(|b| b.count).sum::<u64>(), s.len() as u64);
        prop_assert!(c.ece >= 0.0 && c.ece <= c.mce + 1e-12);
        for b in &c.bins {
            prop_assert!(b.mean_predicted >= b.lower - 1e-12 && b.mean_predicted <= b.upper + 1e-12);
        }
    }

    #[test]
    fn psi_nonnegative_and_ks_symmetric(
        a in prop::collection::vec(-100.0f64..100.0, 5..150),
        b in prop::collection::vec(-100.0f64..100.0, 5..150),
    ) {
        prop_assert!(psi(&a, &b, 10).unwrap() >= -1e-12);
        let d1 = ks_statistic(&a, &b).unwrap();
        prop_assert_eq!(d1, ks_statistic(&b, &a).unwrap());
        let r = ks_2samp(&a, &b).unwrap();
        prop_assert!((0.0..=1.0).contains(&r.pvalue));
    }
}
