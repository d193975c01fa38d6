//! Access control: who is calling ([`Principal`]) and what they may do
//! ([`PERMISSIONS`]).
//!
//! Two kinds of credential, both sent as `Authorization: Bearer <token>`
//! (or, for `/ui` pages, in the session cookie set by `/ui/login`):
//! - a JWT access token from the hospital's OpenID Connect provider,
//!   verified against the provider's JWK Set (a file, or a URL fetched with
//!   a timeout, cached, refetched on an unknown `kid` at most once a
//!   minute); the asymmetric-only algorithm allow-list and the signature
//!   check are those of the CDS Hooks verifier (`bedside_cds::jwt`);
//! - a static service-account token (`name:role:token`), held only as its
//!   SHA-256 and compared in constant time.
//!
//! The middleware [`enforce`] classifies every request into an endpoint
//! [`Group`], looks up the roles the group admits in [`PERMISSIONS`] (one
//! table, least privilege, deny by default) and either refuses (401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` naming the reason, 403
//! naming the roles needed; both with an OperationOutcome) or inserts the
//! [`Principal`] as a request extension for handlers.
//!
//! CDS Hooks service calls are not user calls: they carry the EHR's JWT,
//! verified by the hook service itself, and are open here. A SMART launch
//! session (`crate::smart`) admits its one patient's page
//! (`/ui/patients/{id}`) as that user, before any other credential.
//!
//! Parts: `permissions` ([`Role`], [`Group`], [`PERMISSIONS`]), `oidc`
//! (access-token verification, [`OidcConfig`]), `jwks` (the provider's
//! key cache, [`JwksSource`]), `service` ([`ServiceToken`]), `session`
//! (the `/ui` session cookie, [`SESSION_COOKIE`]); this module holds the
//! [`Access`] state and the middleware.

mod jwks;
mod oidc;
mod permissions;
mod service;
mod session;

pub use jwks::JwksSource;
pub use oidc::{practitioner_of, OidcConfig, FHIR_USER_CLAIM};
pub use permissions::{Group, Role, PERMISSIONS};
pub use service::{ServiceToken, MIN_SERVICE_TOKEN_LEN};
pub use session::SESSION_COOKIE;
pub(crate) use session::{session_token, token_exp};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bedside_app::ApiError;
use chrono::{DateTime, Utc};
use jwks::Jwks;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A secret string (a token, a password): `Debug` and `Display` never
/// show it. Serializes transparently, because the settings overlay
/// round-trips settings through JSON in memory; nothing logs that.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// Who made a request (authentication on). Handlers get it as
/// `Option<axum::Extension<Principal>>` (absent when access control is
/// off, as in `bedside demo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, or the service account's name.
    pub subject: String,
    pub roles: Vec<Role>,
    /// True for a static service-account token.
    pub service_account: bool,
    /// The Practitioner this person is (`Practitioner/{id}`), from the
    /// token's `fhirUser` claim (or [`OidcConfig::practitioner_claim`]);
    /// who the worklist acts as.
    pub practitioner: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }
    /// The roles as one string ("clinician, informatics").
    pub fn roles_text(&self) -> String {
        let v: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }
}

/// Everything access control needs.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    pub oidc: Option<OidcConfig>,
    pub service_tokens: Vec<ServiceToken>,
    /// Clock-skew allowance for `exp` / `nbf`, in seconds.
    pub leeway_secs: i64,
    /// Mark the session cookie `Secure` (the public URL is https).
    pub secure_cookie: bool,
    /// Timeout of one JWKS fetch.
    pub jwks_timeout: Duration,
    /// Least time between two JWKS fetches (unknown-`kid` refetches).
    pub jwks_min_refetch: Duration,
}

impl AccessConfig {
    pub fn new(oidc: Option<OidcConfig>, service_tokens: Vec<ServiceToken>) -> Self {
        Self {
            oidc,
            service_tokens,
            leeway_secs: 30,
            secure_cookie: false,
            jwks_timeout: Duration::from_secs(5),
            jwks_min_refetch: Duration::from_secs(60),
        }
    }
}

/// The access-control state shared by all requests.
pub struct Access {
    cfg: AccessConfig,
    jwks: Jwks,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access").field("cfg", &self.cfg).finish()
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no usable credential; the reason.
    Unauthenticated(String),
    /// 403: authenticated but without a role the endpoint needs.
    Forbidden(String),
}

impl Access {
    pub fn new(cfg: AccessConfig) -> Result<Self, String> {
        if cfg.oidc.is_none() && cfg.service_tokens.is_empty() {
            return Err("access control is on but neither an OpenID Connect issuer nor a service token is configured".into());
        }
        let jwks = Jwks::new(
            cfg.oidc.as_ref().map(|o| &o.jwks),
            cfg.jwks_timeout,
            cfg.jwks_min_refetch,
        )?;
        Ok(Self { cfg, jwks })
    }

    pub fn config(&self) -> &AccessConfig {
        &self.cfg
    }

    /// Fetch the JWK Set now (at startup, to find a wrong URL early).
    pub async fn prefetch(&self) -> Result<(), String> {
        self.jwks.prefetch().await
    }

