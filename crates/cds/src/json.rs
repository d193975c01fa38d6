//! Small path-aware helpers for walking untrusted JSON.

use crate::request::HookError;
use serde_json::{Map, Value};

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

pub(crate) fn invalid_json(e: &serde_json::Error) -> HookError {
    HookError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

pub(crate) fn as_object<'a>(
    v: &'a Value,
    field: &str,
) -> Result<&'a Map<String, Value>, HookError> {
    v.as_object().ok_or_else(|| HookError::WrongType {
        field: if field.is_empty() {
            "(body)".into()
        } else {
            field.into()
        },
        expected: "an object",
        got: type_name(v),
    })
}

pub(crate) fn req<'a>(
    obj: &'a Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<&'a Value, HookError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(HookError::Missing {
            field: join(parent, key),
        }),
        Some(v) => Ok(v),
    }
}

pub(crate) fn string_at(v: &Value, field: &str) -> Result<String, HookError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::String(_) => Err(HookError::Invalid {
            field: field.into(),
            reason: "must not be empty".into(),
        }),
        other => Err(HookError::WrongType {
            field: field.into(),
            expected: "a string",
            got: type_name(other),
        }),
    }
}

pub(crate) fn req_string(
    obj: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<String, HookError> {
    string_at(req(obj, parent, key)?, &join(parent, key))
}

pub(crate) fn opt_string(
    obj: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<Option<String>, HookError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => string_at(v, &join(parent, key)).map(Some),
    }
}
