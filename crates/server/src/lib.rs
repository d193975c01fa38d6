//! HTTP for Bedside: FHIR ingest and read endpoints, CDS Hooks, worklist and
//! admin APIs, the web UI and Prometheus metrics.
//!
//! Every handler parses the request, calls one method of
//! [`bedside_app::App`], and maps the result (or its
//! [`bedside_app::ApiError`]) to a response. Bad input always becomes a 4xx
//! with a FHIR `OperationOutcome`; nothing here decides anything clinical.
//!
//! Invariant: no business logic lives here; handlers are parse, call, map.

pub mod auth;
mod cds_routes;
mod fhir_routes;
mod hardening;
mod metrics_routes;
pub mod openapi;
mod pulse_routes;
pub mod smart;
mod ui_routes;
mod worklist_routes;

pub use auth::{Access, AccessConfig, Principal, Role, Secret};
pub use hardening::validate_origins;
pub use metrics_routes::HttpMetrics;

use axum::{routing::get, Json, Router};
use bedside_app::App;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
pub use ui_routes::UI_CSP;

/// HTTP-level settings (the rest lives in the app).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body of every route but `$import` (413 above).
    pub max_body_bytes: usize,
    /// Time limit of every request but `$import` (408 after).
    pub request_timeout: Duration,
    /// Access control (`None`: off, as in `bedside demo`; every request
    /// passes and handlers see no [`Principal`]).
    pub access: Option<Arc<Access>>,
    /// CDS Hooks calls per second per client address; 0 turns the limit off.
    pub hook_rate_per_sec: u32,
    /// Calls a client may make at once above its rate.
    pub hook_rate_burst: u32,
    /// Origins allowed to call the CDS Hooks endpoints from a browser
    /// (CORS); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// SMART EHR launch (`/smart/launch`, `/smart/redirect`); `None`: off.
    pub smart: Option<Arc<smart::SmartLaunch>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 << 20,
            request_timeout: Duration::from_secs(30),
            access: None,
            hook_rate_per_sec: 100,
            hook_rate_burst: 200,
            cors_origins: Vec::new(),
            smart: None,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub http: HttpConfig,
    /// Request latency histograms (`GET /metrics`).
    pub metrics: Arc<HttpMetrics>,
}

/// The whole HTTP surface.
pub fn router(app: Arc<App>, http: HttpConfig) -> Router {
    let metrics = Arc::new(HttpMetrics::new());
    let auth_state = auth::AuthState {
        access: http.access.clone(),
        smart: http.smart.clone(),
    };
    let state = AppState {
        app,
        http,
        metrics: metrics.clone(),
    };
    // The body limit and the request timeout of the routes that do not set
    // their own (FHIR and CDS Hooks do, `$import` has neither: it streams).
    let limited = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_routes::metrics))
        .route("/openapi.json", get(openapi_json))
        .merge(worklist_routes::routes())
        .merge(ui_routes::routes())
        .merge(pulse_routes::routes())
        .merge(smart::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            state.http.max_body_bytes,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.http.request_timeout,
        ));
    Router::new()
        .merge(limited)
        .merge(fhir_routes::routes(&state))
        .merge(cds_routes::routes(&state))
        .fallback(no_route)
        // An error without a body (axum's 405 for a method a path does not
        // take, a timeout's 408) gets an OperationOutcome (after the route
        // layers, so a CORS preflight the hook routes answer is left alone).
        .layer(axum::middleware::map_response(hardening::error_bodies))
        .route_layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics_routes::track,
        ))
        // Outermost: every request, matched or not, is authenticated first.
        .layer(axum::middleware::from_fn_with_state(
            auth_state,
            auth::enforce,
        ))
        .with_state(state)
}

/// Who is asking, for the audit log: the [`bedside_app::audit::Actor`]
/// the authentication layer put into the request's extensions, else no
/// one (demo mode: recorded as anonymous).
pub(crate) fn actor(
    ext: Option<axum::Extension<bedside_app::audit::Actor>>,
) -> bedside_app::audit::Actor {
    ext.map(|axum::Extension(a)| a).unwrap_or_default()
}

/// A path no route serves: 404 with an OperationOutcome naming it.
async fn no_route(uri: axum::http::Uri) -> axum::response::Response {
    fhir_routes::api_error(bedside_app::ApiError::not_found(format!(
        "no route {}; see GET /openapi.json",
        uri.path()
    )))
}

async fn healthz(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> Json<serde_json::Value> {
    Json(s.app.health().await)
}

/// `GET /openapi.json` (built once from [`openapi::ROUTES`]).
async fn openapi_json() -> Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(openapi::document).clone())
}

/// Serve until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    http: HttpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let r = router(app, http);
    // The peer address keys the per-client rate limit.
    axum::serve(
        listener,
        r.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
