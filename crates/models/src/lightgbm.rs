//! LightGBM text model format: parser, raw margin, exact TreeSHAP.
//!
//! Reads what `Booster.save_model()` writes (`tree` header, `Tree=N`
//! sections, `end of trees`). Numerical splits with every missing-value
//! mode are supported (decision_type bit 1 = default left, bits 2-3 =
//! missing type None / Zero / NaN), exactly as LightGBM's
//! `Tree::NumericalDecision`. Categorical splits and linear trees are
//! reported as unsupported. Shrinkage is already folded into the leaf
//! values in the file, so the raw margin is the plain sum of leaves.
//!
//! TreeSHAP is Lundberg et al.'s polynomial-time path-dependent algorithm
//! (the one LightGBM runs for `pred_contrib`), using `internal_count` /
//! `leaf_count` as the node cover.

use crate::problem::Problems;

/// LightGBM's `kZeroThreshold` (a float literal, widened).
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    split_feature: Vec<usize>,
    threshold: Vec<f64>,
    default_left: Vec<bool>,
    /// 0 None, 1 Zero, 2 NaN.
    missing_type: Vec<u8>,
    left: Vec<i32>,
    right: Vec<i32>,
    leaf_value: Vec<f64>,
    leaf_count: Vec<f64>,
    internal_count: Vec<f64>,
    depth: usize,
}

/// A parsed LightGBM binary model.
#[derive(Debug, Clone, PartialEq)]
pub struct LightGbm {
    pub feature_names: Vec<String>,
    pub objective: String,
    trees: Vec<Tree>,
    max_depth: usize,
}

#[derive(Clone, Copy, Default)]
struct PathElement {
    feature: i64,
    zero: f64,
    one: f64,
    pweight: f64,
}

impl Tree {
    #[inline]
    fn decide(&self, node: usize, fval: f64) -> i32 {
        let mt = self.missing_type[node];
        let mut v = fval;
        if v.is_nan() && mt != 2 {
            v = 0.0;
        }
        if (mt == 1 && (-ZERO_THRESHOLD..=ZERO_THRESHOLD).contains(&v)) || (mt == 2 && v.is_nan()) {
            return if self.default_left[node] {
                self.left[node]
            } else {
                self.right[node]
            };
        }
        if v <= self.threshold[node] {
            self.left[node]
        } else {
            self.right[node]
        }
    }

    #[inline]
    fn leaf(&self, x: &[f64]) -> usize {
        if self.leaf_value.len() == 1 {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let next = self.decide(node, x[self.split_feature[node]]);
            if next < 0 {
                return !next as usize;
            }
            node = next as usize;
        }
    }

    fn count(&self, node: i32) -> f64 {
        if node >= 0 {
            self.internal_count[node as usize]
        } else {
            self.leaf_count[!node as usize]
        }
    }

    /// LightGBM's `Tree::ExpectedValue`.
    fn expected_value(&self) -> f64 {
        if self.leaf_value.len() == 1 {
            return self.leaf_value[0];
        }
        let total = self.internal_count[0];
        self.leaf_value
            .iter()
            .zip(&self.leaf_count)
            .map(|(v, c)| c / total * v)
            .sum()
    }
}

impl LightGbm {
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }
    pub fn num_trees(&self) -> usize {
        self.trees.len()
    }

    /// Raw margin: the sum of the leaf values reached. `x` holds NaN for
    /// missing values and must have `num_features()` entries.
    pub fn margin(&self, x: &[f64]) -> f64 {
        self.trees.iter().map(|t| t.leaf_value[t.leaf(x)]).sum()
    }

    /// The mean margin over the training cover (SHAP base value).
    pub fn expected_margin(&self) -> f64 {
        self.trees.iter().map(Tree::expected_value).sum()
    }

    /// Exact SHAP values: `num_features() + 1` entries, the last being the
    /// expected margin; they sum to `margin(x)`.
    pub fn shap(&self, x: &[f64]) -> Vec<f64> {
        let mut phi = vec![0.0; self.num_features() + 1];
        let d = self.max_depth + 2;
        let mut path = vec![PathElement::default(); d * (d + 1) / 2 + d];
        for t in &self.trees {
            phi[self.num_features()] += t.expected_value();
            if t.leaf_value.len() > 1 {
                tree_shap(t, x, &mut phi, 0, 0, &mut path, 0, 1.0, 1.0, -1);
            }
        }
        phi
    }
}