    /// Who `token` is, or why not.
    pub async fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("missing token: the bearer token is empty".into());
        }
        if let Some(p) = service::service_account(&self.cfg.service_tokens, token) {
            return Ok(p);
        }
        let Some(oidc) = &self.cfg.oidc else {
            return Err("unknown token: not a configured service token".into());
        };
        oidc::authenticate(oidc, &self.jwks, self.cfg.leeway_secs, token, now).await
    }

    /// The `Set-Cookie` value of a UI session holding `token` for
    /// `max_age` seconds.
    pub fn session_cookie(&self, token: &str, max_age: i64) -> String {
        session::set_cookie(token, max_age, self.cfg.secure_cookie)
    }

    /// The `Set-Cookie` value that ends the UI session.
    pub fn clear_cookie(&self) -> String {
        self.session_cookie("", 0)
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(h: &HeaderMap) -> Option<Result<&str, String>> {
    let v = h.get(header::AUTHORIZATION)?;
    let v = match v.to_str() {
        Ok(v) => v,
        Err(_) => return Some(Err("malformed Authorization header".into())),
    };
    let mut it = v.splitn(2, ' ');
    match (it.next(), it.next()) {
        (Some(s), Some(t)) if s.eq_ignore_ascii_case("bearer") => Some(Ok(t.trim())),
        _ => Some(Err(
            "malformed Authorization header: expected `Bearer <token>`".into(),
        )),
    }
}

fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .map(|c| match c {
            '"' | '\\' => '\'',
            c => c,
        })
        .collect()
}

/// A 401 or 403 API response: an OperationOutcome, and for 401 the
/// `WWW-Authenticate` challenge naming the reason.
pub(crate) fn refusal_response(r: &Refusal) -> Response {
    match r {
        Refusal::Unauthenticated(why) => {
            let mut resp = crate::fhir_routes::api_error(ApiError::new(
                401,
                "login",
                format!("unauthenticated: {why}"),
                None,
            ));
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                quoted(why)
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            resp
        }
        Refusal::Forbidden(why) => crate::fhir_routes::api_error(ApiError::new(
            403,
            "forbidden",
            format!("forbidden: {why}"),
            None,
        )),
    }
}

/// Decide one request: `Ok(None)` open, `Ok(Some(p))` admitted as `p`.
pub(crate) async fn decide(
    access: &Access,
    group: Group,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Refusal> {
    let Some(needed) = group.roles() else {
        return Ok(None);
    };
    let token = match bearer(headers) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(Refusal::Unauthenticated(e)),
        None => match session_token(headers).filter(|_| group.is_ui()) {
            Some(t) => t,
            None => {
                return Err(Refusal::Unauthenticated(
                    "missing token: send `Authorization: Bearer <token>`".into(),
                ))
            }
        },
    };
    let p = access
        .authenticate(token, Utc::now())
        .await
        .map_err(Refusal::Unauthenticated)?;
    if !p.has_any(needed) {
        let need: Vec<&str> = needed.iter().map(|r| r.as_str()).collect();
        return Err(Refusal::Forbidden(format!(
            "this endpoint needs role {}; {} has {}",
            need.join(" or "),
            p.subject,
            p.roles_text()
        )));
    }
    Ok(Some(p))
}

/// What the access middleware needs: access control (`None`: off) and
/// the SMART launch sessions (`None`: no SMART launch).
#[derive(Clone)]
pub(crate) struct AuthState {
    pub(crate) access: Option<Arc<Access>>,
    pub(crate) smart: Option<Arc<crate::smart::SmartLaunch>>,
}

/// The middleware: classify, authenticate, authorize, then pass the
/// [`Principal`] on as a request extension. With no [`Access`] (auth off)
/// every request passes unchanged.
pub(crate) async fn enforce(
    State(state): State<AuthState>,
    mut req: Request,
    next: Next,
) -> Response {
    let group = Group::of(req.method(), req.uri().path());
    // A SMART launch session opens its own patient's page, and only it.
    if group == Group::UiPatient {
        if let Some(session) = state.smart.as_ref().and_then(|s| s.session(req.headers())) {
            let pid = req.uri().path().rsplit('/').next().unwrap_or("");
            if pid == session.patient {
                let who = session
                    .fhir_user
                    .clone()
                    .unwrap_or_else(|| "smart-launch".into());
                req.extensions_mut().insert(bedside_app::audit::Actor::new(
                    Some(&who),
                    Some(Role::Clinician.as_str()),
                ));
                req.extensions_mut().insert(session);
                return next.run(req).await;
            }
        }
    }
    let Some(access) = state.access else {
        return next.run(req).await;
    };
    match decide(&access, group, req.headers()).await {
        Ok(Some(p)) => {
            // The audit log records who acted (bedside_app::audit::Actor).
            let role = p.roles.first().map(|r| r.as_str());
            req.extensions_mut().insert(
                bedside_app::audit::Actor::new(Some(&p.subject), role)
                    .with_practitioner(p.practitioner.as_deref()),
            );
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Ok(None) => next.run(req).await,
        Err(r) => {
            let path = req.uri().path().to_string();
            match &r {
                Refusal::Unauthenticated(why) => {
                    tracing::info!(%path, reason = %why, "request refused: unauthenticated")
                }
                Refusal::Forbidden(why) => {
                    tracing::info!(%path, reason = %why, "request refused: forbidden")
                }
            }
            if group.is_ui() {
                crate::ui_routes::ui_refusal(&r, req.uri(), req.method())
            } else {
                refusal_response(&r)
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refusal_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_tokens_never_print() {
        let s = Secret::new("s3cr3t-value");
        assert!(!format!("{s:?} {s}").contains("s3cr3t"));
        let t = ServiceToken::parse_list(
            &Secret::new("ingest:service:0123456789abcdef0123456789abcdef-xyz\n# c\n"),
            "env",
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert!(!format!("{t:?}").contains("0123456789abcdef"));
    }
}
