//! Loading and validating a model package (a directory or a `.tar.gz`).
//!
//! Loading never panics on bad input and never stops at the first problem:
//! every file is checked and every problem is reported with its location.

use crate::calibration::Calibration;
use crate::features::FeatureSet;
use crate::lightgbm;
use crate::linear::Linear;
use crate::ood::TrainingProfile;
use crate::problem::{ModelError, Problem, Problems};
use crate::scorer::Scorer;
use crate::spec::{ModelSpec, DEFAULT_CHANNELS, FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Options for loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Channel names of the ingest channel map; [`DEFAULT_CHANNELS`] when
    /// None.
    pub known_channels: Option<Vec<String>>,
}

/// The patient-level development split (`split.json`), so evaluation can
/// report on the held-out patients only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DevSplit {
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub train: Vec<String>,
    #[serde(default)]
    pub calibration: Vec<String>,
    #[serde(default)]
    pub test: Vec<String>,
}

/// One calibration-split scoring row (`calibration_set.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalRow {
    /// Calibrated probability.
    pub p: f64,
    pub label: u8,
    pub patient_id: String,
    /// Patient-days this row stands for (the scoring cadence in days).
    pub exposure_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CalSetFile {
    rows: Vec<CalRow>,
}

/// A validated model package.
#[derive(Debug)]
pub struct Package {
    /// Where it was loaded from (for messages).
    pub source: String,
    pub spec: ModelSpec,
    pub features: FeatureSet,
    pub scorer: Scorer,
    pub calibration: Calibration,
    pub profile: TrainingProfile,
    pub card_markdown: String,
    pub split: Option<DevSplit>,
    pub calibration_set: Option<Vec<CalRow>>,
    /// The stored certification (`[certification] file`), as JSON: the
    /// policy crate reads it (`bedside_policy::StoredCertification`).
    pub certification: Option<serde_json::Value>,
}

/// Where package files come from.
enum Source {
    Dir(PathBuf),
    Archive(BTreeMap<String, Vec<u8>>),
}

impl Source {
    fn open(path: &Path) -> Result<Self, Problem> {
        let loc = path.display().to_string();
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        let name = path.to_string_lossy();
        if !(name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
            return Err(Problem::new(
                loc,
                "not a package: expected a directory or a .tar.gz archive",
            ));
        }
        let file = std::fs::File::open(path).map_err(|e| Problem::new(&loc, e.to_string()))?;
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut files = BTreeMap::new();
        let entries = ar
            .entries()
            .map_err(|e| Problem::new(&loc, e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Problem::new(&loc, format!("bad archive: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let p = entry
                .path()
                .map_err(|e| Problem::new(&loc, format!("bad archive path: {e}")))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| Problem::new(&loc, format!("bad archive entry {p}: {e}")))?;
            files.insert(p, buf);
        }
        // The package root is the directory holding the shallowest model.toml.
        let root = files
            .keys()
            .filter(|k| *k == "model.toml" || k.ends_with("/model.toml"))
            .min_by_key(|k| k.len())
            .map(|k| k.trim_end_matches("model.toml").to_string())
            .unwrap_or_default();
        let files = files
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(root.as_str()).map(|k| (k.to_string(), v)))
            .collect();
        Ok(Self::Archive(files))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let rel = Path::new(name);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err("file names must be relative paths inside the package".into());
        }
        match self {
            Self::Dir(d) => std::fs::read(d.join(rel)).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => "missing file".to_string(),
                _ => e.to_string(),
            }),
            Self::Archive(files) => files
                .get(name.trim_start_matches("./"))
                .cloned()
                .ok_or_else(|| "missing file".to_string()),
        }
    }

    fn read_text(&self, name: &str, p: &mut Problems) -> Option<String> {
        match self.read(name) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => Some(s),
                Err(_) => {
                    p.push(name, "not UTF-8 text");
                    None
                }
            },
            Err(e) => {
                p.push(name, e);
                None
            }
        }
    }
}

