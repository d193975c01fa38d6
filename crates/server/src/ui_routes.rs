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
        .route("/ui/act-as", post(act_as))
        .route("/ui/pulse", get(pulse_page).post(pulse_answer))
        .route(
            "/ui/training/{use_case}",
            get(training_page).post(training_attest),
        )
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

/// The cookie holding the demo user picked (demo mode only).
const ACT_AS_COOKIE: &str = "bedside_act_as";

/// The demo users one may act as in demo mode (no sign-in): Practitioner
/// reference, what the picker shows, the role.
pub const DEMO_USERS: [(&str, &str, &str); 4] = [
    ("Practitioner/demo-nurse", "Nurse (demo)", "nurse"),
    (
        "Practitioner/demo-physician",
        "Physician (demo)",
        "physician",
    ),
    (
        "Practitioner/demo-rrt-lead",
        "Rapid-response lead (demo)",
        "rrt",
    ),
    (
        "Practitioner/demo-radiologist",
        "Radiologist (demo)",
        "radiologist",
    ),
];

/// Who a UI request acts as: the authenticated actor; in demo mode (no
/// access control) the demo user the `act as` cookie names, if any.
fn ui_actor(s: &AppState, who: Option<Extension<Actor>>, h: &HeaderMap) -> Actor {
    let a = actor(who);
    if s.http.access.is_some() || a.principal.is_some() {
        return a;
    }
    let picked = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == ACT_AS_COOKIE)
        .map(|(_, v)| v.replace("%2F", "/"));
    match DEMO_USERS
        .iter()
        .find(|(p, _, _)| Some(*p) == picked.as_deref())
    {
        Some((p, _, role)) => Actor::new(None, Some(role)).with_practitioner(Some(p)),
        None => a,
    }
}

/// The demo picker and who acts, on the worklist view.
fn with_acting(s: &AppState, who: &Actor, mut v: ui::WorklistView) -> ui::WorklistView {
    if s.http.access.is_none() {
        v.act_as = DEMO_USERS
            .iter()
            .map(|(p, label, _)| ui::Choice {
                value: p.to_string(),
                label: label.to_string(),
            })
            .collect();
    }
    v.acting = who
        .practitioner
        .clone()
        .or_else(|| who.principal.clone())
        .or_else(|| Some(bedside_app::ui_actions::UI_ACTOR.to_string()));
    v
}

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
        Ok(mut v) => {
            if let Some(m) = v.selected.clone() {
                match s.app.training_coverage(&m).await {
                    Ok(Some(c)) => {
                        v.training = c
                            .by_role_unit
                            .iter()
                            .map(|((role, unit), n)| ui::charts::Bar {
                                label: format!("{role}, {unit}"),
                                value: *n as f64,
                            })
                            .collect();
                        v.untrained_card_users = Some(c.untrained_card_users);
                    }
                    Ok(None) => {}
                    Err(e) => return error_page(e, &h),
                }
            }
            page(&w, || ui::render_dashboard(&v))
        }
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
    let v = s.app.views().ui_worklist(&tasks, now(), flash).await?;
    Ok(with_acting(s, who, v))
}

