//! The scorer of a package: raw margin and, where exact, SHAP values.

use crate::lightgbm::LightGbm;
use crate::linear::Linear;
use crate::problem::ModelError;

/// A loaded scorer. Inputs are feature values in definition order with NaN
/// for missing.
#[derive(Debug)]
pub enum Scorer {
    LightGbm(LightGbm),
    Linear(Linear),
    #[cfg(feature = "onnx")]
    Onnx(crate::onnx::Onnx),
}

impl Scorer {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LightGbm(_) => "lightgbm",
            Self::Linear(_) => "linear",
            #[cfg(feature = "onnx")]
            Self::Onnx(_) => "onnx",
        }
    }

    /// Feature names the scorer itself declares (ONNX declares none).
    pub fn feature_names(&self) -> Option<&[String]> {
        match self {
            Self::LightGbm(m) => Some(&m.feature_names),
            Self::Linear(m) => Some(&m.feature_names),
            #[cfg(feature = "onnx")]
            Self::Onnx(_) => None,
        }
    }

    pub fn margin(&self, x: &[f64]) -> Result<f64, ModelError> {
        match self {
            Self::LightGbm(m) => Ok(m.margin(x)),
            Self::Linear(m) => Ok(m.margin(x)),
            #[cfg(feature = "onnx")]
            Self::Onnx(m) => m.margin(x),
        }
    }

    /// Contributions plus base value (last), summing to the margin (up to
    /// float32 rounding for ONNX); None when they cannot be computed.
    pub fn shap(&self, x: &[f64]) -> Option<Vec<f64>> {
        match self {
            Self::LightGbm(m) => Some(m.shap(x)),
            Self::Linear(m) => Some(m.shap(x)),
            #[cfg(feature = "onnx")]
            Self::Onnx(m) => m.shap(x).ok(),
        }
    }

    /// How [`Self::shap`] explains: `tree_shap` and `linear` are exact;
    /// `baseline_shapley` and `baseline_shapley_sampled` (ONNX graphs that
    /// are not linear) are approximations (see [`crate::onnx`]).
    pub fn explanation_method(&self) -> &'static str {
        match self {
            Self::LightGbm(_) => "tree_shap",
            Self::Linear(_) => "linear",
            #[cfg(feature = "onnx")]
            Self::Onnx(m) => m.explanation().name(),
        }
    }

    /// The base margin (mean over the training cover; for ONNX the margin
    /// at the baseline row), when known.
    pub fn expected_margin(&self) -> Option<f64> {
        match self {
            Self::LightGbm(m) => Some(m.expected_margin()),
            Self::Linear(m) => Some(m.expected_margin()),
            #[cfg(feature = "onnx")]
            Self::Onnx(m) => m.expected_margin(),
        }
    }
}
