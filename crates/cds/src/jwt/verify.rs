//! The checks of "Trusting CDS Clients": [`inspect`] (shape, `alg`,
//! `kid`), [`verify_signature`] (key fits `alg`, signature), and
//! [`JwtVerifier`], which adds the trusted issuers, time, audience and
//! replay checks.

use super::replay::{InMemoryReplayCache, ReplayCache, REPLAY_CAPACITY};
use super::{AuthError, Claims, TrustedIssuer, DEFAULT_LEEWAY_SECS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// Verifies CDS client JWTs against a set of trusted issuers.
pub struct JwtVerifier {
    issuers: RwLock<HashMap<String, TrustedIssuer>>,
    /// JWK Sets fetched by the caller, by URL (trailing slash trimmed);
    /// only URLs of a trusted issuer (`jwks_url`, `jku_allowed`) are kept.
    fetched: RwLock<HashMap<String, JwkSet>>,
    replay: Arc<dyn ReplayCache>,
    leeway: i64,
}

/// Where a token is presented: Bedside's base URL (its public URL) and the
/// paths of the endpoint (`/cds-services/{id}`; feedback also accepts the
/// service's own). The expected `aud` is a path below the issuer's
/// `public_url` when it has one, else below `base`.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub base: &'a str,
    pub paths: &'a [String],
}

enum Aud<'a> {
    Exact(&'a str),
    Endpoint(Endpoint<'a>),
}

impl Aud<'_> {
    fn expected(&self, issuer: &TrustedIssuer) -> Vec<String> {
        match self {
            Aud::Exact(a) => vec![a.to_string()],
            Aud::Endpoint(e) => {
                let base = issuer.public_url.as_deref().unwrap_or(e.base);
                e.paths
                    .iter()
                    .map(|p| format!("{}{p}", trim_slash(base)))
                    .collect()
            }
        }
    }
}

/// An algorithm name as configured: one of the asymmetric algorithms the
/// verifier supports; `none` and HMAC are refused with the reason.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") {
        return Err("alg none is never allowed".into());
    }
    if name.to_ascii_uppercase().starts_with("HS") {
        return Err(format!("{name} is symmetric and never allowed"));
    }
    Algorithm::from_str(name)
        .ok()
        .filter(|a| ALLOWED.contains(a))
        .ok_or_else(|| {
            format!(
                "unknown algorithm {name:?} (supported: {})",
                ALLOWED
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn b64_json(part: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| AuthError::Malformed(format!("{what} is not base64url: {e}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(AuthError::Malformed(format!("{what} is not a JSON object"))),
        Err(e) => Err(AuthError::Malformed(format!("{what} is not JSON: {e}"))),
    }
}

fn key_fits(jwk: &Jwk, alg: Algorithm) -> Result<(), String> {
    if let Some(PublicKeyUse::Encryption) = jwk.common.public_key_use {
        return Err("key use is enc, not sig".into());
    }
    if let Some(ka) = jwk.common.key_algorithm {
        if Algorithm::try_from(ka).ok() != Some(alg) {
            return Err(format!("key is for {ka}"));
        }
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256)
            if p.curve == EllipticCurve::P256 =>
        {
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384)
            if p.curve == EllipticCurve::P384 =>
        {
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(p), _) => Err(format!("EC key on curve {:?}", p.curve)),
        (AlgorithmParameters::RSA(_), a) if a.family() == jsonwebtoken::AlgorithmFamily::Rsa => {
            Ok(())
        }
        (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) => Ok(()),
        (AlgorithmParameters::OctetKey(_), _) => Err("symmetric key".into()),
        _ => Err("key type does not match the algorithm".into()),
    }
}

/// A token split and decoded but not yet trusted: its header and payload,
/// and the algorithm (already checked against the asymmetric allow-list)
/// and `kid` it names.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    pub alg: Algorithm,
    pub alg_name: String,
    pub kid: String,
}

/// The first checks of every token Bedside accepts: three parts, JSON
/// header and payload, `alg` asymmetric and allowed (`none` and HMAC are
/// refused), `kid` present. `typ` is left to the caller (CDS Hooks wants
/// `JWT`, OAuth access tokens may say `at+jwt`).
pub fn inspect(token: &str) -> Result<Unverified, AuthError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(AuthError::Malformed(format!(
            "expected 3 dot-separated parts, got {}",
            parts.len()
        )));
    }
    let header = b64_json(parts[0], "header")?;
    let alg_name = match header.get("alg") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(AuthError::MissingHeader("alg")),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(AuthError::AlgNone);
    }
    if alg_name.to_ascii_uppercase().starts_with("HS") {
        return Err(AuthError::SymmetricAlg(alg_name));
    }
    let alg = Algorithm::from_str(&alg_name)
        .ok()
        .filter(|a| ALLOWED.contains(a))
        .ok_or_else(|| AuthError::UnsupportedAlg(alg_name.clone()))?;
    let kid = match header.get("kid") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(AuthError::MissingHeader("kid")),
    };
    let payload = b64_json(parts[1], "payload")?;
    Ok(Unverified {
        header,
        payload,
        alg,
        alg_name,
        kid,
    })
}

