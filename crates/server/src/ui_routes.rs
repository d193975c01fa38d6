//! The web UI under `/ui`: server-rendered pages (crate `bedside-ui`) with
//! view models from `bedside_app::App::ui_*`, the embedded assets, and the
//! sandbox's token endpoint. Every UI response carries security headers
//! (CSP `default-src 'self'`, ...) and a `Server-Timing` header with the
//! time spent in the server (`app;dur=<ms>`).
//!
//! Demo mode has no login: actions are taken as `App`'s UI actor.

use crate::{actor, AppState};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Form, Json, Router};
use bedside_app::audit::Actor;
use bedside_app::ApiError;
use bedside_ui as ui;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `Content-Security-Policy` of every UI response: nothing from other
/// origins, no inline scripts or styles, no framing.
pub const UI_CSP: &str = "default-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(dashboard))
        .route("/ui/", get(dashboard))
        .route("/ui/worklist", get(worklist))
        .route("/ui/worklist/{task_id}/{action}", post(task_action))
        .route("/ui/sandbox", get(sandbox))
        .route("/ui/sandbox/token", get(token))
        .route("/ui/sandbox/start-pathway", post(start_pathway))
        .route("/ui/pathways", get(pathways))
        .route("/ui/pathways/{id}", get(pathway))
        .route("/ui/pathways/{id}/diagram", get(pathway_diagram))
        .route("/ui/models", get(models))
        .route("/ui/models/{id}/{version}", get(model_facts))
        .route("/ui/assets/{*path}", get(asset))
        .route("/ui/{*rest}", get(not_found))
        .layer(middleware::from_fn(ui_headers))
}

/// Security headers and `Server-Timing` on every UI response.
async fn ui_headers(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut r = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.1}")) {
        h.insert("server-timing", v);
    }
    r
}

fn page(m: ui::Markup) -> Response {
    Html(m.into_string()).into_response()
}

/// An error as an HTML page (or plain text for htmx, which shows it).
fn error_page(e: ApiError, headers: &HeaderMap) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if is_htmx(headers) {
        return (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            e.message(),
        )
            .into_response();
    }
    let title = match e.status {
        404 => "Not found",
        409 => "Not possible now",
        400..=499 => "Bad request",
        _ => "Something went wrong",
    };
    let v = ui::ErrorView {
        status: e.status,
        title: title.into(),
        message: e.message(),
        request_id: None,
    };
    (status, Html(ui::render_error(&v).into_string())).into_response()
}

fn is_htmx(h: &HeaderMap) -> bool {
    h.get("hx-request").is_some_and(|v| v == "true")
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

type Q = Query<BTreeMap<String, String>>;

async fn dashboard(State(s): State<AppState>, h: HeaderMap, Query(q): Q) -> Response {
    match s
        .app
        .ui_dashboard(q.get("model").map(String::as_str), now())
        .await
    {
        Ok(v) => page(ui::render_dashboard(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn worklist(State(s): State<AppState>, h: HeaderMap) -> Response {
    match s.app.ui_worklist(now(), None).await {
        Ok(v) => page(ui::render_worklist(&v)),
        Err(e) => error_page(e, &h),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    to: Option<String>,
}

async fn task_action(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Path((task_id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let to = form.ok().and_then(|f| f.0.to).filter(|t| !t.is_empty());
    let flash = match s
        .app
        .ui_task_action(&actor(who), &task_id, &action, to.as_deref(), now())
        .await
    {
        Ok(f) => f,
        Err(e) => return error_page(e, &h),
    };
    match s.app.ui_worklist(now(), Some(flash)).await {
        Ok(v) if is_htmx(&h) => page(ui::worklist_fragment(&v)),
        Ok(v) => page(ui::render_worklist(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn sandbox(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Query(q): Q,
) -> Response {
    let query = q.get("q").map(String::as_str).unwrap_or("");
    let patient = q
        .get("patient")
        .map(String::as_str)
        .filter(|p| !p.is_empty());
    match s.app.ui_sandbox(&actor(who), patient, query).await {
        Ok(v) => page(ui::render_sandbox(&v)),
        Err(e) => error_page(e, &h),
    }
}

/// `GET /ui/sandbox/token?aud=<service URL>`: `{"token": "<JWT>"}` signed
/// with the demo EHR key (409 when none is configured).
async fn token(State(s): State<AppState>, Query(q): Q) -> Response {
    let Some(aud) = q.get("aud") else {
        return crate::fhir_routes::api_error(ApiError::bad_request(
            "missing query parameter `aud` (the CDS service URL)",
            Some("aud"),
        ));
    };
    match s.app.ui_sandbox_token(aud) {
        Ok(t) => Json(serde_json::json!({ "token": t })).into_response(),
        Err(e) => crate::fhir_routes::api_error(e),
    }
}

#[derive(Deserialize)]
struct PatientForm {
    patient: String,
}

async fn start_pathway(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    form: Result<Form<PatientForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return error_page(
            ApiError::bad_request("form field `patient` is missing", Some("patient")),
            &h,
        );
    };
    match s.app.ui_start_pathway(&actor(who), &f.patient, now()).await {
        Ok(_) => Redirect::to(&ui::urls::worklist()).into_response(),
        Err(e) => error_page(e, &h),
    }
}

async fn pathways(State(s): State<AppState>, h: HeaderMap) -> Response {
    match s.app.ui_pathways(None, now()).await {
        Ok(v) => page(ui::render_pathways(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn pathway(State(s): State<AppState>, h: HeaderMap, Path(id): Path<String>) -> Response {
    match s.app.ui_pathways(Some(&id), now()).await {
        Ok(v) => page(ui::render_pathways(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn pathway_diagram(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match s.app.ui_pathway_diagram(&id, now()).await {
        Ok(d) => page(ui::pathway_diagram_fragment(&d)),
        Err(e) => error_page(e, &h),
    }
}

async fn models(State(s): State<AppState>) -> Response {
    page(ui::render_models(&s.app.ui_models()))
}

async fn model_facts(
    State(s): State<AppState>,
    h: HeaderMap,
    Path((id, version)): Path<(String, String)>,
) -> Response {
    match s.app.ui_model_facts(&id, &version) {
        Ok(v) => page(ui::render_model_facts(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    match ui::assets(&path) {
        Some((bytes, ct)) => (
            [
                (header::CONTENT_TYPE, ct),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(ui::render_not_found(&format!("/ui/assets/{path}")).into_string()),
        )
            .into_response(),
    }
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path().to_string();
    (
        StatusCode::NOT_FOUND,
        Html(ui::render_not_found(&path).into_string()),
    )
        .into_response()
}
