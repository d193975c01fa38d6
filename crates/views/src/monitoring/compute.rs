//! The snapshot's derived parts: labels under the package's outcome
//! definition, drift against the training profile and the reference
//! window, latency quantiles, and the alarm rules' view of a snapshot.

use super::collect::{unit_at, PredRow, Record};
use super::{
    AlertBurden, DriftSection, LabelCounts, LatencyStats, MonitoringConfig, MonitoringSnapshot,
    OodSection, Promise, Span,
};
use bedside_core::Instant;
use bedside_models::Model;
use bedside_monitor::alarms::MetricsSnapshot;
use bedside_monitor::alarms::{AlertBurden as BurdenInput, OodCount};
use bedside_monitor::drift::{
    bin_profile, cluster_medians, drift_against_profile_tested, drift_against_window_tested,
    ks_2samp, ks_against_clustered, quantile_key_probability, BinProfile, DriftSizes, FeatureDrift,
    FeatureProfile,
};
use bedside_monitor::linkage::{rolling, LabelState, WindowSummary};
use bedside_monitor::metrics::quantile;
use bedside_monitor::subgroups::{
    fairness_audit, summarize, FairnessAudit, LabeledPrediction, PerformanceSummary,
};
use bedside_monitor::watch::{
    binomial_design_effect, poisson_design_effect, proportion_lower, rate_lower, rate_upper,
};
use chrono::Duration;
use std::collections::{BTreeMap, HashMap};

/// Label state of a prediction at `at` under the package's outcome
/// definition, from the events known at `now`.
pub(super) fn label_state(
    model: &Model,
    events: &[bedside_models::OutcomeEvent],
    at: Instant,
    horizon: Duration,
    now: Instant,
) -> LabelState {
    let spec = &model.package.spec.outcome;
    let known: Vec<bedside_models::OutcomeEvent> = events
        .iter()
        .filter(|e| spec.event_time(e).is_some_and(|t| t <= now))
        .cloned()
        .collect();
    if spec.label(&known, at) {
        LabelState::Positive
    } else if at + horizon <= now {
        LabelState::Negative
    } else {
        LabelState::Pending
    }
}

pub(super) fn label_rows(
    model: &Model,
    rec: &Record,
    rows: &[PredRow],
    threshold: Option<f64>,
    horizon: Duration,
    now: Instant,
) -> Vec<(Instant, LabelState, LabeledPrediction)> {
    let none = Vec::new();
    rows.iter()
        .map(|p| {
            let events = rec.outcome_events.get(&p.patient).unwrap_or(&none);
            let state = label_state(model, events, p.at, horizon, now);
            let mut attributes = rec.attributes.get(&p.patient).cloned().unwrap_or_default();
            attributes.insert("unit".into(), unit_at(rec.states.get(&p.patient), p.at));
            let row = LabeledPrediction {
                probability: p.probability,
                label: state == LabelState::Positive,
                flagged: threshold.is_some_and(|t| p.probability >= t),
                attributes,
            };
            (p.at, state, row)
        })
        .collect()
}

/// The training profile of one feature as PSI bins (from its quantiles).
/// A value stored at several quantiles is a point mass whose share is only
/// known to lie between them: its edge is dropped (its bin merged with the
/// next), so a discrete input (sex, a coded scale) is binned only where
/// the profile knows the mass; an input left with one bin is not tested.
fn training_bins(f: &bedside_models::ood::FeatureProfile) -> Option<FeatureProfile> {
    let all: Vec<(f64, f64)> = f
        .quantiles
        .iter()
        .filter_map(|(k, v)| quantile_key_probability(k).map(|p| (p, *v)))
        .collect();
    let points: Vec<(f64, f64)> = all
        .iter()
        .copied()
        .filter(|(_, v)| all.iter().filter(|(_, w)| w == v).count() == 1)
        .collect();
    Some(FeatureProfile {
        name: f.name.clone(),
        bins: BinProfile::from_quantiles(&points, f.n)?,
        missing_rate: f.missing_rate,
    })
}

/// One side of a drift comparison, read once: each row's patient as a
/// small index (the drift tests group rows by patient for every feature;
/// grouping by index instead of by id string took most of a monitoring
/// evaluation's time).
struct Side<'a> {
    rows: &'a [&'a PredRow],
    patient: Vec<usize>,
    patients: usize,
}

