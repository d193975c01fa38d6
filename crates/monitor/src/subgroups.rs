//! Performance by subgroup and the fairness audit.
//!
//! Each labelled prediction carries its subgroup attributes (`age_band`,
//! `sex`, `race`, `ethnicity`, `unit`, ...). The audit compares every
//! subgroup with the *largest* subgroup of the same attribute (ties: the
//! alphabetically first) on sensitivity, false-positive rate, flag rate and
//! PPV, as ratios `group / reference`. A ratio outside `[lower, upper]` is a
//! breach; a comparison where either group has fewer than `min_group_size`
//! rows, or a metric is undefined, is `Insufficient` (listed, not a breach).

use crate::intervals::{auroc_ci, proportion, Estimate, IntervalMethod};
use crate::metrics::{average_precision, brier, calibration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Group label used when a row lacks the attribute.
pub const UNKNOWN: &str = "unknown";

/// One prediction joined to its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledPrediction {
    pub probability: f64,
    pub label: bool,
    /// Whether the policy flagged (alerted on) this prediction.
    pub flagged: bool,
    /// Attribute -> group, e.g. `sex` -> `female`, `unit` -> `Location/icu`.
    pub attributes: BTreeMap<String, String>,
}

/// Age band used for subgroup reports.
pub fn age_band(age_years: f64) -> &'static str {
    match age_years {
        a if a.is_nan() || a < 0.0 => UNKNOWN,
        a if a < 18.0 => "0-17",
        a if a < 45.0 => "18-44",
        a if a < 65.0 => "45-64",
        a if a < 80.0 => "65-79",
        _ => "80+",
    }
}

/// How to summarize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryConfig {
    pub confidence: f64,
    pub interval: IntervalMethod,
    pub calibration_bins: usize,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        Self {
            confidence: 0.95,
            interval: IntervalMethod::Wilson,
            calibration_bins: 10,
        }
    }
}

/// Performance of a set of labelled predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceSummary {
    pub n: u64,
    pub positives: u64,
    pub flagged: u64,
    pub auroc: Option<Estimate>,
    pub auprc: Option<f64>,
    pub brier: Option<f64>,
    pub ece: Option<f64>,
    /// Flagged among positives.
    pub sensitivity: Option<Estimate>,
    /// Flagged among negatives.
    pub fpr: Option<Estimate>,
    /// Positives among flagged.
    pub ppv: Option<Estimate>,
    /// Flagged among all.
    pub flag_rate: Option<Estimate>,
}

/// Summarize rows.
pub fn summarize(rows: &[&LabeledPrediction], cfg: &SummaryConfig) -> PerformanceSummary {
    let p: Vec<f64> = rows.iter().map(|r| r.probability).collect();
    let y: Vec<bool> = rows.iter().map(|r| r.label).collect();
    let count =
        |f: &dyn Fn(&LabeledPrediction) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
    let n = rows.len() as u64;
    let pos = count(&|r| r.label);
    let flagged = count(&|r| r.flagged);
    let tp = count(&|r| r.label && r.flagged);
    let fp = count(&|r| !r.label && r.flagged);
    let prop = |k, n| proportion(k, n, cfg.confidence, cfg.interval);
    PerformanceSummary {
        n,
        positives: pos,
        flagged,
        auroc: auroc_ci(&p, &y, cfg.confidence),
        auprc: average_precision(&p, &y),
        brier: brier(&p, &y),
        ece: calibration(&p, &y, cfg.calibration_bins).map(|c| c.ece),
        sensitivity: prop(tp, pos),
        fpr: prop(fp, n - pos),
        ppv: prop(tp, flagged),
        flag_rate: prop(flagged, n),
    }
}

/// One subgroup's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupSummary {
    pub attribute: String,
    pub group: String,
    pub summary: PerformanceSummary,
}

fn groups<'a>(
    rows: &'a [LabeledPrediction],
    attribute: &str,
) -> BTreeMap<String, Vec<&'a LabeledPrediction>> {
    let mut m: BTreeMap<String, Vec<&LabeledPrediction>> = BTreeMap::new();
    for r in rows {
        let g = r
            .attributes
            .get(attribute)
            .cloned()
            .unwrap_or_else(|| UNKNOWN.to_string());
        m.entry(g).or_default().push(r);
    }
    m
}

