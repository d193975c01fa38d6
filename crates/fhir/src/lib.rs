//! FHIR R4 JSON in and out, with no IO: parse the resources Bedside reads
//! into checked, typed views; build the ones it writes.
//!
//! Public API in brief:
//! - [`parse_resource`] / [`parse_value`]: bytes or JSON -> [`ParsedResource`]
//!   (typed [`Resource`], header, original JSON, warnings) or a
//!   [`FhirError`] naming the element path and the reason. Checks:
//!   JSON, `resourceType` (an R4 type; types Bedside does not read become
//!   [`Resource::Other`]), `id`, every `reference` string, the dates and
//!   quantities of the typed views. R4 deviations that do not prevent use
//!   (empty strings, undefined elements such as
//!   `MedicationAdministration.dosage.timing`) are warnings.
//! - [`parse_bundle`]: `transaction`, `batch`, `collection`, `history`
//!   (subscription notifications) -> [`Bundle`] of [`ParsedEntry`], with
//!   `urn:uuid:` references resolved; [`response_bundle`] and
//!   [`EntryResponse`] build `transaction-response`/`batch-response`;
//!   [`SearchSet`] builds a `searchset` (total, `link`s, matches with
//!   `search.mode = match`); [`capability_statement`] builds the
//!   `CapabilityStatement` of `GET /fhir/metadata` from [`Capabilities`].
//! - [`OperationOutcome`], [`Issue`]; builders: [`RiskAssessment`], [`DetectedIssue`];
//!   datatypes [`Coding`], [`CodeableConcept`], [`Reference`],
//!   [`Quantity`], [`Period`]; [`parse_reference`]; [`FhirDateTime`].
//!
//! Architecture invariant: this crate does no IO and knows nothing of
//! models, policies, channels or storage; it never panics on input.

pub mod build;
pub mod bundle;
pub mod capability;
pub mod datetime;
pub mod outcome;
pub mod parse;
pub mod resources;
pub mod searchset;
pub mod types;

pub use build::{
    DetectedIssue, DetectedIssueEvidence, Range, RiskAssessment, RiskPrediction,
    DETECTED_ISSUE_SEVERITIES,
};
pub use bundle::{
    bundle_from_value, parse_bundle, parse_response_bundle, response_bundle, Bundle, BundleType,
    EntryBody, EntryRequest, EntryResponse, Method, ParsedEntry,
};
pub use capability::{
    capability_statement, Capabilities, OperationCapability, ResourceCapability, SearchParam,
};
pub use datetime::{
    format_instant, Date, DateKind, DateTime, FhirDateTime, FhirInstant, Precision,
};
pub use outcome::{ErrorKind, FhirError, Issue, OperationOutcome, Severity};
pub use parse::{parse_resource, parse_value, ParsedResource};
pub use resources::Resource;
pub use searchset::{BundleLink, LinkRelation, SearchMatch, SearchSet};
pub use types::{
    is_resource_type, is_valid_id, parse_reference, Annotation, CodeableConcept, Coding, Extension,
    Identifier, Meta, Period, Quantity, RefTarget, Reference,
};
