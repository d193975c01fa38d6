//! Monitoring over the real record: [`App::monitoring`] reads what the app
//! stored for one model and returns a serde-serialisable
//! [`MonitoringSnapshot`]. Never on the scoring path; reads only.
//!
//! Public names (stable; the dashboard and the reports use them):
//! - [`MonitoringConfig`] (windows, alarm rules, fairness bounds, shifts,
//!   trust pulse, governance owner), set with [`App::set_monitoring_config`],
//!   read with [`App::monitoring_config`];
//! - [`MonitoringQuery`] (`model_id`, `now`), [`App::monitoring`],
//!   [`App::monitoring_clock`] (the newest stored prediction time: the
//!   data clock of a replayed installation);
//! - [`MonitoringSnapshot`] and its parts [`Span`], [`Sources`],
//!   [`LabelCounts`], [`LivePpv`], [`DriftSection`], [`LatencyStats`].
//!
//! Where each figure comes from (document kinds in `bedside-store`):
//! - predictions: `prediction` documents (owner = model id) made in the
//!   window; labels: the package's `[outcome]` definition applied to the
//!   patient's stored Condition resources known at `now` (positive as soon
//!   as a matching Condition is known, negative once `at + horizon <= now`,
//!   else pending); flagged = probability >= the certified threshold;
//! - subgroups: stored Patient (sex, birthDate -> age band, US Core race
//!   and ethnicity) and the patient state's encounter location (unit);
//! - live PPV: `decision` documents (alerts and escalations, shown or
//!   silent) in the window, each labelled like its prediction, against the
//!   certification's PPV floor;
//! - use and trust: `card` documents with their first `feedback` document
//!   (accepted / overridden + coded reason), the first order
//!   (MedicationRequest / ServiceRequest) or pathway Task action for the
//!   patient after the card, roles from PractitionerRole; `pulse_answer`
//!   documents for the trust pulse;
//! - drift: the window's prediction feature values and probabilities
//!   against the package training profile (quantile bins) and calibration
//!   set (score), and against the reference window just before;
//! - CBPE: pending predictions' calibrated probabilities;
//! - latency: `latency_ms` recorded in each card (request received to card
//!   rendered).

mod collect;

pub use collect::PULSE_ANSWER;

use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_models::Model;
use bedside_monitor::alarms::{evaluate_alarms, Alarm, AlarmConfig, MetricsSnapshot};
use bedside_monitor::cbpe::{cbpe, CbpeEstimate};
use bedside_monitor::drift::{
    bin_profile, drift_against_profile, drift_against_window, quantile_key_probability, BinProfile,
    FeatureDrift, FeatureProfile,
};
use bedside_monitor::intervals::{proportion, Estimate, IntervalMethod};
use bedside_monitor::linkage::{rolling, LabelState, WindowSummary};
use bedside_monitor::metrics::quantile;
use bedside_monitor::subgroups::{
    fairness_audit, summarize, FairnessAudit, FairnessConfig, LabeledPrediction,
    PerformanceSummary, SubgroupSummary, SummaryConfig,
};
use bedside_monitor::usage::{
    pulse_trend, usage_report, PulseConfig, PulsePeriod, ShiftConfig, UsageReport,
};
use bedside_store::DocFilter;
use chrono::Duration;
use collect::{unit_at, PredRow, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// How monitoring reads the record and when it alarms (TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Current window length (hours) ending at `now`.
    pub window_hours: f64,
    /// Reference window length (hours) just before the current window.
    pub reference_hours: f64,
    /// Step of the rolling performance windows (hours).
    pub rolling_step_hours: f64,
    /// An order or task action within this many hours after a card counts
    /// as its first action.
    pub action_window_hours: f64,
    /// Governance: evaluate the alarms every this many hours of data time.
    pub evaluate_every_hours: f64,
    /// Governance Task owner (a `Practitioner/..` reference or a role).
    pub owner: String,
    pub alarms: AlarmConfig,
    pub fairness: FairnessConfig,
    pub summary: SummaryConfig,
    pub shift: ShiftConfig,
    pub pulse: PulseConfig,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            window_hours: 24.0 * 30.0,
            reference_hours: 24.0 * 30.0,
            rolling_step_hours: 24.0 * 7.0,
            action_window_hours: 24.0,
            evaluate_every_hours: 24.0,
            owner: "model-owner".into(),
            alarms: AlarmConfig::default(),
            fairness: FairnessConfig::default(),
            summary: SummaryConfig::default(),
            shift: ShiftConfig::default(),
            pulse: PulseConfig::default(),
        }
    }
}

