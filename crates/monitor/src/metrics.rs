//! Discrimination and calibration metrics, defined exactly as scikit-learn
//! computes them (checked against fixtures from
//! `tools/reference/stats_reference.py`).

use serde::{Deserialize, Serialize};

/// Linear-interpolation quantile of *sorted* data, numpy's default method
/// (`np.quantile(x, q)`, including numpy's two-sided lerp), `q` in `[0, 1]`.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor();
    let i = lo as usize;
    let g = h - lo;
    let a = sorted[i];
    let b = sorted[(i + 1).min(sorted.len() - 1)];
    let d = b - a;
    Some(if g >= 0.5 {
        b - d * (1.0 - g)
    } else {
        a + d * g
    })
}

/// `quantile_sorted` on unsorted data (NaN values are ignored).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    quantile_sorted(&v, q)
}

/// Median (numpy `np.median`).
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Area under the ROC curve with ties counted one half (Mann-Whitney U /
/// (n_pos n_neg)); equals `sklearn.metrics.roc_auc_score`. `None` when a
/// class is absent or lengths differ.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    weighted_auroc(
        scores,
        &labels
            .iter()
            .map(|&l| if l { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    )
}

/// AUROC where row `i` counts as positive with weight `w_pos[i]` and as
/// negative with weight `1 - w_pos[i]` (`w_pos` in [0, 1]). With 0/1
/// weights this is the usual AUROC; with calibrated probabilities it is the
/// CBPE expected AUROC. Equals sklearn `roc_auc_score` with those sample
/// weights on the duplicated rows.
pub fn weighted_auroc(scores: &[f64], w_pos: &[f64]) -> Option<f64> {
    if scores.len() != w_pos.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    // Walk distinct thresholds from high to low; trapezoid in (fp, tp).
    let (mut tp, mut fp, mut area) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        let (tp0, fp0) = (tp, fp);
        while i < idx.len() && scores[idx[i]] == s {
            tp += w_pos[idx[i]];
            fp += 1.0 - w_pos[idx[i]];
            i += 1;
        }
        area += (fp - fp0) * (tp + tp0) / 2.0;
    }
    (tp > 0.0 && fp > 0.0).then(|| area / (tp * fp))
}

/// Average precision, as `sklearn.metrics.average_precision_score`:
/// `sum_k (R_k - R_{k-1}) P_k` over distinct thresholds from high to low.
/// `None` when there is no positive.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let total_pos = labels.iter().filter(|&&l| l).count() as f64;
    if total_pos == 0.0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut n, mut prev_recall, mut ap) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            tp += labels[idx[i]] as u8 as f64;
            n += 1.0;
            i += 1;
        }
        let recall = tp / total_pos;
        ap += (recall - prev_recall) * (tp / n);
        prev_recall = recall;
    }
    Some(ap)
}

/// Brier score: mean squared error of probabilities.
pub fn brier(probs: &[f64], labels: &[bool]) -> Option<f64> {
    if probs.is_empty() || probs.len() != labels.len() {
        return None;
    }
    let s: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, &y)| (p - y as u8 as f64).powi(2))
        .sum();
    Some(s / probs.len() as f64)
}

/// One non-empty bin of the reliability curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Bin index in `0..n_bins`.
    pub bin: usize,
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    /// Mean predicted probability (sklearn `prob_pred`).
    pub mean_predicted: f64,
    /// Observed event rate (sklearn `prob_true`).
    pub observed: f64,
}

/// Calibration: the reliability curve and the expected calibration error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub n_bins: usize,
    pub bins: Vec<ReliabilityBin>,
    /// `sum_b (n_b / N) |observed_b - mean_predicted_b|` over non-empty bins.
    pub ece: f64,
    /// Largest `|observed_b - mean_predicted_b|` over non-empty bins.
    pub mce: f64,
}

/// Equal-width bins on [0, 1] exactly as sklearn `calibration_curve(...,
/// strategy="uniform")`: edges `i * (1/n_bins)`; a probability equal to an
/// inner edge falls in the lower bin (`np.searchsorted(edges[1:-1], p)`).
/// `None` when empty, lengths differ, `n_bins == 0`, or a probability is
/// outside [0, 1].
pub fn calibration(probs: &[f64], labels: &[bool], n_bins: usize) -> Option<Calibration> {
    if probs.is_empty() || probs.len() != labels.len() || n_bins == 0 {
        return None;
    }
    if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return None;
    }
    let step = 1.0 / n_bins as f64;
    let inner: Vec<f64> = (1..n_bins).map(|i| i as f64 * step).collect();
    let mut sum_p = vec![0.0; n_bins];
    let mut sum_y = vec![0.0; n_bins];
    let mut cnt = vec![0u64; n_bins];
    for (p, &y) in probs.iter().zip(labels) {
        let b = inner.partition_point(|e| e < p);
        sum_p[b] += p;
        sum_y[b] += y as u8 as f64;
        cnt[b] += 1;
    }
    let n = probs.len() as f64;
    let mut bins = Vec::new();
    let (mut ece, mut mce) = (0.0f64, 0.0f64);
    for b in 0..n_bins {
        if cnt[b] == 0 {
            continue;
        }
        let mp = sum_p[b] / cnt[b] as f64;
        let ob = sum_y[b] / cnt[b] as f64;
        ece += cnt[b] as f64 / n * (ob - mp).abs();
        mce = mce.max((ob - mp).abs());
        bins.push(ReliabilityBin {
            bin: b,
            lower: b as f64 * step,
            upper: if b + 1 == n_bins {
                1.0
            } else {
                (b + 1) as f64 * step
            },
            count: cnt[b],
            mean_predicted: mp,
            observed: ob,
        });
    }
    Some(Calibration {
        n_bins,
        bins,
        ece,
        mce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_hand_cases() {
        assert_eq!(
            auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(auroc(&[0.5, 0.6], &[true, true]), None);
        assert_eq!(auroc(&[0.5], &[true, false]), None);
    }

    #[test]
    fn average_precision_hand_case() {
        // sklearn docs example: 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((ap - 0.8333333333333333).abs() < 1e-15);
    }

    #[test]
    fn quantile_matches_numpy_examples() {
        // np.quantile([1, 2, 3, 4], [0.25, 0.5, 0.9]) = 1.75, 2.5, 3.7
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert!((quantile(&v, 0.9).unwrap() - 3.7).abs() < 1e-15);
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn calibration_rejects_bad_input() {
        assert!(calibration(&[1.2], &[true], 10).is_none());
        assert!(calibration(&[0.2], &[true], 0).is_none());
        let c = calibration(&[0.1, 0.1, 0.9], &[false, true, true], 10).unwrap();
        // bin 0 holds both 0.1 (edge goes to the lower bin), observed 0.5.
        assert_eq!(c.bins[0].bin, 0);
        assert_eq!(c.bins[0].count, 2);
        assert!((c.ece - (2.0 / 3.0 * 0.4 + 1.0 / 3.0 * 0.1)).abs() < 1e-12);
    }
}
