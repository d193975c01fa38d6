//! ONNX graphs via tract (feature `onnx`).
//!
//! The graph takes one `float32 [1, n]` input in feature order. The chosen
//! output (default: the last) is read at a column (default: the last) and
//! is either a probability (converted to a margin with the logit) or a
//! margin. Missing inputs become `impute[i]` when given, else NaN.
//! ONNX scorers carry no exact explanations: predictions from them have no
//! top factors.

use crate::problem::{ModelError, Problems};
use crate::spec::ScorerSpec;
use tract_onnx::prelude::*;

type Plan = std::sync::Arc<TypedRunnableModel>;

pub struct Onnx {
    plan: Plan,
    n: usize,
    output_index: Option<usize>,
    column: Option<usize>,
    probability: bool,
    impute: Option<Vec<f64>>,
}

impl std::fmt::Debug for Onnx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onnx").field("inputs", &self.n).finish()
    }
}

impl Onnx {
    pub fn load(
        bytes: &[u8],
        spec: &ScorerSpec,
        n: usize,
        problems: &mut Problems,
    ) -> Option<Self> {
        let loc = format!("{}", spec.file);
        let probability = match spec.output.as_deref() {
            None | Some("probability") => true,
            Some("margin") => false,
            Some(o) => {
                problems.push(
                    "model.toml:scorer.output",
                    format!("unknown output {o:?} (expected probability or margin)"),
                );
                return None;
            }
        };
        if let Some(imp) = &spec.impute {
            if imp.len() != n {
                problems.push(
                    "model.toml:scorer.impute",
                    format!("has {} entries for {n} features", imp.len()),
                );
                return None;
            }
        }
        let built = (|| -> TractResult<Plan> {
            let mut r = std::io::Cursor::new(bytes);
            tract_onnx::onnx()
                .model_for_read(&mut r)?
                .with_input_fact(0, f32::fact([1, n]).into())?
                .into_optimized()?
                .into_runnable()
        })();
        match built {
            Ok(plan) => Some(Self {
                plan,
                n,
                output_index: spec.output_index,
                column: spec.column,
                probability,
                impute: spec.impute.clone(),
            }),
            Err(e) => {
                problems.push(loc, format!("cannot load ONNX graph: {e}"));
                None
            }
        }
    }

    pub fn margin(&self, x: &[f64]) -> Result<f64, ModelError> {
        let err = |m: String| ModelError::Scorer {
            kind: "onnx",
            message: m,
        };
        let v: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| match (&self.impute, v.is_nan()) {
                (Some(imp), true) => imp[i] as f32,
                _ => v as f32,
            })
            .collect();
        let input = Tensor::from_shape(&[1, self.n], &v).map_err(|e| err(e.to_string()))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| err(e.to_string()))?;
        let idx = self.output_index.unwrap_or(out.len().saturating_sub(1));
        let t = out
            .get(idx)
            .ok_or_else(|| err(format!("no output {idx}")))?;
        let t = t.cast_to::<f64>().map_err(|e| err(e.to_string()))?;
        let vals: Vec<f64> = t
            .to_plain_array_view::<f64>()
            .map_err(|e| err(e.to_string()))?
            .iter()
            .copied()
            .collect();
        let col = self.column.unwrap_or(vals.len().saturating_sub(1));
        let y = *vals
            .get(col)
            .ok_or_else(|| err(format!("no column {col}")))?;
        if !y.is_finite() {
            return Err(err("non-finite output".into()));
        }
        Ok(if self.probability {
            let p = y.clamp(1e-12, 1.0 - 1e-12);
            (p / (1.0 - p)).ln()
        } else {
            y
        })
    }
}
