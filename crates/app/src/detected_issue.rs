//! FHIR DetectedIssues written by `write_detected_issue` service tasks,
//! and their reads (`GET /fhir/DetectedIssue/{id}`, `GET
//! /fhir/DetectedIssue?patient=..&implicated=..&status=..`).
//!
//! The service task's inputs say what the issue is; nothing here knows any
//! clinical pathway:
//! - `code` (required): the issue's code; `code_system` (default
//!   [`DEFAULT_CODE_SYSTEM`]) and `code_display` qualify it;
//! - `severity`: `high`, `moderate` or `low`;
//! - `implicated`: what the issue is about (a reference string, an item
//!   `{reference, display}` or a list of those; e.g. an AI result);
//! - every input named `evidence...`: references to the evidence (same
//!   forms), e.g. the study and the final report;
//! - `author`: who identified it (reference string or item; e.g. the
//!   variable `completed_by` the worklist sets when a Task is completed);
//! - `detail` and `note`: text, joined.
//!
//! The DetectedIssue is written with status `final`, `patient` the
//! instance's patient and `identifiedDateTime` the engine's time, in the
//! commit of the step that reached the service task (so write-back,
//! AuditEvent and Provenance apply as for Tasks). Its id derives from the
//! service call id, so a replayed step writes the same one.

use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_fhir::{
    CodeableConcept, DateTime, DetectedIssue, DetectedIssueEvidence, Reference,
    DETECTED_ISSUE_SEVERITIES,
};
use bedside_store::DocFilter;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const DETECTED_ISSUE: &str = bedside_record::kinds::DETECTED_ISSUE;
/// The code system of a `code` given without `code_system`.
pub const DEFAULT_CODE_SYSTEM: &str = "https://bedside.dev/detected-issue";

/// The id of the DetectedIssue a service call writes.
pub(crate) fn detected_issue_id(call_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex = hex::encode(Sha256::digest(call_id.as_bytes()));
    format!("pw-di-{}", &hex[..30])
}

