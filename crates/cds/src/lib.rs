//! CDS Hooks 2.0 for Bedside: the protocol and the cards, without IO.
//!
//! The `server` crate's handlers parse with this crate, call the
//! application, and serialize what this crate renders:
//!
//! - [`parse_hook_request`] / [`parse_feedback`]: request bodies into typed
//!   values ([`HookRequest`], [`Feedback`]); errors ([`HookError`]) name the
//!   field and the reason (a 400).
//! - [`validate_response`] / [`validate_discovery`]: a validator written to
//!   the specification, returning [`Violation`]s with JSON paths.
//! - [`JwtVerifier`]: the client JWT checks of "Trusting CDS Clients"
//!   (asymmetric `alg`, trusted `iss`, `kid` in the JWK Set, signature,
//!   `exp`, `iat`, `aud` = service URL, `jti` replay); [`AuthError`] texts
//!   are the 401 reasons. [`sign_demo_token`] signs demo tokens.
//! - [`render_cards`]: a scored risk ([`CardInput`]) into [`Card`]s:
//!   summary with the calibrated probability and trend, Markdown detail,
//!   pathway suggestions, override reasons, links.
//! - [`discovery`] / [`ServiceSpec`] / [`standard_prefetch`]: the discovery
//!   document; [`expand_prefetch`] / [`missing_prefetch`]: prefetch
//!   templates for fetching from `fhirServer` when the client did not.
//!
//! ARCHITECTURE INVARIANT: this crate does no IO (no network, files or
//! clock: `now` is always a parameter) and knows nothing of HTTP servers,
//! the store, models or policies; every card it renders passes its own
//! validator.

mod crypto;
pub mod discovery;
pub mod feedback;
mod json;
pub mod jwt;
pub mod render;
pub mod request;
pub mod types;
pub mod validate;

pub use discovery::{
    discovery, expand_prefetch, missing_prefetch, standard_prefetch, validate_discovery,
    PrefetchError, ServiceSpec,
};
pub use feedback::parse_feedback;
pub use jsonwebtoken::jwk::JwkSet;
pub use jwt::{
    parse_algorithm, sign_demo_token, sign_with_jwk, Algorithm, AuthError, Claims, Endpoint,
    InMemoryReplayCache, JwkSigner, JwtVerifier, PemSigningKey, ReplayCache, SignError,
    TrustedIssuer, SPEC_ALGORITHMS,
};
pub use render::{
    age_words, render_cards, suggestion_uuid, CardInput, Direction, EarlierRisk, Factor, Interval,
    ModelInfo, OpenTask, PathwaySuggestion, Tier, Wording, DEFAULT_PASSIVE_ACTION,
};
pub use request::{
    parse_hook_request, FhirAuthorization, HookContext, HookError, HookKind, HookRequest,
};
pub use types::{
    AcceptedSuggestion, Action, ActionType, Card, CdsResponse, Coding, Discovery, Feedback,
    FeedbackItem, Indicator, Link, LinkType, Outcome, OverrideReason, SelectionBehavior,
    ServiceDescriptor, Source, Suggestion,
};
pub use validate::{validate_response, Violation, SUMMARY_LIMIT};