/// Check that `jwk` fits the token's algorithm and verifies its
/// signature; the verified claims. Time, issuer and audience checks are the
/// caller's.
pub fn verify_signature(
    token: &str,
    u: &Unverified,
    jwk: &Jwk,
) -> Result<Map<String, Value>, AuthError> {
    crate::crypto::install();
    key_fits(jwk, u.alg).map_err(|reason| AuthError::KeyMismatch {
        kid: u.kid.clone(),
        alg: u.alg_name.clone(),
        reason,
    })?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| AuthError::KeyMismatch {
        kid: u.kid.clone(),
        alg: u.alg_name.clone(),
        reason: e.to_string(),
    })?;
    let mut validation = Validation::new(u.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token.trim(), &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
            _ => AuthError::Malformed(e.to_string()),
        })
}

fn string_claim(c: &Map<String, Value>, name: &'static str) -> Result<String, AuthError> {
    match c.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(AuthError::MissingClaim(name)),
    }
}

fn time_claim(c: &Map<String, Value>, name: &'static str) -> Result<i64, AuthError> {
    c.get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .ok_or(AuthError::MissingClaim(name))
}

fn trim_slash(s: &str) -> &str {
    s.trim_end_matches('/')
}

impl JwtVerifier {
    /// A verifier with an in-memory replay cache of 450 000 entries (~13
    /// MB, allocated up front; enough for 1 350 hook calls a second within
    /// a 5-minute token lifetime and the leeway) and a 30 s leeway.
    pub fn new(trusted: Vec<TrustedIssuer>) -> Self {
        crate::crypto::install();
        Self {
            issuers: RwLock::new(trusted.into_iter().map(|t| (t.iss.clone(), t)).collect()),
            fetched: RwLock::new(HashMap::new()),
            replay: Arc::new(InMemoryReplayCache::new(REPLAY_CAPACITY)),
            leeway: DEFAULT_LEEWAY_SECS,
        }
    }

