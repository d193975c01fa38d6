//! Worklist API: `GET /worklist?owner=&role=&status=&_count=&_offset=`
//! lists pathway Tasks, newest first (a JSON array of FHIR Tasks labelled
//! `application/json`, since the array is not a FHIR resource; one page
//! of `_count`, default 100, with a `Link: <..>; rel="next"` header when
//! more follow); `POST /worklist/{task_id}/{action}` with a
//! JSON body `{"to": "..", "decision": "..", "reason": "..", "comment":
//! "..", "output": {..}}` claims, acknowledges, completes (with the
//! decision the pathway step offers) or reassigns one, as the signed-in
//! person (`bedside_app::worklist::acting_as`: an `actor` in the body that
//! names someone else is refused; in demo mode, with no sign-in, it names
//! the demo user); `POST
//! /worklist/{task_id}/snooze` with `{"actor", "reason", "hours"}` overrides
//! the alert behind it (snooze + end the pathway, `bedside_app::overrides`).

use crate::fhir_routes::{api_error, body_or_error, fhir};
use crate::{actor, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use bedside_app::audit::Actor;
use bedside_app::worklist::{acting_as, DecisionInput, TaskAction, WorklistQuery};
use bedside_app::ApiError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/worklist", get(list))
        .route("/worklist/{task_id}/{action}", post(act))
}

async fn list(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let q = match WorklistQuery::from_params(&q) {
        Ok(q) => q,
        Err(e) => return api_error(e),
    };
    match s.app.worklist_as(&actor(who), "api", &q).await {
        Ok(page) => {
            // A JSON array of FHIR Tasks, not a FHIR resource: plain JSON.
            let mut r = (StatusCode::OK, page.to_json()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            // The next page, as RFC 8288 web linking.
            if page.more {
                let next = q.query_string(page.offset + page.tasks.len() as u32);
                if let Ok(v) = HeaderValue::from_str(&format!("</worklist?{next}>; rel=\"next\"")) {
                    r.headers_mut().insert(header::LINK, v);
                }
            }
            r
        }
        Err(e) => api_error(e),
    }
}

async fn act(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    Path((task_id, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let bytes = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if action == "snooze" {
        return snooze(s, &crate::actor(who), &task_id, &bytes).await;
    }
    let action: TaskAction = match action.parse() {
        Ok(a) => a,
        Err(e) => return api_error(e),
    };
    let req: Value = if bytes.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return api_error(ApiError::bad_request(
                    format!("body is not JSON: {e}"),
                    None,
                ))
            }
        }
    };
    let output: Map<String, Value> = req["output"].as_object().cloned().unwrap_or_default();
    let text = |k: &str| req[k].as_str().map(str::to_string);
    let decision = DecisionInput {
        decision: text("decision"),
        reason: text("reason"),
        comment: text("comment"),
    };
    match s
        .app
        .task_action_decided(
            &actor(who),
            &task_id,
            action,
            req["actor"].as_str(),
            req["to"].as_str(),
            output,
            &decision,
            chrono::Utc::now(),
        )
        .await
    {
        Ok(t) => fhir(StatusCode::OK, &t),
        Err(e) => api_error(e),
    }
}

/// `POST /worklist/{task_id}/snooze` with `{"actor", "reason": {"system",
/// "code"} | "code", "hours"}`: override the alert behind the Task.
async fn snooze(
    s: AppState,
    who: &bedside_app::audit::Actor,
    task_id: &str,
    bytes: &[u8],
) -> Response {
    let req: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return api_error(ApiError::bad_request(
                format!("body is not JSON: {e}"),
                None,
            ))
        }
    };
    let hours = match &req["hours"] {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        _ => {
            return api_error(ApiError::bad_request(
                "`hours` must be a number",
                Some("hours"),
            ))
        }
    };
    let acting = match acting_as(who, req["actor"].as_str()) {
        Ok(a) => a,
        Err(e) => return api_error(e),
    };
    match s
        .app
        .snooze_from_worklist(
            who,
            task_id,
            acting.as_deref(),
            &req["reason"],
            hours,
            chrono::Utc::now(),
        )
        .await
    {
        Ok(t) => fhir(StatusCode::OK, &t),
        Err(e) => api_error(e),
    }
}
