//! FHIR REST endpoints: Bundle ingest, create/update/read, search by
//! patient (paged), streaming bulk `$import`, and `GET /fhir/metadata`
//! (the CapabilityStatement, built from the same lists the handlers use).
//! Every `/fhir` route checks `Accept` / `_format` (406) and the
//! `Content-Type` of a body (415) first ([`crate::hardening::fhir_media`]).

use crate::{actor, AppState};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use bedside_app::audit::Actor;
use bedside_app::{ApiError, ImportLines};
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use tokio::io::AsyncBufReadExt;
use tokio_stream::wrappers::LinesStream;

const FHIR_JSON: &str = "application/fhir+json";

pub(crate) fn routes(s: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/fhir", post(post_bundle))
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{rtype}", post(create).get(search))
        .route("/fhir/{rtype}/{id}", get(read).put(update))
        .layer(DefaultBodyLimit::max(s.http.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            s.http.request_timeout,
        ));
    // $import streams: no body limit, no request timeout.
    let import = Router::new()
        .route("/fhir/$import", post(import))
        .layer(DefaultBodyLimit::disable());
    limited
        .merge(import)
        .route_layer(axum::middleware::from_fn(crate::hardening::fhir_media))
}

/// Types Bedside writes itself (read and searched, never ingested as such).
const OWN_TYPES: &[&str] = &["Task", "Provenance"];
/// Types Bedside writes and also accepts from the EHR.
const SHARED_TYPES: &[&str] = &["RiskAssessment", "Communication"];

/// The CapabilityStatement of this server.
pub(crate) fn capabilities(s: &AppState) -> bedside_fhir::Capabilities {
    use bedside_fhir::{OperationCapability, ResourceCapability, SearchParam};
    let param = |name: &str| {
        let (kind, doc) = match name {
            "patient" | "subject" => (
                "reference",
                "the patient (`Patient/{id}` or `{id}`) the resource is about",
            ),
            "owner" => ("reference", "the Task's owner (exact reference)"),
            "target" => (
                "reference",
                "what the Provenance is about (exact reference)",
            ),
            "status" => ("token", "the status code"),
            "category" => ("token", "a category coding (`system|code` or `code`)"),
            "clinical-status" => ("token", "a clinicalStatus coding (`system|code` or `code`)"),
            "_sort" => (
                "string",
                "`date` or `-date` (effective, onset, recorded or authored time)",
            ),
            _ => ("string", "see the README"),
        };
        SearchParam {
            name: name.into(),
            kind: kind.into(),
            documentation: doc.into(),
        }
    };
    let result_params = [
        SearchParam {
            name: "_count".into(),
            kind: "number".into(),
            documentation: format!(
                "matches per page (default {}, at most {}); pages link `next` and `previous`",
                bedside_app::SEARCH_PAGE,
                bedside_app::SEARCH_PAGE_MAX
            ),
        },
        SearchParam {
            name: "_offset".into(),
            kind: "number".into(),
            documentation: "matches to skip (the paging links set it)".into(),
        },
        SearchParam {
            name: "_summary".into(),
            kind: "token".into(),
            documentation: "`count` only: the total, no entries".into(),
        },
    ];
    let mut types: Vec<&str> = bedside_fhir::resources::READ_TYPES.to_vec();
    types.extend(SHARED_TYPES);
    types.extend(OWN_TYPES);
    types.sort_unstable();
    let resources = types
        .into_iter()
        .map(|t| {
            let own = OWN_TYPES.contains(&t);
            let interactions: &[&str] = if own {
                &["read", "search-type"]
            } else {
                &["read", "create", "update", "search-type"]
            };
            let mut search_params: Vec<SearchParam> = bedside_app::search_params(t)
                .iter()
                .copied()
                .map(param)
                .collect();
            search_params.extend(result_params.iter().cloned());
            ResourceCapability {
                rtype: t.into(),
                interactions: interactions.iter().map(|i| i.to_string()).collect(),
                search_params,
                documentation: own
                    .then(|| "written by Bedside's pathways; not accepted from clients".into()),
            }
        })
        .collect();
    let base = format!("{}/fhir", s.app.config.public_url);
    bedside_fhir::Capabilities {
        software: "Bedside".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_url: base.clone(),
        description: "Bedside: FHIR R4 ingest of the EHR's data and the resources Bedside writes. \
            Types not listed are accepted by POST/PUT and in Bundles, stored, and read back by id and patient, \
            without checks beyond R4 JSON."
            .into(),
        date: bedside_fhir::format_instant(chrono::Utc::now()),
        formats: vec!["json".into(), "application/fhir+json".into()],
        security: s.http.access.as_ref().map(|_| {
            (
                "OAuth".to_string(),
                "Bearer tokens: OpenID Connect access tokens of the configured identity provider, or static service tokens; roles per endpoint group (README, Access control).".to_string(),
            )
        }),
        resources,
        system_interactions: vec!["transaction".into(), "batch".into()],
        operations: vec![OperationCapability {
            name: "import".into(),
            definition: format!("{base}/OperationDefinition/import"),
            documentation: "POST /fhir/$import: NDJSON (gzip accepted), one resource per line, committed in chunks; unknown elements are kept with warnings".into(),
        }],
    }
}