async fn worklist(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
) -> Response {
    match worklist_view(&s, &ui_actor(&s, who, &h), None).await {
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
    /// Snooze: the override reason's code; complete: the decision's
    /// coded reason.
    reason: Option<String>,
    /// Complete: the decision the pathway step offers.
    decision: Option<String>,
    comment: Option<String>,
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
    let nonempty = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
    let decision = bedside_app::worklist::DecisionInput {
        decision: nonempty(form.as_ref().and_then(|f| f.decision.clone())),
        reason: nonempty(
            form.as_ref()
                .filter(|_| action == "complete")
                .and_then(|f| f.reason.clone()),
        ),
        comment: nonempty(form.as_ref().and_then(|f| f.comment.clone())),
    };
    // Snooze submits `reason`, reassign `to`: one value either way.
    let to = form
        .and_then(|f| if action == "snooze" { f.reason } else { f.to })
        .filter(|t| !t.is_empty());
    let who = ui_actor(&s, who, &h);
    let flash = match s
        .app
        .ui_task_action(&who, &task_id, &action, to.as_deref(), &decision, now())
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

#[derive(Deserialize)]
struct ActAsForm {
    practitioner: String,
}

/// `POST /ui/act-as` (demo mode only): act as one of [`DEMO_USERS`].
async fn act_as(
    State(s): State<AppState>,
    h: HeaderMap,
    form: Result<Form<ActAsForm>, FormRejection>,
) -> Response {
    if s.http.access.is_some() {
        return error_page(
            ApiError::new(
                409,
                "business-rule",
                "with sign-in on, the worklist acts as the signed-in person",
                None,
            ),
            &h,
        );
    }
    let Some(p) = form
        .ok()
        .map(|f| f.0.practitioner)
        .filter(|p| DEMO_USERS.iter().any(|(d, _, _)| d == p))
    else {
        let known: Vec<&str> = DEMO_USERS.iter().map(|(d, _, _)| *d).collect();
        return error_page(
            ApiError::bad_request(
                format!("act as one of {}", known.join(", ")),
                Some("practitioner"),
            ),
            &h,
        );
    };
    let mut r = Redirect::to(&ui::urls::worklist()).into_response();
    let cookie = format!(
        "{ACT_AS_COOKIE}={}; Path=/ui; SameSite=Strict; HttpOnly",
        p.replace('/', "%2F")
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Who answers the pulse: the signed-in person (their Practitioner, else
/// their subject); in demo mode the clinician the link names, else the
/// demo user picked.
fn pulse_clinician(who: &Actor, asked: Option<&str>) -> Option<String> {
    match &who.principal {
        Some(p) => Some(who.practitioner.clone().unwrap_or_else(|| p.clone())),
        None => asked
            .map(str::to_string)
            .or_else(|| who.practitioner.clone()),
    }
}

async fn pulse_view(
    s: &AppState,
    who: &Actor,
    model: &str,
    clinician: &str,
    thanks: Option<String>,
) -> Result<ui::PulseView, ApiError> {
    let status = s.app.pulse_status(model, clinician).await?;
    let m = s.app.views().served_model(model)?;
    Ok(ui::PulseView {
        model: model.to_string(),
        model_label: format!("{} ({})", m.id(), m.version()),
        question: bedside_app::pulse::PULSE_QUESTION.to_string(),
        clinician: clinician.to_string(),
        send_clinician: who.principal.is_none(),
        unavailable: match (&thanks, status) {
            (Some(_), _) | (None, bedside_app::pulse::PulseStatus::Open) => None,
            (None, bedside_app::pulse::PulseStatus::NotOffered) => Some(
                "This question was not offered to you for this model; it comes as a link on a card or the worklist."
                    .into(),
            ),
            (None, bedside_app::pulse::PulseStatus::Answered) => Some(
                "You have answered since it was offered: thank you. It is asked again after the period."
                    .into(),
            ),
        },
        thanks,
    })
}

/// `GET /ui/pulse?model=&clinician=`: the one-question page.
async fn pulse_page(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Query(q): Q,
) -> Response {
    let who = ui_actor(&s, who, &h);
    let Some(model) = q.get("model") else {
        return error_page(
            ApiError::bad_request("the pulse page needs `model`", Some("model")),
            &h,
        );
    };
    let Some(clinician) = pulse_clinician(&who, q.get("clinician").map(String::as_str)) else {
        return error_page(
            ApiError::bad_request("the pulse page needs `clinician`", Some("clinician")),
            &h,
        );
    };
    match pulse_view(&s, &who, model, &clinician, None).await {
        Ok(v) => page(&w, || ui::render_pulse(&v)),
        Err(e) => error_page(e, &h),
    }
}

#[derive(Deserialize)]
struct PulseForm {
    model: String,
    clinician: Option<String>,
    score: u8,
    comment: Option<String>,
}

/// `POST /ui/pulse`: record the answer, show thanks.
async fn pulse_answer(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    form: Result<Form<PulseForm>, FormRejection>,
) -> Response {
    let who = ui_actor(&s, who, &h);
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            return error_page(
                ApiError::bad_request(format!("pulse answer: {e}"), Some("score")),
                &h,
            )
        }
    };
    let Some(clinician) = pulse_clinician(&who, f.clinician.as_deref()) else {
        return error_page(
            ApiError::bad_request("the pulse answer needs `clinician`", Some("clinician")),
            &h,
        );
    };
    if let Err(e) = s
        .app
        .record_pulse_answer_as(
            &who,
            &f.model,
            &clinician,
            f.score,
            f.comment.as_deref(),
            now(),
        )
        .await
    {
        return error_page(e, &h);
    }
    let thanks = format!("Thank you: your answer ({} of 5) is recorded.", f.score);
    match pulse_view(&s, &who, &f.model, &clinician, Some(thanks)).await {
        Ok(v) => page(&w, || ui::render_pulse(&v)),
        Err(e) => error_page(e, &h),
    }
}

/// Who attests a training: the signed-in person (their Practitioner, else
/// their subject); in demo mode the demo user picked, else the UI actor.
fn trainee(who: &Actor) -> String {
    who.practitioner
        .clone()
        .or_else(|| who.principal.clone())
        .unwrap_or_else(|| bedside_app::ui_actions::UI_ACTOR.to_string())
}

async fn training_view(
    s: &AppState,
    who: &Actor,
    use_case: &str,
) -> Result<ui::TrainingView, ApiError> {
    let m = s.app.training_module(use_case)?;
    let clinician = trainee(who);
    let attested = s
        .app
        .training_attestation(use_case, &clinician)
        .await?
        .map(|a| {
            format!(
                "Attested by {} on {} as {}, {}{}.",
                a.clinician,
                a.at.format("%Y-%m-%d %H:%M UTC"),
                a.role,
                a.unit,
                a.model_version
                    .map(|v| format!(", model version {v}"))
                    .unwrap_or_default()
            )
        });
    let mut roles: Vec<String> = DEMO_USERS.iter().map(|(_, _, r)| r.to_string()).collect();
    if let Some(r) = &who.role {
        if !roles.contains(r) {
            roles.insert(0, r.clone());
        }
    }
    Ok(ui::TrainingView {
        use_case: m.use_case,
        name: m.name,
        model: m
            .model_id
            .map(|id| format!("{id} {}", m.model_version.unwrap_or_default())),
        required: m.required,
        sections: m
            .sections
            .into_iter()
            .map(|x| ui::TrainingSectionView {
                title: x.title,
                markdown: x.markdown,
            })
            .collect(),
        clinician,
        attested,
        roles,
    })
}

/// `GET /ui/training/{use_case}`: the module and the attestation form.
async fn training_page(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Path(use_case): Path<String>,
) -> Response {
    let who = ui_actor(&s, who, &h);
    match training_view(&s, &who, &use_case).await {
        Ok(v) => page(&w, || ui::render_training(&v)),
        Err(e) => error_page(e, &h),
    }
}

#[derive(Deserialize)]
struct AttestForm {
    role: String,
    unit: String,
}

/// `POST /ui/training/{use_case}`: record the attestation (audited).
async fn training_attest(
    State(s): State<AppState>,
    w: Who,
    who: Option<Extension<Actor>>,
    h: HeaderMap,
    Path(use_case): Path<String>,
    form: Result<Form<AttestForm>, FormRejection>,
) -> Response {
    let who = ui_actor(&s, who, &h);
    let Ok(Form(f)) = form else {
        return error_page(
            ApiError::bad_request("the attestation needs `role` and `unit`", Some("unit")),
            &h,
        );
    };
    if let Err(e) = s
        .app
        .attest_training(&who, &use_case, &trainee(&who), &f.role, &f.unit, now())
        .await
    {
        return error_page(e, &h);
    }
    match training_view(&s, &who, &use_case).await {
        Ok(v) => page(&w, || ui::render_training(&v)),
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
