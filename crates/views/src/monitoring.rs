//! Monitoring over the real record: [`Views::monitoring`] reads what the app
//! stored for one model and returns a serde-serialisable
//! [`MonitoringSnapshot`]. Never on the scoring path; reads only.
//!
//! Public names (stable; the dashboard and the reports use them):
//! - [`MonitoringConfig`] (windows, alarm rules, fairness bounds, shifts,
//!   trust pulse, governance owner), set with [`Views::set_monitoring_config`],
//!   read with [`Views::monitoring_config`];
//! - [`MonitoringQuery`] (`model_id`, `now`), [`Views::monitoring`],
//!   [`Views::monitoring_clock`] (the newest stored prediction time: the
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
//!   promise's per-alert PPV floor ([`promise`]), with the design effect
//!   of alerts clustered by patient;
//! - alert burden: the window's `decision` documents that fired an alert
//!   (`new_alert`: the unit the budget counts) over the patient-days of
//!   the stays of the window's patients (encounter periods within the
//!   window; an open encounter runs to `now`), against the promise's
//!   budget;
//! - out of distribution: the window's predictions the guard put outside
//!   the validated population (`in_distribution: false`), counted apart;
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

pub(crate) mod collect;
mod compute;
mod gauges;

pub use compute::SCORE;

pub use gauges::{Gauges, ModelGauges};

pub use collect::PULSE_ANSWER;

use crate::{ViewError, Views};
use bedside_core::Instant;
use bedside_models::Model;
use bedside_monitor::alarms::{evaluate_alarms, Alarm, AlarmConfig};
use bedside_monitor::cbpe::{cbpe, CbpeEstimate};
use bedside_monitor::drift::FeatureDrift;
use bedside_monitor::intervals::{proportion, Estimate, IntervalMethod};
use bedside_monitor::linkage::{LabelState, WindowSummary};
use bedside_monitor::subgroups::{
    FairnessAudit, FairnessConfig, PerformanceSummary, SubgroupSummary, SummaryConfig,
};
use bedside_monitor::usage::{
    pulse_trend, usage_report, PulseConfig, PulsePeriod, ShiftConfig, UsageReport,
};
use bedside_monitor::watch::binomial_design_effect;
use bedside_store::DocFilter;
use chrono::Duration;
pub(crate) use collect::{PredRow, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Which drift the alarm rules see: `both`, `training` (against the
    /// package training profile) or `reference` (against the reference
    /// window; evaluated only once stored predictions cover it entirely).
    pub drift_alarms: String,
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
            drift_alarms: "both".into(),
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
        if !["both", "training", "reference"].contains(&c.drift_alarms.as_str()) {
            return Err(format!(
                "monitoring setting `drift_alarms`: expected both, training or reference, got {:?}",
                c.drift_alarms
            ));
        }
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

    /// `h` hours as a duration (to the millisecond).
    pub fn hours(h: f64) -> Duration {
        Duration::milliseconds((h * 3_600_000.0).round() as i64)
    }
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringQuery {
    pub model_id: String,
    /// End of the current window (the wall clock when live; the data clock,
    /// see [`Views::monitoring_clock`], for a replayed installation).
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
    /// Design effect of the alerts' outcomes, clustered by patient (>= 1).
    #[serde(default)]
    pub design_effect: f64,
}

/// What a model promises the people it alerts: the per-alert PPV floor
/// and the interruptive-alert budget (per 100 patient-days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Promise {
    pub ppv_floor: Option<f64>,
    pub alerts_per_100_patient_days: Option<f64>,
}

/// The promise the live watch holds a model to, read from its
/// certification (a model not certified alerts on nothing and promises
/// nothing). The one place that reads it: the certified values when the
/// certification carries them, else the policy's configured floor and
/// budget the certification was made under.
pub fn promise(view: &bedside_policy::PolicyView, model_id: &str) -> Promise {
    match view.certification_of(model_id).and_then(|c| c.certified()) {
        Some(c) => Promise {
            ppv_floor: Some(c.ppv_floor),
            alerts_per_100_patient_days: Some(c.alert_budget_per_100_patient_days),
        },
        None => Promise::default(),
    }
}

/// Interruptive alerts over patient-days in the window, against the budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBurden {
    /// Decisions in the window that fired an alert (first or re-alert).
    pub alerts: u64,
    pub patients: u64,
    pub patient_days: f64,
    pub per_100_patient_days: Option<f64>,
    /// One-sided bounds at the budget rule's confidence (Poisson, scaled
    /// by the dispersion of per-patient counts).
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub design_effect: f64,
    pub budget: Option<f64>,
    /// The lower bound is above the budget (the budget alarm condition).
    pub above_budget: bool,
}

