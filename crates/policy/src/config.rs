//! Policy configuration (TOML). Every setting is defined once in
//! [`SETTINGS`] with its key, doc and default; parsing, the generated
//! documentation ([`PolicyConfig::documentation`]) and the default file
//! ([`PolicyConfig::default_toml`]) all come from that table.

use crate::certify::CertificationConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One setting: dotted key, documentation, default as a TOML literal
/// (empty = unset/optional).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub doc: &'static str,
    pub default: &'static str,
}

/// Every policy setting.
pub const SETTINGS: &[Setting] = &[
    Setting { key: "condition", doc: "Condition this policy alerts on; one open alert per patient per condition.", default: "\"sepsis\"" },
    Setting { key: "stage", doc: "Deployment stage: \"silent\" (score and record, show nothing), \"pilot\" (show only to pilot.units / pilot.users), \"live\".", default: "\"silent\"" },
    Setting { key: "pilot.units", doc: "Pilot stage: Location references whose patients are shown decisions.", default: "[]" },
    Setting { key: "shadow_models", doc: "Challenger model ids (model.toml `id`) that run in shadow: scored and decided on every ingest and hook like the primary, recorded side by side, never shown and never starting a pathway.", default: "[]" },
    Setting { key: "pilot.users", doc: "Pilot stage: Practitioner references who are shown decisions.", default: "[]" },
    Setting { key: "certification.ppv_floor", doc: "PPV the exact lower confidence bound must reach to certify a threshold, in (0, 1).", default: "0.2" },
    Setting { key: "certification.confidence", doc: "One-sided confidence of the Clopper-Pearson bound, in (0, 1).", default: "0.95" },
    Setting { key: "certification.alert_budget_per_100_patient_days", doc: "Maximum alerts per 100 patient-days at the certified threshold, > 0.", default: "5.0" },
    Setting { key: "realert.rise_absolute", doc: "Re-alert when risk rose by at least this much (probability points, in (0, 1)) since the last alert. Unset: no absolute rule.", default: "0.15" },
    Setting { key: "realert.rise_relative", doc: "Re-alert when risk rose by at least this fraction of the last alerted risk (e.g. 0.5 = +50%), > 0. Unset: no relative rule.", default: "" },
    Setting { key: "realert.rise_combine", doc: "When both rise rules are set: \"all\" (both must hold) or \"any\".", default: "\"all\"" },
    Setting { key: "realert.quiet_period_hours", doc: "Hours after the last alert before an alert at the same risk may fire again; the open alert closes when risk is below threshold after this period. > 0.", default: "24.0" },
    Setting { key: "snooze.default_hours", doc: "Snooze length when the clinician does not choose one, > 0.", default: "8.0" },
    Setting { key: "snooze.max_hours", doc: "Longest snooze allowed, >= snooze.default_hours.", default: "72.0" },
    Setting { key: "pathway_actions.lookback_hours", doc: "Event kinds that mean the pathway's actions are already under way, each with its lookback in hours (> 0).", default: "{ antibiotic_ordered = 24.0, blood_culture_ordered = 24.0, lactate_ordered = 6.0 }" },
    Setting { key: "pathway_actions.mode", doc: "\"all\": suppress when every listed action is present (the bundle is under way); \"any\": when any one is (a lone lactate order then silences the alert).", default: "\"all\"" },
    Setting { key: "tiers.passive_threshold", doc: "Show a passive information card at hooks when risk >= this (below the certified threshold), in (0, 1). Unset: passive only at or above the certified threshold.", default: "" },
    Setting { key: "tiers.passive_hooks", doc: "CDS Hooks where a passive card may appear.", default: "[\"patient-view\", \"order-select\", \"order-sign\", \"encounter-discharge\"]" },
    Setting { key: "tiers.interruptive_hooks", doc: "Decision hooks where a pending alert is shown as an interruptive card.", default: "[\"order-select\", \"order-sign\", \"encounter-discharge\"]" },
    Setting { key: "tiers.escalate", doc: "When an alert starts the escalation pathway (owned task): \"first_alert\", \"every_alert\" or \"never\".", default: "\"first_alert\"" },
    Setting { key: "tiers.interruptive_only_for_responsible", doc: "Show the interruptive card only to a clinician responsible for the patient (others get a passive card) when any is known.", default: "true" },
    Setting { key: "routing.participant_priority", doc: "Encounter.participant type codes in order of responsibility; unlisted codes come after.", default: "[\"ATND\", \"ADM\", \"PPRF\", \"SPRF\", \"CON\"]" },
    Setting { key: "routing.fallback_roles", doc: "Per-unit fallback role (Location reference -> role code) when no responsible clinician is known.", default: "{}" },
    Setting { key: "routing.default_fallback_role", doc: "Fallback role for units not in routing.fallback_roles. Empty string: none.", default: "\"charge-nurse\"" },
    Setting { key: "override_reasons", doc: "Coded override / snooze reasons offered on cards: array of { system, code, display }.", default: "[{ system = \"https://bedside.dev/override-reason\", code = \"already-treated\", display = \"Already assessed or treated\" }, { system = \"https://bedside.dev/override-reason\", code = \"not-septic\", display = \"Clinical picture not consistent\" }, { system = \"https://bedside.dev/override-reason\", code = \"comfort-care\", display = \"Goals of care / comfort care\" }, { system = \"https://bedside.dev/override-reason\", code = \"data-error\", display = \"Data looks wrong\" }]" },
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
    pub mode: Combine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierConfig {
    pub passive_threshold: Option<f64>,
    pub passive_hooks: Vec<String>,
    pub interruptive_hooks: Vec<String>,
    pub escalate: EscalateOn,
    pub interruptive_only_for_responsible: bool,
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
    pub override_reasons: Vec<Coding>,
    /// Challenger models running in shadow (see [`PolicyConfig::role_of`]).
    pub shadow_models: Vec<String>,
}

/// A configuration error naming the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("policy config is not valid TOML: {0}")]
    Syntax(String),
    #[error("policy setting `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("policy setting `{0}` is unknown (see PolicyConfig::documentation)")]
    Unknown(String),
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Keys whose value is a free-form map or array of tables (not walked for unknown keys).
const OPAQUE: &[&str] = &[
    "pathway_actions.lookback_hours",
    "routing.fallback_roles",
    "override_reasons",
];

struct Reader<'a> {
    root: &'a toml::Table,
}

