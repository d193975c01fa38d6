//! Triggers: what starts a pathway, with which message and start
//! variables, and what it is sent afterwards. The messages, channels and
//! rules come from each use case's configuration (`bedside_usecase`); the
//! pathway runtime (`crate::pathway_rt`) runs any definition and imports
//! none of them.
//!
//! - [`risk`]: a scored risk that escalates under its use case's policy
//!   starts the use case's pathway; its actions under way are sent to it.
//! - [`resource`]: an ingested resource matching a use case's resource
//!   rule (e.g. an imaging-AI finding) starts that use case's pathway.

pub mod resource;
pub mod risk;
