//! Domain types shared by every Bedside part.
//!
//! Values here can only be built through parsers or checked constructors
//! ("parse, don't validate"), so a bad value cannot travel past the edge:
//! [`Probability`] is always in `0..=1`, [`PatientRef`] is always a
//! non-empty FHIR id.
//!
//! [`PatientState`] is the contract between `ingest` (which updates it one
//! event at a time) and `models` (which computes features from it). Its
//! cost per event is bounded by the retention window, not by the length of
//! the stay.
//!
//! Invariant: this crate does no IO and knows nothing of HTTP, SQL, models
//! or policies.

pub mod state;
pub mod types;
pub mod units;

pub use state::{ChannelSeries, EncounterInfo, PatientState, Point, Sex};
pub use types::{PatientRef, Probability, TypeError};

/// Timestamps are UTC instants throughout Bedside.
pub type Instant = chrono::DateTime<chrono::Utc>;
