//! Ingest: maps incoming FHIR resources onto model input channels and
//! keeps each patient's [`PatientState`](bedside_core::PatientState)
//! up to date, one event at a time.
//!
//! Public API in brief:
//! - [`ChannelMap`]: codes (LOINC, SNOMED CT, RxNorm, ATC, ICD-10) and UCUM
//!   units -> named numeric channels (with unit conversion) and event
//!   channels; [`ChannelMap::default_map`] embeds `config/channels.toml`,
//!   [`ChannelMap::from_toml_str`] reads another.
//! - [`apply`] / [`updates_for`] + [`apply_updates`]: the pure in-memory
//!   state update for one resource; a value in an unknown unit on a mapped
//!   channel is a [`Rejection`] naming the element path.
//! - [`Ingestor`]: [`Ingestor::prepare`] decides per-entry [`Outcome`]s
//!   (idempotent by type/id + meta.versionId/lastUpdated/content hash),
//!   computes new states and a [`bedside_store::Commit`]; the caller
//!   commits and calls [`Ingestor::committed`] (or [`Ingestor::invalidate`]
//!   on a conflict). [`Ingestor::ingest`] does all three with retries.
//! - [`encode_state`] / [`decode_state`]: how states are stored.
//!
//! Event times: Observation effective[x] (else issued, else
//! meta.lastUpdated); Condition onset (else recordedDate);
//! MedicationRequest authoredOn; MedicationAdministration effective[x];
//! ServiceRequest authoredOn (else occurrence); Procedure performed[x];
//! Specimen collected. Entered-in-error / cancelled / not-done / revoked
//! resources (and refuted Conditions, proposal/plan intents) record
//! nothing; a newer version of a resource replaces what the older one
//! recorded. Mean arterial pressure is derived as (sbp + 2 dbp) / 3 from a
//! pair taken at the same time when no measured `map` exists.
//!
//! Architecture invariant: ingest never re-reads a patient's history; the
//! cost of one event is bounded by the retention window, not by the length
//! of the stay.

pub mod apply;
mod cache;
pub mod ingestor;
pub mod map;

pub use apply::{apply, apply_updates, patient_of, updates_for, Change, Rejection, Update};
pub use ingestor::{
    decode_state, encode_state, Batch, EntryOutcome, IngestError, IngestReport, Ingestor, Mode,
    Outcome, Pending, Prepared, Step, Touched,
};
pub use map::{Channel, ChannelMap, ConfigError, Conversion, EventRule, EventTime};