/// `GET /fhir/metadata`.
async fn metadata(State(s): State<AppState>) -> Response {
    fhir(
        StatusCode::OK,
        &bedside_fhir::capability_statement(&capabilities(&s)),
    )
}

/// A FHIR JSON response.
pub(crate) fn fhir(status: StatusCode, body: &serde_json::Value) -> Response {
    fhir_text(status, body.to_string())
}

/// [`fhir`] for a body that is JSON text already.
pub(crate) fn fhir_text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

pub(crate) fn api_error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    fhir(status, &e.outcome)
}

/// Map a body extraction failure (too large, unreadable) to an
/// OperationOutcome instead of axum's plain text.
// The error is the response itself, returned at once by every caller;
// boxing it would only add an allocation on the error path.
#[allow(clippy::result_large_err)]
pub(crate) fn body_or_error(b: Result<Bytes, BytesRejection>) -> Result<Bytes, Response> {
    b.map_err(|r| {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too-costly"
        } else {
            "structure"
        };
        let msg = format!("request body: {}", r.body_text());
        api_error(ApiError::new(status.as_u16(), code, msg, None))
    })
}

async fn post_bundle(State(s): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s.app.process_bundle(&body).await {
        Ok(resp) => fhir(StatusCode::OK, &resp),
        Err(e) => api_error(e),
    }
}

async fn create(
    State(s): State<AppState>,
    Path(rtype): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    written(s.app.write_resource(&rtype, None, &body).await)
}

async fn update(
    State(s): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_or_error(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    written(s.app.write_resource(&rtype, Some(&id), &body).await)
}

fn written(r: Result<bedside_app::Written, ApiError>) -> Response {
    match r {
        Ok(w) => {
            let status = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut resp = fhir(status, &w.resource);
            if let Ok(v) = HeaderValue::from_str(&w.location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(e) => api_error(e),
    }
}

async fn read(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    Path((rtype, id)): Path<(String, String)>,
) -> Response {
    match s.app.read_resource_as(&actor(who), &rtype, &id).await {
        Ok(v) => fhir(StatusCode::OK, &v),
        Err(e) => api_error(e),
    }
}

async fn search(
    State(s): State<AppState>,
    who: Option<Extension<Actor>>,
    Path(rtype): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    match s.app.search_as(&actor(who), &rtype, &q).await {
        Ok(v) => fhir(StatusCode::OK, &v),
        Err(e) => api_error(e),
    }
}

/// Streaming NDJSON import (gzip accepted by Content-Encoding or magic
/// bytes). Each chunk of lines is committed before the next is read, so a
/// crash loses at most the chunk in flight, and re-importing is idempotent.
async fn import(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let gz_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let mut reader = tokio::io::BufReader::with_capacity(1 << 16, reader);
    let gz = gz_header || {
        match reader.fill_buf().await {
            Ok(buf) => buf.starts_with(&[0x1f, 0x8b]),
            Err(_) => false,
        }
    };
    let lines: ImportLines = if gz {
        let dec = async_compression::tokio::bufread::GzipDecoder::new(reader);
        Box::pin(LinesStream::new(tokio::io::BufReader::new(dec).lines()))
    } else {
        Box::pin(LinesStream::new(reader.lines()))
    };
    match s.app.import_ndjson(lines).await {
        Ok(summary) => (StatusCode::OK, axum::Json(summary)).into_response(),
        Err(e) => api_error(e),
    }
}
