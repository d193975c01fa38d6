//! Trust pulse API: `GET /pulse?model=&clinician=` (the link a card
//! carries) redirects to the one-question page `/ui/pulse`;
//! `GET /pulse/offer?model=&clinician=` (the worklist's
//! survey link when one is due, else `{"offer": null}`) and
//! `POST /pulse/answers` with `{"model", "clinician", "score": 1-5}`.

use crate::fhir_routes::{api_error, body_or_error, fhir};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bedside_app::ApiError;
use serde_json::json;
use std::collections::BTreeMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/pulse", get(link))
        .route("/pulse/offer", get(offer))
        .route("/pulse/answers", post(answer))
}

/// `GET /pulse?model=&clinician=` (the link on cards and the worklist):
/// the one-question page under `/ui`, where the clinician signs in.
async fn link(uri: axum::http::Uri) -> Response {
    let q = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    axum::response::Redirect::to(&format!("/ui/pulse{q}")).into_response()
}

async fn offer(State(s): State<AppState>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let (Some(model), Some(clinician)) = (q.get("model"), q.get("clinician")) else {
        return api_error(ApiError::bad_request(
            "pulse offer needs `model` and `clinician`",
            None,
        ));
    };
    match s
        .app
        .worklist_pulse(model, clinician, chrono::Utc::now())
        .await
    {
        Ok(o) => fhir(StatusCode::OK, &json!({ "offer": o })),
        Err(e) => api_error(e),
    }
}

async fn answer(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let bytes = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s.app.record_pulse_answer(&bytes, chrono::Utc::now()).await {
        Ok(v) => fhir(StatusCode::CREATED, &v),
        Err(e) => api_error(e),
    }
}
