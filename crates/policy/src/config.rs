//! Policy configuration (TOML). Every setting is documented once in
//! [`SETTINGS`]; its default and its check live in the serde type of its
//! section (`file.rs`). Parsing, the generated documentation
//! ([`PolicyConfig::documentation`]) and the default file
//! ([`PolicyConfig::default_toml`]) all come from those two.

mod file;

use crate::certify::CertificationConfig;
use file::PolicyFile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One setting: dotted key and documentation.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub doc: &'static str,
}

/// Every policy setting.
pub const SETTINGS: &[Setting] = &[
    Setting { key: "condition", doc: "Condition this policy alerts on; one open alert per patient per condition." },
    Setting { key: "stage", doc: "Deployment stage: \"silent\" (score and record, show nothing), \"pilot\" (show only to pilot.units / pilot.users), \"live\"." },
    Setting { key: "pilot.units", doc: "Pilot stage: Location references whose patients are shown decisions." },
    Setting { key: "shadow_models", doc: "Challenger model ids (model.toml `id`) that run in shadow: scored and decided on every ingest and hook like the primary, recorded side by side, never shown and never starting a pathway." },
    Setting { key: "pilot.users", doc: "Pilot stage: Practitioner references who are shown decisions." },
    Setting { key: "certification.ppv_floor", doc: "PPV the exact lower confidence bound must reach to certify a threshold, in (0, 1)." },
    Setting { key: "certification.confidence", doc: "One-sided confidence of the Clopper-Pearson bound, in (0, 1)." },
    Setting { key: "certification.alert_budget_per_100_patient_days", doc: "Maximum alerts per 100 patient-days at the certified threshold, > 0." },
    Setting { key: "realert.rise_absolute", doc: "Re-alert when risk rose by at least this much (probability points, in (0, 1)) since the last alert. Unset: no absolute rule." },
    Setting { key: "realert.rise_relative", doc: "Re-alert when risk rose by at least this fraction of the last alerted risk (e.g. 0.5 = +50%), > 0. Unset: no relative rule." },
    Setting { key: "realert.rise_combine", doc: "When both rise rules are set: \"all\" (both must hold) or \"any\"." },
    Setting { key: "realert.quiet_period_hours", doc: "Hours after the last alert before an alert at the same risk may fire again; the open alert closes when risk is below threshold after this period. > 0." },
    Setting { key: "snooze.default_hours", doc: "Snooze length when the clinician does not choose one, > 0." },
    Setting { key: "snooze.max_hours", doc: "Longest snooze allowed, >= snooze.default_hours." },
    Setting { key: "pathway_actions.lookback_hours", doc: "Event kinds that mean the pathway's actions are already under way, each with its lookback in hours (> 0)." },
    Setting { key: "pathway_actions.mode", doc: "\"all\": suppress when every listed action is present (the bundle is under way); \"any\": when any one is (a lone lactate order then silences the alert); \"off\": never suppress (the listed actions then only count a patient as recognized in `bedside evaluate`)." },
    Setting { key: "tiers.passive_threshold", doc: "Show a passive information card at hooks when risk >= this (below the certified threshold), in (0, 1). Unset: passive only at or above the certified threshold." },
    Setting { key: "tiers.passive_hooks", doc: "CDS Hooks where a passive card may appear." },
    Setting { key: "tiers.interruptive_hooks", doc: "Decision hooks where a pending alert is shown as an interruptive card." },
    Setting { key: "tiers.escalate", doc: "When an alert starts the escalation pathway (owned task): \"first_alert\", \"every_alert\" or \"never\"." },
    Setting { key: "tiers.interruptive_only_for_responsible", doc: "Show the interruptive card only to a clinician responsible for the patient (others get a passive card) when any is known." },
    Setting { key: "routing.participant_priority", doc: "Encounter.participant type codes in order of responsibility; unlisted codes come after." },
    Setting { key: "routing.fallback_roles", doc: "Per-unit fallback role (Location reference -> role code) when no responsible clinician is known." },
    Setting { key: "routing.default_fallback_role", doc: "Fallback role for units not in routing.fallback_roles. Empty string: none." },
    Setting { key: "out_of_distribution.review", doc: "An out-of-distribution prediction (the model's guard says the patient is outside the population it was validated on) never interrupts nor escalates: it shows a passive card. true: where it would have escalated, open a review Task instead (the loaded pathway started by the `ood-review` message)." },
    Setting { key: "override_reasons", doc: "Coded override / snooze reasons offered on cards: array of { system, code, display }." },
];

