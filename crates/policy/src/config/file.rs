//! The policy file as written in TOML: one serde type per section, every
//! key optional (a missing key takes the value of the section's
//! `Default`), unknown keys refused, and each value checked as it is read
//! (a number in (0, 1), a positive number, a non-blank string), so the
//! error carries the key path serde_path_to_error records.

use super::{
    ActionsMode, Coding, Combine, ConfigError, EscalateOn, OodConfig, PathwayActionsConfig,
    PolicyConfig, RealertConfig, RoutingConfig, SnoozeConfig, Stage, TierConfig,
};
use crate::certify::CertificationConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A finite number in (0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub(super) struct Fraction(f64);

impl TryFrom<f64> for Fraction {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 && v < 1.0 {
            Ok(Self(v))
        } else {
            Err(format!("must be in (0, 1), got {v}"))
        }
    }
}

impl From<Fraction> for f64 {
    fn from(v: Fraction) -> f64 {
        v.0
    }
}

/// A finite number > 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub(super) struct Positive(f64);

impl TryFrom<f64> for Positive {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 {
            Ok(Self(v))
        } else {
            Err(format!("must be > 0, got {v}"))
        }
    }
}

impl From<Positive> for f64 {
    fn from(v: Positive) -> f64 {
        v.0
    }
}

/// A string that is not empty or only whitespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(super) struct Text(String);

impl TryFrom<String> for Text {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, &'static str> {
        if s.trim().is_empty() {
            Err("must not be blank")
        } else {
            Ok(Self(s))
        }
    }
}

impl From<Text> for String {
    fn from(s: Text) -> String {
        s.0
    }
}

fn texts(v: Vec<Text>) -> Vec<String> {
    v.into_iter().map(String::from).collect()
}

fn text(s: &str) -> Text {
    Text(s.to_string())
}

/// `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StageName {
    Silent,
    Pilot,
    Live,
}

/// The whole file: top-level keys, then one table per section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a policy table")]
pub(super) struct PolicyFile {
    pub condition: Text,
    pub stage: StageName,
    pub shadow_models: Vec<Text>,
    pub override_reasons: Vec<CodingFile>,
    pub pilot: PilotFile,
    pub certification: CertificationFile,
    pub realert: RealertFile,
    pub snooze: SnoozeFile,
    pub pathway_actions: PathwayActionsFile,
    pub tiers: TiersFile,
    pub routing: RoutingFile,
    pub out_of_distribution: OodFile,
}

/// `[out_of_distribution]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "an [out_of_distribution] table"
)]
pub(super) struct OodFile {
    pub review: bool,
}

impl Default for PolicyFile {
    fn default() -> Self {
        let reason = |code: &str, display: &str| CodingFile {
            system: text("https://bedside.dev/override-reason"),
            code: text(code),
            display: text(display),
        };
        Self {
            condition: text("outcome"),
            stage: StageName::Silent,
            shadow_models: Vec::new(),
            override_reasons: vec![
                reason("already-treated", "Already assessed or treated"),
                reason("not-septic", "Clinical picture not consistent"),
                reason("comfort-care", "Goals of care / comfort care"),
                reason("data-error", "Data looks wrong"),
            ],
            pilot: PilotFile::default(),
            certification: CertificationFile::default(),
            realert: RealertFile::default(),
            snooze: SnoozeFile::default(),
            pathway_actions: PathwayActionsFile::default(),
            tiers: TiersFile::default(),
            out_of_distribution: OodFile::default(),
            routing: RoutingFile::default(),
        }
    }
}

/// One `override_reasons` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table { system, code, display }")]
pub(super) struct CodingFile {
    pub system: Text,
    pub code: Text,
    pub display: Text,
}

/// `[pilot]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [pilot] table")]
pub(super) struct PilotFile {
    pub units: Vec<Text>,
    pub users: Vec<Text>,
}

/// `[certification]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [certification] table")]
pub(super) struct CertificationFile {
    pub ppv_floor: Fraction,
    pub confidence: Fraction,
    pub alert_budget_per_100_patient_days: Positive,
}

impl Default for CertificationFile {
    fn default() -> Self {
        let c = CertificationConfig::default();
        Self {
            ppv_floor: Fraction(c.ppv_floor),
            confidence: Fraction(c.confidence),
            alert_budget_per_100_patient_days: Positive(c.alert_budget_per_100_patient_days),
        }
    }
}

/// `[realert]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [realert] table")]
pub(super) struct RealertFile {
    pub rise_absolute: Option<Fraction>,
    pub rise_relative: Option<Positive>,
    pub rise_combine: Combine,
    pub quiet_period_hours: Positive,
}

impl Default for RealertFile {
    fn default() -> Self {
        Self {
            // Chosen on the development cohort's calibration split
            // (`bedside evaluate --sweep`, docs/benchmarks.md): one alert
            // per stay, at the first crossing, certifies and keeps the
            // per-alert PPV and the alert rate; re-alerts on a rise or
            // after a shorter quiet period, and suppression while actions
            // are under way (which only delays the alert past the
            // outcome), do not.
            rise_absolute: None,
            rise_relative: None,
            rise_combine: Combine::All,
            quiet_period_hours: Positive(720.0),
        }
    }
}

/// `[snooze]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [snooze] table")]
pub(super) struct SnoozeFile {
    pub default_hours: Positive,
    pub max_hours: Positive,
}

