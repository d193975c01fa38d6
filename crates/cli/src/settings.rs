//! Server settings, each defined once.
//!
//! A setting is one field of [`Settings`]: its doc comment is its help text,
//! its `#[arg]` carries the flag, the environment variable and the default.
//! The TOML config file uses the same names (with `_`), and `bedside config`
//! prints a documented config file generated from these same definitions,
//! so the docs cannot drift from the code.
//!
//! Precedence: flag > environment > config file > default.

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "BEDSIDE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Directory of the embedded SQLite database (created on first run).
    /// Ignored when --database-url is given.
    #[arg(long, env = "BEDSIDE_DATA_DIR", default_value = "bedside-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (postgres://user@host/db) for several replicas sharing
    /// one database. When absent the embedded SQLite store is used.
    #[arg(long, env = "BEDSIDE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Public base URL of this server as the EHR reaches it (used for the
    /// JWT audience and links in cards). Default: http://<listen>.
    #[arg(long, env = "BEDSIDE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest accepted request body for FHIR and hook requests, in MiB
    /// (bigger bodies get 413). `$import` streams and is not limited.
    #[arg(long, env = "BEDSIDE_MAX_BODY_MIB", default_value_t = 32)]
    pub max_body_mib: u64,

    /// Time limit for one HTTP request, in seconds (`$import` excepted).
    #[arg(long, env = "BEDSIDE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// CDS Hooks calls (service calls, feedback, discovery) per second per
    /// client address; above it a client gets 429 with Retry-After. 0 turns
    /// the limit off (load tests measuring capacity).
    #[arg(long, env = "BEDSIDE_HOOK_RATE_LIMIT_PER_SEC", default_value_t = 100)]
    pub hook_rate_limit_per_sec: u32,

    /// Calls a CDS Hooks client may make at once above its rate (burst).
    #[arg(long, env = "BEDSIDE_HOOK_RATE_LIMIT_BURST", default_value_t = 200)]
    pub hook_rate_limit_burst: u32,

    /// Browser origins allowed to call the CDS Hooks endpoints (CORS), e.g.
    /// `https://ehr.example.org` (repeatable or comma-separated). Empty: CORS
    /// off, no Access-Control-Allow-Origin on any response.
    #[arg(
        long = "cors-allowed-origin",
        env = "BEDSIDE_CORS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Channel mapping file (codes and units to input channels). Default:
    /// the built-in mapping (config/channels.toml).
    #[arg(long, env = "BEDSIDE_CHANNELS")]
    pub channels: Option<PathBuf>,

    /// Model package directories to serve (repeatable).
    #[arg(long = "model", env = "BEDSIDE_MODELS", value_delimiter = ',')]
    pub models: Vec<PathBuf>,

    /// BPMN pathway files to run (repeatable).
    #[arg(long = "pathway", env = "BEDSIDE_PATHWAYS", value_delimiter = ',')]
    pub pathways: Vec<PathBuf>,

    /// Use case directories to serve (repeatable): each holds
    /// `use-case.toml` naming its model package, alert policy, pathway,
    /// card content and trigger (see use-cases/README.md); check one with
    /// `bedside use-case validate DIR`. `bedside demo` serves the shipped
    /// use cases under use-cases/ when none is given.
    #[arg(long = "use-case", env = "BEDSIDE_USE_CASES", value_delimiter = ',')]
    pub use_cases: Vec<PathBuf>,

    /// Alert policy file (TOML) of the models served with `--model` (a use
    /// case has its own). Default: the built-in policy (stage `silent`:
    /// score and record, start nothing); `bedside demo` uses
    /// config/demo-policy.toml.
    #[arg(long, env = "BEDSIDE_POLICY")]
    pub policy: Option<PathBuf>,

    /// Monitoring and governance alarm settings file (TOML: windows, alarm
    /// rules, fairness bounds, trust pulse, governance owner; see
    /// `bedside_views::MonitoringConfig`). Default: built in.
    #[arg(long, env = "BEDSIDE_MONITORING")]
    pub monitoring: Option<PathBuf>,

    /// Base URL of an external FHIR server (the EHR's) that receives every
    /// Task, Communication and RiskAssessment Bedside writes
    /// (`PUT {url}/Task/{id}`).
    /// Unset: nothing is written back. Failed writes are retried from the
    /// durable job queue, never dropped.
    #[arg(long, env = "BEDSIDE_FHIR_WRITEBACK_URL")]
    pub fhir_writeback_url: Option<String>,

    /// SMART Backend Services for write-back: the client id registered with
    /// the EHR's authorization server. With fhir_writeback_token_url and
    /// fhir_writeback_private_key, every write-back carries a bearer token
    /// obtained with a signed `private_key_jwt` client assertion.
    #[arg(long, env = "BEDSIDE_FHIR_WRITEBACK_CLIENT_ID")]
    pub fhir_writeback_client_id: Option<String>,

    /// SMART Backend Services: the authorization server's token URL.
    #[arg(long, env = "BEDSIDE_FHIR_WRITEBACK_TOKEN_URL")]
    pub fhir_writeback_token_url: Option<String>,

    /// SMART Backend Services: PEM file of the private key that signs the
    /// client assertion (EC P-384 for ES384, or RSA for RS384; its public
    /// key is registered with the EHR). Keep it readable by Bedside only.
    #[arg(long, env = "BEDSIDE_FHIR_WRITEBACK_PRIVATE_KEY")]
    pub fhir_writeback_private_key: Option<PathBuf>,

    /// SMART Backend Services: the `kid` of that key in the JWK Set
    /// registered with the EHR (sent in the assertion header).
    #[arg(long, env = "BEDSIDE_FHIR_WRITEBACK_KEY_ID")]
    pub fhir_writeback_key_id: Option<String>,

    /// SMART Backend Services: the scopes requested.
    #[arg(
        long,
        env = "BEDSIDE_FHIR_WRITEBACK_SCOPE",
        default_value = "system/Task.write system/Communication.write system/RiskAssessment.write"
    )]
    pub fhir_writeback_scope: String,

    /// Access control: `on` (callers authenticate with a bearer JWT from
    /// the OpenID Connect provider or a service token; each endpoint admits
    /// only the roles it needs) or `off` (anyone reaching the port may do
    /// everything; logged loudly). Default: `on` for `bedside serve`, `off`
    /// for `bedside demo`. `on` with neither auth_issuer nor a service token
    /// configured refuses to start.
    #[arg(long, env = "BEDSIDE_AUTH_MODE")]
    pub auth_mode: Option<String>,

    /// OpenID Connect: the issuer whose access tokens are accepted (the
    /// exact `iss`, e.g. https://idp.example.org/realms/hospital).
    #[arg(long, env = "BEDSIDE_AUTH_ISSUER")]
    pub auth_issuer: Option<String>,

    /// OpenID Connect: the audience a token must carry (`aud`, usually
    /// Bedside's client id at the provider).
    #[arg(long, env = "BEDSIDE_AUTH_AUDIENCE")]
    pub auth_audience: Option<String>,

    /// OpenID Connect: the provider's JWK Set URL (`jwks_uri`). Fetched
    /// with a 5 s timeout, cached, refetched on an unknown `kid` at most
    /// once a minute.
    #[arg(long, env = "BEDSIDE_AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,

    /// OpenID Connect: a JWK Set file instead of auth_jwks_url.
    #[arg(long, env = "BEDSIDE_AUTH_JWKS_FILE")]
    pub auth_jwks_file: Option<PathBuf>,

    /// OpenID Connect: where the roles are in the token: a claim name or a
    /// dotted path (`realm_access.roles`, `resource_access.bedside.roles`).
    #[arg(long, env = "BEDSIDE_AUTH_ROLE_CLAIM", default_value = "roles")]
    pub auth_role_claim: String,

    /// OpenID Connect: the claim naming the signed-in person's
    /// Practitioner (`Practitioner/{id}` or a URL ending so), whom the
    /// worklist acts as; a claim name or dotted path.
    #[arg(
        long,
        env = "BEDSIDE_AUTH_PRACTITIONER_CLAIM",
        default_value = "fhirUser"
    )]
    pub auth_practitioner_claim: String,

    /// OpenID Connect: provider role names mapped to Bedside roles
    /// (clinician, informatics, governance, admin, service), e.g.
    /// `ehr-nurse=clinician,ehr-physician=clinician,cds-team=informatics`.
    /// Unset: the claim's values are Bedside role names.
    #[arg(long, env = "BEDSIDE_AUTH_ROLE_MAP")]
    pub auth_role_map: Option<String>,

    /// Service-account tokens file: one `name:role[+role]:token` per line
    /// (`#` comments), e.g. `ingest:service:<64 hex>`. Tokens have at least
    /// 32 characters; only their SHA-256 is kept in memory.
    #[arg(long, env = "BEDSIDE_AUTH_SERVICE_TOKENS_FILE")]
    pub auth_service_tokens_file: Option<PathBuf>,

    /// Service-account tokens from the environment, same format (entries
    /// separated by newlines or commas). Prefer the file; never put tokens
    /// on the command line.
    #[arg(long, env = "BEDSIDE_AUTH_SERVICE_TOKENS", hide_env_values = true)]
    pub auth_service_tokens: Option<bedside_server::Secret>,

    /// Trusted CDS Hooks clients (EHRs): a TOML file with one `[[issuer]]`
    /// per EHR: `iss`, `jwks_url` (fetched with a timeout, cached, fetched
    /// again on an unknown `kid` at most once a minute) or `jwks_file`,
    /// `algorithms` (default ES384, RS384), `public_url` (the `aud` base;
    /// default: public_url), `jku` (allow-list). Unset: no hook JWT is
    /// trusted and every hook call is refused 401 (the demo trusts its own
    /// EHR key).
    #[arg(long, env = "BEDSIDE_HOOK_ISSUERS")]
    pub hook_issuers: Option<PathBuf>,

    /// Time Bedside waits for the EHR's FHIR server when a hook call lacks
    /// prefetch and names a `fhirServer`, in milliseconds. After it the
    /// card is computed from what Bedside has and says data may be
    /// incomplete.
    #[arg(long, env = "BEDSIDE_EHR_TIMEOUT_MS", default_value_t = 2000)]
    pub ehr_timeout_ms: u64,

    /// SMART EHR launch: the client id registered with the EHR's
    /// authorization server. With smart_issuers, a card's `smart` link
    /// (`{public_url}/smart/launch`) opens Bedside's patient page in the
    /// EHR's patient context (authorization code flow with PKCE).
    #[arg(long, env = "BEDSIDE_SMART_CLIENT_ID")]
    pub smart_client_id: Option<String>,

    /// SMART EHR launch: the EHR FHIR base URLs (`iss`) a launch may come
    /// from (repeatable or comma-separated); a launch from any other is
    /// refused.
    #[arg(
        long = "smart-issuer",
        env = "BEDSIDE_SMART_ISSUERS",
        value_delimiter = ','
    )]
    pub smart_issuers: Vec<String>,

    /// SMART EHR launch: the redirect URL registered with the
    /// authorization server. Default: {public_url}/smart/redirect.
    #[arg(long, env = "BEDSIDE_SMART_REDIRECT_URL")]
    pub smart_redirect_url: Option<String>,

    /// SMART EHR launch: the scopes requested.
    #[arg(
        long,
        env = "BEDSIDE_SMART_SCOPE",
        default_value = "launch openid fhirUser patient/*.read"
    )]
    pub smart_scope: String,

    /// SMART EHR launch: timeout of the `.well-known/smart-configuration`
    /// fetch and of the token request, in seconds.
    #[arg(long, env = "BEDSIDE_SMART_TIMEOUT_SECS", default_value_t = 5)]
    pub smart_timeout_secs: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "BEDSIDE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// DEVELOPMENT ONLY: accept CDS Hooks calls without verifying their JWT.
    /// Off by default; logged loudly when on.
    #[arg(long, env = "BEDSIDE_INSECURE_SKIP_HOOK_AUTH", default_value_t = false)]
    pub insecure_skip_hook_auth: bool,
}

