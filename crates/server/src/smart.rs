//! SMART App Launch (EHR launch, authorization code flow with PKCE): a
//! card's `smart` link opens Bedside's patient page inside the EHR's
//! context.
//!
//! - `GET /smart/launch?iss=&launch=`: `iss` must be one of the configured
//!   issuers (the EHR's FHIR base URL); its
//!   `{iss}/.well-known/smart-configuration` is fetched (with a timeout)
//!   for the authorization and token endpoints; a fresh `state` and PKCE
//!   `code_verifier` are kept here (one use, expiring) and the browser is
//!   sent to the authorization endpoint with `response_type=code`,
//!   `client_id`, `redirect_uri`, `scope`, `state`, `aud` (= `iss`),
//!   `launch`, `code_challenge` (S256) and `code_challenge_method=S256`.
//! - `GET /smart/redirect?code=&state=`: the `state` is taken (a second use
//!   is refused), the code is exchanged at the token endpoint with the
//!   `code_verifier`, and the token response's `patient` (and `fhirUser`)
//!   open a session for that one patient: an `HttpOnly` cookie
//!   ([`SMART_COOKIE`]) scoped to `/ui/patients`, admitted by the access
//!   layer for `/ui/patients/{that patient}` only. The EHR's access token
//!   is not kept.
//!
//! Launch state and sessions live in this process's memory: with several
//! replicas, route a browser to one replica (sticky sessions).

use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_ui as ui;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The name of the SMART session cookie (a random session id).
pub const SMART_COOKIE: &str = "bedside_smart";
/// Most launches in progress at once (each kept at most `state_ttl`).
const MAX_PENDING: usize = 10_000;
/// Most SMART sessions at once.
const MAX_SESSIONS: usize = 50_000;

/// SMART launch settings.
#[derive(Debug, Clone)]
pub struct SmartLaunchConfig {
    /// The client id registered with the EHR's authorization server.
    pub client_id: String,
    /// Bedside's `/smart/redirect` as registered with the authorization
    /// server.
    pub redirect_uri: String,
    /// The scopes requested, space-separated.
    pub scope: String,
    /// The EHR FHIR base URLs (`iss`) a launch may come from.
    pub issuers: Vec<String>,
    /// Timeout of the discovery fetch and of the token request.
    pub timeout: Duration,
    /// How long a launch may take from `/smart/launch` to the redirect.
    pub state_ttl: Duration,
    /// Longest session, whatever the token's `expires_in`.
    pub session_ttl: Duration,
    /// Mark the cookie `Secure` (the public URL is https).
    pub secure_cookie: bool,
}

impl SmartLaunchConfig {
    /// Settings with the defaults for the rest: 5 s timeout, 10 min to
    /// complete a launch, sessions of at most 8 h.
    pub fn new(client_id: &str, redirect_uri: &str, scope: &str, issuers: Vec<String>) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: scope.into(),
            issuers,
            timeout: Duration::from_secs(5),
            state_ttl: Duration::from_secs(600),
            session_ttl: Duration::from_secs(8 * 3600),
            secure_cookie: redirect_uri.starts_with("https://"),
        }
    }

    /// Check the settings; every error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.trim().is_empty() {
            return Err("smart_client_id: must not be empty".into());
        }
        if self.issuers.is_empty() {
            return Err("smart_issuers: at least one EHR FHIR base URL".into());
        }
        for (name, url) in std::iter::once(("smart_redirect_url", &self.redirect_uri))
            .chain(self.issuers.iter().map(|i| ("smart_issuers", i)))
        {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err(format!("{name}: `{url}` is not an http(s) URL")),
            }
        }
        if self.scope.split_whitespace().next().is_none() {
            return Err("smart_scope: must name at least one scope".into());
        }
        Ok(())
    }
}

/// A launch waiting for its redirect.
struct Pending {
    iss: String,
    token_endpoint: String,
    verifier: String,
    expires: Instant,
}

/// A patient opened through a SMART launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartSession {
    /// The Patient id from the token response.
    pub patient: String,
    /// `fhirUser` from the token response, if given.
    pub fhir_user: Option<String>,
    /// The EHR (`iss`) that launched.
    pub iss: String,
    expires: Instant,
}

/// SMART launch state: configuration, launches in progress, sessions.
pub struct SmartLaunch {
    cfg: SmartLaunchConfig,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, SmartSession>>,
}

impl fmt::Debug for SmartLaunch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmartLaunch")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// Why a launch or a redirect is refused: status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError {
    pub status: u16,
    pub message: String,
}

impl LaunchError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
    fn upstream(message: impl Into<String>) -> Self {
        Self {
            status: 502,
            message: message.into(),
        }
    }
}