/// Every problem with the package at `path` (empty when it is valid).
pub fn validate_package(path: &Path) -> Vec<Problem> {
    validate_package_with(path, &LoadOptions::default())
}

/// [`validate_package`] against an explicit channel list.
pub fn validate_package_with(path: &Path, opts: &LoadOptions) -> Vec<Problem> {
    match Package::load_with(path, opts) {
        Ok(_) => Vec::new(),
        Err(ModelError::Invalid(p)) => p,
        Err(e) => vec![Problem::new(path.display().to_string(), e.to_string())],
    }
}

fn toml_line(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(s) => format!(
            "model.toml:line {}",
            text[..s.start.min(text.len())].lines().count().max(1)
        ),
        None => "model.toml".into(),
    }
}

/// Read and validate only `model.toml` (header, channels, features): what
/// `bedside features` needs to export training rows before the scorer,
/// calibration and profile files exist.
pub fn load_spec(path: &Path, opts: &LoadOptions) -> Result<(ModelSpec, FeatureSet), ModelError> {
    let src = Source::open(path).map_err(|p| ModelError::Invalid(vec![p]))?;
    let mut p = Problems::default();
    let spec =
        read_spec(&src, &mut p).ok_or_else(|| ModelError::Invalid(std::mem::take(&mut p.0)))?;
    let features = check_spec(&spec, opts, &mut p);
    if p.is_empty() {
        Ok((spec, features))
    } else {
        Err(ModelError::Invalid(p.0))
    }
}

fn read_spec(src: &Source, p: &mut Problems) -> Option<ModelSpec> {
    let text = src.read_text("model.toml", p)?;
    match toml::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            let msg = e.message().to_string();
            p.push(toml_line(&text, &e), msg);
            None
        }
    }
}

fn check_spec(spec: &ModelSpec, opts: &LoadOptions, p: &mut Problems) -> FeatureSet {
    check_header(spec, p);
    let units = check_channels(spec, opts, p);
    let features = FeatureSet::from_specs(&spec.features, &units, p);
    for (i, f) in spec.features.iter().enumerate() {
        if let Some(c) = &f.channel {
            if !units.contains_key(c) {
                p.push(
                    format!("model.toml:features[{i}].channel"),
                    format!("channel {c:?} is not declared in [[channels]]"),
                );
            }
        }
    }
    if spec.features.is_empty() {
        p.push("model.toml:features", "the model has no features");
    }
    features
}

