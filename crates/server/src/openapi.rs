//! `GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, generated
//! from one route table ([`ROUTES`]) next to the router.
//!
//! The table is the single description of every route: method, path,
//! parameters, request body and answers. The document is built from it
//! with `serde_json` (hand-written: the table is plain data, and a typed
//! builder or per-handler macro would spread the description over every
//! route module without checking more). `tests/openapi_http.rs` checks
//! that every operation in the table is routed (no 404 from the router,
//! no 405), and `scripts/schemathesis.sh` drives every operation from the
//! document against a running server.

use serde_json::{json, Map, Value};

/// Where a parameter goes.
#[derive(Clone, Copy)]
pub enum In {
    Query,
    Path,
}

/// One parameter: name, where, required, description.
pub type Param = (&'static str, In, bool, &'static str);

/// One request body: content type and its JSON schema (as JSON text).
pub type Body = (&'static str, &'static str);

/// One operation of the HTTP API.
pub struct Route {
    pub method: &'static str,
    /// OpenAPI path template (`{id}` parameters, as axum's).
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub body: Option<Body>,
    /// Answers: status and content type.
    pub answers: &'static [(u16, &'static str)],
}

const FHIR: &str = "application/fhir+json";
const JSON: &str = "application/json";
const HTML: &str = "text/html";
const FORM: &str = "application/x-www-form-urlencoded";

const RESOURCE: &str = r#"{"type":"object","required":["resourceType"],"properties":{"resourceType":{"type":"string"},"id":{"type":"string"}}}"#;
const BUNDLE: &str = r#"{"type":"object","required":["resourceType","type"],"properties":{"resourceType":{"const":"Bundle"},"type":{"enum":["transaction","batch","collection","history"]},"entry":{"type":"array","items":{"type":"object"}}}}"#;
const NDJSON: &str =
    r#"{"type":"string","description":"one FHIR resource per line (gzip accepted)"}"#;
const HOOK_REQUEST: &str = r#"{"type":"object","required":["hook","hookInstance","context"],"properties":{"hook":{"type":"string"},"hookInstance":{"type":"string"},"fhirServer":{"type":"string"},"context":{"type":"object"},"prefetch":{"type":"object"}}}"#;
const FEEDBACK: &str = r#"{"type":"object","required":["feedback"],"properties":{"feedback":{"type":"array","items":{"type":"object"}}}}"#;
const TASK_ACTION: &str = r#"{"type":"object","properties":{"actor":{"type":"string","description":"demo mode only; with sign-in the signed-in person acts and another actor is refused (403)"},"to":{"type":"string"},"decision":{"type":"string","description":"complete: one of the options the pathway step offers"},"reason":{"type":"string","description":"complete: the decision's coded reason, when it takes one"},"comment":{"type":"string"},"output":{"type":"object"}}}"#;
const PULSE_ANSWER: &str = r#"{"type":"object","required":["model","clinician","score"],"properties":{"model":{"type":"string"},"clinician":{"type":"string"},"score":{"type":"integer","minimum":1,"maximum":5},"comment":{"type":"string"}}}"#;
const TO_FORM: &str = r#"{"type":"object","properties":{"to":{"type":"string"},"reason":{"type":"string"},"decision":{"type":"string"},"comment":{"type":"string"}}}"#;
const ATTEST_FORM: &str = r#"{"type":"object","required":["role","unit"],"properties":{"role":{"type":"string"},"unit":{"type":"string"}}}"#;
const ACT_AS_FORM: &str = r#"{"type":"object","required":["practitioner"],"properties":{"practitioner":{"type":"string"}}}"#;
const PULSE_FORM: &str = r#"{"type":"object","required":["model","score"],"properties":{"model":{"type":"string"},"clinician":{"type":"string"},"score":{"type":"integer","minimum":1,"maximum":5},"comment":{"type":"string"}}}"#;
const PATIENT_FORM: &str =
    r#"{"type":"object","required":["patient"],"properties":{"patient":{"type":"string"}}}"#;

const RTYPE: Param = ("rtype", In::Path, true, "FHIR resource type");
const ID: Param = ("id", In::Path, true, "resource or service id");
const TASK: Param = ("task_id", In::Path, true, "Task id");
const ACTION: Param = (
    "action",
    In::Path,
    true,
    "claim, acknowledge, complete or reassign",
);

