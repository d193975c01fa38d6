//! FHIR OperationOutcome helpers for errors at the edge.

use serde_json::{json, Value};

/// One issue: `severity` (fatal|error|warning|information), `code` (FHIR
/// issue-type), human `diagnostics`, and an optional element path.
pub fn issue(severity: &str, code: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    let mut i = json!({"severity": severity, "code": code, "diagnostics": diagnostics});
    if let Some(e) = expression {
        i["expression"] = json!([e]);
    }
    i
}

/// An OperationOutcome with the given issues.
pub fn with_issues(issues: Vec<Value>) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// An OperationOutcome with one issue.
pub fn single(severity: &str, code: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    with_issues(vec![issue(severity, code, diagnostics, expression)])
}
