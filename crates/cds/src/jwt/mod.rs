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
//!
//! Parts: `verify` ([`inspect`], [`verify_signature`], [`JwtVerifier`]),
//! `replay` (the `jti` cache, [`ReplayCache`], [`InMemoryReplayCache`]),
//! `sign` (demo hook tokens and client assertions, [`JwkSigner`],
//! [`PemSigningKey`]). Everything is re-exported here.

mod replay;
mod sign;
mod verify;

pub use replay::{InMemoryReplayCache, ReplayCache, REPLAY_CAPACITY};
pub use sign::{
    sign_demo_token, sign_with_jwk, JwkSigner, PemSigningKey, SignError, DEMO_TOKEN_TTL_SECS,
};
pub use verify::{inspect, verify_signature, JwtVerifier, Unverified};

use chrono::{TimeZone, Utc};
use jsonwebtoken::jwk::JwkSet;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_message_names_the_time() {
        assert_eq!(
            AuthError::Expired(1422568860).to_string(),
            "token expired at 2015-01-29T22:01:00Z"
        );
    }
}
