//! OpenID Connect access tokens: the provider's configuration and the
//! verification of one token into a [`Principal`]. The algorithm
//! allow-list and the signature check are those of the CDS Hooks verifier
//! (`bedside_cds::jwt`).

use super::jwks::{Jwks, JwksSource};
use super::{Principal, Role};
use bedside_cds::jwt::{inspect, verify_signature, Unverified};
use bedside_cds::AuthError;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The OpenID Connect provider whose access tokens are accepted.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The `aud` a token must carry (Bedside's client id / resource).
    pub audience: String,
    pub jwks: JwksSource,
    /// Where the roles are in the token: a claim name or a dotted path
    /// (`roles`, `realm_access.roles`, `resource_access.bedside.roles`).
    pub role_claim: String,
    /// Provider role name → Bedside role. Empty: the claim's values are
    /// Bedside role names.
    pub role_map: BTreeMap<String, Role>,
    /// The claim naming the person's Practitioner (SMART's `fhirUser`:
    /// `Practitioner/{id}` or an absolute URL ending so); a claim name or a
    /// dotted path. Another resource type, or no claim, names none.
    pub practitioner_claim: String,
}

/// The default [`OidcConfig::practitioner_claim`].
pub const FHIR_USER_CLAIM: &str = "fhirUser";

/// `Practitioner/{id}` from a `fhirUser` value (relative, or an absolute
/// URL whose last two segments are `Practitioner/{id}`).
pub fn practitioner_of(v: &str) -> Option<String> {
    let v = v.trim().trim_end_matches('/');
    let mut it = v.rsplit('/');
    let id = it.next()?;
    let ty = it.next()?;
    let ok_id = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (ty == "Practitioner" && ok_id).then(|| format!("Practitioner/{id}"))
}

fn ts(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

fn reason(e: &AuthError) -> String {
    match e {
        AuthError::BadSignature => "bad signature: the token's signature does not verify".into(),
        other => other.to_string(),
    }
}

/// The value at a dotted path (`realm_access.roles`).
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

/// Who the access token `token` (trimmed, not empty) of `oidc` is, or why
/// not: shape and `typ`, issuer, key and signature, `exp` / `nbf` within
/// `leeway` seconds of `now`, audience, `sub`, roles.
pub(super) async fn authenticate(
    oidc: &OidcConfig,
    jwks: &Jwks,
    leeway: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, String> {
    if token.split('.').count() != 3 {
        return Err(
            "malformed token: neither a JWT (header.payload.signature) nor a configured service token"
                .into(),
        );
    }
    let u = inspect(token).map_err(|e| reason(&e))?;
    check_typ(&u)?;
    let iss = u.payload.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss.trim_end_matches('/') != oidc.issuer.trim_end_matches('/') {
        return Err(format!(
            "wrong issuer: iss {iss:?} is not the configured issuer {:?}",
            oidc.issuer
        ));
    }
    let jwk = jwks.key(&u.kid).await?;
    let c = verify_signature(token, &u, &jwk).map_err(|e| reason(&e))?;
    check_times(&c, now.timestamp(), leeway)?;
    check_audience(&c, &oidc.audience)?;
    let subject = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("malformed token: claim `sub` is missing")?
        .to_string();
    let practitioner = claim_at(&c, &oidc.practitioner_claim)
        .and_then(Value::as_str)
        .and_then(practitioner_of);
    Ok(Principal {
        subject,
        roles: roles(&c, oidc),
        service_account: false,
        practitioner,
    })
}

/// `typ` absent, `JWT` or `at+jwt`.
fn check_typ(u: &Unverified) -> Result<(), String> {
    match u.header.get("typ").and_then(Value::as_str) {
        None => Ok(()),
        Some(t)
            if t.eq_ignore_ascii_case("JWT")
                || t.eq_ignore_ascii_case("at+jwt")
                || t.eq_ignore_ascii_case("application/at+jwt") =>
        {
            Ok(())
        }
        Some(t) => Err(format!(
            "malformed token: header typ {t:?} is not JWT or at+jwt"
        )),
    }
}

/// `exp` present and not passed, `nbf` (if any) reached, both with
/// `leeway` seconds.
fn check_times(c: &Map<String, Value>, now_s: i64, leeway: i64) -> Result<(), String> {
    let exp = c
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("malformed token: claim `exp` is missing")?;
    if now_s > exp + leeway {
        return Err(format!("token expired at {}", ts(exp)));
    }
    if let Some(nbf) = c.get("nbf").and_then(Value::as_i64) {
        if nbf > now_s + leeway {
            return Err(format!("token not valid before {}", ts(nbf)));
        }
    }
    Ok(())
}

/// `aud` (a string or an array) includes `audience`.
fn check_audience(c: &Map<String, Value>, audience: &str) -> Result<(), String> {
    let aud: Vec<&str> = match c.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !aud.contains(&audience) {
        return Err(format!(
            "wrong audience: aud [{}] does not include {:?}",
            aud.join(", "),
            audience
        ));
    }
    Ok(())
}

/// The Bedside roles in the token's role claim (an array, or a string of
/// names separated by spaces or commas), mapped through `role_map`;
/// sorted, without duplicates. Unknown names are dropped.
fn roles(c: &Map<String, Value>, oidc: &OidcConfig) -> Vec<Role> {
    let names: Vec<String> = match claim_at(c, &oidc.role_claim) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    let mut roles: Vec<Role> = names
        .iter()
        .filter_map(|n| {
            if oidc.role_map.is_empty() {
                Role::parse(n)
            } else {
                oidc.role_map.get(n).copied()
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_user_names_a_practitioner_relative_or_absolute() {
        assert_eq!(
            practitioner_of("Practitioner/n-1").as_deref(),
            Some("Practitioner/n-1")
        );
        assert_eq!(
            practitioner_of("https://ehr.example/fhir/Practitioner/42").as_deref(),
            Some("Practitioner/42")
        );
        assert_eq!(practitioner_of("Patient/p1"), None);
        assert_eq!(practitioner_of("Practitioner/"), None);
        assert_eq!(practitioner_of("Practitioner/a b"), None);
    }

    #[test]
    fn claims_at_dotted_paths() {
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"realm_access":{"roles":["a"]},"roles":["b"]}"#).unwrap();
        assert_eq!(claim_at(&c, "realm_access.roles").unwrap()[0], "a");
        assert_eq!(claim_at(&c, "roles").unwrap()[0], "b");
        assert!(claim_at(&c, "nope.x").is_none());
    }
}
