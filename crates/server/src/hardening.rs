//! Edge protections that are not about one endpoint: the per-client rate
//! limit of the CDS Hooks endpoints and their CORS allow-list.
//!
//! Rate limit: a token bucket per client address (`governor`'s keyed
//! limiter, GCRA), checked before the body is read or the JWT verified, so
//! a flooding client costs a map lookup per request. Keyed by the peer
//! address rather than the JWT `iss`: at this point the token is not yet
//! verified, and keying on a claim the client chooses would let it spread
//! its calls over made-up issuers. Behind a reverse proxy every client
//! shares the proxy's bucket; size the limit for that. A refused call is a
//! 429 with `Retry-After` (whole seconds) and an OperationOutcome.
//!
//! Media types of `/fhir` ([`fhir_media`]): an `Accept` header or
//! `_format` that admits no JSON is a 406, a request body that says it is
//! not JSON (`Content-Type`) a 415, each with an OperationOutcome.
//!
//! Error bodies ([`error_bodies`]): an error answered with no body by a
//! layer (axum's 405, the timeout's 408, a body limit's 413) gets an
//! OperationOutcome, so every 4xx/5xx carries one.
//!
//! CORS: off unless origins are named (no `Access-Control-Allow-Origin` on
//! any response). The CDS Hooks specification expects CDS services to
//! allow CORS for browser-based CDS clients; the allow-list turns it on
//! for exactly those origins, on the CDS Hooks routes only.

use crate::fhir_routes::api_error;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use bedside_app::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Calls between two sweeps of idle clients out of the limiter's map
/// (bounds its memory by the clients seen recently, not ever).
const SWEEP_EVERY: u32 = 4096;

/// The per-client limiter of the CDS Hooks routes.
pub struct HookRateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    calls: AtomicU32,
}

impl HookRateLimit {
    /// `per_sec` calls per second per client, bursts of `burst`; `None`
    /// when `per_sec` is 0 (no limit).
    pub fn new(per_sec: u32, burst: u32) -> Option<Arc<Self>> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Arc::new(Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            calls: AtomicU32::new(0),
        }))
    }

    /// `Ok` when `client` may call now, else the seconds to wait.
    fn check(&self, client: IpAddr) -> Result<(), u64> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Retry-After is whole seconds; never tell a client "0".
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// Middleware: refuse a client over its rate with 429 + Retry-After.
pub(crate) async fn rate_limit(
    State(limit): State<Arc<HookRateLimit>>,
    req: Request,
    next: Next,
) -> Response {
    // No peer address (a router driven without `serve`): one shared bucket.
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match limit.check(client) {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            let mut r = api_error(ApiError::new(
                429,
                "throttled",
                format!("too many CDS Hooks calls from this client; retry after {secs} s"),
                None,
            ));
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

/// Whether a media range admits FHIR JSON.
fn admits_json(range: &str) -> bool {
    let t = range
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        t.as_str(),
        "*/*" | "application/*" | "application/json" | "application/fhir+json" | "json"
            // R4 DSTU2-era type some clients still send.
            | "application/json+fhir"
    )
}

/// Middleware of every `/fhir` route: 406 when `Accept` (or `_format`)
/// admits no JSON, 415 when a request body's `Content-Type` is not JSON
/// (`$import` takes NDJSON; a body without `Content-Type` is read as JSON).
pub(crate) async fn fhir_media(req: Request, next: Next) -> Response {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let format =
        axum::extract::Query::<std::collections::BTreeMap<String, String>>::try_from_uri(req.uri())
            .ok()
            .and_then(|q| q.0.get("_format").cloned());
    let wanted = format.or(accept);
    if let Some(w) = wanted.filter(|w| !w.trim().is_empty()) {
        // `_format` may carry `application/fhir json` once `+` is decoded.
        let w = w.replace("fhir json", "fhir+json");
        if !w.split(',').any(admits_json) {
            return api_error(ApiError::new(
                406,
                "not-supported",
                format!("cannot answer in {w:?}: this server answers application/fhir+json (or application/json)"),
                None,
            ));
        }
    }
    let import = req.uri().path().ends_with("/$import");
    if let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let t = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let ok = if import {
            matches!(
                t.as_str(),
                "application/fhir+ndjson"
                    | "application/ndjson"
                    | "application/x-ndjson"
                    | "text/plain"
                    | "application/octet-stream"
                    | "application/gzip"
            ) || admits_json(&t)
        } else {
            admits_json(&t) && t != "*/*" && t != "application/*"
        };
        if !ok {
            return api_error(ApiError::new(
                415,
                "not-supported",
                format!(
                    "Content-Type {ct:?} is not supported here ({})",
                    if import {
                        "application/fhir+ndjson"
                    } else {
                        "application/fhir+json or application/json"
                    }
                ),
                None,
            ));
        }
    }
    next.run(req).await
}

/// An error response without a body (no `Content-Type`) as an
/// OperationOutcome of the same status; `Allow` and `Retry-After` kept.
pub(crate) async fn error_bodies(r: Response) -> Response {
    let status = r.status();
    if !(status.is_client_error() || status.is_server_error())
        || r.headers().contains_key(header::CONTENT_TYPE)
    {
        return r;
    }
    let (code, msg) = match status.as_u16() {
        405 => (
            "not-supported",
            "this method is not supported on this path; see GET /openapi.json".to_string(),
        ),
        408 => (
            "timeout",
            "the request took longer than the server's time limit".to_string(),
        ),
        413 => ("too-costly", "the request body is too large".to_string()),
        _ => (
            "processing",
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_string(),
        ),
    };
    let mut out = api_error(ApiError::new(status.as_u16(), code, msg, None));
    for h in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = r.headers().get(&h) {
            out.headers_mut().insert(h, v.clone());
        }
    }
    out
}

/// The CORS layer for the named origins; `None` (CORS off) when there are
/// none. Origins that are not valid header values are refused by
/// [`validate_origins`] before the server starts.
pub(crate) fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Check CORS origins: each `scheme://host[:port]`, no path, no `*`.
pub fn validate_origins(origins: &[String]) -> Result<(), String> {
    for o in origins {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && !o.ends_with('/')
            && o.split("://").nth(1).is_some_and(|h| {
                !h.is_empty() && !h.contains('/') && !h.contains('*') && !h.contains(' ')
            })
            && HeaderValue::from_str(o).is_ok();
        if !ok {
            return Err(format!(
                "`{o}` is not an origin (scheme://host[:port], no path, no wildcard)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_waits_and_others_do_not() {
        let l = HookRateLimit::new(1, 3).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(l.check(b).is_ok(), "buckets are per client");
    }

    #[test]
    fn zero_rate_is_no_limit() {
        assert!(HookRateLimit::new(0, 10).is_none());
    }

    #[test]
    fn origins_are_checked() {
        assert!(validate_origins(&["https://ehr.example.org".into()]).is_ok());
        assert!(validate_origins(&["https://ehr.example.org:8443".into()]).is_ok());
        for bad in [
            "*",
            "https://*.example.org",
            "ehr.example.org",
            "https://e.org/app",
        ] {
            assert!(validate_origins(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
