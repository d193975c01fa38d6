//! UI sessions: `/ui/login` puts the bearer token into an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/ui`, which `/ui` pages accept in
//! place of the `Authorization` header.

use axum::http::{header, HeaderMap};
use bedside_cds::jwt::inspect;
use serde_json::Value;

/// The name of the UI session cookie (holds the bearer token).
pub const SESSION_COOKIE: &str = "bedside_session";

/// The `Set-Cookie` value of a UI session holding `token` for `max_age`
/// seconds (`Secure` when `secure`).
pub(super) fn set_cookie(token: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The session cookie's token, if any.
pub(crate) fn session_token(h: &HeaderMap) -> Option<&str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v)
}

/// The `exp` of a JWT (unverified; for the cookie's lifetime only).
pub(crate) fn token_exp(token: &str) -> Option<i64> {
    inspect(token)
        .ok()
        .and_then(|u| u.payload.get("exp").and_then(Value::as_i64))
}
