//! Governance alarms: configured conditions evaluated over a metrics
//! snapshot. Pure: the caller builds the snapshot from the record and opens
//! the owner's governance Task for each alarm.
//!
//! Rules (each can be switched off):
//! - `ppv`: live per-alert PPV below the certified floor *with
//!   confidence*: the one-sided exact (Clopper-Pearson) upper bound at
//!   `ppv.confidence`, on counts divided by the alerts' design effect
//!   (alerts cluster within patients, [`crate::watch`]), is below the
//!   floor, once `ppv.min_alerts` alerts have known outcomes;
//! - `budget`: interruptive alerts per 100 patient-days above the
//!   certified budget *with confidence*: the one-sided exact Poisson lower
//!   bound at `budget.confidence` (dispersion-scaled) is above the budget,
//!   once `budget.min_patient_days` of exposure are in the window;
//! - `ood`: the share of predictions out of the validated population above
//!   `ood.rate_limit` *with confidence*: the one-sided exact lower bound
//!   (design-effect scaled) is above the limit, once `ood.min_predictions`;
//! - `drift.psi_limit`: a feature or the score has drifted when its KS
//!   test on patient-level values (one unit per patient,
//!   [`crate::drift`]: exact null at the window's number of patients) is
//!   rejected by Holm's procedure at family-wise error rate `drift.alpha`
//!   over the evaluation's drift tests (every KS and missingness test of
//!   the model), *and* its PSI is above the limit (a shift large enough to
//!   matter: a trivial shift in a large window is significant but small);
//!   `drift.missingness_increase`: missing rate rose by more than this,
//!   and rejected in the same family; `drift.ks_pvalue_limit` (optional):
//!   KS p-value below it, unadjusted; drift rules need `drift.min_samples`
//!   current values;
//! - `overrides.rate_limit`: overridden / shown above the limit once
//!   `overrides.min_shown` alerts were shown;
//! - `latency.slo_ms`: any endpoint's latency (at the quantile the caller
//!   measured, `latency.quantile`, for the message) above the SLO;
//! - `calibration.ece_limit` (optional): ECE above it;
//! - `fairness.alarm_on_breach`: any fairness breach.