/// Predictions the guard put out of the validated population, counted
/// apart from the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OodSection {
    pub predictions: u64,
    pub out_of_distribution: u64,
    /// Patients with at least one prediction out of distribution.
    pub patients: u64,
    pub rate: Option<f64>,
    /// One-sided lower bound at the OOD rule's confidence.
    pub lower: Option<f64>,
    pub design_effect: f64,
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
    /// Interruptive alerts per 100 patient-days against the budget.
    #[serde(default)]
    pub burden: AlertBurden,
    /// Out-of-distribution predictions, counted apart.
    #[serde(default)]
    pub ood: OodSection,
    pub usage: UsageReport,
    pub trust_pulse: Vec<PulsePeriod>,
    pub drift: DriftSection,
    /// Label-free estimate over the pending predictions.
    pub cbpe: Option<CbpeEstimate>,
    pub latency: BTreeMap<String, LatencyStats>,
    /// Alarm rules evaluated over this snapshot.
    pub alarms: Vec<Alarm>,
}

impl Views {
    /// The newest stored prediction time of a model (`None`: none stored).
    pub async fn monitoring_clock(&self, model_id: &str) -> Result<Option<Instant>, ViewError> {
        Ok(self.prediction_span(model_id).await?.map(|s| s.end))
    }

    /// The first and newest stored prediction times of a model (one
    /// index query; no prediction is read).
    pub async fn prediction_span(&self, model_id: &str) -> Result<Option<Span>, ViewError> {
        let span = self
            .store
            .document_span(&DocFilter {
                kind: bedside_record::kinds::PREDICTION.into(),
                owner: Some(model_id.to_string()),
                ..Default::default()
            })
            .await?;
        Ok(span.map(|(start, end)| Span { start, end }))
    }

    /// The monitoring snapshot of one model at `q.now`.
    pub async fn monitoring(&self, q: &MonitoringQuery) -> Result<MonitoringSnapshot, ViewError> {
        self.monitoring_with(q, &self.monitoring_config()).await
    }

    /// The snapshot under an explicit configuration (e.g. a report's
    /// whole-record window).
    pub async fn monitoring_with(
        &self,
        q: &MonitoringQuery,
        cfg: &MonitoringConfig,
    ) -> Result<MonitoringSnapshot, ViewError> {
        Ok(self.monitoring_parts(q, cfg).await?.0)
    }

