//! ONNX graphs via tract (feature `onnx`, on by default).
//!
//! The graph takes one `float32 [batch, n]` input in feature order. The
//! chosen output (default: the last) is read at a column (default: the
//! last) and is either a probability (converted to a margin with the logit)
//! or a margin. Missing inputs become `impute[i]` when given, else NaN.
//!
//! **Operators.** tract-onnx 0.23 runs the ONNX default-domain operators it
//! implements (opsets 9 to 18: the arithmetic, matrix, activation, shape
//! and reduction operators exporters write) and, of `ai.onnx.ml`, `LinearClassifier`, `LinearRegressor`,
//! `TreeEnsembleClassifier`, `Normalizer` and `CategoryMapper`. Any other
//! operator (e.g. `TreeEnsembleRegressor`, `ZipMap`, `SVMClassifier`) is
//! refused at load with a problem naming it and its node. Export tree
//! ensembles as classifiers (skl2onnx does for `GradientBoostingClassifier`,
//! `RandomForestClassifier`; pass `zipmap=False`).
//!
//! **Explanations** (all against one baseline row `b`: the training means
//! of `training_profile.json`, else `impute`; set by the package loader):
//! - `linear` (exact): when the graph is a single `LinearClassifier` /
//!   `LinearRegressor` (plus `Identity`/`Cast`) whose post-transform makes
//!   the margin linear (`LOGISTIC` for probabilities, `NONE` for margins),
//!   its coefficients are read from the graph and the contribution of
//!   feature i is `coef_i * (x_i - b_i)`; base value `intercept + coef . b`.
//!   The loader checks the read coefficients reproduce the graph's margin.
//! - `baseline_shapley` (approximation, up to 10 features): the exact
//!   Shapley values of the game `v(S) = margin(x on S, b elsewhere)`, all
//!   `2^n` coalitions evaluated in one batched run. They sum to
//!   `margin(x) - margin(b)`. This is SHAP's interventional value with a
//!   single background row (shap's `Exact` explainer with that masker);
//!   it approximates SHAP over the full training distribution.
//! - `baseline_shapley_sampled` (approximation, more than 10 features): the
//!   same game, averaged over `PERMUTATIONS` antithetic permutations drawn
//!   from a fixed seed (deterministic). Each permutation's marginal
//!   contributions sum to `margin(x) - margin(b)`, so the estimate does too;
//!   for an additive margin it equals the exact values.

use crate::problem::{ModelError, Problems};
use crate::spec::ScorerSpec;
use tract_onnx::pb;
use tract_onnx::prelude::*;

type Plan = std::sync::Arc<TypedRunnableModel>;

/// The default explanation enumerates coalitions exactly up to this many
/// features (1,024 rows scored per explanation).
pub const MAX_EXACT_FEATURES: usize = 10;
/// Exact enumeration is refused above this many features (65,536 rows).
pub const MAX_ENUMERATED_FEATURES: usize = 16;
/// Permutations (in antithetic pairs) for the sampled estimate:
/// `PERMUTATIONS * (n + 1)` rows scored per explanation.
pub const PERMUTATIONS: usize = 16;

/// How an ONNX prediction is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnnxExplanation {
    /// Exact: coefficients read from a linear graph.
    Linear,
    /// Approximation: exact Shapley values against one baseline row.
    BaselineShapley,
    /// Approximation: sampled Shapley values against one baseline row.
    BaselineShapleySampled,
}

impl OnnxExplanation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::BaselineShapley => "baseline_shapley",
            Self::BaselineShapleySampled => "baseline_shapley_sampled",
        }
    }
}

/// The coefficients of a linear graph for the output column read.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGraph {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

pub struct Onnx {
    plan: Plan,
    /// The plan takes any batch size (else rows run one at a time).
    batched: bool,
    n: usize,
    output_index: Option<usize>,
    column: Option<usize>,
    probability: bool,
    impute: Option<Vec<f64>>,
    linear: Option<LinearGraph>,
    baseline: Vec<f64>,
    base_margin: Option<f64>,
}

impl std::fmt::Debug for Onnx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onnx")
            .field("inputs", &self.n)
            .field("linear", &self.linear.is_some())
            .finish()
    }
}

/// Operators the graph uses that this runtime does not register, with the
/// node that uses each (subgraphs of control-flow nodes included).
fn unsupported_ops(graph: &pb::GraphProto, known: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (i, node) in graph.node.iter().enumerate() {
        if !known(&node.op_type) {
            let domain = if node.domain.is_empty() {
                "ai.onnx"
            } else {
                &node.domain
            };
            let name = if node.name.is_empty() {
                format!("#{i}")
            } else {
                format!("{:?}", node.name)
            };
            out.push(format!("{} ({domain}) at node {name}", node.op_type));
        }
        for a in &node.attribute {
            if let Some(g) = &a.g {
                out.extend(unsupported_ops(g, known));
            }
        }
    }
    out
}