/// 32 random bytes, base64url (43 characters).
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The S256 `code_challenge` of a `code_verifier` (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A short, printable excerpt of a remote answer for an error message.
fn excerpt(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

impl SmartLaunch {
    /// A failed call to the EHR's authorization server: a timeout names
    /// the limit, anything else what failed and why.
    fn upstream(&self, what: &str, failed: &str, e: &reqwest::Error) -> LaunchError {
        LaunchError::upstream(if e.is_timeout() {
            format!(
                "{what}: no answer within {} ms",
                self.cfg.timeout.as_millis()
            )
        } else {
            format!("{what}: {failed} ({e})")
        })
    }

    pub fn new(cfg: SmartLaunchConfig) -> Result<Self, String> {
        cfg.validate()?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("SMART launch: HTTP client: {e}"))?;
        Ok(Self {
            cfg,
            http,
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &SmartLaunchConfig {
        &self.cfg
    }

    /// The authorization URL to send the browser to for a launch from
    /// `iss` with `launch`, or why not.
    pub async fn begin(
        &self,
        iss: Option<&str>,
        launch: Option<&str>,
    ) -> Result<String, LaunchError> {
        let iss = iss
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                LaunchError::bad("missing query parameter `iss` (the EHR's FHIR base URL)")
            })?;
        let launch = launch
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                LaunchError::bad("missing query parameter `launch` (the EHR's launch context)")
            })?;
        if !self.cfg.issuers.iter().any(|i| same_url(i, iss)) {
            return Err(LaunchError {
                status: 403,
                message: format!(
                    "iss `{}` is not an allowed SMART issuer (smart_issuers)",
                    excerpt(iss)
                ),
            });
        }
        let (authorize, token_endpoint) = self.discover(iss).await?;
        let state = random_token();
        let verifier = random_token();
        let challenge = code_challenge(&verifier);
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            p.retain(|_, v| v.expires > now);
            if p.len() >= MAX_PENDING {
                return Err(LaunchError {
                    status: 503,
                    message: "too many SMART launches in progress; try again shortly".into(),
                });
            }
            p.insert(
                state.clone(),
                Pending {
                    iss: iss.to_string(),
                    token_endpoint,
                    verifier,
                    expires: now + self.cfg.state_ttl,
                },
            );
        }
        let mut url = reqwest::Url::parse(&authorize).map_err(|_| {
            LaunchError::upstream(format!(
                "smart-configuration of {iss}: authorization_endpoint `{}` is not a URL",
                excerpt(&authorize)
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.cfg.client_id)
            .append_pair("redirect_uri", &self.cfg.redirect_uri)
            .append_pair("scope", &self.cfg.scope)
            .append_pair("state", &state)
            .append_pair("aud", iss)
            .append_pair("launch", launch)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        tracing::info!(%iss, "SMART launch: sent to the authorization endpoint");
        Ok(url.to_string())
    }

    /// `{iss}/.well-known/smart-configuration`: the authorization and
    /// token endpoints.
    async fn discover(&self, iss: &str) -> Result<(String, String), LaunchError> {
        let url = format!(
            "{}/.well-known/smart-configuration",
            iss.trim_end_matches('/')
        );
        let what = format!("SMART configuration {url}");
        let resp = self
            .http
            .get(&url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.upstream(&what, "cannot be fetched", &e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| self.upstream(&what, "cannot be read", &e))?;
        if !status.is_success() {
            return Err(LaunchError::upstream(format!(
                "{what}: answered {}",
                status.as_u16()
            )));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| LaunchError::upstream(format!("{what}: not JSON")))?;
        let endpoint = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map(str::to_string)
                .ok_or_else(|| LaunchError::upstream(format!("{what}: no http(s) `{k}`")))
        };
        let authorize = endpoint("authorization_endpoint")?;
        let token = endpoint("token_endpoint")?;
        if let Some(m) = v.get("code_challenge_methods_supported") {
            let s256 = m.as_array().is_some_and(|a| a.iter().any(|x| x == "S256"));
            if !s256 {
                return Err(LaunchError::upstream(format!(
                    "{what}: code_challenge_methods_supported lacks S256 (PKCE is required)"
                )));
            }
        }
        Ok((authorize, token))
    }

    /// Complete a launch: check `state`, exchange `code`, open a session.
    /// The session id and the session.
    pub async fn complete(
        &self,
        q: &BTreeMap<String, String>,
    ) -> Result<(String, SmartSession), LaunchError> {
        let state = q
            .get("state")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| LaunchError::bad("missing query parameter `state`"))?;
        // Taken whatever follows: a state is good for one attempt.
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(state);
        let Some(p) = pending else {
            return Err(LaunchError::bad(
                "unknown or already used `state`: start the launch again from the EHR",
            ));
        };
        if p.expires <= Instant::now() {
            return Err(LaunchError::bad(
                "the launch's `state` has expired: start the launch again from the EHR",
            ));
        }
        if let Some(err) = q.get("error") {
            let d = q.get("error_description").map(String::as_str).unwrap_or("");
            return Err(LaunchError::bad(format!(
                "the authorization server refused: {} {}",
                excerpt(err),
                excerpt(d)
            )));
        }
        let code = q
            .get("code")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| LaunchError::bad("missing query parameter `code`"))?;
        let what = format!("token endpoint {}", p.token_endpoint);
        let resp = self
            .http
            .post(&p.token_endpoint)
            .header(header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", self.cfg.redirect_uri.as_str()),
                ("client_id", self.cfg.client_id.as_str()),
                ("code_verifier", p.verifier.as_str()),
            ])
            .send()
            .await
            .map_err(|e| self.upstream(&what, "cannot be reached", &e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| LaunchError::upstream(format!("{what}: answer unreadable ({e})")))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let err = v["error"].as_str().unwrap_or("");
            let d = v["error_description"].as_str().unwrap_or("");
            return Err(LaunchError::upstream(format!(
                "{what}: answered {} {} {}",
                status.as_u16(),
                excerpt(err),
                excerpt(d)
            )));
        }
        if v.get("access_token").and_then(Value::as_str).is_none() {
            return Err(LaunchError::upstream(format!(
                "{what}: the token response has no access_token"
            )));
        }
        let patient = v
            .get("patient")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                LaunchError::upstream(format!(
                    "{what}: the token response names no `patient` (is `launch` among the scopes granted?)"
                ))
            })?;
        if bedside_core::PatientRef::parse(patient).is_err() {
            return Err(LaunchError::upstream(format!(
                "{what}: `patient` is not a FHIR id"
            )));
        }
        let fhir_user = v.get("fhirUser").and_then(Value::as_str).map(excerpt);
        let ttl = v
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
            .unwrap_or(self.cfg.session_ttl)
            .min(self.cfg.session_ttl);
        let session = SmartSession {
            patient: patient.to_string(),
            fhir_user,
            iss: p.iss,
            expires: Instant::now() + ttl,
        };
        let sid = random_token();
        {
            let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if s.len() >= MAX_SESSIONS {
                s.retain(|_, v| v.expires > now);
            }
            if s.len() >= MAX_SESSIONS {
                return Err(LaunchError {
                    status: 503,
                    message: "too many SMART sessions; try again later".into(),
                });
            }
            s.insert(sid.clone(), session.clone());
        }
        tracing::info!(iss = %session.iss, "SMART launch completed");
        Ok((sid, session))
    }

    /// The live session of the request's cookie, if any.
    pub fn session(&self, headers: &HeaderMap) -> Option<SmartSession> {
        let sid = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, v)| *k == SMART_COOKIE && !v.is_empty())
            .map(|(_, v)| v.to_string())?;
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match s.get(&sid) {
            Some(x) if x.expires > Instant::now() => Some(x.clone()),
            Some(_) => {
                s.remove(&sid);
                None
            }
            None => None,
        }
    }

    fn cookie(&self, sid: &str, session: &SmartSession) -> String {
        let max_age = session
            .expires
            .saturating_duration_since(Instant::now())
            .as_secs();
        format!(
            "{SMART_COOKIE}={sid}; Path=/ui/patients; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
            if self.cfg.secure_cookie {
                "; Secure"
            } else {
                ""
            }
        )
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/smart/launch", get(launch))
        .route("/smart/redirect", get(redirect))
        .layer(axum::middleware::from_fn(crate::ui_routes::ui_headers))
}

