//! `parse_resource`: JSON bytes -> checked, typed [`ParsedResource`].

use crate::outcome::{ErrorKind, FhirError, Issue};
use crate::resources::*;
use crate::types::{is_resource_type, is_valid_id, Meta};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod rules;
mod rules_table;
mod scan;

/// A checked resource: the typed view, its header, the JSON it came from,
/// and the warnings found (R4 deviations that do not prevent use).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedResource {
    pub resource: Resource,
    pub rtype: String,
    pub id: Option<String>,
    pub meta: Meta,
    /// The resource JSON (references inside a Bundle already resolved).
    json: Json,
    pub warnings: Vec<Issue>,
    /// Top-level elements R4 does not define for this type (paths such as
    /// `Observation.foo`; each is also a warning). Bulk import keeps the
    /// resource; a single-resource write refuses it
    /// ([`ParsedResource::refuse_unknown`]).
    pub unknown: Vec<String>,
}

/// The JSON of a [`ParsedResource`]: the text exactly as received (a
/// resource parsed from bytes and not changed since: stored as is, never
/// re-serialised), or a tree (from a Bundle, whose references were
/// rewritten, or after [`ParsedResource::set_id`]).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Text(String),
    Tree(Value),
}

impl ParsedResource {
    /// The JSON text to store: the bytes received when unchanged, else the
    /// compact serialisation of the tree.
    pub fn body(&self) -> String {
        match &self.json {
            Json::Text(t) => t.clone(),
            Json::Tree(v) => serde_json::to_string(v).unwrap_or_default(),
        }
    }
    /// The resource JSON as a tree (built from the text on demand).
    pub fn json(&self) -> std::borrow::Cow<'_, Value> {
        match &self.json {
            Json::Tree(v) => std::borrow::Cow::Borrowed(v),
            // Checked JSON when it was parsed, so this cannot fail.
            Json::Text(t) => std::borrow::Cow::Owned(serde_json::from_str(t).unwrap_or_default()),
        }
    }
    /// An error naming the unknown elements, if there are any: what a
    /// single-resource write (`POST`/`PUT`, a transaction or batch entry)
    /// answers, since the sender asked to store exactly this resource.
    pub fn refuse_unknown(&self) -> Result<(), FhirError> {
        match self.unknown.first() {
            None => Ok(()),
            Some(first) => Err(FhirError::new(
                ErrorKind::Structure,
                first.clone(),
                format!(
                    "unknown element{} {}: not defined by R4 for {}",
                    if self.unknown.len() > 1 { "s" } else { "" },
                    self.unknown.join(", "),
                    self.rtype
                ),
            )),
        }
    }
    /// `(type, id)` when the resource has an id.
    pub fn key(&self) -> Option<(&str, &str)> {
        self.id.as_deref().map(|id| (self.rtype.as_str(), id))
    }
    /// Set the id (in the typed header and in the JSON).
    pub fn set_id(&mut self, id: &str) {
        self.id = Some(id.to_string());
        if let Json::Text(t) = &self.json {
            self.json = Json::Tree(serde_json::from_str(t).unwrap_or_default());
        }
        if let Json::Tree(Value::Object(m)) = &mut self.json {
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

/// Parse one resource from JSON bytes: the same checks, outcome and
/// warnings as [`parse_value`], without building a JSON tree. One pass over
/// the bytes checks the syntax, every reference and the R4 deviations
/// ([`scan`]); a second deserializes the typed view straight from the
/// bytes. The text is kept as the body to store.
pub fn parse_resource(json: &[u8]) -> Result<ParsedResource, FhirError> {
    let invalid = |e: &dyn std::fmt::Display| {
        FhirError::new(ErrorKind::Json, "", format!("invalid JSON: {e}"))
    };
    let text = std::str::from_utf8(json).map_err(|e| invalid(&e))?;
    let top = scan::scan(text).map_err(|e| invalid(&e))?;
    if !top.object {
        return Err(FhirError::new(
            ErrorKind::Json,
            "",
            "a resource must be a JSON object",
        ));
    }
    let rtype = match top.resource_type {
        None => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                "missing resourceType",
            ))
        }
        Some(Value::String(s)) if is_resource_type(&s) => s,
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
    let id = match top.id {
        None => None,
        Some(Value::String(s)) if is_valid_id(&s) => Some(s),
        Some(other) => {
            return Err(FhirError::new(
                ErrorKind::Id,
                format!("{rtype}.id"),
                format!("{other} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)"),
            ))
        }
    };
    let meta = match &top.meta {
        None => Meta::default(),
        Some(m) => typed::<Meta>(m, &format!("{rtype}.meta"))?,
    };
    if let Some((path, why)) = top.bad_reference {
        return Err(FhirError::new(
            ErrorKind::Reference,
            format!("{rtype}{path}"),
            why,
        ));
    }
    let unknown = rules::check(&rtype, &top.top)?;
    let mut warnings: Vec<Issue> = top
        .warnings
        .into_iter()
        .map(|(code, path, msg)| Issue::warning(code, format!("{rtype}{path}"), msg))
        .collect();
    warnings.extend(unknown_warnings(&unknown));
    let resource = match top.dosage.as_ref() {
        Some(d) if rtype == "MedicationAdministration" => {
            check_dosage_keys(d, &mut warnings);
            typed_view_text(&rtype, text, &mut warnings)?
        }
        _ => typed_view_text(&rtype, text, &mut warnings)?,
    };
    Ok(ParsedResource {
        resource,
        rtype,
        id,
        meta,
        json: Json::Text(text.to_string()),
        warnings,
        unknown,
    })
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
    let mut found = scan::Scanned::default();
    scan::walk_tree(&json, &mut found);
    if let Some((path, why)) = found.bad_reference {
        return Err(FhirError::new(
            ErrorKind::Reference,
            format!("{rtype}{path}"),
            why,
        ));
    }
    let unknown = rules::check(&rtype, &found.top)?;
    let mut warnings: Vec<Issue> = found
        .warnings
        .into_iter()
        .map(|(code, path, msg)| Issue::warning(code, format!("{rtype}{path}"), msg))
        .collect();
    warnings.extend(unknown_warnings(&unknown));
    let resource = typed_view(&rtype, &json, &mut warnings)?;
    Ok(ParsedResource {
        resource,
        rtype,
        id,
        meta,
        json: Json::Tree(json),
        warnings,
        unknown,
    })
}

