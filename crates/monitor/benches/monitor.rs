//! Costs of the monitoring statistics at report sizes.
//! `cargo bench -p bedside-monitor --bench monitor`

use bedside_monitor::drift::{ks_2samp, psi};
use bedside_monitor::intervals::auroc_ci;
use bedside_monitor::metrics::{auroc, calibration};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bench(c: &mut Criterion) {
    let mut u = lcg(3);
    let y: Vec<bool> = (0..100_000).map(|_| u() < 0.1).collect();
    let p: Vec<f64> = y
        .iter()
        .map(|&l| (u() * 0.8 + if l { 0.2 } else { 0.0 }).min(1.0))
        .collect();
    c.bench_function("auroc_100k", |b| b.iter(|| auroc(black_box(&p), &y)));
    c.bench_function("auroc_delong_ci_100k", |b| {
        b.iter(|| auroc_ci(black_box(&p), &y, 0.95))
    });
    c.bench_function("calibration_100k", |b| {
        b.iter(|| calibration(black_box(&p), &y, 10))
    });
    let a: Vec<f64> = (0..10_000).map(|_| u()).collect();
    let bb: Vec<f64> = (0..10_000).map(|_| u() * 1.05).collect();
    let mut g = c.benchmark_group("drift");
    g.sample_size(10);
    g.bench_function("ks_2samp_exact_10k_x_10k", |b| {
        b.iter(|| ks_2samp(black_box(&a), &bb))
    });
    g.bench_function("psi_10k", |b| b.iter(|| psi(black_box(&a), &bb, 10)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
