//! Access control and SMART write-back credentials from the settings.
//! Secrets come from files or the environment and are never logged.

use crate::settings::Settings;
use anyhow::{bail, Context, Result};
use bedside_server::auth::{JwksSource, OidcConfig, ServiceToken};
use bedside_server::{Access, AccessConfig, Role, Secret};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Parse `idp-role=bedside-role,...`.
fn role_map(text: &str) -> Result<BTreeMap<String, Role>> {
    let mut m = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((from, to)) = pair.split_once('=') else {
            bail!("auth_role_map: `{pair}` is not `provider-role=bedside-role`");
        };
        let role = Role::parse(to.trim()).with_context(|| {
            format!(
                "auth_role_map: `{}` is not a Bedside role (clinician, informatics, governance, admin, service)",
                to.trim()
            )
        })?;
        m.insert(from.trim().to_string(), role);
    }
    Ok(m)
}

/// The access control `bedside serve` / `bedside demo` runs with
/// (`None`: off). `demo` selects the default of `auth_mode`.
pub async fn access(s: &Settings, demo: bool) -> Result<Option<Arc<Access>>> {
    let on = match s.auth_mode.as_deref() {
        Some("on") => true,
        Some(_) => false,
        None => !demo,
    };
    if !on {
        tracing::warn!(
            "ACCESS CONTROL IS OFF (auth_mode = off{}): anyone who reaches {} can read patient data and act on tasks; never use this with real patients outside a closed test network",
            if s.auth_mode.is_none() { ", the demo default" } else { "" },
            s.listen
        );
        return Ok(None);
    }
    let oidc = match &s.auth_issuer {
        None => {
            for (name, set) in [
                ("auth_audience", s.auth_audience.is_some()),
                ("auth_jwks_url", s.auth_jwks_url.is_some()),
                ("auth_jwks_file", s.auth_jwks_file.is_some()),
            ] {
                if set {
                    bail!(
                        "{name} is set but auth_issuer is not: set the OpenID Connect issuer too"
                    );
                }
            }
            None
        }
        Some(issuer) => {
            let audience = s.auth_audience.clone().context(
                "auth_audience: required with auth_issuer (the `aud` Bedside's tokens carry)",
            )?;
            let jwks = match (&s.auth_jwks_url, &s.auth_jwks_file) {
                (Some(_), Some(_)) => {
                    bail!("auth_jwks_url and auth_jwks_file: set one, not both")
                }
                (Some(u), None) => JwksSource::Url(u.clone()),
                (None, Some(p)) => {
                    let text = std::fs::read_to_string(p).with_context(|| {
                        format!("auth_jwks_file {}: cannot read", p.display())
                    })?;
                    JwksSource::Inline(serde_json::from_str(&text).with_context(|| {
                        format!("auth_jwks_file {}: not a JWK Set", p.display())
                    })?)
                }
                (None, None) => bail!(
                    "auth_jwks_url or auth_jwks_file: required with auth_issuer (where the provider's signing keys are)"
                ),
            };
            Some(OidcConfig {
                issuer: issuer.clone(),
                audience,
                jwks,
                role_claim: s.auth_role_claim.clone(),
                practitioner_claim: s.auth_practitioner_claim.clone(),
                role_map: s
                    .auth_role_map
                    .as_deref()
                    .map(role_map)
                    .transpose()?
                    .unwrap_or_default(),
            })
        }
    };
    let mut tokens = Vec::new();
    if let Some(p) = &s.auth_service_tokens_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("auth_service_tokens_file {}: cannot read", p.display()))?;
        tokens.extend(
            ServiceToken::parse_list(
                &Secret::new(text),
                &format!("auth_service_tokens_file {}", p.display()),
            )
            .map_err(anyhow::Error::msg)?,
        );
    }
    if let Some(t) = &s.auth_service_tokens {
        for st in ServiceToken::parse_list(t, "BEDSIDE_AUTH_SERVICE_TOKENS")
            .map_err(anyhow::Error::msg)?
        {
            if tokens.iter().any(|o: &ServiceToken| o.name == st.name) {
                bail!(
                    "service token `{}` is configured in both the file and the environment",
                    st.name
                );
            }
            tokens.push(st);
        }
    }
    if oidc.is_none() && tokens.is_empty() {
        bail!(
            "access control is on (auth_mode = on{}) but nothing is configured to authenticate against: \
             set auth_issuer, auth_audience and auth_jwks_url (or auth_jwks_file) for OpenID Connect, \
             and/or auth_service_tokens_file (or BEDSIDE_AUTH_SERVICE_TOKENS) for service accounts; \
             or set auth_mode = off on a closed test network",
            if s.auth_mode.is_none() { ", the default of `bedside serve`" } else { "" }
        );
    }
    let names: Vec<String> = tokens
        .iter()
        .map(|t| format!("{} ({})", t.name, roles(&t.roles)))
        .collect();
    let mut cfg = AccessConfig::new(oidc, tokens);
    cfg.secure_cookie = s.public_url().starts_with("https://");
    let access = Access::new(cfg).map_err(anyhow::Error::msg)?;
    if let Err(e) = access.prefetch().await {
        tracing::warn!(error = %e, "cannot fetch the identity provider's JWK Set now; retried when a token arrives");
    }
    tracing::info!(
        issuer = s.auth_issuer.as_deref().unwrap_or("(none)"),
        service_accounts = %names.join(", "),
        "access control on"
    );
    Ok(Some(Arc::new(access)))
}

fn roles(r: &[Role]) -> String {
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("+")
}