/// Names of the settings, as in the config file.
fn setting_ids() -> Vec<String> {
    let cmd = clap::Command::new("s");
    let cmd = Settings::augment_args(cmd);
    cmd.get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .collect()
}

impl Settings {
    /// Overlay values from the TOML config file onto settings that were
    /// left at their default (neither flag nor environment given).
    pub fn overlay_file(self, m: &ArgMatches, file: &str, path: &str) -> Result<Self> {
        let table: toml::Table =
            toml::from_str(file).with_context(|| format!("config file {path}: invalid TOML"))?;
        let ids = setting_ids();
        let mut current = serde_json::to_value(&self)?;
        let obj = current
            .as_object_mut()
            .expect("struct serializes to object");
        for (key, value) in table {
            if !ids.contains(&key) {
                bail!(
                    "config file {path}: unknown setting `{key}` (known: {})",
                    ids.join(", ")
                );
            }
            let from_default =
                matches!(m.value_source(&key), None | Some(ValueSource::DefaultValue));
            if from_default {
                obj.insert(key, serde_json::to_value(value)?);
            }
        }
        serde_json::from_value(current)
            .with_context(|| format!("config file {path}: a setting has the wrong type"))
    }

    /// The settings a config file gives on top of the defaults (no flags;
    /// the environment still applies), as `bedside serve --config FILE`
    /// reads them. Not validated: call [`Settings::validate`].
    pub fn from_config_text(file: &str, path: &str) -> Result<Self> {
        let cmd = Settings::augment_args(clap::Command::new("bedside"));
        let m = cmd
            .try_get_matches_from(["bedside"])
            .context("settings from the environment")?;
        let s = <Settings as clap::FromArgMatches>::from_arg_matches(&m)
            .context("settings from the environment")?;
        s.overlay_file(&m, file, path)
    }