/// The coefficients of a graph that is one linear ML node (plus identity
/// and casts) whose margin is linear in the inputs, for output `column`.
fn linear_graph(
    graph: &pb::GraphProto,
    n: usize,
    column: Option<usize>,
    probability: bool,
) -> Option<LinearGraph> {
    let mut linear = None;
    for node in &graph.node {
        match node.op_type.as_str() {
            "Identity" | "Cast" => {}
            "LinearClassifier" | "LinearRegressor" if linear.is_none() => linear = Some(node),
            _ => return None,
        }
    }
    let node = linear?;
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    let post = attr("post_transform").map_or(&b"NONE"[..], |a| a.s.as_slice());
    let linear_margin = match (node.op_type.as_str(), probability) {
        ("LinearClassifier", true) => post == b"LOGISTIC",
        (_, false) => post == b"NONE",
        _ => false,
    };
    if !linear_margin {
        return None;
    }
    let coef = &attr("coefficients")?.floats;
    let intercepts = attr("intercepts").map(|a| a.floats.clone());
    if n == 0 || coef.len() % n != 0 {
        return None;
    }
    let rows = coef.len() / n;
    // One row of coefficients scores the positive class of a binary model.
    let row = if rows == 1 {
        0
    } else {
        column.unwrap_or(rows - 1)
    };
    if row >= rows {
        return None;
    }
    Some(LinearGraph {
        coefficients: coef[row * n..(row + 1) * n]
            .iter()
            .map(|&c| c as f64)
            .collect(),
        intercept: intercepts
            .as_ref()
            .and_then(|i| i.get(row))
            .map_or(0.0, |&v| v as f64),
    })
}

/// Rewrites the binary form of `TreeEnsembleClassifier` that skl2onnx
/// writes for gradient boosting (two class labels, every leaf weight on
/// class 0, one `base_values` entry) into the equivalent two-entry form
/// tract-onnx 0.23 parses: tract then reads column 1 as
/// `post_transform(sum + base_values[0])`, which is what onnxruntime
/// computes for the one-entry form. Done here because tract refuses the
/// one-entry form ("attribute 'base_values': expected length 1 ... got 2").
fn normalize_binary_tree_classifiers(graph: &mut pb::GraphProto) {
    for node in &mut graph.node {
        if node.op_type != "TreeEnsembleClassifier" {
            continue;
        }
        let find = |name: &str| node.attribute.iter().position(|a| a.name == name);
        let labels = ["classlabels_int64s", "classlabels_strings"]
            .iter()
            .filter_map(|k| find(k))
            .map(|i| node.attribute[i].ints.len() + node.attribute[i].strings.len())
            .sum::<usize>();
        let all_class_0 =
            find("class_ids").is_some_and(|i| node.attribute[i].ints.iter().all(|&c| c == 0));
        if let Some(i) = find("base_values") {
            let base = &mut node.attribute[i].floats;
            if labels == 2 && all_class_0 && base.len() == 1 {
                base.push(0.0);
            }
        }
    }
}

fn build(proto: &pb::ModelProto, n: usize, batched: bool) -> TractResult<Plan> {
    let model = tract_onnx::onnx().model_for_proto_model(proto)?;
    let fact = if batched {
        let b = model.symbols.sym("B");
        f32::fact(ShapeFact::from(&[TDim::from(b), TDim::from(n)][..]))
    } else {
        f32::fact([1, n])
    };
    model
        .with_input_fact(0, fact.into())?
        .into_optimized()?
        .into_runnable()
}

