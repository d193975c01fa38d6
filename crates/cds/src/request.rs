//! Parsing hook requests at the edge.
//!
//! `parse_hook_request` is strict about what makes a body unusable (not
//! JSON, missing `hook`/`hookInstance`/`context`, wrong types, a
//! `fhirAuthorization` without its required fields, the wrong hook for the
//! service): those are 400s. It is lenient about context fields a hook
//! definition marks REQUIRED but a client left out (the specification's own
//! examples omit some), because the right answer there is 200 with no
//! cards and a logged reason: [`HookRequest::conformance_issues`] lists
//! them and [`HookRequest::patient_id`] fails with a named error.

use crate::json::{
    as_object, index, invalid_json, is_absolute_url, is_uuid, opt_string, req, req_string,
    string_at, type_name,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a hook request or feedback body was refused (a 400), or why a
/// request lacks what the service needs. Every variant names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HookError {
    #[error("invalid JSON at line {line} column {column}: {message}")]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{field}` is missing")]
    Missing { field: String },
    #[error("`{field}` must be {expected}, got {got}")]
    WrongType {
        field: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error(
        "wrong hook for this service: `hook` is {got:?} but this service answers {expected:?}"
    )]
    WrongHook { expected: String, got: String },
}

impl HookError {
    /// The JSON path of the offending field (`"context.patientId"`), if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            HookError::Missing { field }
            | HookError::WrongType { field, .. }
            | HookError::Invalid { field, .. } => Some(field),
            HookError::WrongHook { .. } => Some("hook"),
            HookError::InvalidJson { .. } => None,
        }
    }
}

/// The hooks Bedside knows the context of; others are carried as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HookKind {
    PatientView,
    OrderSelect,
    OrderSign,
    EncounterStart,
    EncounterDischarge,
    Other(String),
}

impl HookKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "patient-view" => HookKind::PatientView,
            "order-select" => HookKind::OrderSelect,
            "order-sign" => HookKind::OrderSign,
            "encounter-start" => HookKind::EncounterStart,
            "encounter-discharge" => HookKind::EncounterDischarge,
            other => HookKind::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            HookKind::PatientView => "patient-view",
            HookKind::OrderSelect => "order-select",
            HookKind::OrderSign => "order-sign",
            HookKind::EncounterStart => "encounter-start",
            HookKind::EncounterDischarge => "encounter-discharge",
            HookKind::Other(s) => s,
        }
    }

    /// Context fields the hook definition marks REQUIRED.
    pub fn required_context(&self) -> &'static [&'static str] {
        match self {
            HookKind::PatientView => &["userId", "patientId"],
            HookKind::OrderSelect => &["userId", "patientId", "selections", "draftOrders"],
            HookKind::OrderSign => &["userId", "patientId", "draftOrders"],
            HookKind::EncounterStart | HookKind::EncounterDischarge => {
                &["userId", "patientId", "encounterId"]
            }
            HookKind::Other(_) => &[],
        }
    }
}

/// `fhirAuthorization`: an OAuth 2.0 bearer token for the client's FHIR
/// server. Never log `access_token`.
#[derive(Clone, PartialEq)]
pub struct FhirAuthorization {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
    pub subject: String,
    pub patient: Option<String>,
}

impl std::fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirAuthorization")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("subject", &self.subject)
            .field("patient", &self.patient)
            .finish()
    }
}

/// The hook context. The fields the supported hooks define are typed; the
/// whole object is kept in `fields` (for prefetch tokens and other hooks).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookContext {
    pub user_id: Option<String>,
    pub patient_id: Option<String>,
    pub encounter_id: Option<String>,
    /// `order-select`: references into `draftOrders` (`"MedicationRequest/103"`).
    pub selections: Option<Vec<String>>,
    /// `order-select` / `order-sign`: a FHIR Bundle of draft orders.
    pub draft_orders: Option<Value>,
    pub fields: Map<String, Value>,
}

/// A parsed hook request.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRequest {
    pub hook: HookKind,
    /// `hookInstance`, as sent (a UUID).
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: HookContext,
    /// Prefetch results by key. `None` means the client sent `null`: it
    /// has no data for that template (do not fetch it again). A key absent
    /// from the map means the client did not satisfy that template.
    pub prefetch: BTreeMap<String, Option<Value>>,
    pub extension: Option<Map<String, Value>>,
}

impl HookRequest {
    /// `context.patientId`, or the error naming it.
    pub fn patient_id(&self) -> Result<&str, HookError> {
        self.context
            .patient_id
            .as_deref()
            .ok_or_else(|| HookError::Missing {
                field: "context.patientId".into(),
            })
    }

