//! Reference tests against LightGBM, scikit-learn and numpy, with fixtures
//! from tools/reference/models_reference.py.

mod common;
use bedside_models::calibration::{Calibration, VennAbers};
use bedside_models::{metrics, Package, Scorer};
use common::*;

fn lgbm() -> (Package, serde_json::Value) {
    let pkg = Package::load(&fixture("pkg")).expect("fixture package loads");
    (pkg, json("rows.json"))
}

#[test]
fn lightgbm_margins_equal_raw_score() {
    let (pkg, r) = lgbm();
    let Scorer::LightGbm(m) = &pkg.scorer else {
        panic!("lightgbm scorer")
    };
    assert_eq!(m.num_trees(), 80);
    let rows = rows(&r["rows"]);
    let raw = f64s(&r["raw"]);
    assert!(rows.len() >= 1000);
    for (i, (x, want)) in rows.iter().zip(&raw).enumerate() {
        let got = m.margin(x);
        assert!((got - want).abs() < 1e-9, "row {i}: {got} vs {want}");
    }
}

#[test]
fn tree_shap_equals_pred_contrib_and_sums_to_margin() {
    let (pkg, r) = lgbm();
    let Scorer::LightGbm(m) = &pkg.scorer else {
        panic!("lightgbm scorer")
    };
    let rows = rows(&r["rows"]);
    let contrib = rows_of(&r["contrib"]);
    let mut max_err: f64 = 0.0;
    for (i, (x, want)) in rows.iter().zip(&contrib).enumerate() {
        let phi = m.shap(x);
        assert_eq!(phi.len(), want.len());
        for (a, b) in phi.iter().zip(want) {
            max_err = max_err.max((a - b).abs());
        }
        let sum: f64 = phi.iter().sum();
        assert!((sum - m.margin(x)).abs() < 1e-9, "row {i}: shap sum {sum}");
    }
    assert!(max_err < 1e-6, "max |shap - pred_contrib| = {max_err}");
}

fn rows_of(v: &serde_json::Value) -> Vec<Vec<f64>> {
    rows(v)
}

#[test]
fn isotonic_and_platt_equal_sklearn() {
    let c = json("calibration.json");
    let margins = f64s(&c["margins"]);
    let mut problems = Default::default();
    let iso = Calibration::parse(
        &serde_json::json!({"map": c["isotonic"]}).to_string(),
        "iso",
        &mut problems,
    )
    .expect("isotonic parses");
    let platt = Calibration::parse(
        &serde_json::json!({"map": c["platt"]}).to_string(),
        "platt",
        &mut problems,
    )
    .expect("platt parses");
    for (i, (m, want)) in margins.iter().zip(f64s(&c["isotonic_p"])).enumerate() {
        let got = iso.probability(*m);
        assert!((got - want).abs() < 1e-9, "isotonic {i}: {got} vs {want}");
    }
    for (i, (m, want)) in margins.iter().zip(f64s(&c["platt_p"])).enumerate() {
        let got = platt.probability(*m);
        assert!((got - want).abs() < 1e-9, "platt {i}: {got} vs {want}");
    }
}

#[test]
fn venn_abers_equals_brute_force_sklearn_isotonic() {
    let c = json("calibration.json");
    let scores = f64s(&c["venn_abers"]["scores"]);
    let labels: Vec<u8> = f64s(&c["venn_abers"]["labels"])
        .iter()
        .map(|&v| v as u8)
        .collect();
    let va = VennAbers::fit(&scores, &labels);
    let pts = f64s(&c["va_margins"]);
    let want = rows(&c["va_p0p1"]);
    for (i, (s, w)) in pts.iter().zip(&want).enumerate() {
        let (p0, p1) = va.p0p1(*s);
        assert!(
            (p0 - w[0]).abs() < 1e-9 && (p1 - w[1]).abs() < 1e-9,
            "point {i}: ({p0}, {p1}) vs {w:?}"
        );
        assert!(p0 <= p1 + 1e-12);
    }
}

#[test]
fn conformal_interval_uses_the_finite_sample_quantile() {
    let c = json("calibration.json");
    let conf = &c["conformal"];
    let q = conf["quantile"].as_f64().expect("q");
    let text = serde_json::json!({"map": {"method": "sigmoid"}, "interval": conf}).to_string();
    let cal = Calibration::parse(&text, "c", &mut Default::default()).expect("parses");
    let iv = cal.interval(0.0, 0.5).expect("interval");
    assert!(
        (iv.lo - (0.5 - q).max(0.0)).abs() < 1e-15 && (iv.hi - (0.5 + q).min(1.0)).abs() < 1e-15
    );
    assert_eq!(iv.level, Some(0.9));
}

#[test]
fn mahalanobis_equals_numpy() {
    let (pkg, r) = lgbm();
    let want = f64s(&json("ood.json")["mahalanobis"]);
    for (i, (x, w)) in rows(&r["rows"]).iter().zip(&want).enumerate() {
        let d = pkg.profile.distance(x).expect("profile has mahalanobis");
        assert!((d - w).abs() < 1e-9 * w.max(1.0), "row {i}: {d} vs {w}");
    }
}

#[test]
fn linear_margin_equals_sklearn_and_contributions_sum() {
    let l = json("linear.json");
    let model: bedside_models::linear::Linear =
        serde_json::from_value(l["model"].clone()).expect("linear");
    let rows = rows(&json("rows.json")["rows"]);
    for (i, (x, want)) in rows.iter().zip(f64s(&l["rows_margin"])).enumerate() {
        let m = model.margin(x);
        assert!((m - want).abs() < 1e-9, "row {i}: {m} vs {want}");
        let s: f64 = model.shap(x).iter().sum();
        assert!((s - m).abs() < 1e-9);
    }
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_logistic_regression_matches_sklearn() {
    use bedside_models::spec::ScorerSpec;
    let l = json("linear.json");
    let imp = f64s(&l["model"]["impute"]);
    let bytes = std::fs::read(fixture("linear.onnx")).expect("onnx fixture");
    let spec = ScorerSpec {
        kind: "onnx".into(),
        file: "linear.onnx".into(),
        output: Some("probability".into()),
        output_index: None,
        column: Some(1),
        impute: Some(imp.clone()),
    };
    let mut problems = Default::default();
    let onnx =
        bedside_models::onnx::Onnx::load(&bytes, &spec, imp.len(), &mut problems).expect("loads");
    let rows = rows(&json("rows.json")["rows"]);
    for (i, (x, want)) in rows.iter().zip(f64s(&l["rows_p"])).enumerate().take(200) {
        let m = onnx.margin(x).expect("runs");
        let p = 1.0 / (1.0 + (-m).exp());
        assert!((p - want).abs() < 1e-5, "row {i}: {p} vs {want}");
    }
}

#[test]
fn metrics_equal_sklearn() {
    let m = json("metrics.json");
    let p = f64s(&m["p"]);
    let y: Vec<bool> = f64s(&m["y"]).iter().map(|&v| v > 0.5).collect();
    let close = |a: Option<f64>, b: &serde_json::Value| {
        (a.expect("defined") - b.as_f64().expect("num")).abs() < 1e-12
    };
    assert!(close(metrics::auroc(&p, &y), &m["auroc"]));
    assert!(close(metrics::average_precision(&p, &y), &m["auprc"]));
    assert!(close(metrics::ece(&p, &y, 10), &m["ece"]));
}
