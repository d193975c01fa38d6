//! bedside-models: model packages that give calibrated, explained, guarded
//! predictions.
//!
//! A *model package* is a directory (or `.tar.gz`) with `model.toml`
//! ([`spec::ModelSpec`]), a scorer file (LightGBM text model, logistic
//! regression JSON, or ONNX with the `onnx` feature), `calibration.json`,
//! `training_profile.json` and `card.md`. [`Package::load`] validates all
//! of it and reports every [`Problem`] with its location;
//! [`validate_package`] returns that list for `bedside model validate`.
//!
//! Public API in brief:
//! - [`FeatureSet::compute`]`(&PatientState, at) -> Vec<Option<f64>>`: the
//!   one feature function, online and offline (no train/serve skew).
//! - [`Model::predict`]`(&PatientState, at) -> Result<Prediction>`: margin,
//!   calibrated probability, interval, top factors (exact TreeSHAP),
//!   out-of-distribution flag with reasons.
//! - [`render_card_markdown`] / [`render_card_html`]: model facts (the
//!   `_with` forms add the installation's alerting promise).
//! - [`spec::OutcomeSpec::label`]: outcome labels for training/evaluation;
//!   [`metrics::evaluate`]: AUROC / AUPRC / ECE.
//!
//! Architecture invariant: `models` turns patient state into a prediction
//! and never decides whether anyone is alerted (that is `policy`), and it
//! does no IO except reading a package at load time.

pub mod calibration;
pub mod card;
pub mod explain;
pub mod features;
pub mod lightgbm;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod news2;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod ood;
pub mod outcome;
pub mod package;
pub mod problem;
pub mod scorer;
pub mod spec;
pub mod split;

pub use calibration::{Calibration, CalibrationMap, Interval};
pub use card::{
    render_card_html, render_card_html_with, render_card_markdown, render_card_markdown_with,
};
pub use explain::{Direction, Factor};
pub use features::{FeatureDef, FeatureKind, FeatureSet};
pub use model::{FeatureValue, Model, Prediction};
pub use ood::{OodReport, TrainingProfile};
pub use outcome::OutcomeEvent;
pub use package::{
    load_spec, validate_package, validate_package_with, CalRow, DevSplit, LoadOptions, Package,
};
pub use problem::{ModelError, Problem};
pub use scorer::Scorer;
pub use split::{split, Split};