impl Default for SnoozeFile {
    fn default() -> Self {
        Self {
            default_hours: Positive(8.0),
            max_hours: Positive(72.0),
        }
    }
}

/// `[pathway_actions]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [pathway_actions] table")]
pub(super) struct PathwayActionsFile {
    /// Event kind -> hours; a file's table replaces this one whole.
    pub lookback_hours: BTreeMap<String, Positive>,
    pub mode: ActionsMode,
}

impl Default for PathwayActionsFile {
    fn default() -> Self {
        Self {
            lookback_hours: [
                ("antibiotic_ordered", 24.0),
                ("blood_culture_ordered", 24.0),
                ("lactate_ordered", 6.0),
            ]
            .into_iter()
            .map(|(k, h)| (k.to_string(), Positive(h)))
            .collect(),
            mode: ActionsMode::Off,
        }
    }
}

/// `[tiers]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [tiers] table")]
pub(super) struct TiersFile {
    pub passive_threshold: Option<Fraction>,
    pub passive_hooks: Vec<Text>,
    pub interruptive_hooks: Vec<Text>,
    pub escalate: EscalateOn,
    pub interruptive_only_for_responsible: bool,
}

impl Default for TiersFile {
    fn default() -> Self {
        let hooks = |names: &[&str]| names.iter().map(|h| text(h)).collect();
        Self {
            passive_threshold: None,
            passive_hooks: hooks(&[
                "patient-view",
                "order-select",
                "order-sign",
                "encounter-discharge",
            ]),
            interruptive_hooks: hooks(&["order-select", "order-sign", "encounter-discharge"]),
            escalate: EscalateOn::FirstAlert,
            interruptive_only_for_responsible: true,
        }
    }
}

/// `[routing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a [routing] table")]
pub(super) struct RoutingFile {
    pub participant_priority: Vec<Text>,
    /// Location reference -> role code; a file's table replaces this one whole.
    pub fallback_roles: BTreeMap<String, Text>,
    /// Empty: no default fallback role.
    pub default_fallback_role: String,
}

impl Default for RoutingFile {
    fn default() -> Self {
        Self {
            participant_priority: ["ATND", "ADM", "PPRF", "SPRF", "CON"]
                .into_iter()
                .map(text)
                .collect(),
            fallback_roles: BTreeMap::new(),
            default_fallback_role: "charge-nurse".into(),
        }
    }
}

impl PolicyFile {
    /// The rules that span more than one value (each value on its own is
    /// checked as it is read).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.stage == StageName::Pilot
            && self.pilot.units.is_empty()
            && self.pilot.users.is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "pilot.units".into(),
                reason: "pilot stage needs at least one unit or user (pilot.users)".into(),
            });
        }
        let (default, max) = (self.snooze.default_hours.0, self.snooze.max_hours.0);
        if max < default {
            return Err(ConfigError::Invalid {
                key: "snooze.max_hours".into(),
                reason: format!("must be >= snooze.default_hours ({default}), got {max}"),
            });
        }
        Ok(())
    }
}

impl From<PolicyFile> for PolicyConfig {
    fn from(f: PolicyFile) -> Self {
        let stage = match f.stage {
            StageName::Silent => Stage::Silent,
            StageName::Live => Stage::Live,
            StageName::Pilot => Stage::Pilot {
                units: texts(f.pilot.units),
                users: texts(f.pilot.users),
            },
        };
        let c = f.certification;
        let (r, s, p, t, ro) = (f.realert, f.snooze, f.pathway_actions, f.tiers, f.routing);
        Self {
            condition: f.condition.into(),
            stage,
            certification: CertificationConfig {
                ppv_floor: c.ppv_floor.0,
                confidence: c.confidence.0,
                alert_budget_per_100_patient_days: c.alert_budget_per_100_patient_days.0,
            },
            realert: RealertConfig {
                rise_absolute: r.rise_absolute.map(f64::from),
                rise_relative: r.rise_relative.map(f64::from),
                rise_combine: r.rise_combine,
                quiet_period_hours: r.quiet_period_hours.0,
            },
            snooze: SnoozeConfig {
                default_hours: s.default_hours.0,
                max_hours: s.max_hours.0,
            },
            pathway_actions: PathwayActionsConfig {
                lookback_hours: p
                    .lookback_hours
                    .into_iter()
                    .map(|(k, h)| (k, h.0))
                    .collect(),
                mode: p.mode,
            },
            tiers: TierConfig {
                passive_threshold: t.passive_threshold.map(f64::from),
                passive_hooks: texts(t.passive_hooks),
                interruptive_hooks: texts(t.interruptive_hooks),
                escalate: t.escalate,
                interruptive_only_for_responsible: t.interruptive_only_for_responsible,
            },
            routing: RoutingConfig {
                participant_priority: texts(ro.participant_priority),
                fallback_roles: ro
                    .fallback_roles
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect(),
                default_fallback_role: Some(ro.default_fallback_role).filter(|r| !r.is_empty()),
            },
            override_reasons: f
                .override_reasons
                .into_iter()
                .map(|c| Coding {
                    system: c.system.into(),
                    code: c.code.into(),
                    display: c.display.into(),
                })
                .collect(),
            out_of_distribution: OodConfig {
                review: f.out_of_distribution.review,
            },
            shadow_models: texts(f.shadow_models),
        }
    }
}
