//! Label-free performance estimate from calibrated probabilities
//! (confidence-based performance estimation, as NannyML's CBPE).
//!
//! If the probabilities are calibrated, row `i` is a positive with
//! probability `p_i`. Expected counts at a threshold `t` (flag when
//! `p >= t`): `E[TP] = sum_{p_i >= t} p_i`, `E[FP] = sum_{p_i >= t} (1 - p_i)`,
//! `E[FN] = sum_{p_i < t} p_i`. Estimated PPV is `E[TP] / (E[TP] + E[FP])`
//! and sensitivity `E[TP] / sum p_i` (ratios of expectations). The estimated
//! AUROC is the AUROC where each row counts as a positive with weight `p_i`
//! and a negative with weight `1 - p_i` (= sklearn `roc_auc_score` on the
//! duplicated rows with those sample weights).

use crate::metrics::weighted_auroc;
use serde::{Deserialize, Serialize};

/// Estimated performance while outcomes are unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CbpeEstimate {
    pub n: u64,
    pub threshold: f64,
    pub expected_prevalence: f64,
    pub auroc: Option<f64>,
    pub ppv: Option<f64>,
    pub sensitivity: Option<f64>,
    pub flag_rate: f64,
}

/// Estimate from calibrated probabilities. `None` when empty or a
/// probability is outside [0, 1].
pub fn cbpe(probs: &[f64], threshold: f64) -> Option<CbpeEstimate> {
    if probs.is_empty() || probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
        return None;
    }
    let (mut tp, mut fp, mut flagged) = (0.0f64, 0.0f64, 0u64);
    for &p in probs.iter().filter(|&&p| p >= threshold) {
        tp += p;
        fp += 1.0 - p;
        flagged += 1;
    }
    let total: f64 = probs.iter().sum();
    let n = probs.len() as f64;
    Some(CbpeEstimate {
        n: probs.len() as u64,
        threshold,
        expected_prevalence: total / n,
        auroc: weighted_auroc(probs, probs),
        ppv: (flagged > 0).then(|| tp / (tp + fp)),
        sensitivity: (total > 0.0).then(|| tp / total),
        flag_rate: flagged as f64 / n,
    })
}