    /// The snapshot and the record it was computed from (the dashboard
    /// draws its reliability diagram from the same record).
    pub(crate) async fn monitoring_parts(
        &self,
        q: &MonitoringQuery,
        cfg: &MonitoringConfig,
    ) -> Result<(MonitoringSnapshot, Record), ViewError> {
        let cfg = cfg.clone();
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
        let cert = self
            .policy_for(&q.model_id)
            .certification_of(&q.model_id)
            .cloned();
        let threshold = cert
            .as_ref()
            .and_then(|c| c.certified())
            .map(|c| c.threshold);
        let (cur, refr): (Vec<&PredRow>, Vec<&PredRow>) =
            rec.predictions.iter().partition(|p| p.at >= window.start);
        let perf = compute::performance(
            &model,
            &rec,
            &cfg,
            threshold,
            (reference_window.start, window.start),
            q.now,
        );
        let promise = promise(&self.policy_for(&q.model_id), &q.model_id);
        let (live_ppv, burden) = self
            .live_ppv(&model, &rec, cert.as_ref(), promise, &cfg, window, q.now)
            .await?;
        let ood = compute::ood_section(&cur, &cfg);
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
        // A reference window the record does not cover entirely would
        // compare a partial sample: not evaluated.
        let covered = self
            .prediction_span(&q.model_id)
            .await?
            .is_some_and(|s| s.start <= reference_window.start);
        let drift = compute::drift_section(&model, &cur, if covered { &refr } else { &[] });
        let cbpe_est = threshold.and_then(|t| cbpe(&perf.pending, t));
        let latency = compute::latency_stats(&alerts.latency_ms);
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
            labels: perf.labels,
            performance: perf.summary,
            rolling: perf.rolling,
            subgroups: perf.fairness.subgroups.clone(),
            fairness: perf.fairness,
            live_ppv,
            burden,
            ood,
            usage,
            trust_pulse,
            drift,
            cbpe: cbpe_est,
            latency,
            alarms: Vec::new(),
        };
        snap.alarms = evaluate_alarms(
            &cfg.alarms,
            &compute::alarm_input(&snap, &alerts.latency_ms, &cfg),
        );
        Ok((snap, rec))
    }

    /// Decisions in the window, labelled like predictions, and the alert
    /// burden they make.
    #[allow(clippy::too_many_arguments)]
    async fn live_ppv(
        &self,
        model: &Model,
        rec: &Record,
        cert: Option<&bedside_policy::Certification>,
        promise: Promise,
        cfg: &MonitoringConfig,
        window: Span,
        now: Instant,
    ) -> Result<(LivePpv, AlertBurden), ViewError> {
        let decisions = self
            .store
            .list_documents(&DocFilter {
                kind: bedside_record::kinds::DECISION.into(),
                owner: Some(model.id().to_string()),
                since: Some(window.start),
                ..Default::default()
            })
            .await?;
        let horizon = MonitoringConfig::hours(model.package.spec.prediction.horizon_hours);
        let none = Vec::new();
        let mut out = LivePpv::default();
        // Per patient: (true alerts, alerts with outcome), alerts fired.
        let mut per_patient: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut fired: BTreeMap<String, u64> = BTreeMap::new();
        for d in decisions.iter().filter(|d| d.created_at < now) {
            out.alerts += 1;
            let pid = d.patient_id.clone().unwrap_or_default();
            let new_alert =
                <bedside_record::DecisionRecord as bedside_record::Record>::from_document(d)
                    .map(|r| r.decision.new_alert)
                    .unwrap_or(true);
            if new_alert {
                *fired.entry(pid.clone()).or_default() += 1;
            }
            let events = rec.outcome_events.get(&pid).unwrap_or(&none);
            let e = per_patient.entry(pid).or_default();
            match compute::label_state(model, events, d.created_at, horizon, now) {
                LabelState::Positive => {
                    out.alerts_with_outcome += 1;
                    out.true_alerts += 1;
                    e.0 += 1;
                    e.1 += 1;
                }
                LabelState::Negative => {
                    out.alerts_with_outcome += 1;
                    e.1 += 1;
                }
                _ => {}
            }
        }
        let clusters: Vec<(u64, u64)> = per_patient.values().copied().collect();
        out.design_effect = binomial_design_effect(&clusters);
        if let Some(c) = cert.and_then(|c| c.certified()) {
            out.certified = true;
            out.threshold = Some(c.threshold);
            out.certified_floor = promise.ppv_floor;
            out.certified_ppv_lower = Some(c.ppv_lower);
        }
        out.ppv = proportion(
            out.true_alerts,
            out.alerts_with_outcome,
            0.95,
            IntervalMethod::ClopperPearson,
        );
        if out.alerts_with_outcome > 0 {
            out.ppv_upper = bedside_monitor::watch::proportion_upper(
                out.true_alerts,
                out.alerts_with_outcome,
                out.design_effect,
                cfg.alarms.ppv.confidence,
            );
        }
        out.below_floor = matches!((out.ppv_upper, out.certified_floor), (Some(u), Some(f)) if u < f
            && out.alerts_with_outcome >= cfg.alarms.ppv.min_alerts.max(1));
        let burden = compute::burden(rec, &fired, promise, cfg, window, now);
        Ok((out, burden))
    }
}