    pub fn with_replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = cache;
        self
    }

    pub fn with_leeway(mut self, secs: i64) -> Self {
        self.leeway = secs.max(0);
        self
    }

    /// Load (or replace) the JWK Set of a trusted issuer, e.g. after
    /// fetching its `jku`. Returns `false` if `iss` is not trusted.
    pub fn set_jwks(&self, iss: &str, jwks: JwkSet) -> bool {
        let mut map = self.issuers.write().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(iss) {
            Some(t) => {
                t.jwks = Some(jwks);
                true
            }
            None => false,
        }
    }

    /// Load (or replace) the JWK Set fetched from `url`. Kept only when
    /// `url` is the `jwks_url` or an allowed `jku` of a trusted issuer;
    /// returns whether it was.
    pub fn set_jwks_at(&self, url: &str, jwks: JwkSet) -> bool {
        let url = trim_slash(url);
        let known = {
            let map = self.issuers.read().unwrap_or_else(|p| p.into_inner());
            map.values().any(|t| {
                t.jwks_url.as_deref().map(trim_slash) == Some(url)
                    || t.jku_allowed.iter().any(|j| trim_slash(j) == url)
            })
        };
        if known {
            self.fetched
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(url.to_string(), jwks);
        }
        known
    }

    /// Verify `token` for the service at `expected_aud` (its full URL,
    /// whatever the issuer's `public_url`), including the replay check.
    pub fn verify(
        &self,
        token: &str,
        expected_aud: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        self.verify_aud(token, Aud::Exact(expected_aud), now)
    }

    /// Verify `token` presented at `endpoint` (the expected `aud` follows
    /// the issuer's `public_url`), including the replay check.
    pub fn verify_endpoint(
        &self,
        token: &str,
        endpoint: Endpoint<'_>,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        self.verify_aud(token, Aud::Endpoint(endpoint), now)
    }

    fn verify_aud(
        &self,
        token: &str,
        aud: Aud<'_>,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        let claims = self.verify_inner(token, &aud, now)?;
        if !self.replay.first_use(
            &claims.iss,
            &claims.jti,
            claims.exp + self.leeway,
            now.timestamp(),
        ) {
            return Err(AuthError::Replayed);
        }
        Ok(claims)
    }

    /// Every check except the replay cache, for callers that keep `jti`s
    /// elsewhere (e.g. an async store).
    pub fn verify_stateless(
        &self,
        token: &str,
        expected_aud: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        self.verify_inner(token, &Aud::Exact(expected_aud), now)
    }

    fn verify_inner(
        &self,
        token: &str,
        aud: &Aud<'_>,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        let token = token.trim();
        let u = inspect(token)?;
        match u.header.get("typ") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
            Some(other) => return Err(AuthError::WrongTyp(other.to_string())),
            None => return Err(AuthError::MissingHeader("typ")),
        }
        let (c, expected) = self.signed_claims(token, &u, aud)?;
        let (kid, alg_name) = (u.kid, u.alg_name);

        let exp = time_claim(&c, "exp")?;
        let iat = time_claim(&c, "iat")?;
        let now_s = now.timestamp();
        if now_s > exp + self.leeway {
            return Err(AuthError::Expired(exp));
        }
        if iat > now_s + self.leeway {
            return Err(AuthError::IssuedInFuture(iat));
        }
        let aud = audience(&c, &expected)?;
        let jti = string_claim(&c, "jti")?;
        Ok(Claims {
            iss: string_claim(&c, "iss")?,
            aud,
            exp,
            iat,
            jti,
            tenant: c.get("tenant").and_then(Value::as_str).map(str::to_string),
            kid,
            alg: alg_name,
        })
    }

    /// The claims of `token` once its signature verifies with the key `kid`
    /// of the issuer its payload names (read, not yet trusted), and the
    /// audiences that issuer's token must name: the issuer is trusted, the
    /// `alg` is one it is allowed, a `jku` header is its JWK Set URL or on
    /// its allow-list, and one of its key sets (configured, fetched from its
    /// `jwks_url`, fetched from the token's `jku`) holds `kid`.
    fn signed_claims(
        &self,
        token: &str,
        u: &Unverified,
        aud: &Aud<'_>,
    ) -> Result<(Map<String, Value>, Vec<String>), AuthError> {
        let iss = string_claim(&u.payload, "iss")?;
        let map = self.issuers.read().unwrap_or_else(|p| p.into_inner());
        let issuer = map
            .get(&iss)
            .ok_or_else(|| AuthError::UntrustedIssuer(iss.clone()))?;
        if !issuer.algorithms.contains(&u.alg) {
            return Err(AuthError::AlgNotAllowed {
                iss: iss.clone(),
                alg: u.alg_name.clone(),
                allowed: issuer
                    .algorithms
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let own_url = issuer.jwks_url.as_deref().map(trim_slash);
        let jku = match u.header.get("jku") {
            None => None,
            Some(Value::String(j))
                if Some(trim_slash(j)) == own_url
                    || issuer
                        .jku_allowed
                        .iter()
                        .any(|a| trim_slash(a) == trim_slash(j)) =>
            {
                Some(trim_slash(j))
            }
            Some(other) => {
                return Err(AuthError::UntrustedJku {
                    iss: iss.clone(),
                    jku: other
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| other.to_string()),
                })
            }
        };
        let fetched = self.fetched.read().unwrap_or_else(|p| p.into_inner());
        let sets: Vec<&JwkSet> = issuer
            .jwks
            .iter()
            .chain(own_url.and_then(|url| fetched.get(url)))
            .chain(
                jku.filter(|j| Some(*j) != own_url)
                    .and_then(|j| fetched.get(j)),
            )
            .collect();
        // Where a missing key may be found: the token's jku, else the
        // issuer's URL.
        let fetch_from = jku.or(own_url).map(str::to_string);
        if sets.is_empty() {
            return Err(AuthError::JwksNotLoaded {
                iss: iss.clone(),
                jku: fetch_from,
            });
        }
        let jwk =
            sets.iter()
                .find_map(|s| s.find(&u.kid))
                .ok_or_else(|| AuthError::UnknownKid {
                    iss: iss.clone(),
                    kid: u.kid.clone(),
                    jwks_url: fetch_from,
                })?;
        let claims = verify_signature(token, u, jwk)?;
        Ok((claims, aud.expected(issuer)))
    }
}

/// The `aud` claim (a string or an array of strings), which must include
/// one of `expected` (trailing slashes ignored).
fn audience(c: &Map<String, Value>, expected: &[String]) -> Result<Vec<String>, AuthError> {
    let aud = match c.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(AuthError::MissingClaim("aud"))?,
        _ => return Err(AuthError::MissingClaim("aud")),
    };
    if !aud
        .iter()
        .any(|a| expected.iter().any(|e| trim_slash(a) == trim_slash(e)))
    {
        return Err(AuthError::WrongAudience {
            aud: aud.join(", "),
            expected: expected.join(" or "),
        });
    }
    Ok(aud)
}
