//! bedside-monitor: the statistics of monitoring, as pure functions over
//! plain records.
//!
//! - [`metrics`]: AUROC, average precision (AUPRC), Brier, ECE and the
//!   reliability curve, numpy-compatible quantiles (= scikit-learn / numpy).
//! - [`intervals`]: Wilson and Clopper-Pearson intervals, DeLong AUROC CI.
//! - [`cbpe`]: label-free AUROC / PPV / sensitivity estimate from
//!   calibrated probabilities.
//! - [`drift`]: PSI on reference-quantile bins, two-sample KS (= scipy
//!   `ks_2samp`), missingness drift, against a training profile or a
//!   rolling reference window; KS on patient-level (clustered) values.
//! - [`linkage`]: outcome linkage after the horizon (positive / negative /
//!   pending / excluded) and rolling-window performance.
//! - [`subgroups`]: performance by subgroup (age band, sex, race/ethnicity,
//!   unit) and the fairness audit against the largest subgroup.
//! - [`usage`]: acceptance / override rates and reasons, time to first
//!   action, alerts per clinician per shift, by unit and role; trust pulse
//!   sampling rule and trend.
//! - [`watch`]: the live watch's confidence rules (bounds on clustered
//!   counts, Holm across drift tests, the PSI chi-square null shown only).
//! - [`alarms`]: governance alarm rules (TOML) evaluated over a
//!   [`alarms::MetricsSnapshot`].
//!
//! ARCHITECTURE INVARIANT: this crate does no IO and never blocks the
//! scoring path; it takes plain data in and returns plain data (the caller
//! reads the store and the clock).

pub mod alarms;
pub mod cbpe;
pub mod drift;
pub mod intervals;
pub mod linkage;
pub mod metrics;
pub mod subgroups;
pub mod usage;
pub mod watch;