fn unknown_warnings(unknown: &[String]) -> impl Iterator<Item = Issue> + '_ {
    unknown.iter().map(|p| {
        Issue::warning(
            "structure",
            p.clone(),
            format!("{p} is not an element R4 defines; kept, not read"),
        )
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

/// [`typed`] from JSON text (the error without serde_json's position).
fn typed_text<'de, T: Deserialize<'de>>(text: &'de str, root: &str) -> Result<T, FhirError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let p = e.path().to_string();
        let path = if p == "." {
            root.to_string()
        } else if p.starts_with('[') {
            format!("{root}{p}")
        } else {
            format!("{root}.{p}")
        };
        let inner = e.into_inner();
        let mut msg = inner.to_string();
        let at = format!(" at line {} column {}", inner.line(), inner.column());
        if msg.ends_with(&at) {
            msg.truncate(msg.len() - at.len());
        }
        FhirError::new(classify(&msg), path, msg)
    })
}

/// [`typed_view`] from JSON text.
fn typed_view_text(
    rtype: &str,
    text: &str,
    warnings: &mut Vec<Issue>,
) -> Result<Resource, FhirError> {
    Ok(match rtype {
        "Patient" => Resource::Patient(typed_text(text, rtype)?),
        "Encounter" => Resource::Encounter(typed_text(text, rtype)?),
        "Observation" => Resource::Observation(typed_text(text, rtype)?),
        "Condition" => Resource::Condition(typed_text(text, rtype)?),
        "MedicationRequest" => Resource::MedicationRequest(typed_text(text, rtype)?),
        "MedicationAdministration" => Resource::MedicationAdministration(typed_text(text, rtype)?),
        "Procedure" => Resource::Procedure(typed_text(text, rtype)?),
        "ServiceRequest" => Resource::ServiceRequest(typed_text(text, rtype)?),
        "Specimen" => Resource::Specimen(typed_text(text, rtype)?),
        "AllergyIntolerance" => Resource::AllergyIntolerance(typed_text(text, rtype)?),
        "ImagingStudy" => Resource::ImagingStudy(typed_text(text, rtype)?),
        "DiagnosticReport" => Resource::DiagnosticReport(typed_text(text, rtype)?),
        "Practitioner" => Resource::Practitioner(typed_text(text, rtype)?),
        "PractitionerRole" => Resource::PractitionerRole(typed_text(text, rtype)?),
        "CareTeam" => Resource::CareTeam(typed_text(text, rtype)?),
        "Location" => Resource::Location(typed_text(text, rtype)?),
        "Organization" => Resource::Organization(typed_text(text, rtype)?),
        other => {
            warnings.push(not_read_info(other));
            Resource::Other {
                rtype: other.to_string(),
            }
        }
    })
}

fn not_read_info(rtype: &str) -> Issue {
    Issue::info(
        rtype,
        format!("{rtype} is not a type Bedside reads; stored and otherwise ignored"),
    )
}

fn typed_view(rtype: &str, v: &Value, warnings: &mut Vec<Issue>) -> Result<Resource, FhirError> {
    Ok(match rtype {
        "Patient" => Resource::Patient(typed(v, rtype)?),
        "Encounter" => Resource::Encounter(typed(v, rtype)?),
        "Observation" => Resource::Observation(typed(v, rtype)?),
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
            warnings.push(not_read_info(other));
            Resource::Other {
                rtype: other.to_string(),
            }
        }
    })
}

/// R4 `MedicationAdministration.dosage` has no `timing` or `doseAndRate`;
/// feeds send them anyway. Warn, keep the resource.
fn check_dosage(v: &Value, warnings: &mut Vec<Issue>) {
    if let Some(d) = v.get("dosage") {
        check_dosage_keys(d, warnings);
    }
}

/// [`check_dosage`] on the `dosage` element itself.
fn check_dosage_keys(dosage: &Value, warnings: &mut Vec<Issue>) {
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
    if let Value::Object(d) = dosage {
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

/// Deserialize a datatype from JSON with a path-naming error.
pub fn parse_datatype<T: for<'de> Deserialize<'de>>(v: &Value, path: &str) -> Result<T, FhirError> {
    typed(v, path)
}