type Q = Query<BTreeMap<String, String>>;

fn refusal(e: LaunchError) -> Response {
    tracing::info!(status = e.status, reason = %e.message, "SMART launch refused");
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let v = ui::ErrorView {
        status: e.status,
        title: "SMART launch refused".into(),
        message: e.message,
        request_id: None,
    };
    (status, Html(ui::render_error(&v).into_string())).into_response()
}

fn not_configured() -> Response {
    refusal(LaunchError {
        status: 404,
        message: "SMART launch is not configured on this server (smart_client_id, smart_issuers)"
            .into(),
    })
}

async fn launch(State(s): State<AppState>, Query(q): Q) -> Response {
    let Some(smart) = s.http.smart.clone() else {
        return not_configured();
    };
    match smart
        .begin(
            q.get("iss").map(String::as_str),
            q.get("launch").map(String::as_str),
        )
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => refusal(e),
    }
}

async fn redirect(State(s): State<AppState>, Query(q): Q) -> Response {
    let Some(smart) = s.http.smart.clone() else {
        return not_configured();
    };
    match smart.complete(&q).await {
        Ok((sid, session)) => {
            let mut r = Redirect::to(&ui::urls::patient(&session.patient)).into_response();
            if let Ok(v) = HeaderValue::from_str(&smart.cookie(&sid, &session)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => refusal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_matches_rfc7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn settings_are_checked_by_name() {
        let ok = SmartLaunchConfig::new(
            "bedside",
            "https://bedside.example/smart/redirect",
            "launch openid fhirUser patient/*.read",
            vec!["https://ehr.example/fhir".into()],
        );
        assert!(ok.validate().is_ok());
        assert!(ok.secure_cookie);
        let mut c = ok.clone();
        c.issuers.clear();
        assert!(c.validate().unwrap_err().starts_with("smart_issuers"));
        let mut c = ok.clone();
        c.redirect_uri = "bedside/smart".into();
        assert!(c.validate().unwrap_err().starts_with("smart_redirect_url"));
        let mut c = ok;
        c.client_id = " ".into();
        assert!(c.validate().unwrap_err().starts_with("smart_client_id"));
    }
}
