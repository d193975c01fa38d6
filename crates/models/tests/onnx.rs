//! ONNX packages in the default build, against scikit-learn / skl2onnx and
//! shap, with fixtures from tools/reference/onnx_reference.py: a logistic
//! regression (`LinearClassifier`) and a gradient-boosted tree ensemble
//! (`TreeEnsembleClassifier`), 1,200 rows each.

mod common;
use bedside_core::Instant;
use bedside_models::onnx::{Onnx, OnnxExplanation};
use bedside_models::{Model, ModelError, Package, Scorer};
use common::*;
use std::path::Path;

/// The fixture package with its scorer file swapped for `file`.
fn package_with(file: &str, dir: &Path) -> Result<Package, ModelError> {
    let src = fixture("onnx_pkg");
    for e in std::fs::read_dir(&src).expect("fixture dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
    let toml = std::fs::read_to_string(dir.join("model.toml")).expect("model.toml");
    let swapped = toml.replace("file = \"gbm.onnx\"", &format!("file = {file:?}"));
    std::fs::write(dir.join("model.toml"), swapped).expect("write");
    Package::load(dir)
}

fn onnx(pkg: &Package) -> &Onnx {
    match &pkg.scorer {
        Scorer::Onnx(o) => o,
        other => panic!("expected an ONNX scorer, got {}", other.kind()),
    }
}

fn sigmoid(m: f64) -> f64 {
    1.0 / (1.0 + (-m).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Rows as sklearn saw them: NaN imputed, rounded to float32.
fn filled(x: &[f64], impute: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(impute)
        .map(|(&v, &i)| (if v.is_nan() { i } else { v }) as f32 as f64)
        .collect()
}

fn assert_matches_predict_proba(pkg: &Package, want: &[f64]) {
    let r = json("onnx.json");
    let rows = rows(&r["rows"]);
    assert!(rows.len() >= 1000 && rows.len() == want.len());
    assert!(rows.iter().any(|x| x.iter().any(|v| v.is_nan())));
    let model = Model::new(Package::load(Path::new(&pkg.source)).expect("reloads"));
    let at = "2026-01-01T00:00:00Z".parse::<Instant>().expect("instant");
    let mut max_err: f64 = 0.0;
    for (i, (x, w)) in rows.iter().zip(want).enumerate() {
        let p = sigmoid(pkg.scorer.margin(x).expect("scores"));
        max_err = max_err.max((p - w).abs());
        assert!((p - w).abs() < 1e-5, "row {i}: {p} vs predict_proba {w}");
        if i < 5 {
            let values: Vec<Option<f64>> = x.iter().map(|&v| (!v.is_nan()).then_some(v)).collect();
            let pred = model.predict_values(&values, at).expect("predicts");
            assert!((pred.probability.get() - w).abs() < 1e-5, "row {i}");
            assert!(!pred.top_factors.is_empty(), "row {i} has factors");
        }
    }
    eprintln!("max |p - predict_proba| = {max_err:.2e}");
}

#[test]
fn logistic_regression_onnx_matches_sklearn_predict_proba() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = package_with("logreg.onnx", dir.path()).expect("loads");
    let r = json("onnx.json");
    assert_eq!(
        r["operators"]["logreg.onnx"],
        serde_json::json!(["LinearClassifier"])
    );
    assert_matches_predict_proba(&pkg, &f64s(&r["logreg"]["p"]));
}

#[test]
fn tree_ensemble_onnx_matches_sklearn_predict_proba() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = package_with("gbm.onnx", dir.path()).expect("loads");
    let r = json("onnx.json");
    let ops = &r["operators"]["gbm.onnx"];
    assert!(ops
        .as_array()
        .expect("ops")
        .contains(&serde_json::json!("TreeEnsembleClassifier")));
    assert_matches_predict_proba(&pkg, &f64s(&r["gbm"]["p"]));
}

#[test]
fn linear_graph_explanation_is_exact_against_sklearn_coef() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = package_with("logreg.onnx", dir.path()).expect("loads");
    let o = onnx(&pkg);
    assert_eq!(o.explanation(), OnnxExplanation::Linear);
    assert_eq!(pkg.scorer.explanation_method(), "linear");
    let r = json("onnx.json");
    let coef = f64s(&r["logreg"]["coef"]);
    let intercept = r["logreg"]["intercept"].as_f64().expect("intercept");
    let impute = f64s(&r["impute"]);
    let lin = o.linear().expect("coefficients read from the graph");
    for (i, (a, b)) in lin.coefficients.iter().zip(&coef).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
            "coef {i}: {a} vs {b}"
        );
    }
    assert!((lin.intercept - intercept).abs() < 1e-5);
    // The baseline is the training means from training_profile.json.
    let baseline = f64s(&r["baseline"]);
    for (a, b) in o.baseline().iter().zip(&baseline) {
        assert!((a - b).abs() < 1e-12);
    }
    let p = f64s(&r["logreg"]["p"]);
    for (i, x) in rows(&r["rows"]).iter().enumerate() {
        let phi = o.shap(x).expect("explains");
        let (contrib, base) = phi.split_at(coef.len());
        let xf = filled(x, &impute);
        // Each contribution is coef_i * (x_i - b_i) with sklearn's coef_.
        for j in 0..coef.len() {
            let want = coef[j] * (xf[j] - baseline[j]);
            assert!(
                (contrib[j] - want).abs() < 1e-5 * (1.0 + want.abs()),
                "row {i} feature {j}"
            );
        }
        // Contributions + coef . b = sklearn's logit - intercept.
        let cb: f64 = coef.iter().zip(&baseline).map(|(c, b)| c * b).sum();
        let sum: f64 = contrib.iter().sum();
        let want = logit(p[i]) - intercept;
        assert!(
            (sum + cb - want).abs() < 1e-4,
            "row {i}: {} vs {want}",
            sum + cb
        );
        assert!((base[0] - (intercept + cb)).abs() < 1e-4);
    }
}

