//! `parse_resource`: JSON bytes -> checked, typed [`ParsedResource`].

use crate::outcome::{ErrorKind, FhirError, Issue};
use crate::resources::*;
use crate::types::{is_resource_type, is_valid_id, parse_reference, Meta};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A checked resource: the typed view, its header, the JSON it came from,
/// and the warnings found (R4 deviations that do not prevent use).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedResource {
    pub resource: Resource,
    pub rtype: String,
    pub id: Option<String>,
    pub meta: Meta,
    /// The resource JSON (references inside a Bundle already resolved).
    pub json: Value,
    pub warnings: Vec<Issue>,
}

impl ParsedResource {
    /// The JSON text to store (compact).
    pub fn body(&self) -> String {
        serde_json::to_string(&self.json).unwrap_or_default()
    }
    /// `(type, id)` when the resource has an id.
    pub fn key(&self) -> Option<(&str, &str)> {
        self.id.as_deref().map(|id| (self.rtype.as_str(), id))
    }
    /// Set the id (in the typed header and in the JSON).
    pub fn set_id(&mut self, id: &str) {
        self.id = Some(id.to_string());
        if let Value::Object(m) = &mut self.json {
            m.insert("id".into(), Value::String(id.to_string()));
        }
    }
    /// Give an id-less resource a deterministic id derived from its
    /// content (`h` + 32 hex digits of SHA-256), so the same resource
    /// delivered twice is recognised. Returns the id.
    pub fn ensure_id(&mut self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        let digest = Sha256::digest(self.body().as_bytes());
        let id = format!("h{}", &hex::encode(digest)[..32]);
        self.set_id(&id);
        id
    }
}

/// Parse one resource from JSON bytes.
pub fn parse_resource(json: &[u8]) -> Result<ParsedResource, FhirError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| FhirError::new(ErrorKind::Json, "", format!("invalid JSON: {e}")))?;
    parse_value(v)
}

/// Parse one resource from a JSON value.
pub fn parse_value(json: Value) -> Result<ParsedResource, FhirError> {
    let obj = json
        .as_object()
        .ok_or_else(|| FhirError::new(ErrorKind::Json, "", "a resource must be a JSON object"))?;
    let rtype = match obj.get("resourceType") {
        None => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                "missing resourceType",
            ))
        }
        Some(Value::String(s)) if is_resource_type(s) => s.clone(),
        Some(Value::String(s)) => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                format!("{s:?} is not an R4 resource type"),
            ))
        }
        Some(_) => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                "resourceType must be a string",
            ))
        }
    };
    let id = match obj.get("id") {
        None => None,
        Some(Value::String(s)) if is_valid_id(s) => Some(s.clone()),
        Some(other) => {
            return Err(FhirError::new(
                ErrorKind::Id,
                format!("{rtype}.id"),
                format!("{other} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)"),
            ))
        }
    };
    let meta = match obj.get("meta") {
        None => Meta::default(),
        Some(m) => typed::<Meta>(m, &format!("{rtype}.meta"))?,
    };
    let mut warnings = Vec::new();
    let mut path = rtype.clone();
    walk(&json, &mut path, &mut warnings)?;
    let resource = typed_view(&rtype, &json, &mut warnings)?;
    Ok(ParsedResource {
        resource,
        rtype,
        id,
        meta,
        json,
        warnings,
    })
}

fn classify(msg: &str) -> ErrorKind {
    if msg.contains("is not a valid FHIR") {
        ErrorKind::Date
    } else if msg.starts_with("missing field") {
        ErrorKind::Structure
    } else {
        ErrorKind::Value
    }
}

fn typed<T: DeserializeOwned>(v: &Value, root: &str) -> Result<T, FhirError> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let p = e.path().to_string();
        let path = if p == "." {
            root.to_string()
        } else if p.starts_with('[') {
            format!("{root}{p}")
        } else {
            format!("{root}.{p}")
        };
        let msg = e.into_inner().to_string();
        FhirError::new(classify(&msg), path, msg)
    })
}