impl<'a> Side<'a> {
    fn new(rows: &'a [&'a PredRow]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let patient = rows
            .iter()
            .map(|r| {
                let next = index.len();
                *index.entry(r.patient.as_str()).or_insert(next)
            })
            .collect();
        Side {
            rows,
            patient,
            patients: index.len(),
        }
    }

    /// The values of `name` (`None`: the score), one per row.
    fn column(&self, name: Option<&str>) -> Vec<Option<f64>> {
        self.rows
            .iter()
            .map(|r| match name {
                Some(n) => r.values.get(n).copied().flatten(),
                None => Some(r.probability),
            })
            .collect()
    }

    /// A column's values grouped by patient, patients without a value
    /// left out: the clusters of the drift tests.
    fn clusters(&self, column: &[Option<f64>]) -> Vec<Vec<f64>> {
        let mut by: Vec<Vec<f64>> = vec![Vec::new(); self.patients];
        for (v, &p) in column.iter().zip(&self.patient) {
            if let Some(v) = v {
                by[p].push(*v);
            }
        }
        by.retain(|c| !c.is_empty());
        by
    }

    /// Effective sample sizes of a column's rows clustered by patient:
    /// each patient one independent unit (a patient's predictions share
    /// their inputs), as `(patients with the value present, patients)`.
    fn effective(&self, column: &[Option<f64>]) -> (f64, f64) {
        let mut present = vec![false; self.patients];
        for (v, &p) in column.iter().zip(&self.patient) {
            present[p] |= v.is_some();
        }
        let n = present.iter().filter(|x| **x).count();
        (n as f64, self.patients as f64)
    }
}

/// The drift rule's test of a window against another (each side's values
/// grouped by patient): exact two-sample KS on one value per patient (its
/// median), each patient an independent unit.
fn ks_patients(cur: &[Vec<f64>], refr: &[Vec<f64>]) -> Option<bedside_monitor::drift::KsResult> {
    ks_2samp(&cluster_medians(refr), &cluster_medians(cur))
}

/// Expected patients per PSI bin for its chi-square null to hold: bins are
/// merged (or fewer quantile bins taken) until each expects this many.
const MIN_EXPECTED: f64 = 5.0;

/// Reference-quantile bins for a comparison of `n` patients: at most 10,
/// each expecting [`MIN_EXPECTED`]; fewer than 2 is no test.
fn bins_for(n: f64) -> usize {
    ((n / MIN_EXPECTED).floor() as usize).min(10)
}

/// Sizes of a comparison of `cur` against a reference of `(present, rows)`.
fn sizes(cur: (f64, f64), reference: (f64, f64)) -> DriftSizes {
    DriftSizes {
        current_present: cur.0,
        current_rows: cur.1,
        reference_present: reference.0,
        reference_rows: reference.1,
    }
}

/// Name of the score in drift lists.
pub const SCORE: &str = "score";

