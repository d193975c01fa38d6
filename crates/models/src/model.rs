//! A loaded model that scores patient state: [`Model::predict`].

use crate::calibration::Interval;
use crate::explain::{probability_slope, top_factors, Factor};
use crate::package::{LoadOptions, Package};
use crate::problem::ModelError;
use bedside_core::{Instant, PatientState, Probability};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One feature value as used for a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureValue {
    pub name: String,
    pub value: Option<f64>,
    pub unit: String,
}

/// Everything a prediction says: stored as a document and rendered into
/// cards. `models` never decides who is alerted; that is `policy`'s job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub model_id: String,
    pub model_version: String,
    pub at: Instant,
    /// Raw scorer output (log-odds for LightGBM / logistic models).
    pub margin: f64,
    /// Calibrated probability of the outcome within the horizon.
    pub probability: Probability,
    pub interval: Option<Interval>,
    pub horizon_hours: f64,
    /// Margin and probability of the average training patient (SHAP base).
    pub base_margin: Option<f64>,
    pub base_probability: Option<Probability>,
    /// Largest contributions first; empty when no explanation could be
    /// computed.
    pub top_factors: Vec<Factor>,
    /// Exact: `tree_shap`, `linear`. Approximations (ONNX graphs that are
    /// not linear; see [`crate::onnx`]): `baseline_shapley`,
    /// `baseline_shapley_sampled`. `none` without factors.
    pub explanation_method: String,
    pub in_distribution: bool,
    pub ood_reasons: Vec<String>,
    pub ood_distance: Option<f64>,
    pub features: Vec<FeatureValue>,
    pub missing_count: usize,
}

impl Prediction {
    /// Whether the top factors are exact contributions to the margin.
    pub fn explanation_is_exact(&self) -> bool {
        matches!(self.explanation_method.as_str(), "tree_shap" | "linear")
    }

    /// The sentence a card shows under approximate factors; None when the
    /// factors are exact (or absent).
    pub fn explanation_note(&self) -> Option<&'static str> {
        match self.explanation_method.as_str() {
            "baseline_shapley" | "baseline_shapley_sampled" => Some(
                "Factor effects are approximate: Shapley values against the \
                 average training patient (the model is not linear).",
            ),
            _ => None,
        }
    }
}

/// A validated package ready to score.
#[derive(Debug)]
pub struct Model {
    pub package: Package,
    /// How many top factors a prediction carries (default 5).
    pub top_k: usize,
}

impl Model {
    pub fn new(package: Package) -> Self {
        Self { package, top_k: 5 }
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Package::load(path).map(Self::new)
    }

    pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Self, ModelError> {
        Package::load_with(path, opts).map(Self::new)
    }

    pub fn id(&self) -> &str {
        self.package.id()
    }
    pub fn version(&self) -> &str {
        self.package.version()
    }
    pub fn feature_names(&self) -> Vec<&str> {
        self.package.features.names()
    }

    /// Feature values at `at` (None = missing); the same function the
    /// offline export uses.
    pub fn features(&self, state: &PatientState, at: Instant) -> Vec<Option<f64>> {
        self.package.features.compute(state, at)
    }

    /// Score a patient at `at`.
    pub fn predict(&self, state: &PatientState, at: Instant) -> Result<Prediction, ModelError> {
        let values = self.features(state, at);
        self.predict_values(&values, at)
    }

    /// Score precomputed feature values (e.g. an exported row).
    pub fn predict_values(
        &self,
        values: &[Option<f64>],
        at: Instant,
    ) -> Result<Prediction, ModelError> {
        self.predict_values_with(values, at, true)
    }

    /// Score precomputed feature values without the explanation (no top
    /// factors, method "none"): what an offline evaluation needs, since it
    /// reads only the probability and the guard's verdict, and the exact
    /// explanation is most of a scoring's cost.
    pub fn score_values(
        &self,
        values: &[Option<f64>],
        at: Instant,
    ) -> Result<Prediction, ModelError> {
        self.predict_values_with(values, at, false)
    }

    fn predict_values_with(
        &self,
        values: &[Option<f64>],
        at: Instant,
        explain: bool,
    ) -> Result<Prediction, ModelError> {
        let pkg = &self.package;
        let n = pkg.features.len();
        if values.len() != n {
            return Err(ModelError::Arity {
                expected: n,
                got: values.len(),
            });
        }
        let x: Vec<f64> = values.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        let margin = pkg.scorer.margin(&x)?;
        let cal = &pkg.calibration;
        let p = cal.probability(margin);
        let interval = cal.interval(margin, p);
        let base_margin = pkg.scorer.expected_margin();
        let phi = if explain { pkg.scorer.shap(&x) } else { None };
        let (top, method) = match (phi, base_margin) {
            (Some(phi), Some(bm)) => {
                let slope = probability_slope(cal, margin, bm);
                (
                    top_factors(&pkg.features.defs, values, &phi, slope, self.top_k),
                    pkg.scorer.explanation_method(),
                )
            }
            _ => (Vec::new(), "none"),
        };
        let ood = pkg.profile.check(
            &pkg.features.defs,
            &x,
            pkg.spec.ood.max_missing_fraction,
            pkg.spec.ood.distance_quantile == "q999",
        );
        Ok(Prediction {
            model_id: pkg.spec.id.clone(),
            model_version: pkg.spec.version.clone(),
            at,
            margin,
            probability: Probability::clamped(p),
            interval,
            horizon_hours: pkg.spec.prediction.horizon_hours,
            base_margin,
            base_probability: base_margin.map(|b| Probability::clamped(cal.probability(b))),
            top_factors: top,
            explanation_method: method.into(),
            in_distribution: ood.in_distribution,
            ood_reasons: ood.reasons,
            ood_distance: ood.distance,
            features: pkg
                .features
                .defs
                .iter()
                .zip(values)
                .map(|(d, v)| FeatureValue {
                    name: d.name.clone(),
                    value: *v,
                    unit: d.unit.clone(),
                })
                .collect(),
            missing_count: values.iter().filter(|v| v.is_none()).count(),
        })
    }
}
