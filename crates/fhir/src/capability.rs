//! `CapabilityStatement` out (`GET /fhir/metadata`): what a server
//! supports, built from a plain description ([`Capabilities`]) so the
//! server states exactly what it routes.

use serde_json::{json, Map, Value};

/// One search parameter: name, FHIR search type (`reference`, `token`,
/// `number`, ...), what it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParam {
    pub name: String,
    pub kind: String,
    pub documentation: String,
}

/// What is supported on one resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceCapability {
    pub rtype: String,
    /// `read`, `create`, `update`, `search-type`, ...
    pub interactions: Vec<String>,
    pub search_params: Vec<SearchParam>,
    pub documentation: Option<String>,
}

/// A named operation (`$import`) and its definition's canonical URL.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationCapability {
    pub name: String,
    pub definition: String,
    pub documentation: String,
}

/// Everything a [`capability_statement`] says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capabilities {
    pub software: String,
    pub version: String,
    /// The server's base URL (`implementation.url`).
    pub base_url: String,
    pub description: String,
    /// When the statement was made (FHIR dateTime).
    pub date: String,
    /// Media types (`json`, `application/fhir+json`).
    pub formats: Vec<String>,
    /// `None`: no access control; else the `restful-security-service`
    /// code (`OAuth`, ...) and what is required.
    pub security: Option<(String, String)>,
    pub resources: Vec<ResourceCapability>,
    /// System interactions (`transaction`, `batch`).
    pub system_interactions: Vec<String>,
    pub operations: Vec<OperationCapability>,
}

/// An R4 `CapabilityStatement` (kind `instance`, status `active`).
pub fn capability_statement(c: &Capabilities) -> Value {
    let resources: Vec<Value> = c
        .resources
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("type".into(), json!(r.rtype));
            if let Some(d) = &r.documentation {
                m.insert("documentation".into(), json!(d));
            }
            m.insert(
                "interaction".into(),
                Value::Array(r.interactions.iter().map(|i| json!({"code": i})).collect()),
            );
            if !r.search_params.is_empty() {
                m.insert(
                    "searchParam".into(),
                    Value::Array(
                        r.search_params
                            .iter()
                            .map(|p| {
                                json!({"name": p.name, "type": p.kind, "documentation": p.documentation})
                            })
                            .collect(),
                    ),
                );
            }
            Value::Object(m)
        })
        .collect();
    let mut rest = Map::new();
    rest.insert("mode".into(), json!("server"));
    let security = match &c.security {
        None => {
            json!({"cors": false, "description": "No access control: every request is served (demo mode)."})
        }
        Some((code, text)) => json!({
            "cors": false,
            "service": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": code
            }]}],
            "description": text
        }),
    };
    rest.insert("security".into(), security);
    rest.insert("resource".into(), Value::Array(resources));
    if !c.system_interactions.is_empty() {
        rest.insert(
            "interaction".into(),
            Value::Array(
                c.system_interactions
                    .iter()
                    .map(|i| json!({"code": i}))
                    .collect(),
            ),
        );
    }
    if !c.operations.is_empty() {
        rest.insert(
            "operation".into(),
            Value::Array(
                c.operations
                    .iter()
                    .map(|o| json!({"name": o.name, "definition": o.definition, "documentation": o.documentation}))
                    .collect(),
            ),
        );
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": c.date,
        "publisher": c.software,
        "kind": "instance",
        "software": {"name": c.software, "version": c.version},
        "implementation": {"description": c.description, "url": c.base_url},
        "fhirVersion": "4.0.1",
        "format": c.formats,
        "rest": [Value::Object(rest)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_what_it_is_given() {
        let c = Capabilities {
            software: "Bedside".into(),
            version: "1".into(),
            base_url: "https://b/fhir".into(),
            description: "d".into(),
            date: "2024-01-01".into(),
            formats: vec!["json".into()],
            security: Some(("OAuth".into(), "bearer".into())),
            resources: vec![ResourceCapability {
                rtype: "Task".into(),
                interactions: vec!["read".into()],
                search_params: vec![],
                documentation: None,
            }],
            system_interactions: vec![],
            operations: vec![],
        };
        let v = capability_statement(&c);
        assert_eq!(v["fhirVersion"], "4.0.1");
        assert_eq!(v["rest"][0]["resource"][0]["type"], "Task");
        assert!(v["rest"][0]["resource"][0].get("searchParam").is_none());
        assert!(v["rest"][0].get("interaction").is_none());
        assert_eq!(
            v["rest"][0]["security"]["service"][0]["coding"][0]["code"],
            "OAuth"
        );
    }
}
