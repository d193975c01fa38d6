//! Verifying the JWT a CDS client sends with every call ("Trusting CDS
//! Clients" in the specification), and signing demo tokens.
//!
//! Checks, in order: three-part shape; header `alg` asymmetric (`none` and
//! HMAC are refused), `kid` and `typ: JWT` present; `iss` is a trusted
//! issuer; a `jku` header matches the issuer's configured one; `kid` is in
//! the issuer's JWK Set and the key fits `alg`; the signature; `exp` not
//! passed and `iat` not in the future (with leeway); `aud` equals the
//! service URL; `jti` present and not seen before (replay cache).
//!
//! The module does no IO: keys are configured inline, or fetched by the
//! caller from the issuer's `jku` and handed over with
//! [`JwtVerifier::set_jwks`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

/// Default clock-skew allowance for `exp` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: i64 = 30;

/// Why a token was refused. The `Display` text is the 401 reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("alg none is not allowed")]
    AlgNone,
    #[error(
        "alg {0} is symmetric and not allowed; use an asymmetric algorithm (ES384, RS384, ...)"
    )]
    SymmetricAlg(String),
    #[error("alg {0} is not supported")]
    UnsupportedAlg(String),
    #[error("header `{0}` is missing")]
    MissingHeader(&'static str),
    #[error("header typ {0:?} must be \"JWT\"")]
    WrongTyp(String),
    #[error("claim `{0}` is missing or has the wrong type")]
    MissingClaim(&'static str),
    #[error("iss {0:?} is not a trusted issuer")]
    UntrustedIssuer(String),
    #[error("jku {jku:?} is not the trusted JWK Set URL for iss {iss:?}")]
    UntrustedJku { iss: String, jku: String },
    #[error("no JWK Set loaded for iss {iss:?} (fetch it from {jku:?})")]
    JwksNotLoaded { iss: String, jku: Option<String> },
    #[error("unknown kid {kid:?} for iss {iss:?}")]
    UnknownKid { iss: String, kid: String },
    #[error("key {kid:?} cannot verify alg {alg}: {reason}")]
    KeyMismatch {
        kid: String,
        alg: String,
        reason: String,
    },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired at {}", fmt_ts(*.0))]
    Expired(i64),
    #[error("token issued in the future (iat {})", fmt_ts(*.0))]
    IssuedInFuture(i64),
    #[error("aud {aud} does not match service URL {expected}")]
    WrongAudience { aud: String, expected: String },
    #[error("jti replayed")]
    Replayed,
}

fn fmt_ts(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

/// A CDS client whose tokens are accepted: its `iss`, and its public keys
/// inline (`jwks`) and/or the URL they are published at (`jku`).
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub iss: String,
    pub jwks: Option<JwkSet>,
    pub jku: Option<String>,
}

impl TrustedIssuer {
    pub fn with_jwks(iss: &str, jwks: JwkSet) -> Self {
        Self {
            iss: iss.to_string(),
            jwks: Some(jwks),
            jku: None,
        }
    }
    /// An issuer whose keys the caller fetches from `jku` and loads with
    /// [`JwtVerifier::set_jwks`].
    pub fn with_jku(iss: &str, jku: &str) -> Self {
        Self {
            iss: iss.to_string(),
            jwks: None,
            jku: Some(jku.to_string()),
        }
    }
}

/// The verified claims of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub tenant: Option<String>,
    pub kid: String,
    pub alg: String,
}

/// Remembers `jti`s until their token expires. Implement it over the
/// store to share the cache between replicas.
pub trait ReplayCache: Send + Sync {
    /// Record `(iss, jti)` until `keep_until` (epoch seconds). Returns
    /// `false` when the pair was already recorded and has not expired.
    fn first_use(&self, iss: &str, jti: &str, keep_until: i64, now: i64) -> bool;
}

/// An in-memory [`ReplayCache`] holding at most `capacity` entries.
/// Expired entries are dropped first; when all are live, the eighth that
/// expires soonest is evicted at once (those tokens are nearly dead), so a
/// flood of tokens can neither grow memory without bound nor make each
/// insert scan the whole cache.
pub struct InMemoryReplayCache {
    capacity: usize,
    inner: Mutex<ReplayState>,
}

