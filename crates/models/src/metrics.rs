//! Discrimination and calibration metrics for `bedside evaluate`.
//!
//! Definitions follow scikit-learn: AUROC = `roc_auc_score` (ties count
//! one half), AUPRC = `average_precision_score` (step-wise, no
//! interpolation), ECE = expected calibration error over 10 equal-width
//! probability bins, weighted by bin size.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Area under the ROC curve; None when only one class is present.
pub fn auroc(p: &[f64], y: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (npos, nneg) = y.iter().fold(
        (0.0, 0.0),
        |(a, b), &l| if l { (a + 1.0, b) } else { (a, b + 1.0) },
    );
    if npos == 0.0 || nneg == 0.0 {
        return None;
    }
    // Sum of (mid-)ranks of positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| y[k]).count() as f64 * mid;
        i = j + 1;
    }
    Some((rank_sum - npos * (npos + 1.0) / 2.0) / (npos * nneg))
}

/// Average precision; None without positives.
pub fn average_precision(p: &[f64], y: &[bool]) -> Option<f64> {
    let npos = y.iter().filter(|&&l| l).count() as f64;
    if npos == 0.0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if y[k] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        let recall = tp / npos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// Expected calibration error over `bins` equal-width bins.
pub fn ece(p: &[f64], y: &[bool], bins: usize) -> Option<f64> {
    if p.is_empty() || bins == 0 {
        return None;
    }
    let mut n = vec![0.0; bins];
    let mut sp = vec![0.0; bins];
    let mut sy = vec![0.0; bins];
    for (&pi, &yi) in p.iter().zip(y) {
        let b = ((pi * bins as f64) as usize).min(bins - 1);
        n[b] += 1.0;
        sp[b] += pi;
        sy[b] += if yi { 1.0 } else { 0.0 };
    }
    let total: f64 = n.iter().sum();
    Some(
        (0..bins)
            .filter(|&b| n[b] > 0.0)
            .map(|b| (sp[b] - sy[b]).abs() / total)
            .sum(),
    )
}

/// What `bedside evaluate --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub auroc: Option<f64>,
    pub auprc: Option<f64>,
    pub ece: Option<f64>,
    pub patients: usize,
    pub rows: usize,
    pub positives: usize,
    pub prevalence: Option<f64>,
}

/// Summarise scored rows (probability, label, patient id).
pub fn evaluate(p: &[f64], y: &[bool], patients: &[&str]) -> EvalSummary {
    let positives = y.iter().filter(|&&l| l).count();
    EvalSummary {
        auroc: auroc(p, y),
        auprc: average_precision(p, y),
        ece: ece(p, y, 10),
        patients: patients.iter().collect::<BTreeSet<_>>().len(),
        rows: p.len(),
        positives,
        prevalence: (!p.is_empty()).then(|| positives as f64 / p.len() as f64),
    }
}
