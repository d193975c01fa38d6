//! Errors and issues: [`FhirError`] (why input was refused, with the
//! element path) and the [`OperationOutcome`] built from them.

use serde::{Deserialize, Serialize};

/// What kind of problem an error is (maps onto FHIR issue-type codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are not JSON, or not a JSON object.
    Json,
    /// `resourceType` missing, not a string, unknown, or not the type
    /// expected here.
    ResourceType,
    /// An `id` that is not a valid FHIR id.
    Id,
    /// A reference string that cannot be parsed.
    Reference,
    /// A date, dateTime or instant that is not valid R4.
    Date,
    /// A value of the wrong JSON type (e.g. a Quantity value that is not a
    /// number).
    Value,
    /// An element missing or misplaced (e.g. a transaction entry without
    /// `request`).
    Structure,
    /// Valid FHIR that Bedside does not support (e.g. DELETE in a batch).
    NotSupported,
}

/// Why input was refused: the element path (FHIRPath-like, e.g.
/// `Observation.valueQuantity.value` or
/// `Bundle.entry[3].resource.subject.reference`) and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{reason}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct FhirError {
    pub kind: ErrorKind,
    pub path: String,
    pub reason: String,
}

impl FhirError {
    pub fn new(kind: ErrorKind, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.into(),
            reason: reason.into(),
        }
    }
    /// The FHIR issue-type code for this error.
    pub fn issue_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Json | ErrorKind::Structure => "structure",
            ErrorKind::ResourceType | ErrorKind::Id | ErrorKind::Reference => "invalid",
            ErrorKind::Date | ErrorKind::Value => "value",
            ErrorKind::NotSupported => "not-supported",
        }
    }
    /// This error as an `error` issue.
    pub fn to_issue(&self) -> Issue {
        Issue {
            severity: Severity::Error,
            code: self.issue_code().to_string(),
            diagnostics: Some(self.to_string()),
            expression: if self.path.is_empty() {
                vec![]
            } else {
                vec![self.path.clone()]
            },
        }
    }
    /// Re-root a path that starts with a resource type (`Observation.x`)
    /// under `prefix` (`Bundle.entry[3].resource` ->
    /// `Bundle.entry[3].resource.x`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = reroot(&self.path, prefix);
        self
    }
}

/// `Observation.a.b` under `P` -> `P.a.b`; `Observation` -> `P`; `` -> `P`.
pub fn reroot(path: &str, prefix: &str) -> String {
    match path.find(['.', '[']) {
        Some(i) => format!("{prefix}{}", &path[i..]),
        None => prefix.to_string(),
    }
}

/// Issue severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

/// `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub severity: Severity,
    /// FHIR issue-type code (`invalid`, `structure`, `value`, `informational`, ...).
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl Issue {
    pub fn new(severity: Severity, code: &str, diagnostics: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.to_string(),
            diagnostics: Some(diagnostics.into()),
            expression: vec![],
        }
    }
    pub fn warning(code: &str, path: impl Into<String>, diagnostics: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, diagnostics).at(path)
    }
    pub fn info(path: impl Into<String>, diagnostics: impl Into<String>) -> Self {
        Self::new(Severity::Information, "informational", diagnostics).at(path)
    }
    /// Set the element path (FHIRPath expression).
    pub fn at(mut self, path: impl Into<String>) -> Self {
        let p = path.into();
        self.expression = if p.is_empty() { vec![] } else { vec![p] };
        self
    }
}

/// FHIR OperationOutcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationOutcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub issue: Vec<Issue>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "resourceType")]
enum TaggedOutcome {
    OperationOutcome(OperationOutcome),
}

impl OperationOutcome {
    pub fn new(issue: Vec<Issue>) -> Self {
        Self { id: None, issue }
    }
    /// One error issue from a [`FhirError`].
    pub fn from_error(e: &FhirError) -> Self {
        Self::new(vec![e.to_issue()])
    }
    /// R4 requires at least one issue; an empty outcome says "all ok".
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = self.clone();
        if o.issue.is_empty() {
            o.issue
                .push(Issue::new(Severity::Information, "informational", "ok"));
        }
        serde_json::to_value(TaggedOutcome::OperationOutcome(o)).unwrap_or_default()
    }
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FhirError> {
        match TaggedOutcome::deserialize(v) {
            Ok(TaggedOutcome::OperationOutcome(o)) => Ok(o),
            Err(e) => Err(FhirError::new(
                ErrorKind::Structure,
                "OperationOutcome",
                e.to_string(),
            )),
        }
    }
    /// The highest severity present.
    pub fn worst(&self) -> Option<Severity> {
        self.issue.iter().map(|i| i.severity).min()
    }
}