/// Deployment stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Silent,
    Pilot {
        units: Vec<String>,
        users: Vec<String>,
    },
    Live,
}

/// How two rise rules combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    All,
    Any,
}

/// When actions under way suppress an alert (`pathway_actions.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionsMode {
    /// Every listed action is present (the bundle is under way).
    All,
    /// Any one listed action is present.
    Any,
    /// Never: the listed actions only count a patient as recognized in
    /// `bedside evaluate`.
    Off,
}

/// When an alert starts the escalation pathway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalateOn {
    FirstAlert,
    EveryAlert,
    Never,
}

/// A coded value (FHIR Coding subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealertConfig {
    pub rise_absolute: Option<f64>,
    pub rise_relative: Option<f64>,
    pub rise_combine: Combine,
    pub quiet_period_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnoozeConfig {
    pub default_hours: f64,
    pub max_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathwayActionsConfig {
    pub lookback_hours: BTreeMap<String, f64>,
    pub mode: ActionsMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierConfig {
    pub passive_threshold: Option<f64>,
    pub passive_hooks: Vec<String>,
    pub interruptive_hooks: Vec<String>,
    pub escalate: EscalateOn,
    pub interruptive_only_for_responsible: bool,
}

/// What an out-of-distribution prediction does besides its passive card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OodConfig {
    /// Open a review Task where the prediction would have escalated.
    pub review: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingConfig {
    pub participant_priority: Vec<String>,
    pub fallback_roles: BTreeMap<String, String>,
    pub default_fallback_role: Option<String>,
}

/// The whole policy configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    pub condition: String,
    pub stage: Stage,
    pub certification: CertificationConfig,
    pub realert: RealertConfig,
    pub snooze: SnoozeConfig,
    pub pathway_actions: PathwayActionsConfig,
    pub tiers: TierConfig,
    pub routing: RoutingConfig,
    pub out_of_distribution: OodConfig,
    pub override_reasons: Vec<Coding>,
    /// Challenger models running in shadow (see [`PolicyConfig::role_of`]).
    pub shadow_models: Vec<String>,
}

/// A configuration error naming the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("policy config is not valid TOML: {0}")]
    Syntax(String),
    /// `key` is the path of the value, e.g. `certification.ppv_floor`,
    /// `tiers.passive_hooks[2]`, `override_reasons[0]`.
    #[error("policy setting `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("policy setting `{0}` is unknown (see PolicyConfig::documentation)")]
    Unknown(String),
}

impl ConfigError {
    fn from_serde(e: serde_path_to_error::Error<toml::de::Error>) -> Self {
        let key = e.path().to_string();
        let reason = e.into_inner().message().trim_end().to_string();
        // serde's words for a key that `deny_unknown_fields` refuses; the
        // path then ends with that key.
        if reason.starts_with("unknown field") {
            ConfigError::Unknown(key)
        } else {
            ConfigError::Invalid { key, reason }
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyFile::default().into()
    }
}

impl PolicyConfig {
    /// Parse and validate; errors name the key path and the reason. A key
    /// left out takes its default; an unknown key is refused.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let file: PolicyFile =
            serde_path_to_error::deserialize(de).map_err(ConfigError::from_serde)?;
        file.check()?;
        Ok(file.into())
    }