fn typed_view(rtype: &str, v: &Value, warnings: &mut Vec<Issue>) -> Result<Resource, FhirError> {
    Ok(match rtype {
        "Patient" => Resource::Patient(typed(v, rtype)?),
        "Encounter" => Resource::Encounter(typed(v, rtype)?),
        "Observation" => {
            let o: Observation = typed(v, rtype)?;
            if o.code.is_none() {
                warnings.push(Issue::warning(
                    "required",
                    "Observation.code",
                    "Observation.code is required in R4",
                ));
            }
            Resource::Observation(o)
        }
        "Condition" => Resource::Condition(typed(v, rtype)?),
        "MedicationRequest" => Resource::MedicationRequest(typed(v, rtype)?),
        "MedicationAdministration" => {
            check_dosage(v, warnings);
            Resource::MedicationAdministration(typed(v, rtype)?)
        }
        "Procedure" => Resource::Procedure(typed(v, rtype)?),
        "ServiceRequest" => Resource::ServiceRequest(typed(v, rtype)?),
        "Specimen" => Resource::Specimen(typed(v, rtype)?),
        "AllergyIntolerance" => Resource::AllergyIntolerance(typed(v, rtype)?),
        "ImagingStudy" => Resource::ImagingStudy(typed(v, rtype)?),
        "DiagnosticReport" => Resource::DiagnosticReport(typed(v, rtype)?),
        "Practitioner" => Resource::Practitioner(typed(v, rtype)?),
        "PractitionerRole" => Resource::PractitionerRole(typed(v, rtype)?),
        "CareTeam" => Resource::CareTeam(typed(v, rtype)?),
        "Location" => Resource::Location(typed(v, rtype)?),
        "Organization" => Resource::Organization(typed(v, rtype)?),
        other => {
            warnings.push(Issue::info(
                other,
                format!("{other} is not a type Bedside reads; stored and otherwise ignored"),
            ));
            Resource::Other {
                rtype: other.to_string(),
            }
        }
    })
}

/// R4 `MedicationAdministration.dosage` has no `timing` or `doseAndRate`;
/// feeds send them anyway. Warn, keep the resource.
fn check_dosage(v: &Value, warnings: &mut Vec<Issue>) {
    const DEFINED: &[&str] = &[
        "id",
        "extension",
        "modifierExtension",
        "text",
        "site",
        "route",
        "method",
        "dose",
        "rateRatio",
        "rateQuantity",
    ];
    if let Some(Value::Object(d)) = v.get("dosage") {
        for k in d.keys() {
            if !DEFINED.contains(&k.as_str()) && !k.starts_with('_') {
                warnings.push(Issue::warning(
                    "structure",
                    format!("MedicationAdministration.dosage.{k}"),
                    format!("MedicationAdministration.dosage.{k} is not defined in R4; ignored"),
                ));
            }
        }
    }
}

/// One pass over the JSON: reference strings must parse (error); empty
/// strings, empty arrays/objects and null properties are R4 deviations
/// (warnings).
fn walk(v: &Value, path: &mut String, warnings: &mut Vec<Issue>) -> Result<(), FhirError> {
    match v {
        Value::Object(m) => {
            if m.is_empty() {
                warnings.push(Issue::warning("structure", path.clone(), "empty object"));
            }
            for (k, child) in m {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match child {
                    Value::String(s) if k == "reference" => {
                        if let Err(why) = parse_reference(s) {
                            return Err(FhirError::new(ErrorKind::Reference, path.clone(), why));
                        }
                    }
                    Value::String(s) if s.is_empty() => {
                        warnings.push(Issue::warning("value", path.clone(), "empty string"));
                    }
                    Value::Null => {
                        warnings.push(Issue::warning("structure", path.clone(), "null value"));
                    }
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                    _ => walk(child, path, warnings)?,
                }
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            if a.is_empty() {
                warnings.push(Issue::warning("structure", path.clone(), "empty array"));
            }
            for (i, child) in a.iter().enumerate() {
                if matches!(child, Value::Object(_) | Value::Array(_)) {
                    let len = path.len();
                    use std::fmt::Write;
                    let _ = write!(path, "[{i}]");
                    walk(child, path, warnings)?;
                    path.truncate(len);
                } else if matches!(child, Value::String(s) if s.is_empty()) {
                    warnings.push(Issue::warning(
                        "value",
                        format!("{path}[{i}]"),
                        "empty string",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Deserialize a datatype from JSON with a path-naming error.
pub fn parse_datatype<T: for<'de> Deserialize<'de>>(v: &Value, path: &str) -> Result<T, FhirError> {
    typed(v, path)
}