/// Entries are keyed by a 128-bit digest of `(iss, jti)`, not the strings,
/// in one map swept of expired entries every [`SWEEP_EVERY`] inserts: a
/// cache sized for a busy EHR holds hundreds of thousands of entries, and
/// two string copies each plus an expiry index (~250 bytes an entry) made
/// it the largest memory growth of a soak; now ~25 bytes. A digest
/// collision could only refuse a fresh token as replayed (the safe side);
/// at 2^-128 per pair it does not happen.
///
/// The map is allocated for `capacity` up front: grown on demand it
/// doubled (and briefly held both tables) while a 5-minute token window
/// filled, which a soak read as resident-memory growth.
#[derive(Default)]
struct ReplayState {
    by_key: HashMap<u128, i64>,
    inserts: u64,
}

const SWEEP_EVERY: u64 = 1024;

/// Evict this fraction (1/n) of a full cache at a time: the scan that
/// finds the soonest-expiring entries then runs once per `capacity / n`
/// inserts, not once per insert (a full cache of 250 000 scanned per
/// insert stalled a soak's hook calls for seconds).
const EVICT_ONE_IN: usize = 8;

fn replay_key(iss: &str, jti: &str) -> u128 {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(iss.as_bytes());
    h.update([0u8]);
    h.update(jti.as_bytes());
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes of a SHA-256 digest"))
}

impl InMemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            inner: Mutex::new(ReplayState {
                by_key: HashMap::with_capacity(capacity),
                inserts: 0,
            }),
        }
    }
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ReplayState {
    /// Drop the `n` live entries that expire soonest (of those expiring
    /// at the cut, only as many as needed). Returns how many were dropped.
    fn evict_soonest(&mut self, n: usize) -> usize {
        let before = self.by_key.len();
        let n = n.min(before);
        if n == 0 {
            return 0;
        }
        let mut untils: Vec<i64> = self.by_key.values().copied().collect();
        let (lower, cut, _) = untils.select_nth_unstable(n - 1);
        let cut = *cut;
        let mut ties = n - lower.iter().filter(|u| **u < cut).count();
        self.by_key.retain(|_, until| {
            if *until < cut {
                false
            } else if *until == cut && ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        });
        before - self.by_key.len()
    }
}

impl ReplayCache for InMemoryReplayCache {
    fn first_use(&self, iss: &str, jti: &str, keep_until: i64, now: i64) -> bool {
        let key = replay_key(iss, jti);
        let mut s = self.lock();
        if let Some(&until) = s.by_key.get(&key) {
            if until >= now {
                return false;
            }
        }
        s.inserts += 1;
        if s.inserts.is_multiple_of(SWEEP_EVERY) || s.by_key.len() >= self.capacity {
            s.by_key.retain(|_, until| *until >= now);
        }
        if s.by_key.len() >= self.capacity {
            // Full of live entries: drop the soonest to expire, a batch at
            // a time (one warning per batch, not per token).
            let evicted = s.evict_soonest((self.capacity / EVICT_ONE_IN).max(1));
            tracing::warn!(
                capacity = self.capacity,
                evicted,
                "jti replay cache full: evicted the unexpired entries closest to expiry; raise the capacity"
            );
        }
        s.by_key.insert(key, keep_until);
        true
    }
}