    /// Context fields the hook definition marks REQUIRED that are absent.
    /// These do not make the body unusable; a service answers with no cards
    /// and logs the reason.
    pub fn conformance_issues(&self) -> Vec<HookError> {
        self.hook
            .required_context()
            .iter()
            .filter(|f| !self.context.fields.contains_key(**f))
            .map(|f| HookError::Missing {
                field: format!("context.{f}"),
            })
            .collect()
    }
}

/// Parse a hook request body. `expected_hook` is the hook the called
/// service answers; a different `hook` is refused.
pub fn parse_hook_request(
    body: &[u8],
    expected_hook: Option<&str>,
) -> Result<HookRequest, HookError> {
    let mut root: Value = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    // Prefetch is the bulk of a request: move it out instead of cloning.
    let prefetch_value = root.as_object_mut().and_then(|o| o.remove("prefetch"));
    let obj = as_object(&root, "")?;

    let hook = req_string(obj, "", "hook")?;
    if let Some(expected) = expected_hook {
        if hook != expected {
            return Err(HookError::WrongHook {
                expected: expected.to_string(),
                got: hook,
            });
        }
    }
    let hook_instance = req_string(obj, "", "hookInstance")?;
    if !is_uuid(&hook_instance) {
        return Err(HookError::Invalid {
            field: "hookInstance".into(),
            reason: format!("{hook_instance:?} is not a UUID"),
        });
    }

    let fhir_server = opt_string(obj, "", "fhirServer")?;
    if let Some(url) = &fhir_server {
        if !is_absolute_url(url) {
            return Err(HookError::Invalid {
                field: "fhirServer".into(),
                reason: format!("{url:?} is not an absolute http(s) URL"),
            });
        }
    }
    let fhir_authorization = match obj.get("fhirAuthorization") {
        None => None,
        Some(v) => {
            if fhir_server.is_none() {
                return Err(HookError::Missing {
                    field: "fhirServer (REQUIRED when fhirAuthorization is provided)".into(),
                });
            }
            Some(parse_fhir_authorization(v)?)
        }
    };

    let context = parse_context(as_object(req(obj, "", "context")?, "context")?)?;

    let mut prefetch = BTreeMap::new();
    match prefetch_value {
        None => {}
        Some(Value::Object(items)) => {
            for (k, item) in items {
                let value = match item {
                    Value::Null => None,
                    v @ Value::Object(_) => Some(v),
                    other => {
                        return Err(HookError::WrongType {
                            field: format!("prefetch.{k}"),
                            expected: "a FHIR resource object or null",
                            got: type_name(&other),
                        })
                    }
                };
                prefetch.insert(k, value);
            }
        }
        Some(other) => {
            return Err(HookError::WrongType {
                field: "prefetch".into(),
                expected: "an object",
                got: type_name(&other),
            })
        }
    }
    let extension = match obj.get("extension") {
        None => None,
        Some(v) => Some(as_object(v, "extension")?.clone()),
    };

    Ok(HookRequest {
        hook: HookKind::parse(&hook),
        hook_instance,
        fhir_server,
        fhir_authorization,
        context,
        prefetch,
        extension,
    })
}

fn parse_fhir_authorization(v: &Value) -> Result<FhirAuthorization, HookError> {
    const P: &str = "fhirAuthorization";
    let obj = as_object(v, P)?;
    let token_type = req_string(obj, P, "token_type")?;
    if token_type != "Bearer" {
        return Err(HookError::Invalid {
            field: "fhirAuthorization.token_type".into(),
            reason: format!("must be \"Bearer\", got {token_type:?}"),
        });
    }
    let expires_in = match req(obj, P, "expires_in")? {
        Value::Number(n) => n.as_u64().ok_or_else(|| HookError::Invalid {
            field: "fhirAuthorization.expires_in".into(),
            reason: format!("must be a non-negative integer, got {n}"),
        })?,
        other => {
            return Err(HookError::WrongType {
                field: "fhirAuthorization.expires_in".into(),
                expected: "an integer",
                got: type_name(other),
            })
        }
    };
    Ok(FhirAuthorization {
        access_token: req_string(obj, P, "access_token")?,
        token_type,
        expires_in,
        scope: req_string(obj, P, "scope")?,
        subject: req_string(obj, P, "subject")?,
        patient: opt_string(obj, P, "patient")?,
    })
}