/// Summaries for every group of `attribute`, largest group first.
pub fn subgroup_metrics(
    rows: &[LabeledPrediction],
    attribute: &str,
    cfg: &SummaryConfig,
) -> Vec<SubgroupSummary> {
    let mut out: Vec<SubgroupSummary> = groups(rows, attribute)
        .into_iter()
        .map(|(group, rs)| SubgroupSummary {
            attribute: attribute.to_string(),
            group,
            summary: summarize(&rs, cfg),
        })
        .collect();
    out.sort_by(|a, b| {
        b.summary
            .n
            .cmp(&a.summary.n)
            .then_with(|| a.group.cmp(&b.group))
    });
    out
}

/// Fairness audit settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessConfig {
    pub attributes: Vec<String>,
    pub lower: f64,
    pub upper: f64,
    pub min_group_size: u64,
}

impl Default for FairnessConfig {
    fn default() -> Self {
        Self {
            attributes: ["age_band", "sex", "race", "ethnicity", "unit"]
                .map(String::from)
                .to_vec(),
            lower: 0.8,
            upper: 1.25,
            min_group_size: 30,
        }
    }
}

/// Audited metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FairnessMetric {
    Sensitivity,
    Fpr,
    FlagRate,
    Ppv,
}

/// Result of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FairnessStatus {
    Within,
    Breach,
    Insufficient,
}

/// A subgroup compared with the reference (largest) group on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessComparison {
    pub attribute: String,
    pub group: String,
    pub reference_group: String,
    pub metric: FairnessMetric,
    pub value: Option<f64>,
    pub reference_value: Option<f64>,
    pub ratio: Option<f64>,
    pub status: FairnessStatus,
}

/// The audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessAudit {
    pub lower: f64,
    pub upper: f64,
    pub subgroups: Vec<SubgroupSummary>,
    pub comparisons: Vec<FairnessComparison>,
    pub breaches: Vec<FairnessComparison>,
}

fn metric_estimate(s: &PerformanceSummary, m: FairnessMetric) -> Option<&Estimate> {
    match m {
        FairnessMetric::Sensitivity => s.sensitivity.as_ref(),
        FairnessMetric::Fpr => s.fpr.as_ref(),
        FairnessMetric::FlagRate => s.flag_rate.as_ref(),
        FairnessMetric::Ppv => s.ppv.as_ref(),
    }
}

