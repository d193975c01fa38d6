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
//! verified by the hook service itself, and are open here.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bedside_app::ApiError;
use bedside_cds::jwt::{inspect, verify_signature};
use bedside_cds::{AuthError, JwkSet};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The name of the UI session cookie (holds the bearer token).
pub const SESSION_COOKIE: &str = "bedside_session";

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

/// A Bedside role. Identity providers' own role names are mapped onto
/// these (`auth_role_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees and acts on patient tasks, answers the trust pulse.
    Clinician,
    /// Clinical informatics: runs the sandbox, models and pathways.
    Informatics,
    /// Governance: monitoring, reports, metrics.
    Governance,
    /// System administration.
    Admin,
    /// A machine feeding data in (FHIR ingest, `$import`).
    Service,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Clinician,
        Role::Informatics,
        Role::Governance,
        Role::Admin,
        Role::Service,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Informatics => "informatics",
            Role::Governance => "governance",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

/// An endpoint group: the unit of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `GET /healthz`, `GET /openapi.json` (the API description is public).
    Health,
    /// `/cds-services/**`: the EHR's JWT is verified by the hook service.
    CdsHooks,
    /// `POST /fhir`, `POST|PUT /fhir/{type}[/{id}]`, `POST /fhir/$import`.
    FhirWrite,
    /// `GET /fhir/**`.
    FhirRead,
    /// `GET /worklist`.
    WorklistRead,
    /// `POST /worklist/{task}/{action}`.
    WorklistAction,
    /// `/pulse/**` (trust pulse questions and answers).
    Pulse,
    /// `GET /metrics`.
    Metrics,
    /// `/ui/login`, `/ui/logout`, `/ui/assets/**`.
    UiOpen,
    /// `/ui` (monitoring dashboard).
    UiDashboard,
    /// `GET /ui/worklist`.
    UiWorklist,
    /// `POST /ui/worklist/{task}/{action}`.
    UiWorklistAction,
    /// `/ui/sandbox/**` (acts as the EHR, signs demo hook tokens).
    UiSandbox,
    /// `/ui/pathways/**`.
    UiPathways,
    /// `/ui/models/**` (model facts).
    UiModels,
    /// Any other `/ui/...` path (answers 404 to a signed-in user).
    UiOther,
    /// Everything not listed: deny by default (admin only).
    Other,
}

use Role::{Admin, Clinician, Governance, Informatics, Service};

/// Who may do what: `None` is open (no credential needed), otherwise the
/// roles admitted (any one suffices). Least privilege: e.g. a service
/// account can feed data in but not read it back or act on tasks; an
/// administrator runs the system but does not act on patients.
pub const PERMISSIONS: &[(Group, Option<&[Role]>)] = &[
    (Group::Health, None),
    (Group::CdsHooks, None),
    (Group::FhirWrite, Some(&[Service, Admin])),
    (Group::FhirRead, Some(&[Clinician, Informatics, Admin])),
    (Group::WorklistRead, Some(&[Clinician, Informatics])),
    (Group::WorklistAction, Some(&[Clinician])),
    (Group::Pulse, Some(&[Clinician])),
    (Group::Metrics, Some(&[Governance, Informatics, Admin])),
    (Group::UiOpen, None),
    (Group::UiDashboard, Some(&[Governance, Informatics, Admin])),
    (Group::UiWorklist, Some(&[Clinician, Informatics])),
    (Group::UiWorklistAction, Some(&[Clinician])),
    (Group::UiSandbox, Some(&[Informatics, Admin])),
    (Group::UiPathways, Some(&[Informatics, Governance, Admin])),
    (
        Group::UiModels,
        Some(&[Clinician, Informatics, Governance, Admin]),
    ),
    (
        Group::UiOther,
        Some(&[Clinician, Informatics, Governance, Admin]),
    ),
    (Group::Other, Some(&[Admin])),
];

