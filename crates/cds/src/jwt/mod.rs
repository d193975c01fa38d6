//! Verifying the JWT a CDS client sends with every call ("Trusting CDS
//! Clients" in the specification), and signing demo tokens.
//!
//! Checks, in order: three-part shape; header `alg` asymmetric (`none` and
//! HMAC are refused), `kid` and `typ: JWT` present; `iss` is a trusted
//! issuer; `alg` is one the issuer is allowed; a `jku` header is the
//! issuer's JWK Set URL or on its `jku` allow-list; `kid` is in the
//! issuer's keys and the key fits `alg`; the signature; `exp` not passed
//! and `iat` not in the future (with leeway); `aud` names the endpoint
//! called (`{public URL}/cds-services/{id}`); `jti` present and not seen
//! before (replay cache).
//!
//! The module does no IO: keys are configured inline (a JWK Set file), or
//! fetched by the caller from the URL an [`AuthError::fetch_url`] names and
//! handed over with [`JwtVerifier::set_jwks_at`].
//!
//! Parts: `verify` ([`inspect`], [`verify_signature`], [`JwtVerifier`]),
//! `replay` (the `jti` cache, [`ReplayCache`], [`InMemoryReplayCache`]),
//! `sign` (demo hook tokens and client assertions, [`JwkSigner`],
//! [`PemSigningKey`]). Everything is re-exported here.

mod replay;
mod sign;
mod verify;

pub use jsonwebtoken::Algorithm;
pub use replay::{InMemoryReplayCache, ReplayCache, REPLAY_CAPACITY};
pub use sign::{
    sign_demo_token, sign_with_jwk, JwkSigner, PemSigningKey, SignError, DEMO_TOKEN_TTL_SECS,
};
pub use verify::{inspect, parse_algorithm, verify_signature, Endpoint, JwtVerifier, Unverified};

use chrono::{TimeZone, Utc};
use jsonwebtoken::jwk::JwkSet;

/// The algorithms an issuer is allowed unless configured otherwise: the
/// two the CDS Hooks specification requires services to support.
pub const SPEC_ALGORITHMS: [Algorithm; 2] = [Algorithm::ES384, Algorithm::RS384];

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
    #[error("alg {alg} is not allowed for iss {iss:?} (allowed: {allowed})")]
    AlgNotAllowed {
        iss: String,
        alg: String,
        allowed: String,
    },
    #[error("jku {jku:?} is not on the jku allow-list of iss {iss:?}")]
    UntrustedJku { iss: String, jku: String },
    #[error("no JWK Set loaded for iss {iss:?} (fetch it from {jku:?})")]
    JwksNotLoaded { iss: String, jku: Option<String> },
    /// `jwks_url`: where the issuer's keys can be fetched again (`None`:
    /// keys from a file only).
    #[error("unknown kid {kid:?} for iss {iss:?}")]
    UnknownKid {
        iss: String,
        kid: String,
        jwks_url: Option<String>,
    },
    #[error("the keys of iss {iss:?} cannot be fetched from {url}: {reason}")]
    JwksUnavailable {
        iss: String,
        url: String,
        reason: String,
    },
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

impl AuthError {
    /// The JWK Set URL to fetch before verifying again, when the token
    /// failed only for want of its key: the issuer's keys are not loaded
    /// yet, or they lack the token's `kid` (rotation).
    pub fn fetch_url(&self) -> Option<&str> {
        self.key_wanted().map(|(_, url)| url)
    }

    /// The issuer and the JWK Set URL of a token refused only for want of
    /// its key (see [`AuthError::fetch_url`]).
    pub fn key_wanted(&self) -> Option<(&str, &str)> {
        match self {
            AuthError::JwksNotLoaded { iss, jku } => Some((iss, jku.as_deref()?)),
            AuthError::UnknownKid { iss, jwks_url, .. } => Some((iss, jwks_url.as_deref()?)),
            _ => None,
        }
    }
}

fn fmt_ts(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

/// A CDS client whose tokens are accepted: its `iss`, its public keys
/// inline (`jwks`, e.g. read from a JWK Set file) and/or the URL they are
/// published at (`jwks_url`), the `jku` values its tokens may name, the
/// algorithms it may sign with, and the base URL it calls Bedside at.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    pub iss: String,
    /// Keys configured with the issuer (loaded at start, or with
    /// [`JwtVerifier::set_jwks`]).
    pub jwks: Option<JwkSet>,
    /// The issuer's JWK Set URL: the caller fetches it when a token's
    /// `kid` is unknown ([`AuthError::fetch_url`]); a `jku` header equal
    /// to it is accepted.
    pub jwks_url: Option<String>,
    /// Other `jku` header values accepted (and fetched); any other `jku`
    /// is refused.
    pub jku_allowed: Vec<String>,
    /// Algorithms accepted from this issuer (default [`SPEC_ALGORITHMS`]).
    pub algorithms: Vec<Algorithm>,
    /// Bedside's base URL as this issuer calls it: the expected `aud` of
    /// an [`Endpoint`] is this URL and the endpoint's path. `None`: the
    /// endpoint's own base (the server's public URL).
    pub public_url: Option<String>,
}

impl TrustedIssuer {
    /// An issuer with keys given inline (ES384 and RS384 allowed).
    pub fn with_jwks(iss: &str, jwks: JwkSet) -> Self {
        Self {
            iss: iss.to_string(),
            jwks: Some(jwks),
            jwks_url: None,
            jku_allowed: Vec::new(),
            algorithms: SPEC_ALGORITHMS.to_vec(),
            public_url: None,
        }
    }

    /// An issuer whose keys the caller fetches from `url` and loads with
    /// [`JwtVerifier::set_jwks_at`] (ES384 and RS384 allowed).
    pub fn with_jwks_url(iss: &str, url: &str) -> Self {
        Self {
            jwks: None,
            jwks_url: Some(url.to_string()),
            ..Self::with_jwks(iss, JwkSet { keys: Vec::new() })
        }
    }

    /// Replace the allowed algorithms.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Accept tokens whose `jku` header is `url`.
    pub fn allow_jku(mut self, url: &str) -> Self {
        self.jku_allowed.push(url.to_string());
        self
    }

    /// The base URL this issuer calls Bedside at (the `aud` base).
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_string());
        self
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
