//! bedside-policy: turns a scored risk into a decision.
//!
//! - [`certify()`]: the certified threshold (exact Clopper-Pearson lower bound
//!   on PPV within an alert budget) and its promise sentence.
//! - [`replay`]: certification of what is shown: the calibration patients
//!   replayed through the whole [`decide()`] (re-alerts, suppression,
//!   quiet periods), per-alert PPV lower bound and alert-rate upper bound
//!   accounting for alerts clustered within patients ([`clustered`]);
//!   [`StoredCertification`] is what a model package carries.
//! - [`PolicyConfig`]: the TOML policy, read by serde: every key documented
//!   once in [`config::SETTINGS`], its default and its check in the serde
//!   type of its section; an unknown key is refused; errors name the key
//!   path (`tiers.passive_hooks[1]`) and the reason.
//! - [`decide()`]: tier, suppression, routing and stage gating for one risk,
//!   returning the next [`AlertMemory`]; [`snooze()`] records a snooze.
//! - [`evaluate`]: replays scoring rows through `bedside` and the
//!   `naive_15min` / `fixed_threshold` baselines and reports alert burden,
//!   sensitivity, PPV and lead time.
//! - [`binomial`]: exact binomial bounds and the Beta quantile.
//! - [`PolicyView`]: the policy in force with the certifications made
//!   under it, taken once per decision (or read).
//!
//! ARCHITECTURE INVARIANT: this crate does no IO; it takes plain data in and
//! returns plain data (no store, no HTTP, no clock).

pub mod binomial;
pub mod certify;
pub mod clustered;
pub mod config;
pub mod decide;
pub mod evaluate;
pub mod facts;
pub mod replay;
mod view;

pub use certify::{
    certify, CalibrationRow, CalibrationSet, Certification, CertificationConfig, Certified,
};
pub use config::{Coding, ConfigError, PolicyConfig, Stage};
pub use decide::{decide, route, snooze, SnoozeError};
pub use facts::*;
pub use replay::{certify_policy, ReplaySet, StoredCertification, Trajectory};
pub use view::PolicyView;
