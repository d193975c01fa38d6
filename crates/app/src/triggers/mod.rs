//! Clinical triggers: what starts a pathway, with which message and start
//! variables, and what ends it. Each is a named module; the pathway
//! runtime (`crate::pathway_rt`) runs any definition and imports none of
//! them.
//!
//! - [`sepsis`]: a scored risk that escalates starts the sepsis pathway;
//!   the ordered bundle ends it.
//! - [`imaging`]: an imaging-AI finding or a QC failure at ingest starts
//!   the radiology review.

pub mod imaging;
pub mod sepsis;