impl Reader<'_> {
    /// The value at `key`, or its documented default (`None` if unset).
    fn value(&self, key: &str) -> Result<Option<toml::Value>, ConfigError> {
        let mut cur: Option<&toml::Value> = None;
        let mut table = Some(self.root);
        for part in key.split('.') {
            cur = table.and_then(|t| t.get(part));
            table = cur.and_then(|v| v.as_table());
        }
        if let Some(v) = cur {
            return Ok(Some(v.clone()));
        }
        let setting = SETTINGS
            .iter()
            .find(|s| s.key == key)
            .ok_or_else(|| ConfigError::Unknown(key.to_string()))?;
        if setting.default.is_empty() {
            return Ok(None);
        }
        let t: toml::Table = toml::from_str(&format!("v = {}", setting.default))
            .map_err(|e| invalid(key, format!("bad built-in default: {e}")))?;
        Ok(t.get("v").cloned())
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.value(key)? {
            None => Ok(None),
            Some(toml::Value::Float(f)) => Ok(Some(f)),
            Some(toml::Value::Integer(i)) => Ok(Some(i as f64)),
            Some(other) => Err(invalid(
                key,
                format!("expected a number, got {}", other.type_str()),
            )),
        }
    }
    fn f64_in(
        &self,
        key: &str,
        ok: impl Fn(f64) -> bool,
        what: &str,
    ) -> Result<Option<f64>, ConfigError> {
        match self.opt_f64(key)? {
            Some(v) if !(v.is_finite() && ok(v)) => {
                Err(invalid(key, format!("must be {what}, got {v}")))
            }
            v => Ok(v),
        }
    }
    fn req_f64(&self, key: &str, ok: impl Fn(f64) -> bool, what: &str) -> Result<f64, ConfigError> {
        self.f64_in(key, ok, what)?
            .ok_or_else(|| invalid(key, "is required"))
    }
    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.value(key)? {
            Some(toml::Value::String(s)) => Ok(s),
            Some(other) => Err(invalid(
                key,
                format!("expected a string, got {}", other.type_str()),
            )),
            None => Err(invalid(key, "is required")),
        }
    }
    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.value(key)? {
            Some(toml::Value::Boolean(b)) => Ok(b),
            Some(other) => Err(invalid(
                key,
                format!("expected true or false, got {}", other.type_str()),
            )),
            None => Err(invalid(key, "is required")),
        }
    }
    fn strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.value(key)? {
            Some(toml::Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    toml::Value::String(s) if !s.is_empty() => Ok(s),
                    _ => Err(invalid(key, format!("item {i} must be a non-empty string"))),
                })
                .collect(),
            Some(other) => Err(invalid(
                key,
                format!("expected an array of strings, got {}", other.type_str()),
            )),
            None => Ok(Vec::new()),
        }
    }
    fn table(&self, key: &str) -> Result<toml::Table, ConfigError> {
        match self.value(key)? {
            Some(toml::Value::Table(t)) => Ok(t),
            Some(other) => Err(invalid(
                key,
                format!("expected a table, got {}", other.type_str()),
            )),
            None => Ok(toml::Table::new()),
        }
    }
    fn choice<T: Copy>(&self, key: &str, options: &[(&str, T)]) -> Result<T, ConfigError> {
        let s = self.string(key)?;
        options
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<_> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                invalid(
                    key,
                    format!("must be one of {}, got \"{s}\"", names.join(", ")),
                )
            })
    }
}

