//! The snapshot's derived parts: labels under the package's outcome
//! definition, drift against the training profile and the reference
//! window, latency quantiles, and the alarm rules' view of a snapshot.

use super::collect::{unit_at, PredRow, Record};
use super::{DriftSection, LabelCounts, LatencyStats, MonitoringConfig, MonitoringSnapshot};
use bedside_core::Instant;
use bedside_models::Model;
use bedside_monitor::alarms::MetricsSnapshot;
use bedside_monitor::drift::{
    bin_profile, drift_against_profile, drift_against_window, quantile_key_probability, BinProfile,
    FeatureDrift, FeatureProfile,
};
use bedside_monitor::linkage::{rolling, LabelState, WindowSummary};
use bedside_monitor::metrics::quantile;
use bedside_monitor::subgroups::{
    fairness_audit, summarize, FairnessAudit, LabeledPrediction, PerformanceSummary,
};
use chrono::Duration;
use std::collections::BTreeMap;

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
fn training_bins(f: &bedside_models::ood::FeatureProfile) -> Option<FeatureProfile> {
    let points: Vec<(f64, f64)> = f
        .quantiles
        .iter()
        .filter_map(|(k, v)| quantile_key_probability(k).map(|p| (p, *v)))
        .collect();
    Some(FeatureProfile {
        name: f.name.clone(),
        bins: BinProfile::from_quantiles(&points, f.n)?,
        missing_rate: f.missing_rate,
    })
}

fn values(rows: &[&PredRow], name: &str) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| r.values.get(name).copied().flatten())
        .collect()
}

/// Name of the score in drift lists.
pub const SCORE: &str = "score";

pub(super) fn drift_section(model: &Model, cur: &[&PredRow], refr: &[&PredRow]) -> DriftSection {
    let mut out = DriftSection::default();
    if cur.is_empty() {
        return out;
    }
    for f in &model.package.profile.features {
        if let Some(p) = training_bins(f) {
            out.training
                .push(drift_against_profile(&p, &values(cur, &f.name)));
        }
        if !refr.is_empty() {
            out.reference.push(drift_against_window(
                &f.name,
                &values(refr, &f.name),
                &values(cur, &f.name),
                10,
            ));
        }
    }
    let score: Vec<Option<f64>> = cur.iter().map(|r| Some(r.probability)).collect();
    if let Some(cal) = &model.package.calibration_set {
        let ps: Vec<f64> = cal.iter().map(|r| r.p).collect();
        if let Some(bins) = bin_profile(&ps, 10) {
            let p = FeatureProfile {
                name: SCORE.into(),
                bins,
                missing_rate: 0.0,
            };
            out.training.push(drift_against_profile(&p, &score));
        }
    }
    if !refr.is_empty() {
        let r: Vec<Option<f64>> = refr.iter().map(|r| Some(r.probability)).collect();
        out.reference
            .push(drift_against_window(SCORE, &r, &score, 10));
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
