//! Resources Bedside writes. Each builder is a serde struct that
//! serializes to R4 JSON (`to_json`) and reads it back (`from_json`).

use crate::datetime::DateTime;
use crate::outcome::{ErrorKind, FhirError};
use crate::types::{Annotation, CodeableConcept, Identifier, Meta, Period, Quantity, Reference};
use serde::{Deserialize, Serialize};

/// FHIR Range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Quantity>,
}

impl Range {
    /// A unitless range, e.g. a probability interval.
    pub fn unitless(low: f64, high: f64) -> Self {
        let q = |v| Quantity {
            value: Some(v),
            ..Default::default()
        };
        Self {
            low: Some(q(low)),
            high: Some(q(high)),
        }
    }
}

/// `RiskAssessment.prediction`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskPrediction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CodeableConcept>,
    /// Probability in 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability_decimal: Option<f64>,
    /// An interval for the probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability_range: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualitative_risk: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_risk: Option<f64>,
    /// The horizon the prediction is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_period: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

/// FHIR RiskAssessment as Bedside writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    /// `registered | preliminary | final | amended | corrected | cancelled | entered-in-error | unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeableConcept>,
    pub subject: Reference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence_date_time: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performer: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub basis: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prediction: Vec<RiskPrediction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Annotation>,
}

/// `DetectedIssue.evidence`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectedIssueEvidence {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodeableConcept>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<Reference>,
}

/// FHIR DetectedIssue as Bedside writes it (e.g. a reviewer's finding that
/// a result disagrees with an AI output). R4 requires `status`; the
/// builder's callers set the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedIssue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    /// `registered | preliminary | final | amended | corrected | cancelled | entered-in-error | unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeableConcept>,
    /// `high | moderate | low` ([`DETECTED_ISSUE_SEVERITIES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_date_time: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implicated: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<DetectedIssueEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The values R4 allows in `DetectedIssue.severity`.
pub const DETECTED_ISSUE_SEVERITIES: [&str; 3] = ["high", "moderate", "low"];

#[derive(Serialize, Deserialize)]
#[serde(tag = "resourceType")]
enum Tagged {
    RiskAssessment(RiskAssessment),
    DetectedIssue(DetectedIssue),
}

impl RiskAssessment {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Tagged::RiskAssessment(self.clone())).unwrap_or_default()
    }
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FhirError> {
        match serde_path_to_error::deserialize::<_, Tagged>(v) {
            Ok(Tagged::RiskAssessment(r)) => Ok(r),
            Ok(_) => Err(FhirError::new(
                ErrorKind::Structure,
                "resourceType",
                "not a RiskAssessment",
            )),
            Err(e) => Err(FhirError::new(
                ErrorKind::Structure,
                format!("RiskAssessment.{}", e.path()),
                e.into_inner().to_string(),
            )),
        }
    }
}

impl DetectedIssue {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Tagged::DetectedIssue(self.clone())).unwrap_or_default()
    }
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FhirError> {
        match serde_path_to_error::deserialize::<_, Tagged>(v) {
            Ok(Tagged::DetectedIssue(r)) => Ok(r),
            Ok(_) => Err(FhirError::new(
                ErrorKind::Structure,
                "resourceType",
                "not a DetectedIssue",
            )),
            Err(e) => Err(FhirError::new(
                ErrorKind::Structure,
                format!("DetectedIssue.{}", e.path()),
                e.into_inner().to_string(),
            )),
        }
    }
}