fn check_unknown(table: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if SETTINGS.iter().any(|s| s.key == key) {
            continue;
        }
        let is_section = SETTINGS
            .iter()
            .any(|s| s.key.starts_with(&format!("{key}.")));
        match v {
            toml::Value::Table(t) if is_section && !OPAQUE.contains(&key.as_str()) => {
                check_unknown(t, &key)?
            }
            _ => return Err(ConfigError::Unknown(key)),
        }
    }
    Ok(())
}

impl Default for PolicyConfig {
    fn default() -> Self {
        // The defaults in SETTINGS are valid by construction (tested).
        match Self::from_toml_str("") {
            Ok(c) => c,
            Err(e) => unreachable!("built-in policy defaults are invalid: {e}"),
        }
    }
}

impl PolicyConfig {
    /// Parse and validate; errors name the setting.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let root: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        check_unknown(&root, "")?;
        let r = Reader { root: &root };
        let unit = |v: f64| v > 0.0 && v < 1.0;
        let pos = |v: f64| v > 0.0;

        let condition = r.string("condition")?;
        if condition.trim().is_empty() {
            return Err(invalid("condition", "must not be empty"));
        }
        let stage = match r.string("stage")?.as_str() {
            "silent" => Stage::Silent,
            "live" => Stage::Live,
            "pilot" => {
                let units = r.strings("pilot.units")?;
                let users = r.strings("pilot.users")?;
                if units.is_empty() && users.is_empty() {
                    return Err(invalid(
                        "pilot.units",
                        "pilot stage needs at least one unit or user (pilot.users)",
                    ));
                }
                Stage::Pilot { units, users }
            }
            other => {
                return Err(invalid(
                    "stage",
                    format!("must be \"silent\", \"pilot\" or \"live\", got \"{other}\""),
                ))
            }
        };
        let certification = CertificationConfig {
            ppv_floor: r.req_f64("certification.ppv_floor", unit, "in (0, 1)")?,
            confidence: r.req_f64("certification.confidence", unit, "in (0, 1)")?,
            alert_budget_per_100_patient_days: r.req_f64(
                "certification.alert_budget_per_100_patient_days",
                pos,
                "> 0",
            )?,
        };
        let realert = RealertConfig {
            rise_absolute: r.f64_in("realert.rise_absolute", unit, "in (0, 1)")?,
            rise_relative: r.f64_in("realert.rise_relative", pos, "> 0")?,
            rise_combine: r.choice(
                "realert.rise_combine",
                &[("all", Combine::All), ("any", Combine::Any)],
            )?,
            quiet_period_hours: r.req_f64("realert.quiet_period_hours", pos, "> 0")?,
        };
        let snooze = SnoozeConfig {
            default_hours: r.req_f64("snooze.default_hours", pos, "> 0")?,
            max_hours: r.req_f64("snooze.max_hours", pos, "> 0")?,
        };
        if snooze.max_hours < snooze.default_hours {
            return Err(invalid(
                "snooze.max_hours",
                "must be >= snooze.default_hours",
            ));
        }
        let mut lookback_hours = BTreeMap::new();
        for (kind, v) in r.table("pathway_actions.lookback_hours")? {
            let h = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            match h {
                Some(h) if h.is_finite() && h > 0.0 => lookback_hours.insert(kind, h),
                _ => {
                    return Err(invalid(
                        "pathway_actions.lookback_hours",
                        format!("`{kind}` must be a number of hours > 0"),
                    ))
                }
            };
        }
        let pathway_actions = PathwayActionsConfig {
            lookback_hours,
            mode: r.choice(
                "pathway_actions.mode",
                &[("any", Combine::Any), ("all", Combine::All)],
            )?,
        };
        let tiers = TierConfig {
            passive_threshold: r.f64_in("tiers.passive_threshold", unit, "in (0, 1)")?,
            passive_hooks: r.strings("tiers.passive_hooks")?,
            interruptive_hooks: r.strings("tiers.interruptive_hooks")?,
            escalate: r.choice(
                "tiers.escalate",
                &[
                    ("first_alert", EscalateOn::FirstAlert),
                    ("every_alert", EscalateOn::EveryAlert),
                    ("never", EscalateOn::Never),
                ],
            )?,
            interruptive_only_for_responsible: r.bool("tiers.interruptive_only_for_responsible")?,
        };
        let mut fallback_roles = BTreeMap::new();
        for (unit_ref, v) in r.table("routing.fallback_roles")? {
            match v {
                toml::Value::String(s) if !s.is_empty() => fallback_roles.insert(unit_ref, s),
                _ => {
                    return Err(invalid(
                        "routing.fallback_roles",
                        format!("`{unit_ref}` must map to a role code string"),
                    ))
                }
            };
        }
        let default_role = r.string("routing.default_fallback_role")?;
        let routing = RoutingConfig {
            participant_priority: r.strings("routing.participant_priority")?,
            fallback_roles,
            default_fallback_role: (!default_role.is_empty()).then_some(default_role),
        };
        let override_reasons = parse_codings(r.value("override_reasons")?)?;
        Ok(Self {
            condition,
            stage,
            certification,
            realert,
            snooze,
            pathway_actions,
            tiers,
            routing,
            override_reasons,
            shadow_models: r.strings("shadow_models")?,
        })
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