impl MonitoringConfig {
    /// Parse and validate; errors name the key.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        let c: Self = toml::from_str(text).map_err(|e| format!("monitoring config: {e}"))?;
        c.alarms.validate().map_err(|e| e.to_string())?;
        for (k, v) in [
            ("window_hours", c.window_hours),
            ("reference_hours", c.reference_hours),
            ("rolling_step_hours", c.rolling_step_hours),
            ("action_window_hours", c.action_window_hours),
            ("evaluate_every_hours", c.evaluate_every_hours),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("monitoring setting `{k}`: must be > 0, got {v}"));
            }
        }
        Ok(c)
    }

    fn hours(h: f64) -> Duration {
        Duration::milliseconds((h * 3_600_000.0).round() as i64)
    }
}

/// Monitoring state held by the app.
#[derive(Debug, Default)]
pub struct MonitorRuntime {
    config: RwLock<MonitoringConfig>,
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringQuery {
    pub model_id: String,
    /// End of the current window (the wall clock when live; the data clock,
    /// see [`App::monitoring_clock`], for a replayed installation).
    pub now: Instant,
}

/// A half-open time span `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: Instant,
    pub end: Instant,
}

/// How many records each figure was computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    /// `prediction` documents in the current / reference window.
    pub predictions: u64,
    pub reference_predictions: u64,
    pub unreadable_predictions: u64,
    pub patients: u64,
    /// Outcome-matching events read from stored Condition resources.
    pub outcome_conditions: u64,
    /// `decision` documents (alerts, escalations) in the window.
    pub decisions: u64,
    /// `card` and `feedback` documents in the window.
    pub cards: u64,
    pub feedback: u64,
    pub pulse_answers: u64,
}

/// Label states of the window's predictions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelCounts {
    pub positive: u64,
    pub negative: u64,
    pub pending: u64,
}

/// Live PPV of the alerts against the certified floor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LivePpv {
    pub certified: bool,
    pub threshold: Option<f64>,
    pub certified_floor: Option<f64>,
    pub certified_ppv_lower: Option<f64>,
    /// Alerts (decision documents) in the window, and those with a known
    /// outcome / a positive outcome.
    pub alerts: u64,
    pub alerts_with_outcome: u64,
    pub true_alerts: u64,
    /// Two-sided exact (Clopper-Pearson) interval.
    pub ppv: Option<Estimate>,
    /// One-sided upper bound at the alarm rule's confidence.
    pub ppv_upper: Option<f64>,
    /// The upper bound is below the floor (the PPV alarm condition).
    pub below_floor: bool,
}

/// Drift of inputs and score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftSection {
    /// Against the package training profile (score: calibration set).
    pub training: Vec<FeatureDrift>,
    /// Against the reference window.
    pub reference: Vec<FeatureDrift>,
}

/// Latency of one endpoint in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub n: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Everything monitoring knows of one model over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringSnapshot {
    pub model_id: String,
    pub model_version: Option<String>,
    pub now: Instant,
    pub window: Span,
    pub reference_window: Span,
    pub horizon_hours: f64,
    pub sources: Sources,
    pub labels: LabelCounts,
    /// Labelled predictions in the window, with intervals.
    pub performance: PerformanceSummary,
    /// Rolling windows over current + reference.
    pub rolling: Vec<WindowSummary>,
    pub subgroups: Vec<SubgroupSummary>,
    pub fairness: FairnessAudit,
    pub live_ppv: LivePpv,
    pub usage: UsageReport,
    pub trust_pulse: Vec<PulsePeriod>,
    pub drift: DriftSection,
    /// Label-free estimate over the pending predictions.
    pub cbpe: Option<CbpeEstimate>,
    pub latency: BTreeMap<String, LatencyStats>,
    /// Alarm rules evaluated over this snapshot.
    pub alarms: Vec<Alarm>,
}

