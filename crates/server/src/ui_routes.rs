//! The web UI under `/ui`: server-rendered pages (crate `bedside-ui`) with
//! view models from the read side (`bedside_views::Views::ui_*`, through
//! `App::views`), actions and audited reads from `bedside_app::App`, the
//! embedded assets, and the sandbox's token endpoint. Every UI response
//! carries security headers (CSP `default-src 'self'`, ...) and a
//! `Server-Timing` header with the time spent in the server
//! (`app;dur=<ms>`).
//!
//! Demo mode has no login: actions are taken as `App`'s UI actor. With
//! access control on, `/ui/login` takes a pasted token into an HttpOnly,
//! SameSite=Strict session cookie, pages show only the sections the
//! viewer's roles may open, and actions the role lacks are not shown.

use crate::auth::{Group, Principal, Refusal};
use crate::{actor, AppState};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
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
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
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
        .route("/ui/patients/{id}", get(patient))
        .route("/ui/assets/{*path}", get(asset))
        .route("/ui/{*rest}", get(not_found))
        .layer(middleware::from_fn(ui_headers))
}

/// Security headers and `Server-Timing` on every UI response.
pub(crate) async fn ui_headers(req: Request, next: Next) -> Response {
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

/// The signed-in principal, if access control is on.
type Who = Option<Extension<Principal>>;

fn viewer(who: &Who) -> Option<ui::Viewer> {
    let p = &who.as_ref()?.0;
    let nav = ui::NavItem::ALL
        .into_iter()
        .filter(|n| {
            let g = match n {
                ui::NavItem::Dashboard => Group::UiDashboard,
                ui::NavItem::Worklist => Group::UiWorklist,
                ui::NavItem::Sandbox => Group::UiSandbox,
                ui::NavItem::Pathways => Group::UiPathways,
                ui::NavItem::Models => Group::UiModels,
            };
            g.roles().is_none_or(|r| p.has_any(r))
        })
        .collect();
    Some(ui::Viewer {
        subject: p.subject.clone(),
        roles: p.roles.iter().map(|r| r.to_string()).collect(),
        nav,
    })
}

/// May the viewer do what `group` guards? (Always, with access control off.)
fn may(who: &Who, group: Group) -> bool {
    match (who, group.roles()) {
        (_, None) | (None, _) => true,
        (Some(Extension(p)), Some(r)) => p.has_any(r),
    }
}

/// Render a page for the viewer (header: who is signed in, the sections
/// they may open).
fn page(who: &Who, render: impl FnOnce() -> ui::Markup) -> Response {
    let m = ui::with_viewer(viewer(who).as_ref(), render);
    Html(m.into_string()).into_response()
}

/// An error as an HTML page (or plain text for htmx, which shows it).
fn error_page(e: impl Into<ApiError>, headers: &HeaderMap) -> Response {
    let e: ApiError = e.into();
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

async fn dashboard(State(s): State<AppState>, w: Who, h: HeaderMap, Query(q): Q) -> Response {
    match s
        .app
        .views()
        .ui_dashboard(q.get("model").map(String::as_str), now())
        .await
    {
        Ok(v) => page(&w, || ui::render_dashboard(&v)),
        Err(e) => error_page(e, &h),
    }
}

/// Hide the task actions the viewer's roles do not allow.
fn allowed_actions(w: &Who, mut v: ui::WorklistView) -> ui::WorklistView {
    if !may(w, Group::UiWorklistAction) {
        for t in &mut v.tasks {
            t.actions.clear();
        }
    }
    v
}

/// The worklist page: the Tasks as the app reads them for `who` (the read
/// recorded), in the read side's view model.
async fn worklist_view(
    s: &AppState,
    who: &Actor,
    flash: Option<String>,
) -> Result<ui::WorklistView, ApiError> {
    let tasks = s.app.ui_worklist_tasks(who).await?;
    Ok(s.app.views().ui_worklist(&tasks, now(), flash).await?)
}

async fn worklist(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
) -> Response {
    match worklist_view(&s, &actor(who), None).await {
        Ok(v) => {
            let v = allowed_actions(&w, v);
            page(&w, || ui::render_worklist(&v))
        }
        Err(e) => error_page(e, &h),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    to: Option<String>,
    /// Snooze: the override reason's code.
    reason: Option<String>,
}

async fn task_action(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Path((task_id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let form = form.ok().map(|f| f.0);
    // Snooze submits `reason`, reassign `to`: one value either way.
    let to = form
        .and_then(|f| if action == "snooze" { f.reason } else { f.to })
        .filter(|t| !t.is_empty());
    let who = actor(who);
    let flash = match s
        .app
        .ui_task_action(&who, &task_id, &action, to.as_deref(), now())
        .await
    {
        Ok(f) => f,
        Err(e) => return error_page(e, &h),
    };
    match worklist_view(&s, &who, Some(flash)).await {
        Ok(v) if is_htmx(&h) => page(&w, || ui::worklist_fragment(&v)),
        Ok(v) => page(&w, || ui::render_worklist(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn sandbox(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Query(q): Q,
) -> Response {
    let query = q.get("q").map(String::as_str).unwrap_or("");
    let patient = q
        .get("patient")
        .map(String::as_str)
        .filter(|p| !p.is_empty());
    match sandbox_view(&s, &actor(who), patient, query).await {
        Ok(v) => page(&w, || ui::render_sandbox(&v)),
        Err(e) => error_page(e, &h),
    }
}

/// The sandbox page; a selected patient's timeline is recorded as read by
/// `who` before it is shown.
async fn sandbox_view(
    s: &AppState,
    who: &Actor,
    patient: Option<&str>,
    query: &str,
) -> Result<ui::SandboxView, ApiError> {
    let views = s.app.views();
    let selected = match patient {
        Some(p) => {
            let r = views.ui_timeline(p).await.map_err(ApiError::from);
            Some(s.app.record_patient_view(who, p, r).await?)
        }
        None => None,
    };
    Ok(views
        .ui_sandbox(
            query,
            selected,
            &s.app.cds_discovery(),
            s.app.can_start_demo_pathway(),
        )
        .await?)
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

async fn pathways(State(s): State<AppState>, w: Who, h: HeaderMap) -> Response {
    match s.app.views().ui_pathways(None, now()).await {
        Ok(v) => page(&w, || ui::render_pathways(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn pathway(
    State(s): State<AppState>,
    w: Who,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match s.app.views().ui_pathways(Some(&id), now()).await {
        Ok(v) => page(&w, || ui::render_pathways(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn pathway_diagram(
    State(s): State<AppState>,
    w: Who,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match s.app.views().ui_pathway_diagram(&id, now()).await {
        Ok(d) => page(&w, || ui::pathway_diagram_fragment(&d)),
        Err(e) => error_page(e, &h),
    }
}

/// One patient's page (a read of patient data, recorded for `who`); with
/// a SMART launch session, the user the EHR named is shown.
async fn patient(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    smart: Option<Extension<crate::smart::SmartSession>>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let launched_by =
        smart.map(|Extension(x)| x.fhir_user.unwrap_or_else(|| "a SMART launch".to_string()));
    let r = s
        .app
        .views()
        .ui_patient(&id, launched_by)
        .await
        .map_err(ApiError::from);
    match s.app.record_patient_view(&actor(who), &id, r).await {
        Ok(v) => page(&w, || ui::render_patient(&v)),
        Err(e) => error_page(e, &h),
    }
}

async fn models(State(s): State<AppState>, w: Who) -> Response {
    let v = s.app.views().ui_models();
    page(&w, || ui::render_models(&v))
}

async fn model_facts(
    State(s): State<AppState>,
    w: Who,
    h: HeaderMap,
    Path((id, version)): Path<(String, String)>,
) -> Response {
    match s.app.views().ui_model_facts(&id, &version) {
        Ok(v) => page(&w, || ui::render_model_facts(&v)),
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

/// A refused UI request: 401 shows the sign-in page (returning to the page
/// asked for), 403 an error page naming the roles needed.
pub(crate) fn ui_refusal(r: &Refusal, uri: &Uri, method: &Method) -> Response {
    match r {
        Refusal::Unauthenticated(why) => {
            let next = if method == Method::GET {
                uri.path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| ui::urls::ROOT.into())
            } else {
                ui::urls::ROOT.into()
            };
            let v = ui::LoginView {
                next,
                error: Some(format!("Please sign in ({why}).")),
            };
            let mut resp = (
                StatusCode::UNAUTHORIZED,
                Html(ui::render_login(&v).into_string()),
            )
                .into_response();
            if let Ok(h) = HeaderValue::from_str(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                why.replace(['"', '\\'], "'")
            )) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, h);
            }
            resp
        }
        Refusal::Forbidden(why) => {
            let v = ui::ErrorView {
                status: 403,
                title: "Not allowed".into(),
                message: format!("Forbidden: {why}."),
                request_id: None,
            };
            (
                StatusCode::FORBIDDEN,
                Html(ui::render_error(&v).into_string()),
            )
                .into_response()
        }
    }
}

/// A `/ui` path to return to after signing in (never another origin).
fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| n.starts_with("/ui") && !n.starts_with("//") && !n.contains('\\'))
        .map(str::to_string)
}

async fn login_page(State(s): State<AppState>, Query(q): Q) -> Response {
    if s.http.access.is_none() {
        // Access control off (the demo): there is nothing to sign in to.
        return Redirect::to(ui::urls::ROOT).into_response();
    }
    let v = ui::LoginView {
        next: safe_next(q.get("next").map(String::as_str)).unwrap_or_else(|| ui::urls::ROOT.into()),
        error: None,
    };
    Html(ui::render_login(&v).into_string()).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// Longest UI session, whatever the token's own lifetime.
const MAX_SESSION_SECS: i64 = 12 * 3600;

async fn login(
    State(s): State<AppState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Some(access) = s.http.access.clone() else {
        return Redirect::to(ui::urls::ROOT).into_response();
    };
    let Ok(Form(f)) = form else {
        let v = ui::LoginView {
            next: ui::urls::ROOT.into(),
            error: Some("The form field `token` is missing.".into()),
        };
        return (
            StatusCode::BAD_REQUEST,
            Html(ui::render_login(&v).into_string()),
        )
            .into_response();
    };
    let token = f.token.trim().to_string();
    let next = safe_next(f.next.as_deref());
    let p = match access.authenticate(&token, now()).await {
        Ok(p) => p,
        Err(why) => {
            tracing::info!(reason = %why, "UI sign-in refused");
            let v = ui::LoginView {
                next: next.unwrap_or_else(|| ui::urls::ROOT.into()),
                error: Some(format!("Sign-in refused: {why}.")),
            };
            return (
                StatusCode::UNAUTHORIZED,
                Html(ui::render_login(&v).into_string()),
            )
                .into_response();
        }
    };
    let max_age = match crate::auth::token_exp(&token) {
        Some(exp) => (exp - now().timestamp()).min(MAX_SESSION_SECS),
        None => MAX_SESSION_SECS,
    };
    // Land where asked, else on the first section the roles open.
    let w: Who = Some(Extension(p));
    let first = viewer(&w)
        .and_then(|v| v.nav.first().map(|n| n.href()))
        .unwrap_or_else(ui::urls::models);
    let target = match next {
        Some(n) if n != ui::urls::ROOT || may(&w, Group::UiDashboard) => n,
        _ => first,
    };
    let mut resp = Redirect::to(&target).into_response();
    if let Ok(v) = HeaderValue::from_str(&access.session_cookie(&token, max_age)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(State(s): State<AppState>) -> Response {
    let Some(access) = s.http.access.clone() else {
        return Redirect::to(ui::urls::ROOT).into_response();
    };
    let mut resp = Redirect::to(&ui::urls::login(None)).into_response();
    if let Ok(v) = HeaderValue::from_str(&access.clear_cookie()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
