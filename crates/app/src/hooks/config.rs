//! CDS Hooks settings: who is trusted, the default alert policy (of models
//! served without a use case), and the demo EHR key. A card's suggestions
//! and wording come from its model's use case.

use bedside_cds::{JwkSet, TrustedIssuer};
use bedside_policy::PolicyConfig;
use serde_json::Value;
use std::path::Path;

/// The issuer of the demo EHR (`config/demo-ehr/`).
pub const DEMO_ISSUER: &str = "https://demo-ehr.bedside.invalid";

/// Settings of the CDS Hooks service (part of `AppConfig`).
#[derive(Debug, Clone)]
pub struct HookConfig {
    /// Skip JWT verification (development only; loud in the logs). Off by
    /// default.
    pub insecure_skip_auth: bool,
    /// CDS clients whose JWTs are accepted.
    pub trusted: Vec<TrustedIssuer>,
    /// The alert policy at start (the one policy of hooks, scoring and
    /// pathways; changed at run time with `App::set_policy`).
    pub policy: PolicyConfig,
    /// Data older than this (minutes) is flagged stale on the card.
    pub stale_after_minutes: f64,
    /// `(iss, private JWK)` used by `App::demo_token`.
    pub demo_key: Option<(String, Value)>,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            insecure_skip_auth: false,
            trusted: Vec::new(),
            policy: PolicyConfig::default(),
            stale_after_minutes: 120.0,
            demo_key: None,
        }
    }
}

/// Why the hook configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HookConfigError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("policy: {0}")]
    Policy(#[from] bedside_policy::ConfigError),
}

fn read_json(path: &Path) -> Result<Value, HookConfigError> {
    let err = |reason: String| HookConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))
}

impl HookConfig {
    /// The demo configuration: trusts the demo EHR key pair in `dir`
    /// (`jwks.json`, `private-jwk.json`) under [`DEMO_ISSUER`], policy
    /// stage `live`.
    pub fn demo(dir: &Path) -> Result<Self, HookConfigError> {
        let jwks_path = dir.join("jwks.json");
        let jwks: JwkSet =
            serde_json::from_value(read_json(&jwks_path)?).map_err(|e| HookConfigError::File {
                path: jwks_path.display().to_string(),
                reason: format!("not a JWK Set: {e}"),
            })?;
        let private = read_json(&dir.join("private-jwk.json"))?;
        Ok(Self {
            trusted: vec![TrustedIssuer::with_jwks(DEMO_ISSUER, jwks)],
            policy: PolicyConfig::from_toml_str("stage = \"live\"")?,
            demo_key: Some((DEMO_ISSUER.to_string(), private)),
            ..Self::default()
        })
    }
}