pub(super) fn drift_section(model: &Model, cur: &[&PredRow], refr: &[&PredRow]) -> DriftSection {
    let mut out = DriftSection::default();
    if cur.is_empty() {
        return out;
    }
    // The training rows cluster by patient too: the profile's patients
    // (when known) are its effective sample.
    let profile = &model.package.profile;
    let train_patients = profile.n_patients.map(|p| p as f64);
    let (cur_side, ref_side) = (Side::new(cur), Side::new(refr));
    for f in &profile.features {
        let col = cur_side.column(Some(&f.name));
        let cur_n = cur_side.effective(&col);
        let cur_clusters = cur_side.clusters(&col);
        if let Some(mut p) = training_bins(f) {
            let rows = train_patients.unwrap_or(profile.n_rows as f64);
            let present = train_patients
                .map(|n| n * (1.0 - f.missing_rate))
                .unwrap_or(f.n as f64);
            // The test uses every stored quantile; PSI (a magnitude) the
            // bins a window of this size fills.
            let ks = ks_against_clustered(&p.bins, &cur_clusters, present);
            p.bins = p.bins.coarsened(cur_n.0.min(present), MIN_EXPECTED);
            out.training.push(
                drift_against_profile_tested(&p, &col, ks)
                    .with_effective_sizes(sizes(cur_n, (present, rows))),
            );
        }
        if !refr.is_empty() {
            let ref_col = ref_side.column(Some(&f.name));
            let ref_n = ref_side.effective(&ref_col);
            out.reference.push(
                drift_against_window_tested(
                    &f.name,
                    &ref_col,
                    &col,
                    bins_for(cur_n.0.min(ref_n.0)),
                    ks_patients(&cur_clusters, &ref_side.clusters(&ref_col)),
                )
                .with_effective_sizes(sizes(cur_n, ref_n)),
            );
        }
    }
    let score = cur_side.column(None);
    let cur_n = cur_side.effective(&score);
    if let Some(cal) = &model.package.calibration_set {
        // A calibration row is one patient's stay at its peak score: the
        // window's patients are compared at theirs.
        let mut peak: BTreeMap<&str, f64> = BTreeMap::new();
        for r in cur {
            let e = peak.entry(r.patient.as_str()).or_insert(r.probability);
            *e = e.max(r.probability);
        }
        let peaks: Vec<Option<f64>> = peak.values().map(|p| Some(*p)).collect();
        let peak_n = (peaks.len() as f64, peaks.len() as f64);
        let ps: Vec<f64> = cal.iter().map(|r| r.p).collect();
        let n_cal = cal
            .iter()
            .map(|r| r.patient_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as f64;
        if let Some(bins) = bin_profile(&ps, bins_for(peak_n.0.min(n_cal))) {
            let p = FeatureProfile {
                name: SCORE.into(),
                bins,
                missing_rate: 0.0,
            };
            let n = n_cal;
            // Both sides one value per stay: the exact test on the samples.
            let peak_values: Vec<f64> = peaks.iter().flatten().copied().collect();
            out.training.push(
                drift_against_profile_tested(&p, &peaks, ks_2samp(&ps, &peak_values))
                    .with_effective_sizes(sizes(peak_n, (n, n))),
            );
        }
    }
    if !refr.is_empty() {
        let r = ref_side.column(None);
        let ref_n = ref_side.effective(&r);
        out.reference.push(
            drift_against_window_tested(
                SCORE,
                &r,
                &score,
                bins_for(cur_n.0.min(ref_n.0)),
                ks_patients(&cur_side.clusters(&score), &ref_side.clusters(&r)),
            )
            .with_effective_sizes(sizes(cur_n, ref_n)),
        );
    }
    out
}

pub(super) fn latency_stats(ms: &BTreeMap<String, Vec<f64>>) -> BTreeMap<String, LatencyStats> {
    ms.iter()
        .filter_map(|(k, v)| {
            Some((
                k.clone(),
                LatencyStats {
                    n: v.len() as u64,
                    p50: quantile(v, 0.5)?,
                    p95: quantile(v, 0.95)?,
                    p99: quantile(v, 0.99)?,
                    max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                },
            ))
        })
        .collect()
}

/// The alarm rules' view of a snapshot. Drift against the reference window
/// is named `{feature}@reference`.
pub(super) fn alarm_input(
    s: &MonitoringSnapshot,
    latency: &BTreeMap<String, Vec<f64>>,
    cfg: &MonitoringConfig,
) -> MetricsSnapshot {
    let mut drift = Vec::new();
    if cfg.drift_alarms != "reference" {
        drift.extend(s.drift.training.iter().cloned());
    }
    if cfg.drift_alarms != "training" {
        drift.extend(s.drift.reference.iter().map(|d| FeatureDrift {
            name: format!("{}@reference", d.name),
            ..d.clone()
        }));
    }
    MetricsSnapshot {
        model_id: s.model_id.clone(),
        ppv_floor: s.live_ppv.certified_floor,
        alerts_with_outcome: s.live_ppv.alerts_with_outcome,
        true_alerts: s.live_ppv.true_alerts,
        ppv_design_effect: s.live_ppv.design_effect,
        burden: Some(BurdenInput {
            alerts: s.burden.alerts,
            patient_days: s.burden.patient_days,
            design_effect: s.burden.design_effect,
            budget_per_100_patient_days: s.burden.budget,
        }),
        ood: Some(OodCount {
            predictions: s.ood.predictions,
            out_of_distribution: s.ood.out_of_distribution,
            design_effect: s.ood.design_effect,
        }),
        drift,
        shown: s.usage.overall.shown,
        overridden: s.usage.overall.overridden,
        latency_ms: latency
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), quantile(v, cfg.alarms.latency.quantile)?)))
            .collect(),
        ece: s.performance.ece,
        fairness: Some(s.fairness.clone()),
    }
}

/// Labels, performance, rolling windows and the fairness audit.
pub(super) struct Performance {
    pub labels: LabelCounts,
    /// Probabilities of the window's pending predictions (for CBPE).
    pub pending: Vec<f64>,
    pub summary: PerformanceSummary,
    pub rolling: Vec<WindowSummary>,
    pub fairness: FairnessAudit,
}