    /// Markdown documentation of every setting, generated from [`SETTINGS`].
    pub fn documentation() -> String {
        let mut out = String::from("| setting | default | meaning |\n|---|---|---|\n");
        for s in SETTINGS {
            let d = if s.default.is_empty() {
                "(unset)"
            } else {
                s.default
            };
            out.push_str(&format!(
                "| `{}` | `{}` | {} |\n",
                s.key,
                d.replace('|', "\\|"),
                s.doc
            ));
        }
        out
    }

    /// A commented TOML file with every default, generated from [`SETTINGS`].
    pub fn default_toml() -> String {
        let mut out = String::from(
            "# Bedside alert policy. Generated from bedside_policy::config::SETTINGS.\n",
        );
        let mut section = "";
        // Top-level keys first: in TOML a bare key after a [section] belongs to it.
        let top = SETTINGS.iter().filter(|s| !s.key.contains('.'));
        for s in top.chain(SETTINGS.iter().filter(|s| s.key.contains('.'))) {
            let (sec, name) = match s.key.split_once('.') {
                Some((a, b)) => (a, b),
                None => ("", s.key),
            };
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("# {}\n", s.doc));
            if s.default.is_empty() {
                out.push_str(&format!("# {name} =\n"));
            } else {
                out.push_str(&format!("{name} = {}\n", s.default));
            }
        }
        out
    }
}

fn parse_codings(v: Option<toml::Value>) -> Result<Vec<Coding>, ConfigError> {
    let key = "override_reasons";
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| invalid(key, "expected an array of { system, code, display }"))?;
    let mut out = Vec::new();
    for (i, item) in arr.iter().enumerate() {
        let get = |f: &str| -> Result<String, ConfigError> {
            item.get(f)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| invalid(key, format!("item {i} needs a non-empty string `{f}`")))
        };
        out.push(Coding {
            system: get("system")?,
            code: get("code")?,
            display: get("display")?,
        });
    }
    Ok(out)
}