#[test]
fn tree_ensemble_baseline_shapley_equals_shap_exact_explainer() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = package_with("gbm.onnx", dir.path()).expect("loads");
    let o = onnx(&pkg);
    // 12 features: the default is the sampled estimate; the exact
    // enumeration (4,096 coalitions) is asked for here.
    assert_eq!(o.explanation(), OnnxExplanation::BaselineShapleySampled);
    let r = json("onnx.json");
    let want = rows(&r["gbm"]["shap"]);
    let want_base = f64s(&r["gbm"]["shap_base"]);
    let xs = rows(&r["rows"]);
    let mut max_err: f64 = 0.0;
    // Three rows keep the debug-build test short.
    for (i, w) in want.iter().enumerate().take(3) {
        let phi = o
            .explain_with(&xs[i], OnnxExplanation::BaselineShapley)
            .expect("explains");
        let n = w.len();
        assert_eq!(phi.len(), n + 1);
        for j in 0..n {
            max_err = max_err.max((phi[j] - w[j]).abs());
        }
        // float32 graph vs float64 sklearn: stated tolerance 1e-4 log-odds.
        assert!((phi[n] - want_base[i]).abs() < 1e-4, "row {i} base");
        let sum: f64 = phi[..n].iter().sum();
        let margin = pkg.scorer.margin(&xs[i]).expect("margin");
        assert!((sum + phi[n] - margin).abs() < 1e-6, "row {i}: efficiency");
    }
    assert!(max_err < 1e-4, "max |phi - shap| = {max_err}");
}