/// Verifies CDS client JWTs against a set of trusted issuers.
pub struct JwtVerifier {
    issuers: RwLock<HashMap<String, TrustedIssuer>>,
    replay: Arc<dyn ReplayCache>,
    leeway: i64,
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

/// Entries of the default replay cache. 450 000 fits hashbrown's table of
/// 2^19 buckets (7/8 load), so it is never resized.
pub const REPLAY_CAPACITY: usize = 450_000;

impl JwtVerifier {
    /// A verifier with an in-memory replay cache of 450 000 entries (~13
    /// MB, allocated up front; enough for 1 350 hook calls a second within
    /// a 5-minute token lifetime and the leeway) and a 30 s leeway.
    pub fn new(trusted: Vec<TrustedIssuer>) -> Self {
        crate::crypto::install();
        Self {
            issuers: RwLock::new(trusted.into_iter().map(|t| (t.iss.clone(), t)).collect()),
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

    /// Verify `token` for the service at `expected_aud` (its full URL),
    /// including the replay check.
    pub fn verify(
        &self,
        token: &str,
        expected_aud: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        let claims = self.verify_stateless(token, expected_aud, now)?;
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
        let token = token.trim();
        let u = inspect(token)?;
        match u.header.get("typ") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
            Some(other) => return Err(AuthError::WrongTyp(other.to_string())),
            None => return Err(AuthError::MissingHeader("typ")),
        }

        // Which issuer? Read (not yet trust) the payload's iss.
        let iss = string_claim(&u.payload, "iss")?;
        let c = {
            let map = self.issuers.read().unwrap_or_else(|p| p.into_inner());
            let issuer = map
                .get(&iss)
                .ok_or_else(|| AuthError::UntrustedIssuer(iss.clone()))?;
            if let (Some(Value::String(jku)), Some(trusted)) = (u.header.get("jku"), &issuer.jku) {
                if trim_slash(jku) != trim_slash(trusted) {
                    return Err(AuthError::UntrustedJku {
                        iss: iss.clone(),
                        jku: jku.clone(),
                    });
                }
            }
            let jwks = issuer
                .jwks
                .as_ref()
                .ok_or_else(|| AuthError::JwksNotLoaded {
                    iss: iss.clone(),
                    jku: issuer.jku.clone(),
                })?;
            let jwk = jwks.find(&u.kid).ok_or_else(|| AuthError::UnknownKid {
                iss: iss.clone(),
                kid: u.kid.clone(),
            })?;
            verify_signature(token, &u, jwk)?
        };
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
            .any(|a| trim_slash(a) == trim_slash(expected_aud))
        {
            return Err(AuthError::WrongAudience {
                aud: aud.join(", "),
                expected: expected_aud.to_string(),
            });
        }
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
}

/// Why a token could not be signed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignError {
    #[error("private JWK: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

fn jwk_str<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, SignError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SignError::Key(format!("`{name}` is missing")))
}

fn b64(jwk: &Value, name: &str) -> Result<Vec<u8>, SignError> {
    URL_SAFE_NO_PAD
        .decode(jwk_str(jwk, name)?)
        .map_err(|e| SignError::Key(format!("`{name}` is not base64url: {e}")))
}

/// PKCS#8 DER of an EC private JWK, after checking that `d` matches `x`/`y`.
fn ec_private_der(jwk: &Value) -> Result<(Algorithm, Vec<u8>), SignError> {
    use p256::pkcs8::EncodePrivateKey;
    if jwk_str(jwk, "kty")? != "EC" {
        return Err(SignError::Key(
            "only EC keys (P-256, P-384) are supported".into(),
        ));
    }
    let (d, x, y) = (b64(jwk, "d")?, b64(jwk, "x")?, b64(jwk, "y")?);
    let mismatch = || SignError::Key("`d` does not match `x`/`y`".into());
    let bad = |e: &dyn std::fmt::Display| SignError::Key(e.to_string());
    match jwk_str(jwk, "crv")? {
        "P-256" => {
            let sk = p256::SecretKey::from_slice(&d).map_err(|e| bad(&e))?;
            let pt = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            if pt.x().map(|v| v.as_slice()) != Some(&x[..])
                || pt.y().map(|v| v.as_slice()) != Some(&y[..])
            {
                return Err(mismatch());
            }
            let der = sk.to_pkcs8_der().map_err(|e| bad(&e))?;
            Ok((Algorithm::ES256, der.as_bytes().to_vec()))
        }
        "P-384" => {
            let sk = p384::SecretKey::from_slice(&d).map_err(|e| bad(&e))?;
            let pt = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &sk.public_key(),
                false,
            );
            if pt.x().map(|v| v.as_slice()) != Some(&x[..])
                || pt.y().map(|v| v.as_slice()) != Some(&y[..])
            {
                return Err(mismatch());
            }
            let der = sk.to_pkcs8_der().map_err(|e| bad(&e))?;
            Ok((Algorithm::ES384, der.as_bytes().to_vec()))
        }
        other => Err(SignError::Key(format!("curve {other:?} is not supported"))),
    }
}

/// Sign arbitrary `claims` with an EC private JWK (`kty: EC`, `crv`
/// P-256 or P-384, `d`, `x`, `y`, `kid`). The header carries `alg`,
/// `typ: JWT` and the JWK's `kid`.
pub fn sign_with_jwk(private_jwk: &Value, claims: &Value) -> Result<String, SignError> {
    JwkSigner::from_jwk(private_jwk)?.sign(claims)
}