impl Package {
    /// Load and validate with the default channel list.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Load and validate; `Err(ModelError::Invalid)` lists every problem.
    pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Self, ModelError> {
        let src = Source::open(path).map_err(|p| ModelError::Invalid(vec![p]))?;
        let mut p = Problems::default();
        let Some(spec) = read_spec(&src, &mut p) else {
            return Err(ModelError::Invalid(p.0));
        };
        let features = check_spec(&spec, opts, &mut p);
        let scorer = load_scorer(&spec, &src, &features, &mut p);
        let calibration = src
            .read_text(&spec.calibration.file, &mut p)
            .and_then(|t| Calibration::parse(&t, &spec.calibration.file, &mut p));
        let names: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
        let profile = src
            .read_text(&spec.training_profile.file, &mut p)
            .and_then(|t| TrainingProfile::parse(&t, &spec.training_profile.file, &names, &mut p));
        // ONNX explanations are taken against the training means.
        #[cfg(feature = "onnx")]
        let scorer = scorer.map(|mut s| {
            if let (Scorer::Onnx(o), Some(prof)) = (&mut s, &profile) {
                o.set_baseline(
                    prof.features
                        .iter()
                        .map(|f| f.mean.unwrap_or(f64::NAN))
                        .collect(),
                );
            }
            s
        });
        let card = src.read_text(&spec.card.file, &mut p);
        if card.as_ref().is_some_and(|c| c.trim().is_empty()) {
            p.push(&spec.card.file, "model facts card is empty");
        }
        let split = spec.split.as_ref().and_then(|f| {
            let t = src.read_text(&f.file, &mut p)?;
            serde_json::from_str::<DevSplit>(&t)
                .map_err(|e| p.push(format!("{}:line {}", f.file, e.line()), e.to_string()))
                .ok()
        });
        let calibration_set = spec.calibration_set.as_ref().and_then(|f| {
            let t = src.read_text(&f.file, &mut p)?;
            let rows = serde_json::from_str::<CalSetFile>(&t)
                .map_err(|e| p.push(format!("{}:line {}", f.file, e.line()), e.to_string()))
                .ok()?
                .rows;
            for (i, r) in rows.iter().enumerate() {
                if !(0.0..=1.0).contains(&r.p)
                    || r.label > 1
                    || r.exposure_days.is_nan()
                    || r.exposure_days < 0.0
                {
                    p.push(
                        format!("{}:rows[{i}]", f.file),
                        "p must be in [0, 1], label 0 or 1, exposure_days >= 0",
                    );
                    break;
                }
            }
            Some(rows)
        });
        let certification = spec.certification.as_ref().and_then(|f| {
            let t = src.read_text(&f.file, &mut p)?;
            serde_json::from_str::<serde_json::Value>(&t)
                .map_err(|e| p.push(format!("{}:line {}", f.file, e.line()), e.to_string()))
                .ok()
        });
        match (scorer, calibration, profile, card) {
            (Some(scorer), Some(calibration), Some(profile), Some(card)) if p.is_empty() => {
                Ok(Self {
                    source: path.display().to_string(),
                    spec,
                    features,
                    scorer,
                    calibration,
                    profile,
                    card_markdown: card,
                    split,
                    calibration_set,
                    certification,
                })
            }
            _ => Err(ModelError::Invalid(p.0)),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }
    pub fn version(&self) -> &str {
        &self.spec.version
    }
}

fn check_header(spec: &ModelSpec, p: &mut Problems) {
    if spec.format_version != FORMAT_VERSION {
        p.push(
            "model.toml:format_version",
            format!(
                "unsupported format_version {} (this build reads {FORMAT_VERSION})",
                spec.format_version
            ),
        );
    }
    if !bedside_core::types::is_fhir_id(&spec.id) {
        p.push(
            "model.toml:id",
            format!("{:?} must be 1-64 of [A-Za-z0-9.-]", spec.id),
        );
    }
    if spec.version.trim().is_empty() {
        p.push("model.toml:version", "empty");
    }
    if spec.intended_use.trim().is_empty() {
        p.push("model.toml:intended_use", "empty");
    }
    let o = &spec.outcome;
    if !matches!(o.time_basis.as_str(), "onset" | "recorded") {
        p.push(
            "model.toml:outcome.time_basis",
            format!("{:?} (expected onset or recorded)", o.time_basis),
        );
    }
    if !(o.horizon_hours.is_finite() && o.horizon_hours >= 0.0) {
        p.push("model.toml:outcome.horizon_hours", "must be a number >= 0");
    }
    if o.lookback_hours
        .is_some_and(|l| !(l.is_finite() && l >= 0.0))
    {
        p.push("model.toml:outcome.lookback_hours", "must be a number >= 0");
    }
    if o.detection_window_hours
        .is_some_and(|l| !(l.is_finite() && l >= 0.0))
    {
        p.push(
            "model.toml:outcome.detection_window_hours",
            "must be a number >= 0",
        );
    }
    if o.codes.iter().all(|c| c.prefixes.is_empty()) {
        p.push("model.toml:outcome.codes", "no outcome codes");
    }
    if !(spec.prediction.horizon_hours.is_finite() && spec.prediction.horizon_hours > 0.0) {
        p.push(
            "model.toml:prediction.horizon_hours",
            "must be a number > 0",
        );
    }
    if spec
        .prediction
        .every_hours
        .is_some_and(|h| !(h.is_finite() && h > 0.0))
    {
        p.push("model.toml:prediction.every_hours", "must be a number > 0");
    }
    if !(0.0..=1.0).contains(&spec.ood.max_missing_fraction) {
        p.push("model.toml:ood.max_missing_fraction", "must be in [0, 1]");
    }
    if !matches!(spec.ood.distance_quantile.as_str(), "q99" | "q999") {
        p.push("model.toml:ood.distance_quantile", "expected q99 or q999");
    }
}

/// Validate `[[channels]]`; returns channel name -> unit.
fn check_channels(
    spec: &ModelSpec,
    opts: &LoadOptions,
    p: &mut Problems,
) -> BTreeMap<String, String> {
    let known: BTreeSet<String> = match &opts.known_channels {
        Some(k) => k.iter().cloned().collect(),
        None => DEFAULT_CHANNELS.iter().map(|s| s.to_string()).collect(),
    };
    let mut units = BTreeMap::new();
    for (i, c) in spec.channels.iter().enumerate() {
        if !known.contains(&c.name) {
            p.push(
                format!("model.toml:channels[{i}].name"),
                format!(
                    "unknown channel {:?} (not in the ingest channel map)",
                    c.name
                ),
            );
        }
        if units.insert(c.name.clone(), c.unit.clone()).is_some() {
            p.push(
                format!("model.toml:channels[{i}].name"),
                format!("duplicate channel {:?}", c.name),
            );
        }
        for (j, code) in c.codes.iter().enumerate() {
            if !code
                .split_once('|')
                .is_some_and(|(s, c)| !s.is_empty() && !c.is_empty())
            {
                p.push(
                    format!("model.toml:channels[{i}].codes[{j}]"),
                    format!("{code:?} must be system|code"),
                );
            }
        }
    }
    units
}

#[cfg_attr(not(feature = "onnx"), allow(unused_variables))]
fn load_scorer(
    spec: &ModelSpec,
    src: &Source,
    features: &FeatureSet,
    p: &mut Problems,
) -> Option<Scorer> {
    let file = spec.scorer.file.as_str();
    let scorer = match spec.scorer.kind.as_str() {
        "lightgbm" => {
            let t = src.read_text(file, p)?;
            Scorer::LightGbm(lightgbm::parse(&t, file, p)?)
        }
        "linear" => {
            let t = src.read_text(file, p)?;
            Scorer::Linear(Linear::parse(&t, file, p)?)
        }
        #[cfg(feature = "onnx")]
        "onnx" => {
            let bytes = match src.read(file) {
                Ok(b) => b,
                Err(e) => {
                    p.push(file, e);
                    return None;
                }
            };
            Scorer::Onnx(crate::onnx::Onnx::load(
                &bytes,
                &spec.scorer,
                features.len(),
                p,
            )?)
        }
        other => {
            p.push(
                "model.toml:scorer.kind",
                format!(
                    "unsupported scorer {other:?} (this build reads lightgbm, linear{})",
                    if cfg!(feature = "onnx") { ", onnx" } else { "" }
                ),
            );
            return None;
        }
    };
    if let Some(names) = scorer.feature_names() {
        if names.len() != spec.features.len() {
            p.push(
                format!("{file}:feature_names"),
                format!(
                    "the scorer has {} features but model.toml defines {}",
                    names.len(),
                    spec.features.len()
                ),
            );
        } else if let Some(i) = (0..names.len()).find(|&i| names[i] != spec.features[i].name) {
            p.push(
                format!("{file}:feature_names[{i}]"),
                format!(
                    "scorer feature {:?} does not match model.toml features[{i}].name {:?}",
                    names[i], spec.features[i].name
                ),
            );
        }
    }
    Some(scorer)
}