impl Onnx {
    pub fn load(
        bytes: &[u8],
        spec: &ScorerSpec,
        n: usize,
        problems: &mut Problems,
    ) -> Option<Self> {
        let loc = spec.file.clone();
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
        let bad_impute = spec.impute.as_ref().is_some_and(|imp| imp.len() != n);
        if let Some(imp) = spec.impute.as_ref().filter(|_| bad_impute) {
            problems.push(
                "model.toml:scorer.impute",
                format!("has {} entries for {n} features", imp.len()),
            );
        }
        let runtime = tract_onnx::onnx();
        let proto = match runtime.proto_model_for_read(&mut std::io::Cursor::new(bytes)) {
            Ok(p) => p,
            Err(e) => {
                problems.push(loc, format!("not an ONNX model: {e}"));
                return None;
            }
        };
        let mut proto = proto;
        let mut graph = proto.graph.take().unwrap_or_default();
        normalize_binary_tree_classifiers(&mut graph);
        proto.graph = Some(graph.clone());
        let known = |op: &str| runtime.op_register.0.contains_key(op);
        let unsupported = unsupported_ops(&graph, &known);
        if !unsupported.is_empty() {
            problems.push(
                loc,
                format!(
                    "unsupported ONNX operator {} (this build runs tract-onnx 0.23: the \
                     default-domain operators it implements and, of ai.onnx.ml, \
                     LinearClassifier, LinearRegressor, TreeEnsembleClassifier, \
                     Normalizer, CategoryMapper)",
                    unsupported.join(", ")
                ),
            );
            return None;
        }
        if bad_impute {
            return None;
        }
        // A batch dimension lets explanations score all coalitions in one
        // run; graphs with a fixed batch of 1 fall back to one row a run.
        let (plan, batched) = match build(&proto, n, true) {
            Ok(p) => (p, true),
            Err(_) => match build(&proto, n, false) {
                Ok(p) => (p, false),
                Err(e) => {
                    problems.push(loc, format!("cannot load ONNX graph: {e:#}"));
                    return None;
                }
            },
        };
        let mut me = Self {
            plan,
            batched,
            n,
            output_index: spec.output_index,
            column: spec.column,
            probability,
            impute: spec.impute.clone(),
            linear: linear_graph(&graph, n, spec.column, probability),
            baseline: Vec::new(),
            base_margin: None,
        };
        let fallback: Vec<f64> = (0..n)
            .map(|i| me.impute.as_ref().map_or(0.0, |v| v[i]))
            .collect();
        if let Err(e) = me.margin(&fallback) {
            problems.push(
                spec.file.clone(),
                format!("the ONNX graph does not score a row of {n} features: {e}"),
            );
            return None;
        }
        me.set_baseline(fallback);
        Some(me)
    }

    /// The explanation baseline row (NaN entries are imputed); recomputes
    /// the base margin and checks a linear graph's coefficients against the
    /// graph (dropping the linear explanation if they disagree).
    pub fn set_baseline(&mut self, baseline: Vec<f64>) {
        if baseline.len() != self.n {
            return;
        }
        self.baseline = self.fill(&baseline);
        self.base_margin = self.margin(&self.baseline).ok();
        if let Some(l) = &self.linear {
            let probe: Vec<f64> = self.baseline.iter().map(|b| b + 1.0).collect();
            let agrees = [&self.baseline, &probe].iter().all(|x| {
                let want = l.intercept
                    + l.coefficients
                        .iter()
                        .zip(x.iter())
                        .map(|(c, v)| c * v)
                        .sum::<f64>();
                self.margin(x)
                    .is_ok_and(|m| (m - want).abs() <= 1e-4 * (1.0 + want.abs()))
            });
            if !agrees {
                self.linear = None;
            }
        }
    }

    pub fn baseline(&self) -> &[f64] {
        &self.baseline
    }

    /// Coefficients read from a linear graph, when it is one.
    pub fn linear(&self) -> Option<&LinearGraph> {
        self.linear.as_ref()
    }

    pub fn explanation(&self) -> OnnxExplanation {
        if self.linear.is_some() {
            OnnxExplanation::Linear
        } else if self.n <= MAX_EXACT_FEATURES {
            OnnxExplanation::BaselineShapley
        } else {
            OnnxExplanation::BaselineShapleySampled
        }
    }

    /// The margin at the baseline row.
    pub fn expected_margin(&self) -> Option<f64> {
        self.base_margin
    }