    /// Validate values that clap cannot check on its own.
    pub fn validate(&self) -> Result<()> {
        self.listen
            .parse::<std::net::SocketAddr>()
            .with_context(|| format!("listen: `{}` is not an address:port", self.listen))?;
        if let Some(url) = &self.fhir_writeback_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("fhir_writeback_url: must start with http:// or https://");
            }
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("database_url: must start with postgres:// (got a different scheme)");
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format: must be `text` or `json`, got `{}`",
                self.log_format
            );
        }
        if let Some(m) = &self.auth_mode {
            if !matches!(m.as_str(), "on" | "off") {
                bail!("auth_mode: must be `on` or `off`, got `{m}`");
            }
        }
        for (name, url) in [
            ("auth_jwks_url", &self.auth_jwks_url),
            ("fhir_writeback_token_url", &self.fhir_writeback_token_url),
        ] {
            if let Some(u) = url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    bail!("{name}: must start with http:// or https://");
                }
            }
        }
        if self.ehr_timeout_ms == 0 {
            bail!("ehr_timeout_ms: must be at least 1");
        }
        if self.smart_timeout_secs == 0 {
            bail!("smart_timeout_secs: must be at least 1");
        }
        if self.max_body_mib == 0 {
            bail!("max_body_mib: must be at least 1");
        }
        if let Err(e) = bedside_server::validate_origins(&self.cors_allowed_origins) {
            bail!("cors_allowed_origins: {e}");
        }
        Ok(())
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }
}