use crate::drift::FeatureDrift;
use crate::subgroups::FairnessAudit;
use crate::watch::{holm, proportion_lower, proportion_upper, rate_lower};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Documentation of every alarm setting (key, doc); defaults come from
/// `AlarmConfig::default()` and are shown by [`AlarmConfig::default_toml`].
pub const ALARM_SETTINGS: &[(&str, &str)] = &[
    (
        "ppv.enabled",
        "Raise an alarm when live PPV is below the certified floor with confidence.",
    ),
    (
        "ppv.confidence",
        "Confidence of the one-sided upper bound on live PPV, in (0, 1).",
    ),
    (
        "ppv.min_alerts",
        "Alerts with known outcome needed before the PPV rule is evaluated.",
    ),
    (
        "budget.enabled",
        "Raise an alarm when interruptive alerts per 100 patient-days are above the certified budget with confidence.",
    ),
    (
        "budget.confidence",
        "Confidence of the one-sided Poisson lower bound on the alert rate, in (0, 1).",
    ),
    (
        "budget.min_patient_days",
        "Patient-days in the window needed before the budget rule is evaluated.",
    ),
    (
        "ood.rate_limit",
        "Share of predictions outside the validated population above this raises an alarm (with confidence), in (0, 1).",
    ),
    (
        "ood.confidence",
        "Confidence of the one-sided lower bound on the out-of-distribution share, in (0, 1).",
    ),
    (
        "ood.min_predictions",
        "Predictions in the window needed before the out-of-distribution rule is evaluated.",
    ),
    (
        "drift.psi_limit",
        "PSI above this (features and the score) raises a drift alarm when the patient-level KS test is also significant, > 0.",
    ),
    (
        "drift.alpha",
        "Family-wise error rate (Holm) over one evaluation's drift tests: each input's and the score's patient-level KS test, exact at the window's patients, and missingness, in (0, 1).",
    ),
    (
        "drift.ks_pvalue_limit",
        "Optional: KS p-value below this raises a drift alarm, in (0, 1).",
    ),
    (
        "drift.missingness_increase",
        "Missing-rate increase (absolute) above this raises an alarm when significant, in (0, 1).",
    ),
    (
        "drift.min_samples",
        "Current non-missing values needed before drift rules are evaluated.",
    ),
    (
        "overrides.rate_limit",
        "Override rate (overridden / shown) above this raises an alarm, in (0, 1).",
    ),
    (
        "overrides.min_shown",
        "Shown alerts needed before the override rule is evaluated.",
    ),
    ("latency.slo_ms", "Latency SLO in milliseconds, > 0."),
    (
        "latency.quantile",
        "The latency quantile the SLO is stated for (e.g. 0.99), in (0, 1).",
    ),
    (
        "calibration.ece_limit",
        "Optional: ECE above this raises a calibration alarm, in (0, 1).",
    ),
    (
        "fairness.alarm_on_breach",
        "Raise an alarm for each fairness-audit breach.",
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpvRule {
    pub enabled: bool,
    pub confidence: f64,
    pub min_alerts: u64,
}
impl Default for PpvRule {
    fn default() -> Self {
        Self {
            enabled: true,
            confidence: 0.95,
            min_alerts: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetRule {
    pub enabled: bool,
    pub confidence: f64,
    pub min_patient_days: f64,
}
impl Default for BudgetRule {
    fn default() -> Self {
        Self {
            enabled: true,
            confidence: 0.95,
            min_patient_days: 20.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OodRule {
    pub rate_limit: f64,
    pub confidence: f64,
    pub min_predictions: u64,
}
impl Default for OodRule {
    fn default() -> Self {
        Self {
            rate_limit: 0.2,
            confidence: 0.95,
            min_predictions: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftRule {
    pub psi_limit: f64,
    pub alpha: f64,
    pub ks_pvalue_limit: Option<f64>,
    pub missingness_increase: f64,
    pub min_samples: u64,
}
impl Default for DriftRule {
    fn default() -> Self {
        Self {
            psi_limit: 0.25,
            alpha: 0.05,
            ks_pvalue_limit: None,
            missingness_increase: 0.2,
            min_samples: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverrideRule {
    pub rate_limit: f64,
    pub min_shown: u64,
}
impl Default for OverrideRule {
    fn default() -> Self {
        Self {
            rate_limit: 0.7,
            min_shown: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyRule {
    pub slo_ms: f64,
    pub quantile: f64,
}
impl Default for LatencyRule {
    fn default() -> Self {
        Self {
            slo_ms: 500.0,
            quantile: 0.99,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationRule {
    pub ece_limit: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FairnessRule {
    pub alarm_on_breach: bool,
}
impl Default for FairnessRule {
    fn default() -> Self {
        Self {
            alarm_on_breach: true,
        }
    }
}

/// Governance alarm configuration (TOML).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmConfig {
    pub ppv: PpvRule,
    pub budget: BudgetRule,
    pub ood: OodRule,
    pub drift: DriftRule,
    pub overrides: OverrideRule,
    pub latency: LatencyRule,
    pub calibration: CalibrationRule,
    pub fairness: FairnessRule,
}

/// A configuration error naming the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlarmConfigError {
    #[error("alarm config: {0}")]
    Syntax(String),
    #[error("alarm setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl AlarmConfig {
    /// Parse and validate. Unknown keys and type errors are reported by the
    /// TOML parser with the key and position; range errors name the key.
    pub fn from_toml_str(text: &str) -> Result<Self, AlarmConfigError> {
        let cfg: AlarmConfig =
            toml::from_str(text).map_err(|e| AlarmConfigError::Syntax(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Range checks; the error names the key.
    pub fn validate(&self) -> Result<(), AlarmConfigError> {
        let unit = |key: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(AlarmConfigError::Invalid {
                    key,
                    reason: format!("must be in (0, 1), got {v}"),
                })
            }
        };
        unit("ppv.confidence", self.ppv.confidence)?;
        unit("budget.confidence", self.budget.confidence)?;
        if !(self.budget.min_patient_days.is_finite() && self.budget.min_patient_days >= 0.0) {
            return Err(AlarmConfigError::Invalid {
                key: "budget.min_patient_days",
                reason: format!("must be >= 0, got {}", self.budget.min_patient_days),
            });
        }
        unit("ood.rate_limit", self.ood.rate_limit)?;
        unit("ood.confidence", self.ood.confidence)?;
        unit("drift.alpha", self.drift.alpha)?;
        if !(self.drift.psi_limit.is_finite() && self.drift.psi_limit > 0.0) {
            return Err(AlarmConfigError::Invalid {
                key: "drift.psi_limit",
                reason: format!("must be > 0, got {}", self.drift.psi_limit),
            });
        }
        if let Some(v) = self.drift.ks_pvalue_limit {
            unit("drift.ks_pvalue_limit", v)?;
        }
        unit(
            "drift.missingness_increase",
            self.drift.missingness_increase,
        )?;
        unit("overrides.rate_limit", self.overrides.rate_limit)?;
        if !(self.latency.slo_ms.is_finite() && self.latency.slo_ms > 0.0) {
            return Err(AlarmConfigError::Invalid {
                key: "latency.slo_ms",
                reason: format!("must be > 0, got {}", self.latency.slo_ms),
            });
        }
        unit("latency.quantile", self.latency.quantile)?;
        if let Some(v) = self.calibration.ece_limit {
            unit("calibration.ece_limit", v)?;
        }
        Ok(())
    }

    /// The defaults as TOML, each key preceded by its documentation.
    pub fn default_toml() -> String {
        let value = toml::Value::try_from(AlarmConfig::default())
            .unwrap_or(toml::Value::Table(Default::default()));
        let mut out =
            String::from("# Bedside governance alarms. Generated from bedside_monitor::alarms.\n");
        let mut section = "";
        for (key, doc) in ALARM_SETTINGS {
            let (sec, name) = key.split_once('.').unwrap_or(("", key));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("# {doc}\n"));
            match value.get(sec).and_then(|t| t.get(name)) {
                Some(v) => out.push_str(&format!("{name} = {v}\n")),
                None => out.push_str(&format!("# {name} =\n")),
            }
        }
        out
    }
}

/// What the monitor measured for one model over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub model_id: String,
    /// Certified PPV floor in force (`None`: not certified, rule skipped).
    pub ppv_floor: Option<f64>,
    /// Alerts whose outcome is known, and how many were true.
    pub alerts_with_outcome: u64,
    pub true_alerts: u64,
    /// Design effect of the alerts' outcomes (clustered by patient); a
    /// value below 1 counts as 1.
    #[serde(default)]
    pub ppv_design_effect: f64,
    /// Interruptive alerts against the certified budget.
    #[serde(default)]
    pub burden: Option<AlertBurden>,
    /// Predictions out of the validated population.
    #[serde(default)]
    pub ood: Option<OodCount>,
    /// Drift per feature and for the score (name `score`).
    pub drift: Vec<FeatureDrift>,
    pub shown: u64,
    pub overridden: u64,
    /// Endpoint -> latency in ms at `latency.quantile`.
    pub latency_ms: BTreeMap<String, f64>,
    pub ece: Option<f64>,
    pub fairness: Option<FairnessAudit>,
}

/// Interruptive alerts in a window against the certified budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBurden {
    pub alerts: u64,
    pub patient_days: f64,
    /// Dispersion of per-patient alert counts (>= 1).
    pub design_effect: f64,
    /// Certified budget, alerts per 100 patient-days (`None`: rule skipped).
    pub budget_per_100_patient_days: Option<f64>,
}

/// Predictions in a window and those the guard put out of distribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OodCount {
    pub predictions: u64,
    pub out_of_distribution: u64,
    /// Design effect of the share (predictions cluster by patient, >= 1).
    pub design_effect: f64,
}

/// Alarm kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    PpvBelowFloor,
    AlertBudget,
    OodRate,
    PsiDrift,
    KsDrift,
    MissingnessDrift,
    OverrideRate,
    LatencySlo,
    Calibration,
    Fairness,
}

/// One raised alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub kind: AlarmKind,
    /// What was measured, e.g. `psi:lactate`, `latency:cds-services`.
    pub metric: String,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
}

/// Evaluate every rule; alarms in rule order.
pub fn evaluate_alarms(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Vec<Alarm> {
    let mut out = Vec::new();
    out.extend(ppv_alarm(cfg, s));
    out.extend(budget_alarm(cfg, s));
    out.extend(ood_alarm(cfg, s));
    let tested: Vec<&FeatureDrift> = s
        .drift
        .iter()
        .filter(|d| d.n_current >= cfg.drift.min_samples)
        .collect();
    // One family of tests per evaluation: each KS and each missingness
    // p-value (NaN when unknown: never rejected). Holm, not
    // Benjamini-Hochberg: an alarm asks an owner for a review, so the
    // chance of any false one in an evaluation is what is bounded.
    let mut pvalues = Vec::with_capacity(tested.len() * 2);
    for d in &tested {
        pvalues.push(d.ks.as_ref().map_or(f64::NAN, |k| k.pvalue));
        pvalues.push(
            d.missingness
                .as_ref()
                .and_then(|m| m.pvalue)
                .unwrap_or(f64::NAN),
        );
    }
    let family = pvalues.iter().filter(|p| !p.is_nan()).count();
    let found = holm(&pvalues, cfg.drift.alpha);
    for (i, d) in tested.iter().enumerate() {
        drift_alarms(
            cfg,
            &s.model_id,
            d,
            (found[2 * i], found[2 * i + 1]),
            family,
            &mut out,
        );
    }
    out.extend(override_alarm(cfg, s));
    latency_alarms(cfg, s, &mut out);
    out.extend(calibration_alarm(cfg, s));
    fairness_alarms(cfg, s, &mut out);
    out
}

/// `ppv`: the one-sided upper bound on live PPV is below the certified
/// floor, once enough alerts have known outcomes.
fn ppv_alarm(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Option<Alarm> {
    let m = &s.model_id;
    let (true, Some(floor)) = (cfg.ppv.enabled, s.ppv_floor) else {
        return None;
    };
    let n = s.alerts_with_outcome;
    if n < cfg.ppv.min_alerts.max(1) || s.true_alerts > n {
        return None;
    }
    let deff = s.ppv_design_effect.max(1.0);
    let upper = proportion_upper(s.true_alerts, n, deff, cfg.ppv.confidence)?;
    (upper < floor).then(|| Alarm {
        kind: AlarmKind::PpvBelowFloor,
        metric: "ppv".into(),
        value: upper,
        threshold: floor,
        message: format!(
            "{m}: live PPV {:.3} ({} of {n} alerts); its {:.0}% upper bound {upper:.3} is below the certified floor {floor}",
            s.true_alerts as f64 / n as f64,
            s.true_alerts,
            cfg.ppv.confidence * 100.0
        ),
    })
}

/// `budget`: the Poisson lower bound on interruptive alerts per 100
/// patient-days is above the certified budget.
fn budget_alarm(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Option<Alarm> {
    let b = s.burden.as_ref()?;
    let budget = b.budget_per_100_patient_days?;
    if !cfg.budget.enabled || b.patient_days < cfg.budget.min_patient_days.max(f64::MIN_POSITIVE) {
        return None;
    }
    let days = b.patient_days / 100.0;
    let lower = rate_lower(
        b.alerts,
        days,
        b.design_effect.max(1.0),
        cfg.budget.confidence,
    )?;
    (lower > budget).then(|| Alarm {
        kind: AlarmKind::AlertBudget,
        metric: "alerts_per_100_patient_days".into(),
        value: lower,
        threshold: budget,
        message: format!(
            "{}: {:.1} interruptive alerts per 100 patient-days ({} in {:.1} patient-days); its {:.0}% lower bound {lower:.2} is above the certified budget {budget}",
            s.model_id,
            b.alerts as f64 / days,
            b.alerts,
            b.patient_days,
            cfg.budget.confidence * 100.0
        ),
    })
}

/// `ood`: the lower bound on the share of predictions out of the validated
/// population is above the limit.
fn ood_alarm(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Option<Alarm> {
    let o = s.ood.as_ref()?;
    if o.predictions < cfg.ood.min_predictions.max(1) || o.out_of_distribution > o.predictions {
        return None;
    }
    let limit = cfg.ood.rate_limit;
    let lower = proportion_lower(
        o.out_of_distribution,
        o.predictions,
        o.design_effect.max(1.0),
        cfg.ood.confidence,
    )?;
    (lower > limit).then(|| Alarm {
        kind: AlarmKind::OodRate,
        metric: "ood_rate".into(),
        value: lower,
        threshold: limit,
        message: format!(
            "{}: {:.1}% of predictions ({} of {}) are outside the population the model was validated on; its {:.0}% lower bound {:.1}% is above the limit {:.1}%",
            s.model_id,
            100.0 * o.out_of_distribution as f64 / o.predictions as f64,
            o.out_of_distribution,
            o.predictions,
            cfg.ood.confidence * 100.0,
            lower * 100.0,
            limit * 100.0
        ),
    })
}

/// `drift`: PSI, KS and missingness alarms of one feature (or the score)
/// of model `m`, in that order; `found` says whether its KS and its
/// missingness tests are rejected by the evaluation's Holm procedure over
/// `family` tests.
fn drift_alarms(
    cfg: &AlarmConfig,
    m: &str,
    d: &FeatureDrift,
    found: (bool, bool),
    family: usize,
    out: &mut Vec<Alarm>,
) {
    if let (Some(psi), Some(ks)) = (d.psi, d.ks.as_ref()) {
        if psi > cfg.drift.psi_limit && found.0 {
            let units = |x: Option<f64>| x.map_or("?".to_string(), |v| format!("{v:.0}"));
            out.push(Alarm {
                kind: AlarmKind::PsiDrift,
                metric: format!("psi:{}", d.name),
                value: psi,
                threshold: cfg.drift.psi_limit,
                message: format!(
                    "{m}: {} has drifted: KS D = {:.2} (p = {:.1e}, {} patients against {}), significant among {family} drift tests at a {}% family-wise error rate (Holm); PSI {psi:.3} above {}",
                    d.name,
                    ks.statistic,
                    ks.pvalue,
                    units(ks.n),
                    units(ks.m),
                    cfg.drift.alpha * 100.0,
                    cfg.drift.psi_limit,
                ),
            });
        }
    }
    if let (Some(limit), Some(ks)) = (cfg.drift.ks_pvalue_limit, &d.ks) {
        if ks.pvalue < limit {
            out.push(Alarm {
                kind: AlarmKind::KsDrift,
                metric: format!("ks_pvalue:{}", d.name),
                value: ks.pvalue,
                threshold: limit,
                message: format!(
                    "{m}: KS of {} is {:.3} (p = {:.2e}), p below {limit}",
                    d.name, ks.statistic, ks.pvalue
                ),
            });
        }
    }
    if let Some(miss) = d
        .missingness
        .as_ref()
        .filter(|x| x.difference > cfg.drift.missingness_increase && found.1)
    {
        out.push(Alarm {
            kind: AlarmKind::MissingnessDrift,
            metric: format!("missing:{}", d.name),
            value: miss.difference,
            threshold: cfg.drift.missingness_increase,
            message: format!(
                "{m}: {} is missing in {:.1}% of rows (was {:.1}%)",
                d.name,
                miss.current_rate * 100.0,
                miss.reference_rate * 100.0
            ),
        });
    }
}

/// `overrides`: the override rate is above the limit, once enough alerts
/// were shown.
fn override_alarm(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Option<Alarm> {
    if s.shown < cfg.overrides.min_shown.max(1) {
        return None;
    }
    let rate = s.overridden as f64 / s.shown as f64;
    (rate > cfg.overrides.rate_limit).then(|| Alarm {
        kind: AlarmKind::OverrideRate,
        metric: "override_rate".into(),
        value: rate,
        threshold: cfg.overrides.rate_limit,
        message: format!(
            "{}: {} of {} shown alerts overridden ({:.0}%)",
            s.model_id,
            s.overridden,
            s.shown,
            rate * 100.0
        ),
    })
}

/// `latency`: one alarm per endpoint above the SLO, in endpoint order.
fn latency_alarms(cfg: &AlarmConfig, s: &MetricsSnapshot, out: &mut Vec<Alarm>) {
    for (endpoint, ms) in s
        .latency_ms
        .iter()
        .filter(|(_, ms)| **ms > cfg.latency.slo_ms)
    {
        out.push(Alarm {
            kind: AlarmKind::LatencySlo,
            metric: format!("latency:{endpoint}"),
            value: *ms,
            threshold: cfg.latency.slo_ms,
            message: format!(
                "{endpoint}: p{:.0} latency {ms:.0} ms exceeds the {} ms SLO",
                cfg.latency.quantile * 100.0,
                cfg.latency.slo_ms
            ),
        });
    }
}

/// `calibration`: ECE above the limit (when one is set).
fn calibration_alarm(cfg: &AlarmConfig, s: &MetricsSnapshot) -> Option<Alarm> {
    let (Some(limit), Some(ece)) = (cfg.calibration.ece_limit, s.ece) else {
        return None;
    };
    (ece > limit).then(|| Alarm {
        kind: AlarmKind::Calibration,
        metric: "ece".into(),
        value: ece,
        threshold: limit,
        message: format!("{}: ECE {ece:.3} above {limit}", s.model_id),
    })
}

/// `fairness`: one alarm per breach of the audit (when switched on).
fn fairness_alarms(cfg: &AlarmConfig, s: &MetricsSnapshot, out: &mut Vec<Alarm>) {
    let (true, Some(audit)) = (cfg.fairness.alarm_on_breach, &s.fairness) else {
        return;
    };
    for b in &audit.breaches {
        let ratio = b.ratio.unwrap_or(f64::NAN);
        out.push(Alarm {
            kind: AlarmKind::Fairness,
            metric: format!("fairness:{}:{}:{:?}", b.attribute, b.group, b.metric).to_lowercase(),
            value: ratio,
            threshold: if ratio < 1.0 {
                audit.lower
            } else {
                audit.upper
            },
            message: format!(
                "{}: {:?} of {}={} is {ratio:.2}x that of {}",
                s.model_id, b.metric, b.attribute, b.group, b.reference_group
            ),
        });
    }
}