// The three path helpers follow LightGBM's tree.cpp (Lundberg's TreeSHAP)
// with divisions replaced by multiplications with reciprocals; results agree
// with LightGBM to rounding (~1e-15), far inside the 1e-6 reference tolerance.

fn extend_path(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero,
        one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let inv = 1.0 / (depth + 1) as f64;
    for i in (0..depth).rev() {
        let w = path[i].pweight;
        path[i + 1].pweight += one * w * (i + 1) as f64 * inv;
        path[i].pweight = zero * w * (depth - i) as f64 * inv;
    }
}

fn unwind_path(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one;
    let zero = path[index].zero;
    let mut next_one = path[depth].pweight;
    let dp1 = (depth + 1) as f64;
    let inv_dp1 = 1.0 / dp1;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for i in (0..depth).rev() {
            let tmp = path[i].pweight;
            let w = next_one * dp1 * inv_one / (i + 1) as f64;
            path[i].pweight = w;
            next_one = tmp - w * zero * (depth - i) as f64 * inv_dp1;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            path[i].pweight = path[i].pweight * dp1 * inv_zero / (depth - i) as f64;
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one;
    let zero = path[index].zero;
    let dp1 = (depth + 1) as f64;
    let mut total = 0.0;
    if one != 0.0 {
        let mut next_one = path[depth].pweight;
        let scale = dp1 / one;
        let zs = zero / dp1;
        for i in (0..depth).rev() {
            let tmp = next_one * scale * RECIP[i + 1];
            total += tmp;
            next_one = path[i].pweight - tmp * zs * (depth - i) as f64;
        }
    } else if zero != 0.0 {
        let scale = dp1 / zero;
        for i in (0..depth).rev() {
            total += path[i].pweight * scale * RECIP[depth - i];
        }
    }
    total
}

/// Deepest tree accepted (TreeSHAP path tables are sized by it).
const MAX_DEPTH: usize = 64;

/// 1/k for k <= MAX_DEPTH.
static RECIP: [f64; MAX_DEPTH + 1] = {
    let mut r = [0.0; 65];
    let mut k = 1;
    while k < 65 {
        r[k] = 1.0 / k as f64;
        k += 1;
    }
    r
};

/// `buf[offset..]` is this call's unique path; the parent's path is
/// `buf[parent..parent + depth]` and is copied first (as LightGBM does with
/// pointer arithmetic).
#[allow(clippy::too_many_arguments)]
fn tree_shap(
    t: &Tree,
    x: &[f64],
    phi: &mut [f64],
    node: i32,
    depth: usize,
    buf: &mut [PathElement],
    parent: usize,
    zero: f64,
    one: f64,
    feature: i64,
) {
    let offset = parent + depth;
    if depth > 0 {
        buf.copy_within(parent..parent + depth, offset);
    }
    let path = &mut buf[offset..];
    extend_path(path, depth, zero, one, feature);
    if node < 0 {
        let v = t.leaf_value[!node as usize];
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one - el.zero) * v;
        }
        return;
    }
    let n = node as usize;
    let split = t.split_feature[n];
    let hot = t.decide(n, x[split]);
    let cold = if hot == t.left[n] {
        t.right[n]
    } else {
        t.left[n]
    };
    let w = t.count(node);
    let hot_zero = t.count(hot) / w;
    let cold_zero = t.count(cold) / w;
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    let mut depth = depth;
    if let Some(k) = (0..=depth).find(|&k| path[k].feature == split as i64) {
        in_zero = path[k].zero;
        in_one = path[k].one;
        unwind_path(path, depth, k);
        depth -= 1;
    }
    tree_shap(
        t,
        x,
        phi,
        hot,
        depth + 1,
        buf,
        offset,
        hot_zero * in_zero,
        in_one,
        split as i64,
    );
    tree_shap(
        t,
        x,
        phi,
        cold,
        depth + 1,
        buf,
        offset,
        cold_zero * in_zero,
        0.0,
        split as i64,
    );
}