/// An EC private JWK read once, for signing many tokens (reading the key
/// checks that `d` matches `x`/`y`, which cost more than a signature).
#[derive(Clone)]
pub struct JwkSigner {
    header: Header,
    key: EncodingKey,
}

impl std::fmt::Debug for JwkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkSigner")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl JwkSigner {
    pub fn from_jwk(private_jwk: &Value) -> Result<Self, SignError> {
        crate::crypto::install();
        let (alg, der) = ec_private_der(private_jwk)?;
        let mut header = Header::new(alg);
        header.kid = Some(jwk_str(private_jwk, "kid")?.to_string());
        header.typ = Some("JWT".into());
        Ok(Self {
            header,
            key: EncodingKey::from_ec_der(&der),
        })
    }

    pub fn sign(&self, claims: &Value) -> Result<String, SignError> {
        jsonwebtoken::encode(&self.header, claims, &self.key)
            .map_err(|e| SignError::Sign(e.to_string()))
    }

    /// A hook token as [`sign_demo_token`] makes one.
    pub fn sign_demo(&self, iss: &str, aud: &str, now: DateTime<Utc>) -> Result<String, SignError> {
        self.sign(&demo_claims(iss, aud, now))
    }
}

/// A private key read from PEM, for signing `private_key_jwt` client
/// assertions (SMART Backend Services). PKCS#8 (`PRIVATE KEY`) with an EC
/// P-384 / P-256 or RSA key, SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA
/// PRIVATE KEY`); the algorithm follows from the key: ES384, ES256 or
/// RS384. `Debug` never shows the key.
#[derive(Clone)]
pub struct PemSigningKey {
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
}

impl std::fmt::Debug for PemSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemSigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

impl PemSigningKey {
    /// Parse `pem`; `kid` goes into the header of every token signed.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, SignError> {
        use p256::pkcs8::{der::Decode, EncodePrivateKey, PrivateKeyInfo};
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| SignError::Key(format!("not a PEM private key: {e}")))?;
        let bad = |e: &dyn std::fmt::Display| SignError::Key(e.to_string());
        let (alg, key) = match label {
            "PRIVATE KEY" => {
                let info = PrivateKeyInfo::from_der(&der)
                    .map_err(|e| SignError::Key(format!("PKCS#8: {e}")))?;
                let oid = info.algorithm.oid.to_string();
                if oid == OID_RSA {
                    (
                        Algorithm::RS384,
                        EncodingKey::from_rsa_der(info.private_key),
                    )
                } else if oid == OID_EC {
                    let curve = info
                        .algorithm
                        .parameters_oid()
                        .map(|o| o.to_string())
                        .map_err(|e| SignError::Key(format!("EC key without a curve: {e}")))?;
                    let alg = match curve.as_str() {
                        OID_P384 => Algorithm::ES384,
                        OID_P256 => Algorithm::ES256,
                        other => {
                            return Err(SignError::Key(format!(
                                "EC curve {other} is not supported (use P-384)"
                            )))
                        }
                    };
                    (alg, EncodingKey::from_ec_der(&der))
                } else {
                    return Err(SignError::Key(format!(
                        "key algorithm {oid} is not supported (use EC P-384 or RSA)"
                    )));
                }
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
                    let d = k.to_pkcs8_der().map_err(|e| bad(&e))?;
                    (Algorithm::ES384, EncodingKey::from_ec_der(d.as_bytes()))
                } else {
                    let k = p256::SecretKey::from_sec1_der(&der)
                        .map_err(|e| SignError::Key(format!("SEC1 EC key: {e}")))?;
                    let d = k.to_pkcs8_der().map_err(|e| bad(&e))?;
                    (Algorithm::ES256, EncodingKey::from_ec_der(d.as_bytes()))
                }
            }
            "RSA PRIVATE KEY" => (Algorithm::RS384, EncodingKey::from_rsa_der(&der)),
            other => {
                return Err(SignError::Key(format!(
                    "PEM label {other:?} is not a private key (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
                )))
            }
        };
        let k = Self {
            alg,
            key,
            kid: kid.map(str::to_string),
        };
        // Fail now, not at the first write-back, if the key cannot sign.
        k.sign(&serde_json::json!({"probe": true}))?;
        Ok(k)
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.alg {
            Algorithm::ES384 => "ES384",
            Algorithm::ES256 => "ES256",
            _ => "RS384",
        }
    }

    /// Sign `claims` (header: `alg`, `typ: JWT`, `kid` when set).
    pub fn sign(&self, claims: &Value) -> Result<String, SignError> {
        crate::crypto::install();
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| SignError::Sign(e.to_string()))
    }
}