    /// Primary, or a challenger in shadow when `model_id` is listed in
    /// `shadow_models`.
    pub fn role_of(&self, model_id: &str) -> crate::facts::ModelRole {
        if self.shadow_models.iter().any(|m| m == model_id) {
            crate::facts::ModelRole::Shadow
        } else {
            crate::facts::ModelRole::Primary
        }
    }

    /// Markdown documentation of every setting, generated from [`SETTINGS`]
    /// and the defaults.
    pub fn documentation() -> String {
        let defaults = default_values();
        let mut out = String::from("| setting | default | meaning |\n|---|---|---|\n");
        for s in SETTINGS {
            let d = default_of(&defaults, s.key).unwrap_or_else(|| "(unset)".into());
            out.push_str(&format!(
                "| `{}` | `{}` | {} |\n",
                s.key,
                d.replace('|', "\\|"),
                s.doc
            ));
        }
        out
    }

    /// A commented TOML file with every default, generated from [`SETTINGS`]
    /// and the defaults.
    pub fn default_toml() -> String {
        let defaults = default_values();
        let mut out = String::from(
            "# Bedside alert policy. Generated from bedside_policy::config::SETTINGS.\n",
        );
        let mut section = "";
        // Top-level keys first: in TOML a bare key after a [section] belongs to it.
        let top = SETTINGS.iter().filter(|s| !s.key.contains('.'));
        for s in top.chain(SETTINGS.iter().filter(|s| s.key.contains('.'))) {
            let (sec, name) = s.key.split_once('.').unwrap_or(("", s.key));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("# {}\n", s.doc));
            match default_of(&defaults, s.key) {
                Some(v) => out.push_str(&format!("{name} = {v}\n")),
                None => out.push_str(&format!("# {name} =\n")),
            }
        }
        out
    }
}

/// The defaults as a TOML table (a setting unset by default is absent).
fn default_values() -> toml::Table {
    toml::Table::try_from(PolicyFile::default()).unwrap_or_default()
}

/// The default of a dotted key as a TOML literal.
fn default_of(defaults: &toml::Table, key: &str) -> Option<String> {
    let v = match key.split_once('.') {
        Some((sec, name)) => defaults.get(sec)?.get(name)?,
        None => defaults.get(key)?,
    };
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of the file, optional ones included.
    fn file_keys() -> Vec<String> {
        let mut f = PolicyFile::default();
        f.realert.rise_relative = Some(file::Positive::try_from(0.5).unwrap());
        f.realert.rise_absolute = Some(file::Fraction::try_from(0.15).unwrap());
        f.tiers.passive_threshold = Some(file::Fraction::try_from(0.1).unwrap());
        let table = toml::Table::try_from(f).unwrap();
        let mut keys = Vec::new();
        for (k, v) in &table {
            match v {
                toml::Value::Table(section) => {
                    keys.extend(section.keys().map(|name| format!("{k}.{name}")))
                }
                _ => keys.push(k.clone()),
            }
        }
        keys.sort();
        keys
    }

    #[test]
    fn every_key_of_the_file_is_documented_once() {
        let mut documented: Vec<String> = SETTINGS.iter().map(|s| s.key.to_string()).collect();
        documented.sort();
        let n = documented.len();
        documented.dedup();
        assert_eq!(documented.len(), n, "a key is documented twice");
        assert_eq!(documented, file_keys());
    }

    #[test]
    fn unset_defaults_are_commented_out_in_the_default_file() {
        let text = PolicyConfig::default_toml();
        assert!(text.contains("\n# rise_relative =\n"), "{text}");
        assert!(text.contains("\n# passive_threshold =\n"), "{text}");
        assert!(text.contains("\nquiet_period_hours = 720.0\n"), "{text}");
        let doc = PolicyConfig::documentation();
        assert!(
            doc.contains("| `realert.rise_relative` | `(unset)` |"),
            "{doc}"
        );
        assert!(doc.contains("| `snooze.max_hours` | `72.0` |"), "{doc}");
    }
}