/// Parse a LightGBM text model. Problems are located as
/// `FILE:line N` or `FILE:Tree=K.key`.
pub fn parse(text: &str, file: &str, problems: &mut Problems) -> Option<LightGbm> {
    let before = problems.0.len();
    let mut lines = text.lines().enumerate().peekable();
    let mut header = std::collections::HashMap::new();
    // Header: key=value lines up to the first `Tree=`.
    while let Some(&(i, line)) = lines.peek() {
        if line.starts_with("Tree=") || line.starts_with("end of trees") {
            break;
        }
        lines.next();
        if let Some((k, v)) = line.split_once('=') {
            header.insert(k.trim().to_string(), (i + 1, v.trim().to_string()));
        } else if i == 0 && line.trim() != "tree" {
            problems.push(
                format!("{file}:line 1"),
                "not a LightGBM text model (expected a first line `tree`)",
            );
            return None;
        }
    }
    let get = |k: &str| header.get(k).map(|(_, v)| v.as_str());
    let feature_names: Vec<String> = match get("feature_names") {
        Some(v) => v.split_whitespace().map(str::to_string).collect(),
        None => {
            problems.push(format!("{file}:header"), "missing feature_names");
            Vec::new()
        }
    };
    for key in ["num_class", "num_tree_per_iteration"] {
        if let Some(v) = get(key) {
            if v != "1" {
                problems.push(
                    format!("{file}:{key}"),
                    format!("{key}={v} is unsupported (binary models only)"),
                );
            }
        }
    }
    let objective = get("objective").unwrap_or("").to_string();
    if !objective.starts_with("binary") {
        problems.push(
            format!("{file}:objective"),
            format!("objective {objective:?} is unsupported (expected binary)"),
        );
    }
    let mut trees = Vec::new();
    while let Some((i, line)) = lines.next() {
        let Some(id) = line.strip_prefix("Tree=") else {
            if line.starts_with("end of trees") {
                break;
            }
            continue;
        };
        let mut kv = std::collections::HashMap::new();
        while let Some(&(_, l)) = lines.peek() {
            if l.starts_with("Tree=") || l.starts_with("end of trees") {
                break;
            }
            lines.next();
            if let Some((k, v)) = l.split_once('=') {
                kv.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        let loc = format!("{file}:Tree={id}");
        if let Some(t) = parse_tree(&kv, &loc, i + 1, feature_names.len(), problems) {
            trees.push(t);
        }
    }
    if trees.is_empty() && problems.0.len() == before {
        problems.push(format!("{file}:trees"), "the model has no trees");
    }
    if problems.0.len() > before {
        return None;
    }
    let max_depth = trees.iter().map(|t| t.depth).max().unwrap_or(0);
    Some(LightGbm {
        feature_names,
        objective,
        trees,
        max_depth,
    })
}

fn nums<T: std::str::FromStr>(
    kv: &std::collections::HashMap<String, String>,
    key: &str,
    len: usize,
    loc: &str,
    problems: &mut Problems,
) -> Option<Vec<T>> {
    let Some(v) = kv.get(key) else {
        problems.push(format!("{loc}.{key}"), "missing");
        return None;
    };
    let mut out = Vec::with_capacity(len);
    for (j, s) in v.split_whitespace().enumerate() {
        match s.parse::<T>() {
            Ok(x) => out.push(x),
            Err(_) => {
                problems.push(format!("{loc}.{key}[{j}]"), format!("not a number: {s:?}"));
                return None;
            }
        }
    }
    if out.len() != len {
        problems.push(
            format!("{loc}.{key}"),
            format!("expected {len} values, found {}", out.len()),
        );
        return None;
    }
    Some(out)
}

fn parse_tree(
    kv: &std::collections::HashMap<String, String>,
    loc: &str,
    line: usize,
    n_features: usize,
    problems: &mut Problems,
) -> Option<Tree> {
    let before = problems.0.len();
    let num_leaves: usize = match kv.get("num_leaves").and_then(|v| v.parse().ok()) {
        Some(n) if n >= 1 => n,
        _ => {
            problems.push(
                format!("{loc}.num_leaves"),
                format!("missing or invalid (line {line})"),
            );
            return None;
        }
    };
    if kv.get("num_cat").is_some_and(|v| v != "0") {
        problems.push(
            format!("{loc}.num_cat"),
            "categorical splits are not supported; retrain with numerical features",
        );
    }
    if kv.get("is_linear").is_some_and(|v| v != "0") {
        problems.push(format!("{loc}.is_linear"), "linear trees are not supported");
    }
    let leaf_value: Vec<f64> = nums(kv, "leaf_value", num_leaves, loc, problems)?;
    if leaf_value.iter().any(|v| !v.is_finite()) {
        problems.push(format!("{loc}.leaf_value"), "non-finite leaf value");
    }
    if num_leaves == 1 {
        return (problems.0.len() == before).then(|| Tree {
            split_feature: vec![],
            threshold: vec![],
            default_left: vec![],
            missing_type: vec![],
            left: vec![],
            right: vec![],
            leaf_count: vec![1.0],
            internal_count: vec![],
            leaf_value,
            depth: 0,
        });
    }
    let ni = num_leaves - 1;
    let split_feature: Vec<usize> = nums(kv, "split_feature", ni, loc, problems)?;
    let threshold: Vec<f64> = nums(kv, "threshold", ni, loc, problems)?;
    let decision: Vec<u8> = nums(kv, "decision_type", ni, loc, problems)?;
    let left: Vec<i32> = nums(kv, "left_child", ni, loc, problems)?;
    let right: Vec<i32> = nums(kv, "right_child", ni, loc, problems)?;
    let leaf_count: Vec<f64> = nums(kv, "leaf_count", num_leaves, loc, problems)?;
    let internal_count: Vec<f64> = nums(kv, "internal_count", ni, loc, problems)?;
    for (j, &f) in split_feature.iter().enumerate() {
        if f >= n_features {
            problems.push(
                format!("{loc}.split_feature[{j}]"),
                format!("feature index {f} but the model has {n_features} features"),
            );
        }
    }
    for (j, &d) in decision.iter().enumerate() {
        if d & 1 != 0 {
            problems.push(
                format!("{loc}.decision_type[{j}]"),
                "categorical split is not supported",
            );
        }
        if (d >> 2) & 3 == 3 {
            problems.push(format!("{loc}.decision_type[{j}]"), "unknown missing type");
        }
    }
    if threshold.iter().any(|t| t.is_nan()) {
        problems.push(format!("{loc}.threshold"), "NaN threshold");
    }
    // Children: leaves are ~index; internal children always come after
    // their parent in LightGBM's numbering, which also rules out cycles.
    for (j, (&l, &r)) in left.iter().zip(&right).enumerate() {
        for (side, c) in [("left_child", l), ("right_child", r)] {
            let ok = if c < 0 {
                (!c as usize) < num_leaves
            } else {
                (c as usize) < ni && c as usize > j
            };
            if !ok {
                problems.push(format!("{loc}.{side}[{j}]"), format!("invalid child {c}"));
            }
        }
    }
    if internal_count.first().is_some_and(|&c| c <= 0.0) {
        problems.push(format!("{loc}.internal_count[0]"), "root cover must be > 0");
    }
    if problems.0.len() > before {
        return None;
    }
    let mut depth_of = vec![0usize; ni];
    let mut depth = 0;
    for j in 0..ni {
        for c in [left[j], right[j]] {
            if c >= 0 {
                depth_of[c as usize] = depth_of[j] + 1;
            } else {
                depth = depth.max(depth_of[j] + 1);
            }
        }
    }
    if depth > MAX_DEPTH {
        problems.push(
            format!("{loc}.left_child"),
            format!("tree depth {depth} exceeds the supported {MAX_DEPTH}"),
        );
        return None;
    }
    Some(Tree {
        split_feature,
        threshold,
        default_left: decision.iter().map(|d| d & 2 != 0).collect(),
        missing_type: decision.iter().map(|d| (d >> 2) & 3).collect(),
        left,
        right,
        leaf_value,
        leaf_count,
        internal_count,
        depth,
    })
}
