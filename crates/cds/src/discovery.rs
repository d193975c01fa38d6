//! The discovery document and prefetch templates.

use crate::json::{index, join};
use crate::request::{HookContext, HookRequest};
use crate::types::{Discovery, ServiceDescriptor};
use crate::validate::{Violation, V};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::HashSet;

/// Prefetch keys and templates for a risk model: the patient, recent vital
/// signs and laboratory results, active conditions and medications.
pub fn standard_prefetch() -> BTreeMap<String, String> {
    [
        ("patient", "Patient/{{context.patientId}}"),
        (
            "vitals",
            "Observation?patient={{context.patientId}}&category=vital-signs&_sort=-date&_count=100",
        ),
        (
            "labs",
            "Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=100",
        ),
        (
            "conditions",
            "Condition?patient={{context.patientId}}&clinical-status=active",
        ),
        (
            "medications",
            "MedicationRequest?patient={{context.patientId}}&status=active",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One CDS service as configured (one per model and hook).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// The `{id}` in `{baseUrl}/cds-services/{id}`.
    pub id: String,
    pub hook: String,
    pub title: String,
    pub description: String,
    pub prefetch: BTreeMap<String, String>,
    pub usage_requirements: Option<String>,
}

impl ServiceSpec {
    /// A service with the [`standard_prefetch`] templates.
    pub fn new(id: &str, hook: &str, title: &str, description: &str) -> Self {
        Self {
            id: id.to_string(),
            hook: hook.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            prefetch: standard_prefetch(),
            usage_requirements: None,
        }
    }

    fn descriptor(&self) -> ServiceDescriptor {
        ServiceDescriptor {
            hook: self.hook.clone(),
            title: Some(self.title.clone()),
            description: self.description.clone(),
            id: self.id.clone(),
            prefetch: self.prefetch.clone(),
            usage_requirements: self.usage_requirements.clone(),
        }
    }
}

/// The discovery document for `GET {baseUrl}/cds-services`.
pub fn discovery(services: &[ServiceSpec]) -> Value {
    let doc = Discovery {
        services: services.iter().map(ServiceSpec::descriptor).collect(),
    };
    // Serializing plain strings and maps cannot fail.
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

/// Why a prefetch template could not be expanded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrefetchError {
    #[error("prefetch template {template:?}: token {{{{{token}}}}} is not of the form {{{{context.field}}}}")]
    BadToken { template: String, token: String },
    #[error("prefetch template {template:?}: `context.{field}` is absent from the hook context")]
    MissingField { template: String, field: String },
    #[error(
        "prefetch template {template:?}: `context.{field}` is not a string, number or boolean"
    )]
    NotPrimitive { template: String, field: String },
    #[error("prefetch template {template:?} has an unterminated {{{{ token")]
    Unterminated { template: String },
}

/// Percent-encode a context value for a relative FHIR URL. Unreserved
/// characters and `/` (for references like `Practitioner/123`) are kept;
/// everything else is encoded, so a value cannot inject query parameters.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replace the `{{context.field}}` tokens of a prefetch template with the
/// hook context's values, giving a relative FHIR URL to fetch from
/// `fhirServer` when the client did not prefetch.
pub fn expand_prefetch(template: &str, context: &HookContext) -> Result<String, PrefetchError> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| PrefetchError::Unterminated {
                template: template.to_string(),
            })?;
        let token = after[..end].trim();
        let field = token
            .strip_prefix("context.")
            .filter(|f| !f.is_empty() && !f.contains('.'))
            .ok_or_else(|| PrefetchError::BadToken {
                template: template.to_string(),
                token: token.to_string(),
            })?;
        let value = match context.fields.get(field) {
            None | Some(Value::Null) => {
                return Err(PrefetchError::MissingField {
                    template: template.to_string(),
                    field: field.to_string(),
                })
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => {
                return Err(PrefetchError::NotPrimitive {
                    template: template.to_string(),
                    field: field.to_string(),
                })
            }
        };
        out.push_str(&encode(&value));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The prefetch templates of `service` the client did not satisfy (keys
/// absent from the request; a `null` value means "no data" and is not
/// refetched), expanded against the request's context: `(key, relative
/// URL)` pairs to fetch from `fhirServer`.
pub fn missing_prefetch(
    prefetch: &BTreeMap<String, String>,
    request: &HookRequest,
) -> Vec<(String, Result<String, PrefetchError>)> {
    prefetch
        .iter()
        .filter(|(key, _)| !request.prefetch.contains_key(*key))
        .map(|(key, t)| (key.clone(), expand_prefetch(t, &request.context)))
        .collect()
}

/// Problems with the prefetch tokens of one template: tokens are `{{` `}}`
/// delimited and name a root-level context field (`{{context.patientId}}`).
pub(crate) fn template_problems(template: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            problems.push("has an unterminated {{ token".to_string());
            break;
        };
        let token = after[..end].trim();
        match token.strip_prefix("context.") {
            Some(field)
                if !field.is_empty()
                    && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {}
            _ => problems.push(format!(
                "token {{{{{token}}}}} must name a root-level context field, like {{{{context.patientId}}}}"
            )),
        }
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        problems.push("has a }} without a matching {{".to_string());
    }
    problems
}