/// How long a demo token is valid.
pub const DEMO_TOKEN_TTL_SECS: i64 = 300;

/// A hook JWT for `aud` (the service URL) from issuer `iss`, valid for
/// five minutes from `now`, with a fresh random `jti`. For
/// `bedside token --demo` and tests; the key is the demo EHR key.
pub fn sign_demo_token(
    private_jwk: &Value,
    iss: &str,
    aud: &str,
    now: DateTime<Utc>,
) -> Result<String, SignError> {
    sign_with_jwk(private_jwk, &demo_claims(iss, aud, now))
}

fn demo_claims(iss: &str, aud: &str, now: DateTime<Utc>) -> Value {
    let t = now.timestamp();
    serde_json::json!({
        "iss": iss,
        "aud": aud,
        "iat": t,
        "exp": t + DEMO_TOKEN_TTL_SECS,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_expires_and_is_bounded() {
        let c = InMemoryReplayCache::new(2);
        assert!(c.first_use("i", "a", 100, 0));
        assert!(!c.first_use("i", "a", 100, 50), "replay within lifetime");
        assert!(c.first_use("j", "a", 100, 50), "jti is scoped by issuer");
        // Full: the soonest-expiring entry is evicted, size stays bounded.
        assert!(c.first_use("i", "b", 300, 60));
        assert_eq!(c.len(), 2);
        // After expiry the entry is forgotten.
        assert!(
            c.first_use("i", "b", 500, 301),
            "expired entry is forgotten"
        );
        assert!(!c.first_use("i", "b", 500, 302));
    }

    #[test]
    fn a_full_replay_cache_evicts_the_soonest_expiring_batch() {
        let c = InMemoryReplayCache::new(80);
        // 80 live tokens expiring at 1000 + i.
        for i in 0..80 {
            assert!(c.first_use("i", &format!("t{i}"), 1000 + i, 0));
        }
        assert_eq!(c.len(), 80);
        // The 81st evicts the 10 (80 / 8) closest to expiry in one go, so
        // the next 9 inserts evict nothing.
        assert!(c.first_use("i", "new0", 5000, 1));
        assert_eq!(c.len(), 71);
        for i in 1..10 {
            assert!(c.first_use("i", &format!("new{i}"), 5000, 1));
        }
        assert_eq!(c.len(), 80);
        // The evicted ones were the soonest to expire; the rest are still
        // refused as replays.
        assert!(c.first_use("i", "t0", 1000, 2), "t0 was evicted");
        assert!(!c.first_use("i", "t79", 1079, 2), "t79 is still remembered");
        assert!(!c.first_use("i", "new3", 5000, 2));
    }

    #[test]
    fn expired_message_names_the_time() {
        assert_eq!(
            AuthError::Expired(1422568860).to_string(),
            "token expired at 2015-01-29T22:01:00Z"
        );
    }

    /// A PEM key (SEC1 and PKCS#8) signs tokens its public JWK verifies.
    #[test]
    fn pem_keys_sign_verifiable_tokens() {
        use p384::elliptic_curve::sec1::ToEncodedPoint;
        use p384::pkcs8::{EncodePrivateKey, LineEnding};
        let sk = p384::SecretKey::from_slice(&[7u8; 48]).unwrap();
        let pt = sk.public_key().to_encoded_point(false);
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-384", "kid": "w1",
            "x": URL_SAFE_NO_PAD.encode(pt.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(pt.y().unwrap()),
        }))
        .unwrap();
        let sec1 = sk.to_sec1_pem(LineEnding::LF).unwrap();
        let pkcs8 = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        for pem in [sec1.as_str(), pkcs8.as_str()] {
            let k = PemSigningKey::from_pem(pem, Some("w1")).unwrap();
            assert_eq!(k.alg(), "ES384");
            assert!(!format!("{k:?}").contains("BEGIN"));
            let t = k.sign(&serde_json::json!({"iss": "c"})).unwrap();
            let u = inspect(&t).unwrap();
            assert_eq!(u.kid, "w1");
            assert_eq!(verify_signature(&t, &u, &jwk).unwrap()["iss"], "c");
        }
        let e = PemSigningKey::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a private key"), "{e}");
    }
}