/// The SMART EHR launch, when configured (`smart_client_id` and
/// `smart_issuers` come as a pair).
pub fn smart_launch(s: &Settings) -> Result<Option<Arc<bedside_server::smart::SmartLaunch>>> {
    let (id, issuers) = match (&s.smart_client_id, s.smart_issuers.is_empty()) {
        (None, true) => {
            if s.smart_redirect_url.is_some() {
                bail!("smart_redirect_url is set but smart_client_id is not: set the client id and smart_issuers too");
            }
            return Ok(None);
        }
        (Some(_), true) => bail!(
            "smart_client_id is set but smart_issuers is not: name the EHR FHIR base URLs a launch may come from"
        ),
        (None, false) => bail!(
            "smart_issuers is set but smart_client_id is not: set the client id registered with the EHR"
        ),
        (Some(id), false) => (id, s.smart_issuers.clone()),
    };
    let redirect = s
        .smart_redirect_url
        .clone()
        .unwrap_or_else(|| format!("{}/smart/redirect", s.public_url()));
    let mut cfg =
        bedside_server::smart::SmartLaunchConfig::new(id, &redirect, &s.smart_scope, issuers);
    cfg.timeout = std::time::Duration::from_secs(s.smart_timeout_secs);
    let launch = bedside_server::smart::SmartLaunch::new(cfg).map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(client_id = %id, issuers = ?s.smart_issuers, "SMART EHR launch on");
    Ok(Some(Arc::new(launch)))
}

/// SMART Backend Services credentials for write-back, when configured.
pub fn smart_backend(s: &Settings) -> Result<Option<bedside_app::writeback::SmartBackend>> {
    let set = [
        (
            "fhir_writeback_client_id",
            s.fhir_writeback_client_id.is_some(),
        ),
        (
            "fhir_writeback_token_url",
            s.fhir_writeback_token_url.is_some(),
        ),
        (
            "fhir_writeback_private_key",
            s.fhir_writeback_private_key.is_some(),
        ),
    ];
    if set.iter().all(|(_, v)| !v) {
        return Ok(None);
    }
    let missing: Vec<&str> = set.iter().filter(|(_, v)| !v).map(|(n, _)| *n).collect();
    if !missing.is_empty() {
        bail!(
            "SMART Backend Services write-back needs {} too",
            missing.join(" and ")
        );
    }
    if s.fhir_writeback_url.is_none() {
        bail!("fhir_writeback_client_id is set but fhir_writeback_url is not");
    }
    let path = s.fhir_writeback_private_key.as_ref().expect("checked");
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("fhir_writeback_private_key {}: cannot read", path.display()))?;
    let sb = bedside_app::writeback::SmartBackend::new(
        s.fhir_writeback_client_id.as_deref().expect("checked"),
        s.fhir_writeback_token_url.as_deref().expect("checked"),
        &s.fhir_writeback_scope,
        &pem,
        s.fhir_writeback_key_id.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("fhir_writeback_private_key {}: {e}", path.display()))?;
    Ok(Some(sb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        s: Settings,
    }

    fn settings(args: &[&str]) -> Settings {
        let m = T::command().get_matches_from(args);
        T::from_arg_matches(&m).unwrap().s
    }

    #[tokio::test]
    async fn serve_defaults_to_on_and_names_what_is_missing() {
        let e = access(&settings(&["t"]), false).await.unwrap_err();
        let msg = e.to_string();
        for name in [
            "the default of `bedside serve`",
            "auth_issuer",
            "auth_audience",
            "auth_jwks_url",
            "auth_service_tokens_file",
        ] {
            assert!(msg.contains(name), "{msg} lacks {name}");
        }
        // The demo defaults to off; serve can be switched off explicitly.
        assert!(access(&settings(&["t"]), true).await.unwrap().is_none());
        assert!(access(&settings(&["t", "--auth-mode", "off"]), false)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn partial_oidc_settings_are_named() {
        let e = access(&settings(&["t", "--auth-issuer", "https://idp"]), false)
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("auth_audience: required"), "{e}");
        let e = access(
            &settings(&["t", "--auth-issuer", "https://idp", "--auth-audience", "b"]),
            false,
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("auth_jwks_url or auth_jwks_file"),
            "{e}"
        );
        let e = access(&settings(&["t", "--auth-audience", "b"]), false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("auth_issuer is not"), "{e}");
    }

    #[tokio::test]
    async fn service_tokens_from_a_file_turn_access_on() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tokens");
        std::fs::write(
            &f,
            "# ingest feed\ningest:service:0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let s = settings(&["t", "--auth-service-tokens-file", f.to_str().unwrap()]);
        let a = access(&s, false).await.unwrap().expect("on");
        assert_eq!(a.config().service_tokens[0].name, "ingest");
        assert!(!format!("{a:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn role_maps_parse_and_name_bad_roles() {
        let m = role_map("ehr-nurse=clinician, cds=informatics").unwrap();
        assert_eq!(m["ehr-nurse"], Role::Clinician);
        assert_eq!(m["cds"], Role::Informatics);
        let e = role_map("x=root").unwrap_err().to_string();
        assert!(e.contains("`root` is not a Bedside role"), "{e}");
    }

    #[test]
    fn smart_settings_come_as_a_set() {
        let e = smart_backend(&settings(&["t", "--fhir-writeback-client-id", "c"])).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("fhir_writeback_token_url and fhir_writeback_private_key"),
            "{msg}"
        );
        assert!(smart_backend(&settings(&["t"])).unwrap().is_none());
    }
}