/// Check a discovery document (`{"services": [...]}`).
pub fn validate_discovery(doc: &Value) -> Vec<Violation> {
    let mut v = V::default();
    let Some(o) = v.object(doc, "(discovery)") else {
        return v.out;
    };
    let Some(services) = v.array(o, "", "services", true) else {
        return v.out;
    };
    let mut ids = HashSet::new();
    for (i, s) in services.iter().enumerate() {
        let p = index("services", i);
        let Some(so) = v.object(s, &p) else { continue };
        v.req_string(so, &p, "hook");
        v.opt_string(so, &p, "title");
        v.req_string(so, &p, "description");
        if let Some(id) = v.req_string(so, &p, "id") {
            if id
                .chars()
                .any(|c| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            {
                v.push(
                    &join(&p, "id"),
                    format!("must be a single URL path segment, got {id:?}"),
                );
            }
            if !ids.insert(id.to_string()) {
                v.push(&join(&p, "id"), format!("duplicate service id {id:?}"));
            }
        }
        v.opt_string(so, &p, "usageRequirements");
        if let Some(pf) = v.field(so, &p, "prefetch") {
            let pp = join(&p, "prefetch");
            if let Some(po) = v.object(pf, &pp) {
                for (key, t) in po {
                    let kp = join(&pp, key);
                    if let Some(t) = v.string(t, &kp, true) {
                        for problem in template_problems(t) {
                            v.push(&kp, problem);
                        }
                    }
                }
            }
        }
        if let Some(ext) = v.field(so, &p, "extension") {
            v.object(ext, &join(&p, "extension"));
        }
    }
    v.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_hook_request;
    use serde_json::json;

    fn ctx(v: Value) -> HookContext {
        HookContext {
            fields: v.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn expands_tokens_and_encodes_values() {
        let c = ctx(
            serde_json::json!({"patientId": "123", "userId": "Practitioner/9", "n": 5, "odd": "a&b c"}),
        );
        assert_eq!(
            expand_prefetch("Observation?patient={{context.patientId}}&_count=1", &c).unwrap(),
            "Observation?patient=123&_count=1"
        );
        assert_eq!(
            expand_prefetch("{{context.userId}}", &c).unwrap(),
            "Practitioner/9"
        );
        assert_eq!(expand_prefetch("X?n={{ context.n }}", &c).unwrap(), "X?n=5");
        assert_eq!(
            expand_prefetch("X?p={{context.odd}}", &c).unwrap(),
            "X?p=a%26b%20c"
        );
        assert!(matches!(
            expand_prefetch("Encounter/{{context.encounterId}}", &c),
            Err(PrefetchError::MissingField { .. })
        ));
        assert!(matches!(
            expand_prefetch("X/{{context.patient.id}}", &c),
            Err(PrefetchError::BadToken { .. })
        ));
        assert!(matches!(
            expand_prefetch("X/{{context.patientId", &c),
            Err(PrefetchError::Unterminated { .. })
        ));
    }

    #[test]
    fn discovery_document_is_valid_and_has_templates() {
        let specs = vec![
            ServiceSpec::new(
                "sepsis-patient-view",
                "patient-view",
                "Sepsis risk",
                "Calibrated sepsis risk",
            ),
            ServiceSpec::new(
                "sepsis-order-sign",
                "order-sign",
                "Sepsis risk",
                "Calibrated sepsis risk",
            ),
        ];
        let doc = discovery(&specs);
        assert_eq!(validate_discovery(&doc), vec![]);
        assert_eq!(doc["services"][1]["hook"], "order-sign");
        assert_eq!(
            doc["services"][0]["prefetch"]["conditions"],
            "Condition?patient={{context.patientId}}&clinical-status=active"
        );
        assert!(doc["services"][0].get("usageRequirements").is_none());
    }

    #[test]
    fn missing_prefetch_skips_null_and_present_keys() {
        let body = serde_json::json!({
            "hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1"},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"}, "labs": null}
        });
        let req = parse_hook_request(body.to_string().as_bytes(), None).unwrap();
        let missing = missing_prefetch(&standard_prefetch(), &req);
        let keys: Vec<&str> = missing.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["conditions", "medications", "vitals"]);
        assert_eq!(
            missing[0].1.as_deref().unwrap(),
            "Condition?patient=p1&clinical-status=active"
        );
    }

    #[test]
    fn discovery_rules() {
        let good = json!({"services": [{"hook": "patient-view", "id": "sepsis", "description": "d",
            "prefetch": {"patient": "Patient/{{context.patientId}}"}}]});
        assert_eq!(validate_discovery(&good), vec![]);
        let bad = json!({"services": [
            {"hook": "patient-view", "id": "a/b", "description": "d"},
            {"hook": "", "id": "x", "description": "d", "prefetch": {"p": "Patient/{{context.patient.id}}"}},
            {"id": "x"}]});
        let got: Vec<String> = validate_discovery(&bad)
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(
            got,
            vec![
                "services[0].id",
                "services[1].hook",
                "services[1].prefetch.p",
                "services[2].hook",
                "services[2].description",
                "services[2].id"
            ]
        );
    }
}