fn parse_context(obj: &Map<String, Value>) -> Result<HookContext, HookError> {
    const P: &str = "context";
    let selections = match obj.get("selections") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, s)| string_at(s, &index("context.selections", i)))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(HookError::WrongType {
                field: "context.selections".into(),
                expected: "an array of strings",
                got: type_name(other),
            })
        }
    };
    let draft_orders = match obj.get("draftOrders") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => {
            return Err(HookError::WrongType {
                field: "context.draftOrders".into(),
                expected: "a FHIR Bundle object",
                got: type_name(other),
            })
        }
    };
    Ok(HookContext {
        user_id: opt_string(obj, P, "userId")?,
        patient_id: opt_string(obj, P, "patientId")?,
        encounter_id: opt_string(obj, P, "encounterId")?,
        selections,
        draft_orders,
        fields: obj.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value, hook: Option<&str>) -> Result<HookRequest, HookError> {
        parse_hook_request(v.to_string().as_bytes(), hook)
    }

    fn minimal() -> Value {
        serde_json::json!({
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1"}
        })
    }

    #[test]
    fn minimal_request_parses() {
        let r = parse(minimal(), Some("patient-view")).unwrap();
        assert_eq!(r.hook, HookKind::PatientView);
        assert_eq!(r.patient_id().unwrap(), "p1");
        assert!(r.conformance_issues().is_empty());
        assert!(r.prefetch.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_hook_request(b"{\"hook\": ", None).unwrap_err();
        assert!(matches!(e, HookError::InvalidJson { line: 1, .. }), "{e}");

        let mut v = minimal();
        v.as_object_mut().unwrap().remove("hookInstance");
        let e = parse(v, None).unwrap_err();
        assert_eq!(e.to_string(), "`hookInstance` is missing");

        let mut v = minimal();
        v["hookInstance"] = "not-a-uuid".into();
        let e = parse(v, None).unwrap_err();
        assert_eq!(e.field(), Some("hookInstance"));
        assert!(e.to_string().contains("not a UUID"), "{e}");

        let mut v = minimal();
        v["context"]["patientId"] = 42.into();
        let e = parse(v, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`context.patientId` must be a string, got number"
        );

        let e = parse(minimal(), Some("order-sign")).unwrap_err();
        assert!(matches!(e, HookError::WrongHook { .. }));
        assert!(e.to_string().contains("order-sign"), "{e}");

        let mut v = minimal();
        v["context"] = Value::Array(vec![]);
        assert_eq!(parse(v, None).unwrap_err().field(), Some("context"));

        let e = parse_hook_request(b"[1]", None).unwrap_err();
        assert!(e.to_string().contains("must be an object"), "{e}");
    }

    #[test]
    fn missing_patient_id_is_a_named_conformance_issue_not_a_parse_error() {
        let mut v = minimal();
        v["context"].as_object_mut().unwrap().remove("patientId");
        let r = parse(v, None).unwrap();
        let e = r.patient_id().unwrap_err();
        assert_eq!(e.to_string(), "`context.patientId` is missing");
        assert_eq!(r.conformance_issues(), vec![e]);
    }

    #[test]
    fn fhir_authorization_rules() {
        let mut v = minimal();
        v["fhirAuthorization"] = serde_json::json!({
            "access_token": "secret", "token_type": "Bearer", "expires_in": 300,
            "scope": "user/Patient.read", "subject": "svc"
        });
        // fhirServer is REQUIRED when fhirAuthorization is present.
        let e = parse(v.clone(), None).unwrap_err();
        assert!(e.to_string().contains("fhirServer"), "{e}");
        v["fhirServer"] = "https://ehr.example.org/fhir".into();
        let r = parse(v.clone(), None).unwrap();
        let auth = r.fhir_authorization.unwrap();
        assert_eq!(auth.expires_in, 300);
        assert!(
            !format!("{auth:?}").contains("secret"),
            "token must not be printed"
        );

        v["fhirAuthorization"]["token_type"] = "MAC".into();
        assert_eq!(
            parse(v.clone(), None).unwrap_err().field(),
            Some("fhirAuthorization.token_type")
        );
        v["fhirAuthorization"]["token_type"] = "Bearer".into();
        v["fhirAuthorization"]
            .as_object_mut()
            .unwrap()
            .remove("scope");
        assert_eq!(
            parse(v, None).unwrap_err().to_string(),
            "`fhirAuthorization.scope` is missing"
        );
    }

    #[test]
    fn prefetch_null_means_no_data() {
        let mut v = minimal();
        v["prefetch"] =
            serde_json::json!({"patient": {"resourceType": "Patient", "id": "p1"}, "labs": null});
        let r = parse(v.clone(), None).unwrap();
        assert!(r.prefetch["patient"].is_some());
        assert_eq!(r.prefetch["labs"], None);
        v["prefetch"]["labs"] = "x".into();
        assert_eq!(parse(v, None).unwrap_err().field(), Some("prefetch.labs"));
    }
}
