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

#[derive(Serialize, Deserialize)]
#[serde(tag = "resourceType")]
enum Tagged {
    RiskAssessment(RiskAssessment),
}

impl RiskAssessment {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Tagged::RiskAssessment(self.clone())).unwrap_or_default()
    }
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FhirError> {
        match serde_path_to_error::deserialize::<_, Tagged>(v) {
            Ok(Tagged::RiskAssessment(r)) => Ok(r),
            Err(e) => Err(FhirError::new(
                ErrorKind::Structure,
                format!("RiskAssessment.{}", e.path()),
                e.into_inner().to_string(),
            )),
        }
    }
}
