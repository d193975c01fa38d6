//! Single-row scoring costs. Model: `BEDSIDE_BENCH_PKG` (default: the
//! committed demo package models/sepsis-demo if present, else the test
//! fixture); rows: tests/fixtures/rows.json for the fixture, or
//! `BEDSIDE_BENCH_ROWS` (a JSON {"rows": [[...]]} file, null = missing).
//! Peer: bench/lightgbm_peer.py times LightGBM on the same model and rows.

use bedside_models::{Model, Scorer};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::PathBuf;

fn load() -> (Model, Vec<Vec<f64>>) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let pkg = std::env::var("BEDSIDE_BENCH_PKG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("tests/fixtures/pkg"));
    let rows = std::env::var("BEDSIDE_BENCH_ROWS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("tests/fixtures/rows.json"));
    let model = Model::load(&pkg).expect("bench package loads");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rows).expect("rows file"))
            .expect("rows JSON");
    let rows: Vec<Vec<f64>> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .take(200)
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0].len(),
        model.package.features.len(),
        "rows match the model"
    );
    (model, rows)
}

fn benches(c: &mut Criterion) {
    let (model, rows) = load();
    let pkg = &model.package;
    let Scorer::LightGbm(gbm) = &pkg.scorer else {
        panic!("bench needs a LightGBM package")
    };
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % rows.len();
        &rows[i]
    };
    c.bench_function("score_single_row", |b| {
        b.iter(|| gbm.margin(black_box(next())))
    });
    c.bench_function("score_calibration_interval", |b| {
        b.iter(|| {
            let x = next();
            let m = gbm.margin(black_box(x));
            let p = pkg.calibration.probability(m);
            black_box(pkg.calibration.interval(m, p))
        })
    });
    c.bench_function("score_tree_shap", |b| {
        b.iter(|| {
            let x = next();
            black_box(gbm.margin(black_box(x)));
            black_box(gbm.shap(black_box(x)))
        })
    });
    c.bench_function("ood_check", |b| {
        b.iter(|| {
            let x = next();
            black_box(
                pkg.profile
                    .check(&pkg.features.defs, black_box(x), 0.5, false),
            )
        })
    });
    let opt: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|r| r.iter().map(|v| (!v.is_nan()).then_some(*v)).collect())
        .collect();
    let at = chrono::Utc::now();
    let mut j = 0usize;
    c.bench_function("predict_full", |b| {
        b.iter(|| {
            j = (j + 1) % opt.len();
            black_box(model.predict_values(black_box(&opt[j]), at))
        })
    });
}

criterion_group!(score, benches);
criterion_main!(score);