/// Run the fairness audit over `cfg.attributes`. A comparison is a
/// breach when the ratio to the reference group is outside `[lower,
/// upper]` and the subgroup's confidence interval lies wholly beyond the
/// bound times the reference value (a breach "with confidence").
pub fn fairness_audit(
    rows: &[LabeledPrediction],
    cfg: &FairnessConfig,
    summary: &SummaryConfig,
) -> FairnessAudit {
    let mut subgroups = Vec::new();
    let mut comparisons = Vec::new();
    for attr in &cfg.attributes {
        let subs = subgroup_metrics(rows, attr, summary);
        if let Some(reference) = subs.first() {
            for s in subs.iter().skip(1) {
                for m in [
                    FairnessMetric::Sensitivity,
                    FairnessMetric::Fpr,
                    FairnessMetric::FlagRate,
                    FairnessMetric::Ppv,
                ] {
                    let v = metric_estimate(&s.summary, m).map(|e| e.value);
                    let r = metric_estimate(&reference.summary, m).map(|e| e.value);
                    let interval = metric_estimate(&s.summary, m).map(|e| (e.lower, e.upper));
                    let ratio = match (v, r) {
                        (Some(v), Some(r)) if r > 0.0 => Some(v / r),
                        _ => None,
                    };
                    let big_enough = s.summary.n >= cfg.min_group_size
                        && reference.summary.n >= cfg.min_group_size;
                    // A breach needs the subgroup's whole confidence
                    // interval beyond the bound, so that sampling noise in
                    // small groups or rare flags does not raise it.
                    let confident = |x: f64| match (interval, r) {
                        (Some((lo, hi)), Some(r)) => {
                            (x < cfg.lower && hi < cfg.lower * r)
                                || (x > cfg.upper && lo > cfg.upper * r)
                        }
                        _ => false,
                    };
                    let status = match ratio {
                        Some(x) if big_enough && (x < cfg.lower || x > cfg.upper) => {
                            if confident(x) {
                                FairnessStatus::Breach
                            } else {
                                FairnessStatus::Within
                            }
                        }
                        Some(_) if big_enough => FairnessStatus::Within,
                        _ => FairnessStatus::Insufficient,
                    };
                    comparisons.push(FairnessComparison {
                        attribute: attr.clone(),
                        group: s.group.clone(),
                        reference_group: reference.group.clone(),
                        metric: m,
                        value: v,
                        reference_value: r,
                        ratio,
                        status,
                    });
                }
            }
        }
        subgroups.extend(subs);
    }
    let breaches = comparisons
        .iter()
        .filter(|c| c.status == FairnessStatus::Breach)
        .cloned()
        .collect();
    FairnessAudit {
        lower: cfg.lower,
        upper: cfg.upper,
        subgroups,
        comparisons,
        breaches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: bool, flagged: bool, sex: &str, p: f64) -> LabeledPrediction {
        LabeledPrediction {
            probability: p,
            label,
            flagged,
            attributes: [("sex".to_string(), sex.to_string())].into_iter().collect(),
        }
    }

    /// `n` rows of a group with given positives and how many of each class are flagged.
    fn group(sex: &str, pos: usize, neg: usize, tp: usize, fp: usize) -> Vec<LabeledPrediction> {
        let mut v = Vec::new();
        for i in 0..pos {
            v.push(row(true, i < tp, sex, if i < tp { 0.8 } else { 0.3 }));
        }
        for i in 0..neg {
            v.push(row(false, i < fp, sex, if i < fp { 0.6 } else { 0.1 }));
        }
        v
    }

    #[test]
    fn audit_flags_a_sensitivity_gap_against_the_largest_group() {
        let mut rows = group("female", 50, 150, 40, 15); // sens 0.8, fpr 0.1
        rows.extend(group("male", 80, 100, 40, 10)); // sens 0.5 -> ratio 0.625, CI below 0.64
        rows.extend(group("other", 2, 3, 1, 0)); // too small
        let cfg = FairnessConfig {
            attributes: vec!["sex".into(), "unit".into()],
            ..Default::default()
        };
        let a = fairness_audit(&rows, &cfg, &SummaryConfig::default());
        let male_sens = a
            .comparisons
            .iter()
            .find(|c| c.group == "male" && c.metric == FairnessMetric::Sensitivity)
            .unwrap();
        assert_eq!(male_sens.reference_group, "female");
        assert!((male_sens.ratio.unwrap() - 0.625).abs() < 1e-12);
        assert_eq!(male_sens.status, FairnessStatus::Breach);
        let male_fpr = a
            .comparisons
            .iter()
            .find(|c| c.group == "male" && c.metric == FairnessMetric::Fpr)
            .unwrap();
        assert_eq!(male_fpr.status, FairnessStatus::Within, "0.1 vs 0.1");
        assert!(a
            .comparisons
            .iter()
            .filter(|c| c.group == "other")
            .all(|c| c.status == FairnessStatus::Insufficient));
        assert!(a.breaches.iter().all(|b| b.group == "male"));
        // The same ratio on 40 positives: its interval (about 0.35-0.65)
        // reaches the bound 0.8 * 0.8, so it is not a confident breach.
        let mut small = group("female", 50, 150, 40, 15);
        small.extend(group("male", 40, 100, 20, 10));
        let b = fairness_audit(&small, &cfg, &SummaryConfig::default());
        let c = b
            .comparisons
            .iter()
            .find(|c| c.group == "male" && c.metric == FairnessMetric::Sensitivity)
            .unwrap();
        assert!((c.ratio.unwrap() - 0.625).abs() < 1e-12);
        assert_eq!(c.status, FairnessStatus::Within);
        // Missing attribute: all rows in `unknown`, nothing to compare.
        assert!(a
            .subgroups
            .iter()
            .any(|s| s.attribute == "unit" && s.group == UNKNOWN && s.summary.n == 385));
    }

    #[test]
    fn summary_counts_and_bands() {
        let rows = group("f", 10, 10, 5, 2);
        let refs: Vec<_> = rows.iter().collect();
        let s = summarize(&refs, &SummaryConfig::default());
        assert_eq!((s.n, s.positives, s.flagged), (20, 10, 7));
        assert!((s.ppv.unwrap().value - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(age_band(17.9), "0-17");
        assert_eq!(age_band(65.0), "65-79");
        assert_eq!(age_band(f64::NAN), UNKNOWN);
    }
}