/// A documented config file with every setting at its default, generated
/// from the definitions above.
pub fn config_template() -> String {
    let cmd = Settings::augment_args(clap::Command::new("s"));
    let mut out = String::from(
        "# Bedside configuration (TOML). Every setting is optional; shown with\n\
         # its default. Precedence: flag > environment > this file > default.\n\n",
    );
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        let help = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        for line in help.lines() {
            out.push_str(&format!("# {line}\n"));
        }
        if let Some(env) = a.get_env() {
            out.push_str(&format!(
                "# flag: --{}   env: {}\n",
                a.get_long().unwrap_or(id),
                env.to_string_lossy()
            ));
        }
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().to_string())
            .collect();
        match defaults.first() {
            Some(d) if d == "true" || d == "false" || d.parse::<f64>().is_ok() => {
                out.push_str(&format!("# {id} = {d}\n\n"))
            }
            Some(d) => out.push_str(&format!("# {id} = {d:?}\n\n")),
            None => out.push_str(&format!("# {id} = (unset)\n\n")),
        }
    }
    out
}

/// Keep `CommandFactory` in scope for callers building the full CLI.
pub fn _assert_command_factory<T: CommandFactory>() {}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        s: Settings,
    }

    fn parse(args: &[&str]) -> (Settings, ArgMatches) {
        let m = T::command().get_matches_from(args);
        (T::from_arg_matches(&m).unwrap().s, m)
    }

    #[test]
    fn file_overrides_defaults_but_not_flags() {
        let (s, m) = parse(&["t", "--max-body-mib", "7"]);
        let s = s
            .overlay_file(&m, "max_body_mib = 9\nlisten = \"0.0.0.0:9\"\n", "c.toml")
            .unwrap();
        assert_eq!(s.max_body_mib, 7, "flag wins over file");
        assert_eq!(s.listen, "0.0.0.0:9", "file wins over default");
    }

    #[test]
    fn unknown_and_mistyped_settings_are_named() {
        let (s, m) = parse(&["t"]);
        let e = s
            .clone()
            .overlay_file(&m, "lisen = \"x\"", "c.toml")
            .unwrap_err();
        assert!(e.to_string().contains("unknown setting `lisen`"), "{e}");
        let e = s
            .overlay_file(&m, "max_body_mib = \"big\"", "c.toml")
            .unwrap_err();
        assert!(
            format!("{e:#}").contains("max_body_mib") || format!("{e:#}").contains("wrong type"),
            "{e:#}"
        );
    }

    #[test]
    fn validate_names_the_setting() {
        let (mut s, _) = parse(&["t"]);
        s.listen = "nope".into();
        assert!(s.validate().unwrap_err().to_string().starts_with("listen:"));
        let (mut s, _) = parse(&["t"]);
        s.database_url = Some("mysql://x".into());
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("database_url:"));
    }

    #[test]
    fn template_documents_every_setting() {
        let t = config_template();
        for id in setting_ids() {
            assert!(t.contains(&format!("# {id} = ")), "missing {id}");
        }
        assert!(t.contains("# listen = \"127.0.0.1:8080\""));
    }
}