impl Group {
    /// The roles this group admits (`None`: open).
    pub fn roles(self) -> Option<&'static [Role]> {
        PERMISSIONS
            .iter()
            .find(|(g, _)| *g == self)
            .map(|(_, r)| *r)
            .unwrap_or(Some(&[Admin]))
    }

    /// A `/ui` page (session cookie accepted, HTML refusals).
    pub fn is_ui(self) -> bool {
        matches!(
            self,
            Group::UiOpen
                | Group::UiDashboard
                | Group::UiWorklist
                | Group::UiWorklistAction
                | Group::UiSandbox
                | Group::UiPathways
                | Group::UiModels
                | Group::UiOther
        )
    }

    /// The group of a request.
    pub fn of(method: &Method, path: &str) -> Group {
        let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let get = method == Method::GET || method == Method::HEAD;
        match seg.as_slice() {
            ["healthz"] | ["openapi.json"] => Group::Health,
            ["cds-services", ..] => Group::CdsHooks,
            ["fhir", ..] if get => Group::FhirRead,
            ["fhir", ..] => Group::FhirWrite,
            ["worklist"] if get => Group::WorklistRead,
            ["worklist", _, _] if method == Method::POST => Group::WorklistAction,
            ["pulse", ..] => Group::Pulse,
            ["metrics"] => Group::Metrics,
            ["ui", "login"] | ["ui", "logout"] | ["ui", "assets", ..] => Group::UiOpen,
            ["ui"] | ["ui", ""] => Group::UiDashboard,
            ["ui", "worklist"] => Group::UiWorklist,
            ["ui", "worklist", _, _] if method == Method::POST => Group::UiWorklistAction,
            ["ui", "sandbox", ..] => Group::UiSandbox,
            ["ui", "pathways", ..] => Group::UiPathways,
            ["ui", "models", ..] => Group::UiModels,
            ["ui", ..] => Group::UiOther,
            _ => Group::Other,
        }
    }
}

/// Where the identity provider's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Fetched over HTTP(S) (the provider's `jwks_uri`).
    Url(String),
    /// Read from a file at startup.
    Inline(JwkSet),
}

/// The OpenID Connect provider whose access tokens are accepted.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The `aud` a token must carry (Bedside's client id / resource).
    pub audience: String,
    pub jwks: JwksSource,
    /// Where the roles are in the token: a claim name or a dotted path
    /// (`roles`, `realm_access.roles`, `resource_access.bedside.roles`).
    pub role_claim: String,
    /// Provider role name → Bedside role. Empty: the claim's values are
    /// Bedside role names.
    pub role_map: BTreeMap<String, Role>,
}

/// A static service-account credential.
#[derive(Clone)]
pub struct ServiceToken {
    pub name: String,
    pub roles: Vec<Role>,
    hash: [u8; 32],
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceToken")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Shortest static token accepted (a `openssl rand -hex 32` has 64).
pub const MIN_SERVICE_TOKEN_LEN: usize = 32;

fn token_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

impl ServiceToken {
    pub fn new(name: &str, roles: Vec<Role>, token: &Secret) -> Result<Self, String> {
        let t = token.expose();
        if name.is_empty() {
            return Err("service token: the name is empty".into());
        }
        if t.chars().count() < MIN_SERVICE_TOKEN_LEN {
            return Err(format!(
                "service token `{name}`: at least {MIN_SERVICE_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
            ));
        }
        if !t.chars().all(token_char_ok) {
            return Err(format!(
                "service token `{name}`: only letters, digits and - _ . ~ + / = are allowed"
            ));
        }
        if roles.is_empty() {
            return Err(format!("service token `{name}`: no role"));
        }
        Ok(Self {
            name: name.to_string(),
            roles,
            hash: Sha256::digest(t.as_bytes()).into(),
        })
    }

