//! `model.toml`: the package manifest, as written on disk.
//!
//! Parsing is strict about unknown keys (a typo is a problem, not a silent
//! default). Semantic checks (known channels, feature kinds, file presence)
//! happen in [`crate::package`], which reports every problem with its key
//! path.

use serde::{Deserialize, Serialize};

/// The only manifest format this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// Channel names of the ingest channel map that a package may use when no
/// explicit list is given (see `config/channels.toml`).
pub const DEFAULT_CHANNELS: &[&str] = &[
    "heart_rate",
    "resp_rate",
    "temperature",
    "spo2",
    "sbp",
    "dbp",
    "map",
    "gcs",
    "avpu",
    "o2_flow",
    "fio2",
    "urine_output_24h",
    "weight",
    "height",
    "lactate",
    "wbc",
    "platelets",
    "creatinine",
    "crp",
    "procalcitonin",
    "bilirubin",
    "inr",
    "glucose",
    "bun",
    "sodium",
    "potassium",
    "chloride",
    "bicarbonate",
    "ph",
    "pao2",
    "paco2",
    "hemoglobin",
    "hematocrit",
    "albumin",
    "ast",
    "alt",
    "troponin_i",
    "bnp",
    "d_dimer",
    "fibrinogen",
    "aptt",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub format_version: u32,
    pub id: String,
    pub version: String,
    #[serde(default)]
    pub name: Option<String>,
    pub intended_use: String,
    pub outcome: OutcomeSpec,
    pub prediction: PredictionSpec,
    #[serde(default)]
    pub channels: Vec<ChannelSpec>,
    #[serde(default)]
    pub features: Vec<FeatureSpec>,
    pub scorer: ScorerSpec,
    pub calibration: FileRef,
    pub training_profile: FileRef,
    pub card: FileRef,
    /// Optional: patient-level split used in development (held-out ids).
    #[serde(default)]
    pub split: Option<FileRef>,
    /// Optional: calibration-split rows (`calibration_set.json`) from which
    /// `policy` certifies a threshold.
    #[serde(default)]
    pub calibration_set: Option<FileRef>,
    /// Optional: the stored certification (`certification.json`, written
    /// by `bedside model certify`): the calibration patients' scores over
    /// time and the whole-policy certification made on them
    /// (`bedside_policy::StoredCertification`; read as JSON here, this
    /// crate never decides).
    #[serde(default)]
    pub certification: Option<FileRef>,
    #[serde(default)]
    pub ood: OodSpec,
}

/// How the outcome was labelled for training and how `bedside evaluate`
/// labels a scoring time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    pub description: String,
    /// `onset` or `recorded`: which Condition time counts (Encounter
    /// elements carry one time each, see [`OutcomeElement`]).
    pub time_basis: String,
    /// A matching condition counts if its time is in
    /// `[at - lookback_hours, at + horizon_hours]`; no lookback means any
    /// earlier time counts (prevalent or incident), unless abated before `at`.
    #[serde(default)]
    pub lookback_hours: Option<f64>,
    pub horizon_hours: f64,
    /// For screening models (the outcome is present when scoring starts):
    /// an alert up to this many hours after the outcome's time still
    /// detects it. Used for patient-level sensitivity, PPV and the
    /// calibration set the alert threshold is certified on; 0 = an alert
    /// must come before the outcome.
    #[serde(default)]
    pub detection_window_hours: Option<f64>,
    #[serde(default)]
    pub codes: Vec<CodeSetSpec>,
}

/// Codes in one system, matched by prefix (`A41` matches `A41.9`), read
/// from one FHIR element (`element`, default `Condition.code`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSetSpec {
    #[serde(default)]
    pub element: OutcomeElement,
    pub system: String,
    pub prefixes: Vec<String>,
}

/// Where an outcome code is found, and which time it carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OutcomeElement {
    /// A Condition's `code`; its time is the onset or the recorded date
    /// (`time_basis`), and it ends at `abatementDateTime`.
    #[default]
    #[serde(rename = "Condition.code")]
    ConditionCode,
    /// An Encounter's `hospitalization.dischargeDisposition` (e.g. `exp`,
    /// died); its time is the Encounter's `period.end`.
    #[serde(rename = "Encounter.hospitalization.dischargeDisposition")]
    DischargeDisposition,
    /// The `class` of an Encounter `classHistory` entry (e.g. `ACUTE`, an
    /// ICU stay); its time is that entry's `period.start`.
    #[serde(rename = "Encounter.classHistory.class")]
    ClassHistory,
}

impl OutcomeElement {
    /// The element path as written in `model.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeElement::ConditionCode => "Condition.code",
            OutcomeElement::DischargeDisposition => {
                "Encounter.hospitalization.dischargeDisposition"
            }
            OutcomeElement::ClassHistory => "Encounter.classHistory.class",
        }
    }

    /// Is this element read from Encounters (rather than Conditions)?
    pub fn on_encounter(self) -> bool {
        !matches!(self, OutcomeElement::ConditionCode)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionSpec {
    pub horizon_hours: f64,
    /// Scoring cadence for offline export and silent-mode replay.
    #[serde(default)]
    pub every_hours: Option<f64>,
    /// Free text: when scoring starts (e.g. "at inpatient admission").
    #[serde(default)]
    pub start: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub name: String,
    pub unit: String,
    /// `system|code`, e.g. `http://loinc.org|2524-7`.
    #[serde(default)]
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub name: String,
    /// last | mean | min | max | slope | count | hours_since_last | missing
    /// | age | sex | hours_since_admission
    pub kind: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub window_hours: Option<f64>,
    /// Human label for cards ("Lactate (latest)").
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorerSpec {
    /// lightgbm | linear | onnx
    pub kind: String,
    pub file: String,
    /// ONNX only: `probability` (default) or `margin`.
    #[serde(default)]
    pub output: Option<String>,
    /// ONNX only: which graph output (default: the last).
    #[serde(default)]
    pub output_index: Option<usize>,
    /// ONNX only: which column of a `[1, k]` output (default: the last).
    #[serde(default)]
    pub column: Option<usize>,
    /// ONNX only: values substituted for missing inputs (default: NaN).
    #[serde(default)]
    pub impute: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub file: String,
}

/// Out-of-distribution guard settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OodSpec {
    /// A prediction with more than this fraction of inputs missing is out
    /// of distribution.
    #[serde(default = "default_missing")]
    pub max_missing_fraction: f64,
    /// Flag the multivariate distance above the training quantile
    /// `distance_quantile` (`q99` or `q999`).
    #[serde(default = "default_quantile")]
    pub distance_quantile: String,
}

fn default_missing() -> f64 {
    0.5
}
fn default_quantile() -> String {
    "q99".into()
}

impl Default for OodSpec {
    fn default() -> Self {
        Self {
            max_missing_fraction: default_missing(),
            distance_quantile: default_quantile(),
        }
    }
}