#[test]
fn sampled_shapley_is_exact_for_an_additive_margin_and_sums_to_the_margin() {
    let dir = tempfile::tempdir().expect("tmp");
    let lin = package_with("logreg.onnx", dir.path()).expect("loads");
    let dir2 = tempfile::tempdir().expect("tmp");
    let gbm = package_with("gbm.onnx", dir2.path()).expect("loads");
    let r = json("onnx.json");
    let xs = rows(&r["rows"]);
    for x in xs.iter().take(5) {
        let exact = onnx(&lin)
            .explain_with(x, OnnxExplanation::Linear)
            .expect("linear");
        let sampled = onnx(&lin)
            .explain_with(x, OnnxExplanation::BaselineShapleySampled)
            .expect("sampled");
        for (a, b) in exact.iter().zip(&sampled) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        let s = onnx(&gbm)
            .explain_with(x, OnnxExplanation::BaselineShapleySampled)
            .expect("sampled");
        let n = s.len() - 1;
        let m = gbm.scorer.margin(x).expect("margin");
        let sum: f64 = s[..n].iter().sum();
        assert!(
            (sum + s[n] - m).abs() < 1e-6,
            "efficiency {sum} + {} vs {m}",
            s[n]
        );
    }
    // Against shap's exact values: the largest contribution keeps its
    // feature and sign, and the mean absolute error stays within 0.01
    // log-odds (16 permutations; measured 0.0008 on these rows).
    let want = rows(&r["gbm"]["shap"]);
    let mut err = 0.0;
    let mut count = 0.0;
    for (x, e) in xs.iter().zip(&want) {
        let s = onnx(&gbm)
            .explain_with(x, OnnxExplanation::BaselineShapleySampled)
            .expect("sampled");
        let top = |v: &[f64]| {
            (0..e.len())
                .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .expect("features")
        };
        assert_eq!(top(&s), top(e));
        assert_eq!(s[top(e)] > 0.0, e[top(e)] > 0.0);
        for (a, b) in s.iter().zip(e) {
            err += (a - b).abs();
            count += 1.0;
        }
    }
    eprintln!("sampled vs shap: mean |error| = {:.4}", err / count);
    assert!(err / count < 0.01);
}

#[test]
fn approximate_explanations_are_named_on_the_prediction() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = Model::new(package_with("gbm.onnx", dir.path()).expect("loads"));
    let x: Vec<Option<f64>> = rows(&json("onnx.json")["rows"])[0]
        .iter()
        .map(|&v| (!v.is_nan()).then_some(v))
        .collect();
    let at = "2026-01-01T00:00:00Z".parse::<Instant>().expect("instant");
    let p = model.predict_values(&x, at).expect("predicts");
    assert_eq!(p.explanation_method, "baseline_shapley_sampled");
    assert!(!p.explanation_is_exact() && p.explanation_note().is_some());
    assert!(p.base_margin.is_some() && !p.top_factors.is_empty());
    let dp: f64 = model
        .package
        .scorer
        .shap(&x.iter().map(|v| v.unwrap_or(f64::NAN)).collect::<Vec<_>>())
        .expect("phi")
        .iter()
        .rev()
        .skip(1)
        .sum();
    assert!((p.margin - p.base_margin.expect("base") - dp).abs() < 1e-6);
}

#[test]
fn tree_ensemble_regressor_is_refused_naming_the_operator() {
    let dir = tempfile::tempdir().expect("tmp");
    let toml_fix = |d: &Path| {
        let t = std::fs::read_to_string(d.join("model.toml")).expect("toml");
        std::fs::write(
            d.join("model.toml"),
            t.replace("output = \"probability\"", "output = \"margin\""),
        )
        .expect("write");
    };
    let _ = package_with("regressor.onnx", dir.path());
    toml_fix(dir.path());
    let err = Package::load(dir.path()).expect_err("refused");
    let ModelError::Invalid(problems) = err else {
        panic!("expected problems, got {err}")
    };
    let p = problems
        .iter()
        .find(|p| p.location == "regressor.onnx")
        .unwrap_or_else(|| panic!("a problem at regressor.onnx in {problems:?}"));
    assert!(
        p.message
            .contains("unsupported ONNX operator TreeEnsembleRegressor (ai.onnx.ml)"),
        "{}",
        p.message
    );
    // Every problem is reported, not only the first: a bad impute too.
    let t = std::fs::read_to_string(dir.path().join("model.toml")).expect("toml");
    std::fs::write(
        dir.path().join("model.toml"),
        t.replace("impute = [", "impute = [1.0, "),
    )
    .expect("w");
    let Err(ModelError::Invalid(problems)) = Package::load(dir.path()) else {
        panic!("refused")
    };
    assert!(problems
        .iter()
        .any(|p| p.location == "model.toml:scorer.impute"));
    assert!(problems
        .iter()
        .any(|p| p.message.contains("TreeEnsembleRegressor")));
}

#[test]
fn garbage_onnx_bytes_are_a_problem_not_a_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let _ = package_with("gbm.onnx", dir.path());
    std::fs::write(dir.path().join("gbm.onnx"), b"not a protobuf \xff\xff\xff").expect("w");
    let Err(ModelError::Invalid(problems)) = Package::load(dir.path()) else {
        panic!("refused")
    };
    assert!(
        problems.iter().any(|p| p.location == "gbm.onnx"),
        "{problems:?}"
    );
}