impl App {
    pub fn set_monitoring_config(&self, cfg: MonitoringConfig) {
        *self
            .monitor
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    pub fn monitoring_config(&self) -> MonitoringConfig {
        self.monitor
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The newest stored prediction time of a model (`None`: none stored).
    pub async fn monitoring_clock(&self, model_id: &str) -> Result<Option<Instant>, ApiError> {
        let docs = self
            .store
            .list_documents(&DocFilter {
                kind: crate::pipeline::PREDICTION.into(),
                owner: Some(model_id.to_string()),
                ..Default::default()
            })
            .await?;
        Ok(docs.iter().map(|d| d.created_at).max())
    }

    fn served_model(&self, model_id: &str) -> Result<std::sync::Arc<Model>, ApiError> {
        self.models
            .iter()
            .find(|m| m.id() == model_id)
            .and_then(|m| m.model.clone())
            .ok_or_else(|| ApiError::not_found(format!("model {model_id:?} is not served here")))
    }

    /// The monitoring snapshot of one model at `q.now`.
    pub async fn monitoring(&self, q: &MonitoringQuery) -> Result<MonitoringSnapshot, ApiError> {
        let cfg = self.monitoring_config();
        let model = self.served_model(&q.model_id)?;
        let window = Span {
            start: q.now - MonitoringConfig::hours(cfg.window_hours),
            end: q.now,
        };
        let reference_window = Span {
            start: window.start - MonitoringConfig::hours(cfg.reference_hours),
            end: window.start,
        };
        let rec = self
            .monitoring_record(&q.model_id, reference_window.start, q.now)
            .await?;
        let cert = self.certification(&q.model_id);
        let threshold = cert
            .as_ref()
            .and_then(|c| c.certified())
            .map(|c| c.threshold);
        let horizon = MonitoringConfig::hours(model.package.spec.prediction.horizon_hours);
        let (cur, refr): (Vec<&PredRow>, Vec<&PredRow>) =
            rec.predictions.iter().partition(|p| p.at >= window.start);
        let labeled = label_rows(&model, &rec, &rec.predictions, threshold, horizon, q.now);
        let in_window = |t: &Instant| *t >= window.start;
        let cur_labeled: Vec<LabeledPrediction> = labeled
            .iter()
            .filter(|(t, s, _)| in_window(t) && *s != LabelState::Pending)
            .map(|(_, _, r)| r.clone())
            .collect();
        let mut labels = LabelCounts::default();
        let mut pending = Vec::new();
        for (t, s, r) in labeled.iter().filter(|(t, _, _)| in_window(t)) {
            match s {
                LabelState::Positive => labels.positive += 1,
                LabelState::Negative => labels.negative += 1,
                _ => {
                    labels.pending += 1;
                    pending.push((*t, r.probability));
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
            reference_window.start,
            q.now,
            MonitoringConfig::hours(cfg.window_hours),
            step,
            &cfg.summary,
        );
        let refs: Vec<&LabeledPrediction> = cur_labeled.iter().collect();
        let performance = summarize(&refs, &cfg.summary);
        let fairness = fairness_audit(&cur_labeled, &cfg.fairness, &cfg.summary);
        let live_ppv = self
            .live_ppv(&model, &rec, cert.as_ref(), &cfg, window, q.now)
            .await?;
        let alerts = self
            .alert_records(
                &q.model_id,
                window.start,
                q.now,
                MonitoringConfig::hours(cfg.action_window_hours),
            )
            .await?;
        let usage = usage_report(&alerts.records, &cfg.shift);
        let answers = self.pulse_answers(&q.model_id).await?;
        let origin = answers.iter().map(|a| a.at).min().unwrap_or(window.start);
        let trust_pulse = pulse_trend(&answers, &cfg.pulse, origin);
        let drift = drift_section(&model, &cur, &refr);
        let pending_p: Vec<f64> = pending.iter().map(|(_, p)| *p).collect();
        let cbpe_est = threshold.and_then(|t| cbpe(&pending_p, t));
        let latency = latency_stats(&alerts.latency_ms);
        let sources = Sources {
            predictions: cur.len() as u64,
            reference_predictions: refr.len() as u64,
            unreadable_predictions: rec.unreadable_predictions,
            patients: rec.attributes.len() as u64,
            outcome_conditions: rec.conditions_read,
            decisions: live_ppv.alerts,
            cards: alerts.records.len() as u64,
            feedback: alerts.feedback,
            pulse_answers: answers.len() as u64,
        };
        let mut snap = MonitoringSnapshot {
            model_id: q.model_id.clone(),
            model_version: rec
                .model_version
                .clone()
                .or_else(|| Some(model.version().to_string())),
            now: q.now,
            window,
            reference_window,
            horizon_hours: model.package.spec.prediction.horizon_hours,
            sources,
            labels,
            performance,
            rolling: rolling_windows,
            subgroups: fairness.subgroups.clone(),
            fairness,
            live_ppv,
            usage,
            trust_pulse,
            drift,
            cbpe: cbpe_est,
            latency,
            alarms: Vec::new(),
        };
        snap.alarms = evaluate_alarms(&cfg.alarms, &alarm_input(&snap, &alerts.latency_ms, &cfg));
        Ok(snap)
    }

    /// Decisions in the window, labelled like predictions.
    async fn live_ppv(
        &self,
        model: &Model,
        rec: &Record,
        cert: Option<&bedside_policy::Certification>,
        cfg: &MonitoringConfig,
        window: Span,
        now: Instant,
    ) -> Result<LivePpv, ApiError> {
        let decisions = self
            .store
            .list_documents(&DocFilter {
                kind: crate::pathway_rt::DECISION.into(),
                owner: Some(model.id().to_string()),
                since: Some(window.start),
                ..Default::default()
            })
            .await?;
        let horizon = MonitoringConfig::hours(model.package.spec.prediction.horizon_hours);
        let none = Vec::new();
        let mut out = LivePpv::default();
        for d in decisions.iter().filter(|d| d.created_at < now) {
            out.alerts += 1;
            let pid = d.patient_id.clone().unwrap_or_default();
            let events = rec.outcome_events.get(&pid).unwrap_or(&none);
            match label_state(model, events, d.created_at, horizon, now) {
                LabelState::Positive => {
                    out.alerts_with_outcome += 1;
                    out.true_alerts += 1;
                }
                LabelState::Negative => out.alerts_with_outcome += 1,
                _ => {}
            }
        }
        if let Some(c) = cert.and_then(|c| c.certified()) {
            out.certified = true;
            out.threshold = Some(c.threshold);
            out.certified_floor = Some(c.ppv_floor);
            out.certified_ppv_lower = Some(c.ppv_lower);
        }
        out.ppv = proportion(
            out.true_alerts,
            out.alerts_with_outcome,
            0.95,
            IntervalMethod::ClopperPearson,
        );
        if out.alerts_with_outcome > 0 {
            out.ppv_upper = bedside_policy::binomial::clopper_pearson_upper(
                out.true_alerts,
                out.alerts_with_outcome,
                cfg.alarms.ppv.confidence,
            )
            .ok();
        }
        out.below_floor = matches!((out.ppv_upper, out.certified_floor), (Some(u), Some(f)) if u < f
            && out.alerts_with_outcome >= cfg.alarms.ppv.min_alerts.max(1));
        Ok(out)
    }
}

/// Label state of a prediction at `at` under the package's outcome
/// definition, from the events known at `now`.
fn label_state(
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

fn label_rows(
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

fn drift_section(model: &Model, cur: &[&PredRow], refr: &[&PredRow]) -> DriftSection {
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

fn latency_stats(ms: &BTreeMap<String, Vec<f64>>) -> BTreeMap<String, LatencyStats> {
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
fn alarm_input(
    s: &MonitoringSnapshot,
    latency: &BTreeMap<String, Vec<f64>>,
    cfg: &MonitoringConfig,
) -> MetricsSnapshot {
    let mut drift = s.drift.training.clone();
    drift.extend(s.drift.reference.iter().map(|d| FeatureDrift {
        name: format!("{}@reference", d.name),
        ..d.clone()
    }));
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