fn text<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// References in an input: a `Type/id` string, an item with `reference`
/// (and `display`), or a list of those. Anything else names nothing.
fn references(v: Option<&Value>) -> Vec<Reference> {
    let one = |v: &Value| -> Option<Reference> {
        match v {
            Value::String(s) if s.contains('/') => Some(Reference {
                reference: Some(s.clone()),
                ..Default::default()
            }),
            Value::Object(o) => {
                let r = o.get("reference")?.as_str()?;
                Some(Reference {
                    reference: Some(r.to_string()),
                    display: o.get("display").and_then(Value::as_str).map(str::to_string),
                    ..Default::default()
                })
            }
            _ => None,
        }
    };
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The DetectedIssue of a `write_detected_issue` call, or why its inputs
/// cannot make one (the caller records a pathway incident).
pub(crate) fn build(
    call_id: &str,
    patient_id: Option<&str>,
    params: &Map<String, Value>,
    now: Instant,
) -> Result<DetectedIssue, String> {
    let code = text(params, "code").ok_or("input `code` is missing or blank")?;
    let system = text(params, "code_system").unwrap_or(DEFAULT_CODE_SYSTEM);
    let severity = match text(params, "severity") {
        None => None,
        Some(s) if DETECTED_ISSUE_SEVERITIES.contains(&s) => Some(s.to_string()),
        Some(s) => {
            return Err(format!(
                "input `severity` is {s:?}; R4 allows {}",
                DETECTED_ISSUE_SEVERITIES.join(", ")
            ))
        }
    };
    let evidence: Vec<Reference> = params
        .iter()
        .filter(|(k, _)| k.starts_with("evidence"))
        .flat_map(|(_, v)| references(Some(v)))
        .collect();
    let detail: Vec<&str> = [text(params, "detail"), text(params, "note")]
        .into_iter()
        .flatten()
        .collect();
    let di = DetectedIssue {
        id: Some(detected_issue_id(call_id)),
        identifier: vec![bedside_fhir::Identifier {
            system: Some("urn:bedside:pathway-call".into()),
            value: Some(call_id.to_string()),
        }],
        status: "final".into(),
        code: Some(CodeableConcept::coded(
            system,
            code,
            text(params, "code_display"),
        )),
        severity,
        patient: patient_id.map(|p| Reference::to("Patient", p)),
        identified_date_time: Some(DateTime::from_instant(now)),
        author: references(params.get("author")).into_iter().next(),
        implicated: references(params.get("implicated")),
        evidence: if evidence.is_empty() {
            Vec::new()
        } else {
            vec![DetectedIssueEvidence {
                code: Vec::new(),
                detail: evidence,
            }]
        },
        detail: (!detail.is_empty()).then(|| detail.join(". ")),
        ..Default::default()
    };
    Ok(di)
}

impl App {
    /// `GET /fhir/DetectedIssue?patient=..|implicated=..|status=..`
    /// (none: every one), oldest first.
    pub async fn search_detected_issues(
        &self,
        q: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        for k in q.keys() {
            if !matches!(
                k.as_str(),
                "patient" | "implicated" | "status" | "_summary" | "_count"
            ) {
                return Err(ApiError::new(
                    400,
                    "not-supported",
                    format!(
                        "DetectedIssue search parameter {k:?} is not supported (patient, implicated, status, _summary)"
                    ),
                    Some(k.as_str()),
                ));
            }
        }
        let filter = DocFilter {
            kind: DETECTED_ISSUE.into(),
            patient_id: q
                .get("patient")
                .map(|p| p.strip_prefix("Patient/").unwrap_or(p).to_string()),
            status: q.get("status").cloned(),
            owner: q.get("implicated").cloned(),
            since: None,
            limit: None,
        };
        if q.get("_summary").is_some_and(|s| s == "count") {
            let n = self.store.count_documents(&filter).await?;
            return Ok(bedside_fhir::SearchSet::new(n).to_json());
        }
        let docs = self.store.list_documents(&filter).await?;
        let base = &self.config.public_url;
        Ok(bedside_fhir::SearchSet::new(docs.len() as u64)
            .entries(
                docs.into_iter()
                    .map(|d| (format!("{base}/fhir/{DETECTED_ISSUE}/{}", d.id), d.body)),
            )
            .to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn inputs_become_a_final_detected_issue() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-02T11:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let v = build(
            "call-1",
            Some("p1"),
            &params(json!({
                "code": "ai-discordance", "code_display": "Disagrees with AI", "severity": "moderate",
                "implicated": {"reference": "DiagnosticReport/ai-1", "display": "AI finding"},
                "evidence_study": {"reference": "ImagingStudy/s1"},
                "evidence_report": "DiagnosticReport/r1",
                "author": "Practitioner/rad-7",
                "detail": "Final report disagrees", "note": null
            })),
            now,
        )
        .unwrap()
        .to_json();
        assert_eq!(v["resourceType"], "DetectedIssue");
        assert_eq!(v["status"], "final");
        assert_eq!(v["id"], detected_issue_id("call-1"));
        assert_eq!(v["code"]["coding"][0]["system"], DEFAULT_CODE_SYSTEM);
        assert_eq!(v["code"]["coding"][0]["code"], "ai-discordance");
        assert_eq!(v["severity"], "moderate");
        assert_eq!(v["patient"]["reference"], "Patient/p1");
        assert_eq!(v["identifiedDateTime"], "2024-05-02T11:00:00Z");
        assert_eq!(v["author"]["reference"], "Practitioner/rad-7");
        assert_eq!(v["implicated"][0]["display"], "AI finding");
        let ev: Vec<&str> = v["evidence"][0]["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reference"].as_str().unwrap())
            .collect();
        assert_eq!(ev, ["DiagnosticReport/r1", "ImagingStudy/s1"]);
        assert_eq!(v["detail"], "Final report disagrees");
        // What Bedside writes, it reads back as R4.
        assert!(bedside_fhir::parse_value(v).is_ok());
    }

    #[test]
    fn a_missing_code_or_a_severity_r4_does_not_know_is_refused() {
        let now = chrono::Utc::now();
        let e = build("c", None, &params(json!({"code": " "})), now).unwrap_err();
        assert!(e.contains("`code`"), "{e}");
        let e = build(
            "c",
            None,
            &params(json!({"code": "x", "severity": "severe"})),
            now,
        )
        .unwrap_err();
        assert!(
            e.contains("\"severe\"") && e.contains("high, moderate, low"),
            "{e}"
        );
        // Without patient, author or implicated: still valid R4.
        let v = build("c", None, &params(json!({"code": "x"})), now)
            .unwrap()
            .to_json();
        assert!(v.get("patient").is_none() && v.get("author").is_none());
    }
}
