//! CDS Hooks 2.0: discovery, service calls and feedback. A per-client rate
//! limit guards all three; CORS is off by default (EHRs call server to
//! server) and on for the origins of `HttpConfig::cors_origins` (see
//! `hardening`).

use crate::fhir_routes::{api_error, body_or_error};
use crate::hardening::{cors, rate_limit, HookRateLimit};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bedside_app::ApiError;

pub(crate) fn routes(s: &AppState) -> Router<AppState> {
    let mut r = Router::new()
        .route("/cds-services", get(discovery))
        .route("/cds-services/{id}", post(call))
        .route("/cds-services/{id}/feedback", post(feedback))
        .layer(DefaultBodyLimit::max(s.http.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            s.http.request_timeout,
        ));
    if let Some(limit) = HookRateLimit::new(s.http.hook_rate_per_sec, s.http.hook_rate_burst) {
        r = r.layer(axum::middleware::from_fn_with_state(limit, rate_limit));
    }
    // Outermost: preflights are answered before the rate limit, and a 429
    // carries the CORS headers a browser needs to read it.
    if let Some(c) = cors(&s.http.cors_origins) {
        r = r.layer(c);
    }
    r
}

async fn discovery(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(s.app.cds_discovery())
}

fn authorization(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// Errors keep the OperationOutcome; a 401 also says how to authenticate.
fn error(e: ApiError) -> Response {
    let unauthorized = e.status == 401;
    let mut r = api_error(e);
    if unauthorized {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

async fn call(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s
        .app
        .cds_call(&id, authorization(&headers), &body, chrono::Utc::now())
        .await
    {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => error(e),
    }
}

async fn feedback(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s
        .app
        .cds_feedback(&id, authorization(&headers), &body, chrono::Utc::now())
        .await
    {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => error(e),
    }
}
