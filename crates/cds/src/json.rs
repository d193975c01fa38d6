//! Small path-aware helpers for walking untrusted JSON.

use serde_json::Value;

/// The JSON type name used in error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `parent.child`, or `child` at the root.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Is `s` a UUID in the 8-4-4-4-12 hexadecimal form (an optional
/// `urn:uuid:` prefix allowed)?
pub(crate) fn is_uuid(s: &str) -> bool {
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Is `s` an absolute http(s) URL with a host?
pub(crate) fn is_absolute_url(s: &str) -> bool {
    let rest = if let Some(r) = s.strip_prefix("https://") {
        r
    } else if let Some(r) = s.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Is the string empty or only whitespace (REQUIRED strings may not be)?
pub(crate) fn blank(s: &str) -> bool {
    s.trim().is_empty()
}