/// `span` = (reference window start, current window start); the window
/// ends at `now`.
pub(super) fn performance(
    model: &Model,
    rec: &Record,
    cfg: &MonitoringConfig,
    threshold: Option<f64>,
    span: (Instant, Instant),
    now: Instant,
) -> Performance {
    let (ref_start, win_start) = span;
    let horizon = MonitoringConfig::hours(model.package.spec.prediction.horizon_hours);
    let labeled = label_rows(model, rec, &rec.predictions, threshold, horizon, now);
    let in_window = |t: &Instant| *t >= win_start;
    let cur_labeled: Vec<LabeledPrediction> = labeled
        .iter()
        .filter(|(t, s, _)| in_window(t) && *s != LabelState::Pending)
        .map(|(_, _, r)| r.clone())
        .collect();
    let mut labels = LabelCounts::default();
    let mut pending = Vec::new();
    for (_, s, r) in labeled.iter().filter(|(t, _, _)| in_window(t)) {
        match s {
            LabelState::Positive => labels.positive += 1,
            LabelState::Negative => labels.negative += 1,
            _ => {
                labels.pending += 1;
                pending.push(r.probability);
            }
        }
    }
    let all_labeled: Vec<(Instant, LabeledPrediction)> = labeled
        .iter()
        .filter(|(_, s, _)| *s != LabelState::Pending)
        .map(|(t, _, r)| (*t, r.clone()))
        .collect();
    let step = MonitoringConfig::hours(cfg.rolling_step_hours);
    let rolling_windows = rolling(
        &all_labeled,
        ref_start,
        now,
        MonitoringConfig::hours(cfg.window_hours),
        step,
        &cfg.summary,
    );
    let refs: Vec<&LabeledPrediction> = cur_labeled.iter().collect();
    let performance = summarize(&refs, &cfg.summary);
    let fairness = fairness_audit(&cur_labeled, &cfg.fairness, &cfg.summary);
    Performance {
        labels,
        pending,
        summary: performance,
        rolling: rolling_windows,
        fairness,
    }
}

/// Patient-days of `state`'s stays within `[window.start, now)`: each
/// encounter's period clipped to the window (an open one runs to `now`).
fn patient_days(state: &bedside_core::PatientState, window: Span, now: Instant) -> f64 {
    state
        .encounters
        .values()
        .filter_map(|e| {
            let start = e.start?.max(window.start);
            let end = e.end.unwrap_or(now).min(now);
            (end > start).then(|| (end - start).num_seconds() as f64 / 86_400.0)
        })
        .sum()
}

/// The alert burden: `fired` (patient -> alerts fired in the window) over
/// the patient-days of the window's patients, against the promise.
pub(super) fn burden(
    rec: &Record,
    fired: &BTreeMap<String, u64>,
    promise: Promise,
    cfg: &MonitoringConfig,
    window: Span,
    now: Instant,
) -> AlertBurden {
    let mut clusters = Vec::new();
    let mut patients: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for p in rec.predictions.iter().filter(|p| p.at >= window.start) {
        patients.insert(p.patient.as_str());
    }
    for pid in fired.keys() {
        patients.insert(pid.as_str());
    }
    for pid in &patients {
        let days = rec
            .states
            .get(*pid)
            .map_or(0.0, |s| patient_days(s, window, now));
        clusters.push((fired.get(*pid).copied().unwrap_or(0), days));
    }
    let alerts: u64 = fired.values().sum();
    let days: f64 = clusters.iter().map(|c| c.1).sum();
    let deff = poisson_design_effect(&clusters);
    let conf = cfg.alarms.budget.confidence;
    let per100 = |r: Option<f64>| r.map(|x| x * 100.0);
    let lower = per100(rate_lower(alerts, days, deff, conf));
    let budget = promise.alerts_per_100_patient_days;
    AlertBurden {
        alerts,
        patients: patients.len() as u64,
        patient_days: days,
        per_100_patient_days: (days > 0.0).then(|| 100.0 * alerts as f64 / days),
        lower,
        upper: per100(rate_upper(alerts, days, deff, conf)),
        design_effect: deff,
        budget,
        above_budget: matches!((lower, budget), (Some(l), Some(b)) if l > b
            && days >= cfg.alarms.budget.min_patient_days),
    }
}

/// Out-of-distribution predictions of the window, counted apart.
pub(super) fn ood_section(cur: &[&PredRow], cfg: &MonitoringConfig) -> OodSection {
    let mut per_patient: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut out = OodSection::default();
    for r in cur {
        let e = per_patient.entry(r.patient.as_str()).or_default();
        e.1 += 1;
        out.predictions += 1;
        if !r.in_distribution {
            e.0 += 1;
            out.out_of_distribution += 1;
        }
    }
    let clusters: Vec<(u64, u64)> = per_patient.values().copied().collect();
    out.patients = clusters.iter().filter(|c| c.0 > 0).count() as u64;
    out.design_effect = binomial_design_effect(&clusters);
    out.rate =
        (out.predictions > 0).then(|| out.out_of_distribution as f64 / out.predictions as f64);
    out.lower = proportion_lower(
        out.out_of_distribution,
        out.predictions,
        out.design_effect,
        cfg.alarms.ood.confidence,
    );
    out
}