    /// Parse `name:role[+role]:token` entries, one per line (or separated
    /// by commas); `#` starts a comment. `origin` names the source in
    /// errors (never the token).
    pub fn parse_list(text: &Secret, origin: &str) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::new();
        for (i, raw) in text.expose().split(['\n', ',']).map(str::trim).enumerate() {
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let mut parts = raw.splitn(3, ':');
            let (Some(name), Some(roles), Some(token)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "{origin}: entry {} is not `name:role:token`",
                    i + 1
                ));
            };
            let roles = roles
                .split('+')
                .map(|r| {
                    Role::parse(r.trim()).ok_or_else(|| {
                        format!(
                            "{origin}: service token `{name}`: unknown role `{r}` (known: clinician, informatics, governance, admin, service)"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let t = ServiceToken::new(name.trim(), roles, &Secret::new(token.trim()))
                .map_err(|e| format!("{origin}: {e}"))?;
            if out.iter().any(|o| o.name == t.name) {
                return Err(format!(
                    "{origin}: service token `{}` appears twice",
                    t.name
                ));
            }
            out.push(t);
        }
        Ok(out)
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

#[derive(Default)]
struct JwksCache {
    keys: Option<JwkSet>,
    last_fetch: Option<Instant>,
}

/// The access-control state shared by all requests.
pub struct Access {
    cfg: AccessConfig,
    jwks: RwLock<JwksCache>,
    fetch_lock: tokio::sync::Mutex<()>,
    client: reqwest::Client,
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

fn ts(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

fn reason(e: &AuthError) -> String {
    match e {
        AuthError::BadSignature => "bad signature: the token's signature does not verify".into(),
        other => other.to_string(),
    }
}

/// The value at a dotted path (`realm_access.roles`).
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

impl Access {
    pub fn new(cfg: AccessConfig) -> Result<Self, String> {
        if cfg.oidc.is_none() && cfg.service_tokens.is_empty() {
            return Err("access control is on but neither an OpenID Connect issuer nor a service token is configured".into());
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.jwks_timeout)
            .build()
            .map_err(|e| format!("JWKS HTTP client: {e}"))?;
        let keys = match cfg.oidc.as_ref().map(|o| &o.jwks) {
            Some(JwksSource::Inline(k)) => Some(k.clone()),
            _ => None,
        };
        Ok(Self {
            cfg,
            jwks: RwLock::new(JwksCache {
                keys,
                last_fetch: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            client,
        })
    }

    pub fn config(&self) -> &AccessConfig {
        &self.cfg
    }

    /// Fetch the JWK Set now (at startup, to find a wrong URL early).
    pub async fn prefetch(&self) -> Result<(), String> {
        match self.cfg.oidc.as_ref().map(|o| &o.jwks) {
            Some(JwksSource::Url(u)) => self.fetch(u).await,
            _ => Ok(()),
        }
    }

    async fn fetch(&self, url: &str) -> Result<(), String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("JWKS {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("JWKS {url}: HTTP {}", resp.status().as_u16()));
        }
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| format!("JWKS {url}: not a JWK Set: {e}"))?;
        let mut c = self.jwks.write().unwrap_or_else(|p| p.into_inner());
        c.keys = Some(set);
        c.last_fetch = Some(Instant::now());
        Ok(())
    }

    fn find_key(&self, kid: &str) -> Option<jsonwebtoken::jwk::Jwk> {
        let c = self.jwks.read().unwrap_or_else(|p| p.into_inner());
        c.keys.as_ref().and_then(|k| k.find(kid)).cloned()
    }

    /// The key `kid`, refetching the JWK Set (rate-limited) when unknown.
    async fn key(&self, oidc: &OidcConfig, kid: &str) -> Result<jsonwebtoken::jwk::Jwk, String> {
        if let Some(k) = self.find_key(kid) {
            return Ok(k);
        }
        let JwksSource::Url(url) = &oidc.jwks else {
            return Err(format!(
                "unknown kid {kid:?}: not in the configured JWK Set"
            ));
        };
        let _one_fetch = self.fetch_lock.lock().await;
        if let Some(k) = self.find_key(kid) {
            return Ok(k);
        }
        let recent = {
            let c = self.jwks.read().unwrap_or_else(|p| p.into_inner());
            c.last_fetch
                .is_some_and(|t| t.elapsed() < self.cfg.jwks_min_refetch)
        };
        if !recent {
            if let Err(e) = self.fetch(url).await {
                tracing::warn!(error = %e, "cannot fetch the identity provider's JWK Set");
                // Count the failed attempt too, so a dead provider is not
                // hammered by every request.
                self.jwks
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_fetch = Some(Instant::now());
                return Err(format!(
                    "unknown kid {kid:?}: the identity provider's keys cannot be fetched"
                ));
            }
        }
        self.find_key(kid)
            .ok_or_else(|| format!("unknown kid {kid:?}: not in the identity provider's JWK Set"))
    }

    fn service_account(&self, token: &str) -> Option<Principal> {
        use subtle::ConstantTimeEq;
        let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every entry is compared (no early exit), each in constant time.
        let mut found = None;
        for t in &self.cfg.service_tokens {
            if bool::from(t.hash.ct_eq(&h)) {
                found = Some(t);
            }
        }
        found.map(|t| Principal {
            subject: t.name.clone(),
            roles: t.roles.clone(),
            service_account: true,
        })
    }

    /// Who `token` is, or why not.
    pub async fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, String> {
        let token = token.trim();
        if token.is_empty() {
            return Err("missing token: the bearer token is empty".into());
        }
        if let Some(p) = self.service_account(token) {
            return Ok(p);
        }
        let Some(oidc) = &self.cfg.oidc else {
            return Err("unknown token: not a configured service token".into());
        };
        if token.split('.').count() != 3 {
            return Err(
                "malformed token: neither a JWT (header.payload.signature) nor a configured service token"
                    .into(),
            );
        }
        let u = inspect(token).map_err(|e| reason(&e))?;
        match u.header.get("typ").and_then(Value::as_str) {
            None => {}
            Some(t)
                if t.eq_ignore_ascii_case("JWT")
                    || t.eq_ignore_ascii_case("at+jwt")
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            Some(t) => {
                return Err(format!(
                    "malformed token: header typ {t:?} is not JWT or at+jwt"
                ))
            }
        }
        let iss = u.payload.get("iss").and_then(Value::as_str).unwrap_or("");
        if iss.trim_end_matches('/') != oidc.issuer.trim_end_matches('/') {
            return Err(format!(
                "wrong issuer: iss {iss:?} is not the configured issuer {:?}",
                oidc.issuer
            ));
        }
        let jwk = self.key(oidc, &u.kid).await?;
        let c = verify_signature(token, &u, &jwk).map_err(|e| reason(&e))?;
        let now_s = now.timestamp();
        let leeway = self.cfg.leeway_secs;
        let exp = c
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or("malformed token: claim `exp` is missing")?;
        if now_s > exp + leeway {
            return Err(format!("token expired at {}", ts(exp)));
        }
        if let Some(nbf) = c.get("nbf").and_then(Value::as_i64) {
            if nbf > now_s + leeway {
                return Err(format!("token not valid before {}", ts(nbf)));
            }
        }
        let aud: Vec<&str> = match c.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !aud.iter().any(|a| *a == oidc.audience) {
            return Err(format!(
                "wrong audience: aud [{}] does not include {:?}",
                aud.join(", "),
                oidc.audience
            ));
        }
        let subject = c
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("malformed token: claim `sub` is missing")?
            .to_string();
        let names: Vec<String> = match claim_at(&c, &oidc.role_claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => s
                .split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            _ => vec![],
        };
        let mut roles: Vec<Role> = names
            .iter()
            .filter_map(|n| {
                if oidc.role_map.is_empty() {
                    Role::parse(n)
                } else {
                    oidc.role_map.get(n).copied()
                }
            })
            .collect();
        roles.sort();
        roles.dedup();
        Ok(Principal {
            subject,
            roles,
            service_account: false,
        })
    }

    /// The `Set-Cookie` value of a UI session holding `token` for
    /// `max_age` seconds.
    pub fn session_cookie(&self, token: &str, max_age: i64) -> String {
        format!(
            "{SESSION_COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
            max_age.max(0),
            if self.cfg.secure_cookie {
                "; Secure"
            } else {
                ""
            }
        )
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

/// The session cookie's token, if any.
pub(crate) fn session_token(h: &HeaderMap) -> Option<&str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v)
}

/// The `exp` of a JWT (unverified; for the cookie's lifetime only).
pub(crate) fn token_exp(token: &str) -> Option<i64> {
    inspect(token)
        .ok()
        .and_then(|u| u.payload.get("exp").and_then(Value::as_i64))
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

/// The middleware: classify, authenticate, authorize, then pass the
/// [`Principal`] on as a request extension. With no [`Access`] (auth off)
/// every request passes unchanged.
pub(crate) async fn enforce(
    State(access): State<Option<Arc<Access>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(access) = access else {
        return next.run(req).await;
    };
    let group = Group::of(req.method(), req.uri().path());
    match decide(&access, group, req.headers()).await {
        Ok(Some(p)) => {
            // The audit log records who acted (bedside_app::audit::Actor).
            let role = p.roles.first().map(|r| r.as_str());
            req.extensions_mut()
                .insert(bedside_app::audit::Actor::new(Some(&p.subject), role));
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
    fn every_group_is_in_the_table_once() {
        let all = [
            Group::Health,
            Group::CdsHooks,
            Group::FhirWrite,
            Group::FhirRead,
            Group::WorklistRead,
            Group::WorklistAction,
            Group::Pulse,
            Group::Metrics,
            Group::UiOpen,
            Group::UiDashboard,
            Group::UiWorklist,
            Group::UiWorklistAction,
            Group::UiSandbox,
            Group::UiPathways,
            Group::UiModels,
            Group::UiOther,
            Group::Other,
        ];
        for g in all {
            assert_eq!(
                PERMISSIONS.iter().filter(|(x, _)| *x == g).count(),
                1,
                "{g:?}"
            );
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn requests_fall_into_their_groups() {
        let g = |m: Method, p: &str| Group::of(&m, p);
        assert_eq!(g(Method::GET, "/healthz"), Group::Health);
        assert_eq!(g(Method::POST, "/fhir/$import"), Group::FhirWrite);
        assert_eq!(g(Method::PUT, "/fhir/Patient/1"), Group::FhirWrite);
        assert_eq!(g(Method::GET, "/fhir/Patient/1"), Group::FhirRead);
        assert_eq!(g(Method::POST, "/worklist/t1/claim"), Group::WorklistAction);
        assert_eq!(g(Method::GET, "/worklist"), Group::WorklistRead);
        assert_eq!(g(Method::POST, "/cds-services/x"), Group::CdsHooks);
        assert_eq!(g(Method::GET, "/ui/"), Group::UiDashboard);
        assert_eq!(g(Method::GET, "/ui/assets/bedside.css"), Group::UiOpen);
        assert_eq!(
            g(Method::POST, "/ui/worklist/t/claim"),
            Group::UiWorklistAction
        );
        assert_eq!(g(Method::GET, "/openapi.json"), Group::Health);
        assert_eq!(g(Method::GET, "/not-yet-listed"), Group::Other);
        assert_eq!(Group::Other.roles(), Some(&[Role::Admin][..]));
    }

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

    #[test]
    fn bad_service_token_lists_are_named() {
        let e = |s: &str| ServiceToken::parse_list(&Secret::new(s), "f").unwrap_err();
        assert!(
            e("a:service:short").contains("at least 32"),
            "{}",
            e("a:service:short")
        );
        assert!(e("a:root:0123456789abcdef0123456789abcdef").contains("unknown role `root`"));
        assert!(e("nocolons").contains("entry 1 is not `name:role:token`"));
        let dup =
            "a:service:0123456789abcdef0123456789abcdef\na:admin:0123456789abcdef0123456789abcdeX";
        assert!(e(dup).contains("appears twice"));
        // The token itself is never in an error.
        assert!(!e("a:root:0123456789abcdef0123456789abcdef").contains("0123456789abcdef"));
    }

    #[test]
    fn claims_at_dotted_paths() {
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"realm_access":{"roles":["a"]},"roles":["b"]}"#).unwrap();
        assert_eq!(claim_at(&c, "realm_access.roles").unwrap()[0], "a");
        assert_eq!(claim_at(&c, "roles").unwrap()[0], "b");
        assert!(claim_at(&c, "nope.x").is_none());
    }
}
