//! bedside-policy: turns a scored risk into a decision.
//!
//! - [`certify`]: the certified threshold (exact Clopper-Pearson lower bound
//!   on PPV within an alert budget) and its promise sentence.
//! - [`binomial`]: exact binomial bounds and the Beta quantile.
//!
//! ARCHITECTURE INVARIANT: this crate does no IO; it takes plain data in and
//! returns plain data (no store, no HTTP, no clock).

pub mod binomial;
pub mod certify;

pub use certify::{
    certify, CalibrationRow, CalibrationSet, Certification, CertificationConfig, Certified,
};