    fn fill(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| match (&self.impute, v.is_nan()) {
                (Some(imp), true) => imp[i],
                _ => v,
            })
            .collect()
    }

    pub fn margin(&self, x: &[f64]) -> Result<f64, ModelError> {
        let x = self.fill(x);
        Ok(self.margins(&x, 1)?[0])
    }

    /// Margins of `k` rows laid out row-major in `flat` (already imputed):
    /// one batched run, or row by row when the graph only runs one row.
    fn margins(&self, flat: &[f64], k: usize) -> Result<Vec<f64>, ModelError> {
        if k > 1 {
            if let Some(v) = self.batched.then(|| self.run(flat, k).ok()).flatten() {
                return Ok(v);
            }
            let mut out = Vec::with_capacity(k);
            for row in flat.chunks(self.n) {
                out.extend(self.run(row, 1)?);
            }
            return Ok(out);
        }
        self.run(flat, k)
    }

    fn run(&self, flat: &[f64], k: usize) -> Result<Vec<f64>, ModelError> {
        let err = |m: String| ModelError::Scorer {
            kind: "onnx",
            message: m,
        };
        let v: Vec<f32> = flat.iter().map(|&v| v as f32).collect();
        let input = Tensor::from_shape(&[k, self.n], &v).map_err(|e| err(e.to_string()))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| err(e.to_string()))?;
        let idx = self.output_index.unwrap_or(out.len().saturating_sub(1));
        let t = out
            .get(idx)
            .ok_or_else(|| err(format!("no output {idx}")))?;
        let t = t.cast_to::<f64>().map_err(|e| err(e.to_string()))?;
        let vals = t
            .to_plain_array_view::<f64>()
            .map_err(|e| err(e.to_string()))?;
        let vals: Vec<f64> = vals.iter().copied().collect();
        let width = vals.len().checked_div(k).unwrap_or(0);
        if width * k != vals.len() {
            return Err(err(format!("output of {} values for {k} rows", vals.len())));
        }
        let col = self.column.unwrap_or(width.saturating_sub(1));
        if col >= width {
            return Err(err(format!(
                "no column {col} in an output of width {width}"
            )));
        }
        vals.chunks(width)
            .map(|r| {
                let y = r[col];
                if !y.is_finite() {
                    return Err(err("non-finite output".into()));
                }
                Ok(if self.probability {
                    let p = y.clamp(1e-12, 1.0 - 1e-12);
                    (p / (1.0 - p)).ln()
                } else {
                    y
                })
            })
            .collect()
    }

    /// Contributions (n) followed by the base value (the baseline margin),
    /// by [`Self::explanation`]'s method.
    pub fn shap(&self, x: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.explain_with(x, self.explanation())
    }

    /// Contributions by a given method (tests compare methods).
    pub fn explain_with(&self, x: &[f64], method: OnnxExplanation) -> Result<Vec<f64>, ModelError> {
        let x = self.fill(x);
        let b = &self.baseline;
        let n = self.n;
        if b.len() != n {
            return Err(ModelError::Scorer {
                kind: "onnx",
                message: "no explanation baseline".into(),
            });
        }
        match (method, &self.linear) {
            (OnnxExplanation::Linear, Some(l)) => {
                let mut phi: Vec<f64> = (0..n).map(|i| l.coefficients[i] * (x[i] - b[i])).collect();
                phi.push(
                    l.intercept
                        + l.coefficients
                            .iter()
                            .zip(b)
                            .map(|(c, v)| c * v)
                            .sum::<f64>(),
                );
                Ok(phi)
            }
            (OnnxExplanation::BaselineShapley, _) if n <= MAX_ENUMERATED_FEATURES => {
                self.exact_shapley(&x)
            }
            (OnnxExplanation::Linear, None) if n <= MAX_EXACT_FEATURES => self.exact_shapley(&x),
            _ => self.sampled_shapley(&x),
        }
    }

    fn exact_shapley(&self, x: &[f64]) -> Result<Vec<f64>, ModelError> {
        let n = self.n;
        let m = 1usize << n;
        let mut flat = Vec::with_capacity(m * n);
        for s in 0..m {
            flat.extend((0..n).map(|i| {
                if s >> i & 1 == 1 {
                    x[i]
                } else {
                    self.baseline[i]
                }
            }));
        }
        let v = self.margins(&flat, m)?;
        // w[s] = s! (n - s - 1)! / n!, the weight of a coalition of size s.
        let mut w = vec![0.0; n];
        for (s, ws) in w.iter_mut().enumerate() {
            let mut f = 1.0 / n as f64;
            for j in 0..s {
                f *= (s - j) as f64 / (n - 1 - j) as f64;
            }
            *ws = f;
        }
        let mut phi = vec![0.0; n + 1];
        for s in 0..m {
            let size = (s as u64).count_ones() as usize;
            for (i, p) in phi.iter_mut().enumerate().take(n) {
                if s >> i & 1 == 0 {
                    *p += w[size] * (v[s | 1 << i] - v[s]);
                }
            }
        }
        phi[n] = v[0];
        Ok(phi)
    }

    fn sampled_shapley(&self, x: &[f64]) -> Result<Vec<f64>, ModelError> {
        let n = self.n;
        // A fixed splitmix64 stream: deterministic permutations without a
        // random-number crate (the only use in this crate).
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut perms: Vec<Vec<usize>> = Vec::with_capacity(PERMUTATIONS);
        while perms.len() < PERMUTATIONS {
            let mut p: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                p.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            let rev: Vec<usize> = p.iter().rev().copied().collect();
            perms.push(p);
            perms.push(rev);
        }
        // Row j of a permutation has its first j features from x.
        let mut flat = Vec::with_capacity(perms.len() * (n + 1) * n);
        for p in &perms {
            let mut row = self.baseline.clone();
            flat.extend_from_slice(&row);
            for &i in p {
                row[i] = x[i];
                flat.extend_from_slice(&row);
            }
        }
        let v = self.margins(&flat, perms.len() * (n + 1))?;
        let mut phi = vec![0.0; n + 1];
        for (k, p) in perms.iter().enumerate() {
            let vk = &v[k * (n + 1)..(k + 1) * (n + 1)];
            for (j, &i) in p.iter().enumerate() {
                phi[i] += (vk[j + 1] - vk[j]) / perms.len() as f64;
            }
        }
        phi[n] = v[0];
        Ok(phi)
    }
}