/// Every route of [`crate::router`] (UI routes included).
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        tag: "ops",
        summary: "Liveness: the store answers",
        params: &[],
        body: None,
        answers: &[(200, JSON), (503, JSON)],
    },
    Route {
        method: "get",
        path: "/metrics",
        tag: "ops",
        summary: "Prometheus metrics (text exposition format)",
        params: &[],
        body: None,
        answers: &[(200, "text/plain")],
    },
    Route {
        method: "get",
        path: "/openapi.json",
        tag: "ops",
        summary: "This document",
        params: &[],
        body: None,
        answers: &[(200, JSON)],
    },
    Route {
        method: "post",
        path: "/fhir",
        tag: "fhir",
        summary: "Ingest a Bundle (transaction, batch, collection, subscription notification)",
        params: &[],
        body: Some((FHIR, BUNDLE)),
        answers: &[
            (200, FHIR),
            (400, FHIR),
            (406, FHIR),
            (413, FHIR),
            (415, FHIR),
            (422, FHIR),
        ],
    },
    Route {
        method: "get",
        path: "/fhir/metadata",
        tag: "fhir",
        summary: "CapabilityStatement: the types, interactions, search parameters, formats and security served",
        params: &[],
        body: None,
        answers: &[(200, FHIR), (406, FHIR)],
    },
    Route {
        method: "post",
        path: "/fhir/$import",
        tag: "fhir",
        summary: "Bulk NDJSON import, streamed and committed in chunks (no body limit or timeout)",
        params: &[],
        body: Some(("application/fhir+ndjson", NDJSON)),
        answers: &[(200, JSON), (400, FHIR), (415, FHIR)],
    },
    Route {
        method: "post",
        path: "/fhir/{rtype}",
        tag: "fhir",
        summary: "Create (or update by id) one resource",
        params: &[RTYPE],
        body: Some((FHIR, RESOURCE)),
        answers: &[
            (200, FHIR),
            (201, FHIR),
            (400, FHIR),
            (406, FHIR),
            (413, FHIR),
            (415, FHIR),
            (422, FHIR),
        ],
    },
    Route {
        method: "get",
        path: "/fhir/{rtype}",
        tag: "fhir",
        summary: "Search (searchset Bundle, paged with link next/previous); parameters per type in GET /fhir/metadata; any other parameter is a 400",
        params: &[
            RTYPE,
            ("patient", In::Query, false, "Patient id or reference"),
            ("subject", In::Query, false, "Patient reference"),
            ("owner", In::Query, false, "Task: owner reference"),
            ("status", In::Query, false, "Task: status"),
            ("target", In::Query, false, "Provenance: target reference"),
            ("_count", In::Query, false, "matches per page (default 100, at most 1000)"),
            ("_offset", In::Query, false, "matches to skip (paging)"),
            ("_summary", In::Query, false, "count: the total only"),
        ],
        body: None,
        answers: &[(200, FHIR), (400, FHIR), (406, FHIR)],
    },
    Route {
        method: "get",
        path: "/fhir/{rtype}/{id}",
        tag: "fhir",
        summary: "Read one resource",
        params: &[RTYPE, ID],
        body: None,
        answers: &[(200, FHIR), (404, FHIR), (406, FHIR)],
    },
    Route {
        method: "put",
        path: "/fhir/{rtype}/{id}",
        tag: "fhir",
        summary: "Create or update one resource",
        params: &[RTYPE, ID],
        body: Some((FHIR, RESOURCE)),
        answers: &[
            (200, FHIR),
            (201, FHIR),
            (400, FHIR),
            (406, FHIR),
            (413, FHIR),
            (415, FHIR),
            (422, FHIR),
        ],
    },
    Route {
        method: "get",
        path: "/cds-services",
        tag: "cds-hooks",
        summary: "CDS Hooks discovery",
        params: &[],
        body: None,
        answers: &[(200, JSON), (429, FHIR)],
    },
    Route {
        method: "post",
        path: "/cds-services/{id}",
        tag: "cds-hooks",
        summary: "Call a CDS service (bearer JWT from a trusted EHR)",
        params: &[ID],
        body: Some((JSON, HOOK_REQUEST)),
        answers: &[
            (200, JSON),
            (400, FHIR),
            (401, FHIR),
            (404, FHIR),
            (413, FHIR),
            (429, FHIR),
        ],
    },
    Route {
        method: "post",
        path: "/cds-services/{id}/feedback",
        tag: "cds-hooks",
        summary: "Feedback on a service's cards (accepted / overridden)",
        params: &[ID],
        body: Some((JSON, FEEDBACK)),
        answers: &[
            (200, JSON),
            (400, FHIR),
            (401, FHIR),
            (404, FHIR),
            (429, FHIR),
        ],
    },
    Route {
        method: "get",
        path: "/worklist",
        tag: "worklist",
        summary: "Pathway Tasks, newest first (application/json: an array of FHIR Tasks, not a Bundle; a Link rel=next header when more follow)",
        params: &[
            ("owner", In::Query, false, "Task owner reference"),
            ("role", In::Query, false, "responsible role"),
            ("status", In::Query, false, "Task status"),
            ("_count", In::Query, false, "Tasks per page (default 100, at most 1000)"),
            ("_offset", In::Query, false, "Tasks to skip (paging)"),
        ],
        body: None,
        answers: &[(200, JSON), (400, FHIR)],
    },
    Route {
        method: "post",
        path: "/worklist/{task_id}/{action}",
        tag: "worklist",
        summary: "Claim, acknowledge, complete or reassign a Task",
        params: &[TASK, ACTION],
        body: Some((JSON, TASK_ACTION)),
        answers: &[(200, FHIR), (400, FHIR), (404, FHIR), (409, FHIR)],
    },
    Route {
        method: "get",
        path: "/pulse",
        tag: "pulse",
        summary: "The trust pulse link on cards: redirects to the one-question page /ui/pulse",
        params: &[
            ("model", In::Query, true, "model id"),
            ("clinician", In::Query, false, "clinician reference (demo mode)"),
        ],
        body: None,
        answers: &[(303, HTML)],
    },
    Route {
        method: "get",
        path: "/pulse/offer",
        tag: "pulse",
        summary: "The trust pulse survey link when one is due",
        params: &[
            ("model", In::Query, true, "model id"),
            ("clinician", In::Query, true, "clinician reference"),
        ],
        body: None,
        answers: &[(200, FHIR), (400, FHIR)],
    },
    Route {
        method: "post",
        path: "/pulse/answers",
        tag: "pulse",
        summary: "Record a trust pulse answer (score 1-5)",
        params: &[],
        body: Some((JSON, PULSE_ANSWER)),
        answers: &[(200, FHIR), (400, FHIR)],
    },
    Route {
        method: "get",
        path: "/ui",
        tag: "ui",
        summary: "Dashboard",
        params: &[("model", In::Query, false, "model id")],
        body: None,
        answers: &[(200, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/worklist",
        tag: "ui",
        summary: "Worklist page",
        params: &[],
        body: None,
        answers: &[(200, HTML)],
    },
    Route {
        method: "post",
        path: "/ui/worklist/{task_id}/{action}",
        tag: "ui",
        summary: "Worklist action from the page",
        params: &[TASK, ACTION],
        body: Some((FORM, TO_FORM)),
        answers: &[(200, HTML), (400, HTML), (404, HTML), (409, HTML)],
    },
    Route {
        method: "post",
        path: "/ui/act-as",
        tag: "ui",
        summary: "Demo mode: act as a demo user (nurse, physician, rapid-response lead, radiologist)",
        params: &[],
        body: Some((FORM, ACT_AS_FORM)),
        answers: &[(303, HTML), (400, HTML), (409, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/pulse",
        tag: "ui",
        summary: "Trust pulse: the one-question page for the signed-in clinician",
        params: &[
            ("model", In::Query, true, "model id"),
            ("clinician", In::Query, false, "clinician reference (demo mode)"),
        ],
        body: None,
        answers: &[(200, HTML), (400, HTML), (404, HTML)],
    },
    Route {
        method: "post",
        path: "/ui/pulse",
        tag: "ui",
        summary: "Record the signed-in clinician's trust pulse answer",
        params: &[],
        body: Some((FORM, PULSE_FORM)),
        answers: &[(200, HTML), (400, HTML), (409, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/training/{use_case}",
        tag: "ui",
        summary: "A use case's training module (what the model sees and misses, the card, when to be skeptical, overriding, whom to tell)",
        params: &[("use_case", In::Path, true, "use case id")],
        body: None,
        answers: &[(200, HTML), (404, HTML)],
    },
    Route {
        method: "post",
        path: "/ui/training/{use_case}",
        tag: "ui",
        summary: "Attest the training as the signed-in clinician (audited)",
        params: &[("use_case", In::Path, true, "use case id")],
        body: Some((FORM, ATTEST_FORM)),
        answers: &[(200, HTML), (400, HTML), (404, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/sandbox",
        tag: "ui",
        summary: "EHR sandbox",
        params: &[
            ("q", In::Query, false, "patient search"),
            ("patient", In::Query, false, "patient id"),
        ],
        body: None,
        answers: &[(200, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/sandbox/token",
        tag: "ui",
        summary: "A demo EHR JWT for the sandbox's hook calls",
        params: &[("aud", In::Query, true, "the CDS service URL")],
        body: None,
        answers: &[(200, JSON), (400, FHIR), (409, FHIR)],
    },
    Route {
        method: "post",
        path: "/ui/sandbox/start-pathway",
        tag: "ui",
        summary: "Start the escalation pathway for a patient (demo)",
        params: &[],
        body: Some((FORM, PATIENT_FORM)),
        answers: &[(303, HTML), (400, HTML), (404, HTML), (409, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/pathways",
        tag: "ui",
        summary: "Pathway index",
        params: &[],
        body: None,
        answers: &[(200, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/pathways/{id}",
        tag: "ui",
        summary: "One pathway's view",
        params: &[ID],
        body: None,
        answers: &[(200, HTML), (404, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/pathways/{id}/diagram",
        tag: "ui",
        summary: "One pathway's diagram (SVG)",
        params: &[ID],
        body: None,
        answers: &[(200, "image/svg+xml"), (404, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/models",
        tag: "ui",
        summary: "Served models",
        params: &[],
        body: None,
        answers: &[(200, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/models/{id}/{version}",
        tag: "ui",
        summary: "A model's facts card",
        params: &[ID, ("version", In::Path, true, "model version")],
        body: None,
        answers: &[(200, HTML), (404, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/patients/{id}",
        tag: "ui",
        summary: "One patient's page: risk history, factors, open Tasks (a SMART launch session opens its patient's)",
        params: &[ID],
        body: None,
        answers: &[(200, HTML), (401, HTML), (404, HTML)],
    },
    Route {
        method: "get",
        path: "/smart/launch",
        tag: "smart",
        summary: "SMART EHR launch: discover the EHR's authorization server, redirect there with PKCE",
        params: &[
            ("iss", In::Query, true, "the EHR's FHIR base URL (an allowed issuer)"),
            ("launch", In::Query, true, "the EHR's launch context"),
        ],
        body: None,
        answers: &[(303, HTML), (400, HTML), (403, HTML), (404, HTML), (502, HTML)],
    },
    Route {
        method: "get",
        path: "/smart/redirect",
        tag: "smart",
        summary: "SMART redirect: check state, exchange the code with the PKCE verifier, open the patient's page",
        params: &[
            ("code", In::Query, false, "authorization code"),
            ("state", In::Query, true, "the launch's state (one use)"),
        ],
        body: None,
        answers: &[(303, HTML), (400, HTML), (404, HTML), (502, HTML)],
    },
    Route {
        method: "get",
        path: "/ui/assets/{path}",
        tag: "ui",
        summary: "Embedded static assets",
        params: &[("path", In::Path, true, "asset path")],
        body: None,
        answers: &[(200, "application/octet-stream"), (404, HTML)],
    },
];

fn status_text(s: u16) -> &'static str {
    match s {
        200 => "OK",
        201 => "Created",
        303 => "See other",
        400 => "Bad request (OperationOutcome)",
        401 => "Not authenticated (OperationOutcome)",
        404 => "Not found",
        409 => "Not possible now (OperationOutcome)",
        413 => "Body too large (OperationOutcome)",
        422 => "Not processable (OperationOutcome)",
        403 => "Forbidden",
        429 => "Too many calls from this client (OperationOutcome, Retry-After)",
        502 => "The EHR's server failed",
        503 => "Not ready",
        _ => "Answer",
    }
}

fn operation(r: &Route) -> Value {
    let params: Vec<Value> = r
        .params
        .iter()
        .map(|(name, at, required, description)| {
            json!({
                "name": name,
                "in": match at { In::Query => "query", In::Path => "path" },
                "required": required,
                "description": description,
                "schema": {"type": "string"},
            })
        })
        .collect();
    let mut responses = Map::new();
    for (status, ct) in r.answers {
        responses.insert(
            status.to_string(),
            json!({"description": status_text(*status), "content": {*ct: {}}}),
        );
    }
    let mut op = json!({
        "tags": [r.tag],
        "summary": r.summary,
        "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '$', '-', '.'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if let Some((ct, schema)) = r.body {
        let schema: Value = serde_json::from_str(schema).expect("route table schemas are JSON");
        op["requestBody"] = json!({"required": true, "content": {ct: {"schema": schema}}});
    }
    op
}

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Bedside",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "FHIR R4 ingest, CDS Hooks 2.0 services, pathway worklist, trust pulse, web UI and metrics. Errors are FHIR OperationOutcomes.",
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_unique_and_its_path_params_are_declared() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            let declared: Vec<&str> = r
                .params
                .iter()
                .filter(|p| matches!(p.1, In::Path))
                .map(|p| p.0)
                .collect();
            let in_path: Vec<&str> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, in_path, "{} {}", r.method, r.path);
        }
        let d = document();
        assert_eq!(d["openapi"], "3.1.0");
        assert!(d["paths"]["/cds-services/{id}"]["post"]["requestBody"].is_object());
    }
}
